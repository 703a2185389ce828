#!/usr/bin/env python3
"""The benchmark driver behind scripts/bench.sh (run that; it starts what this needs).

Two foreign servers read the same pool through tests/emulator/fault_proxy.py: `wrapper`
(default options) and `baseline` (pushdown 'false', parallel_scan 'off': what the reference
wrapper does). Each query runs once per server, in a fresh connection after a warm-up
`select 1`, under statement_timeout. For every run it records the wall time, the ListUsers
requests the proxy saw (and how many it throttled) and the rows; the two servers must return
the same rows, or this fails. It prints a markdown table and writes it, with the date, the
machine and the settings, to --out (docs/benchmarks.md).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import psycopg

ROOT = Path(__file__).resolve().parents[2]

SERVERS = {
    "wrapper": "",
    "baseline": ", pushdown 'false', parallel_scan 'off'",
}
COLUMNS = """username text, email text, status text, enabled boolean,
          created_at timestamp, updated_at timestamp, attributes jsonb, sub text"""


def lit(value):
    return "'" + str(value).replace("'", "''") + "'"


def proxy_call(url, what, method="GET"):
    req = urllib.request.Request(f"{url}/proxy/{what}", method=method,
                                 data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.loads(answer.read())


def connect(args, dbname):
    return psycopg.connect(host=args.pghost, port=args.pgport, user=args.pguser,
                           dbname=dbname, autocommit=True)


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    # The emulator is one Python process serving requests one at a time: other work on the
    # machine slows it and can make it, not the quota, the bound. Reported so a reader can tell.
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return {"nproc": nproc, "cpu": cpu, "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "kernel": platform.release(), "load": load}


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "src", "Cargo.toml"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes in src/)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pick_users(state, upstream):
    """A user in the middle of the pool (username, email, sub) and 20 usernames spread
    over it, read from the emulator directly so that the proxy's counters stay clean."""
    pool = state["pools"]["main"]
    n = pool["users"]
    width = max(4, len(str(n)))  # as tests/emulator/seeded_moto.py names them
    name = lambda i: f"user{i:0{width}d}"  # noqa: E731
    middle = n // 2
    while middle % 100 == 7 or middle <= 8:  # has an email; not one of the odd names
        middle += 1
    client = boto3.client("cognito-idp", endpoint_url=upstream, region_name=state["region"],
                          aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
    user = client.admin_get_user(UserPoolId=pool["id"], Username=name(middle))
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    spread = [name(min(n, max(1, round((k + 0.5) * n / 20)))) for k in range(20)]
    # 'user00%' for a 4-digit pool (user0001..user0099), 'user000%' for 5 digits, ...
    prefix = "user" + "0" * (width - 2)
    return {"username": user["Username"], "email": attrs["email"], "sub": attrs["sub"],
            "spread": spread, "prefix": prefix,
            "prefix_rows": sum(1 for i in range(1, n + 1) if name(i).startswith(prefix))}


def queries(picked):
    p = picked
    return [
        ("full scan", "select count(*) from {T}"),
        ("lookup by email", f"select * from {{T}} where email = {lit(p['email'])}"),
        ("lookup by username", f"select * from {{T}} where username = {lit(p['username'])}"),
        ("lookup by sub", f"select * from {{T}} where sub = {lit(p['sub'])}"),
        ("limit 10", "select * from {T} limit 10"),
        ("prefix LIKE", f"select * from {{T}} where username like {lit(p['prefix'] + '%')}"),
        ("join 20 local names", "select u.* from local_names n join {T} u "
                                "on u.username = n.name"),
    ]


def create_database(args):
    """The benchmark's database, new, with the extension and the wrapper."""
    with connect(args, "postgres") as conn:
        conn.execute(f'drop database if exists "{args.dbname}" with (force)')
        conn.execute(f'create database "{args.dbname}"')
    with connect(args, args.dbname) as conn:
        conn.execute("create schema extensions")
        conn.execute("create extension wrappers with schema extensions")
        conn.execute("create foreign data wrapper cognito_wrapper "
                     "handler extensions.cognito_fdw_handler "
                     "validator extensions.cognito_fdw_validator")


def setup(args, state, picked):
    create_database(args)
    with connect(args, args.dbname) as conn:
        def create(server, pool, options):
            conn.execute(f"""create server {server} foreign data wrapper cognito_wrapper
                options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x',
                         region {lit(state['region'])},
                         user_pool_id {lit(state['pools'][pool]['id'])},
                         endpoint_url {lit(args.proxy)} {options})""")
            conn.execute(f"create foreign table {server}_users ({COLUMNS}) "
                         f"server {server} options (object 'users')")

        for server, options in SERVERS.items():
            extra = options + (f", {args.wrapper_options}" if server == "wrapper"
                               and args.wrapper_options else "")
            create(server, "main", extra)
        if "shared" in state["pools"]:
            for server, options in SERVERS.items():
                create(f"{server}_shared", "shared", options)
                conn.execute(f"analyze {server}_shared_users")
        conn.execute("create table local_names (name text primary key)")
        with conn.cursor() as cur:
            cur.executemany("insert into local_names values (%s)",
                            [(n,) for n in picked["spread"]])
        conn.execute("analyze local_names")
        # As a DBA would: ANALYZE records each pool's size (one DescribeUserPool call), so
        # every backend's planner knows it. Done before the timed runs; not counted in them.
        conn.execute("analyze wrapper_users")
        conn.execute("analyze baseline_users")
        server_version = conn.execute("show server_version").fetchone()[0]
        ext_version = conn.execute(
            "select extversion from pg_extension where extname = 'wrappers'").fetchone()[0]
    return server_version, ext_version


def run_one(args, sql):
    """One query in a fresh connection: (seconds or "timeout", rows, stats delta)."""
    with connect(args, args.dbname) as conn:
        conn.execute(f"set statement_timeout = '{args.timeout}s'")
        conn.execute("select 1")
        proxy_call(args.proxy, "reset", "POST")
        start = time.monotonic()
        try:
            rows = conn.execute(sql).fetchall()
            elapsed = time.monotonic() - start
        except psycopg.errors.QueryCanceled:
            rows, elapsed = None, "timeout"
        stats = proxy_call(args.proxy, "stats")
    return elapsed, rows, stats


def concurrent_scans(args, table, sessions, other_rate=0, state=None):
    """SESSIONS full scans of TABLE at once, each in its own connection, while (if OTHER_RATE)
    another client sends OTHER_RATE ListUsers requests a second through the proxy. Returns
    (seconds, [(count, distinct) or error text per session], proxy stats delta, other
    client's requests and throttled answers)."""
    import threading
    conns = [connect(args, args.dbname) for _ in range(sessions)]
    for c in conns:
        c.execute(f"set statement_timeout = '{args.timeout}s'")
        c.execute("select 1")
    results = [None] * sessions
    stop = threading.Event()
    other = {"sent": 0, "throttled": 0}

    def other_client():
        client = boto3.client(
            "cognito-idp", endpoint_url=args.proxy, region_name=state["region"],
            aws_access_key_id="AKIAOTHERCLIENT", aws_secret_access_key="x",
            config=botocore.config.Config(retries={"total_max_attempts": 1}))
        interval, nxt = 1.0 / other_rate, time.monotonic()
        pool = state["pools"]["main"]["id"]
        lock = threading.Lock()

        def one():
            try:
                client.list_users(UserPoolId=pool, Limit=1)
            except client.exceptions.TooManyRequestsException:
                with lock:
                    other["throttled"] += 1
            except Exception:  # noqa: BLE001 - the other client's failures are not ours
                pass

        while not stop.is_set():
            threading.Thread(target=one, daemon=True).start()
            other["sent"] += 1
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))

    def scan(i):
        try:
            results[i] = conns[i].execute(
                f"select count(*), count(distinct username) from {table}").fetchone()
        except psycopg.Error as err:
            results[i] = f"{type(err).__name__}: {err.diag.message_primary}"

    background = None
    if other_rate:
        background = threading.Thread(target=other_client, daemon=True)
        background.start()
        time.sleep(2.0)  # the other client is steady before the scan starts
    proxy_call(args.proxy, "reset", "POST")
    other_before = dict(other)
    threads = [threading.Thread(target=scan, args=(i,)) for i in range(sessions)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    stats = proxy_call(args.proxy, "stats")
    stop.set()
    if background:
        background.join()
    for c in conns:
        c.close()
    other_delta = {k: other[k] - other_before[k] for k in other}
    return elapsed, results, stats, other_delta


def shared_quota(args, state):
    """The runs of docs/benchmarks.md's shared-quota table: rows of markdown and failures."""
    rows, failures = [], []
    users = state["pools"]["shared"]["users"]
    pages = -(-users // 60)
    main_pages = -(-state["pools"]["main"]["users"] // 60)
    rate = proxy_call(args.proxy, "config")["rate"] or 30
    runs = [
        ("4 concurrent full scans", "shared_users", 4, 0, 4 * pages / rate),
        ("full scan while another client uses 20/s", "shared_users", 1, 20,
         pages / max(1, rate - 20)),
    ]
    for name, table, sessions, other_rate, bound in runs:
        for server in SERVERS:
            time.sleep(args.pause)
            elapsed, results, stats, other = concurrent_scans(
                args, f"{server}_{table}", sessions, other_rate, state)
            ours = stats["by_target"].get("ListUsers", 0) - other["sent"]
            exact = all(r == (users, users) for r in results)
            if not exact:
                failures.append(f"{name} ({server}): {results}")
            throttled_ours = stats["throttled"] - other["throttled"]
            print(f"bench: {name:<42} {server:<8} {elapsed:6.2f} s  requests {ours} "
                  f"(throttled {throttled_ours})  results {results}", file=sys.stderr)
            rows.append(f"| {name} | {server} | {elapsed:.2f} | {bound:.2f} "
                        f"| {elapsed / bound:.2f}× | {ours} ({throttled_ours} throttled) "
                        f"| {'every user once' if exact else 'FAILED: ' + str(results)} |")
    header = ("| run | server | seconds | bound s | ratio | our ListUsers requests "
              "| result |\n|---|---|---:|---:|---:|---:|---|\n")
    return header + "\n".join(rows) + "\n", failures, main_pages / rate


# The groups benchmark: the wrapper against a server that lists every membership with one
# request at a time (pushdown 'false', max_concurrent_requests '1').
TEAM_SERVERS = {
    "wrapper": "",
    "baseline": ", pushdown 'false', max_concurrent_requests '1'",
}
MEMBER_COLUMNS = """group_name text, username text, email text, status text, enabled boolean,
          created_at timestamp, updated_at timestamp, attributes jsonb"""


def team_queries(teams):
    middle = f"team{teams['groups'] // 2:03d}"
    return [
        ("members of one group", f"select count(*) from {{T}} where group_name = {lit(middle)}"),
        ("all memberships", "select count(*) from {T}"),
        ("groups of 20 users (join)", "select m.group_name, m.username from team_names n "
                                      "join {T} m on m.username = n.name"),
    ]


def team_benchmark(args, state):
    """The group_members runs on the teams pool: per query, the wrapper and the baseline,
    their times, rows and requests per operation. Returns (markdown table, failures)."""
    teams = state["pools"]["teams"]
    groups, members = teams["groups"], teams["memberships"] // teams["groups"]
    with connect(args, args.dbname) as conn:
        for server, options in TEAM_SERVERS.items():
            conn.execute(f"""create server {server}_teams foreign data wrapper cognito_wrapper
                options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x',
                         region {lit(state['region'])}, user_pool_id {lit(teams['id'])},
                         endpoint_url {lit(args.proxy)} {options})""")
            conn.execute(f"create foreign table {server}_members ({MEMBER_COLUMNS}) "
                         f"server {server}_teams options (object 'group_members')")
        conn.execute("create table team_names (name text primary key)")
        step = max(1, groups // 20)
        names = [f"t{1 + (k * step) % groups:03d}m{1 + k:04d}" for k in range(20)]
        with conn.cursor() as cur:
            cur.executemany("insert into team_names values (%s)", [(n,) for n in names])
        conn.execute("analyze team_names")
    expected = {"members of one group": members, "all memberships": groups * members,
                "groups of 20 users (join)": 20}
    rows_out, failures = [], []
    for name, template in team_queries(teams):
        row = {"query": name}
        answers = {}
        for server in TEAM_SERVERS:
            time.sleep(args.pause)
            elapsed, rows, stats = run_one(args, template.format(T=f"{server}_members"))
            count = None if rows is None else (
                rows[0][0] if template.startswith("select count") else len(rows))
            row[server] = {"seconds": elapsed, "rows": count, "by_target": stats["by_target"],
                           "requests": stats["requests"], "throttled": stats["throttled"]}
            answers[server] = None if rows is None else sorted(map(repr, rows))
            print(f"bench: {name:<26} {server:<8} {fmt_s(elapsed):>8} s  rows {count}  "
                  f"{stats['by_target']}  throttled {stats['throttled']}", file=sys.stderr)
        if None not in answers.values() and answers["wrapper"] != answers["baseline"]:
            failures.append(f"{name}: wrapper and baseline returned different rows")
        if row["wrapper"]["rows"] is not None and row["wrapper"]["rows"] != expected[name]:
            failures.append(f"{name}: {row['wrapper']['rows']} rows, expected {expected[name]}")
        rows_out.append(row)

    def requests(r):
        ops = ", ".join(f"{op} {n}" for op, n in sorted(r["by_target"].items()))
        text = f"{r['requests']} ({ops})"
        return text + (f", {r['throttled']} throttled" if r["throttled"] else "")

    # Every ListUsersInGroup page at the UserList quota, the floor of the whole listing.
    pages = groups * -(-members // 60)
    bound = pages / 30
    table = ("| query | rows | wrapper s | wrapper requests | baseline s | baseline requests "
             "| speed-up |\n|---|---:|---:|---|---:|---|---:|\n") + "".join(
        f"| {r['query']} | {r['wrapper']['rows']} | {fmt_s(r['wrapper']['seconds'])} "
        f"| {requests(r['wrapper'])} | {fmt_s(r['baseline']['seconds'])} "
        f"| {requests(r['baseline'])} "
        f"| {speed_up(r['wrapper']['seconds'], r['baseline']['seconds'], args.timeout)} |\n"
        for r in rows_out)
    whole = rows_out[1]["wrapper"]["seconds"]
    if not isinstance(whole, str):
        table += (f"\nAll {groups * members} memberships: {fmt_s(whole)} s against the bound "
                  f"of {pages} ListUsersInGroup pages at 30 a second, {bound:.2f} s "
                  f"({whole / bound:.2f}×).\n")
    return table, failures


def app_client_queries(middle_id):
    return [
        ("names only", "select client_id, client_name from {T}"),
        ("select *", "select * from {T}"),
        ("select * limit 5", "select * from {T} limit 5"),
        ("one client by id", f"select * from {{T}} where client_id = {lit(middle_id)}"),
    ]


def app_clients_benchmark(args, state):
    """The app_clients runs on the apps pool: what reading only the listing's columns saves
    against reading a column that needs DescribeUserPoolClient. Returns (markdown section,
    failures)."""
    apps = state["pools"]["apps"]
    n = apps["app_clients"]
    upstream = boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                            region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                            aws_secret_access_key="x")
    listed = [c for page in upstream.get_paginator("list_user_pool_clients").paginate(
        UserPoolId=apps["id"]) for c in page["UserPoolClients"]]
    middle_id = sorted(c["ClientId"] for c in listed)[n // 2]
    with connect(args, args.dbname) as conn:
        conn.execute(f"""create server wrapper_apps foreign data wrapper cognito_wrapper
            options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x',
                     region {lit(state['region'])}, user_pool_id {lit(apps['id'])},
                     endpoint_url {lit(args.proxy)})""")
        conn.execute("import foreign schema cognito limit to (app_clients) "
                     "from server wrapper_apps into public")
    expected = {"names only": n, "select *": n, "select * limit 5": min(5, n),
                "one client by id": 1}
    rows_out, failures = [], []
    for name, template in app_client_queries(middle_id):
        time.sleep(args.pause)
        elapsed, rows, stats = run_one(args, template.format(T="app_clients"))
        count = None if rows is None else len(rows)
        ops = ", ".join(f"{op} {k}" for op, k in sorted(stats["by_target"].items()))
        requests = f"{stats['requests']} ({ops})" + (
            f", {stats['throttled']} throttled" if stats["throttled"] else "")
        rows_out.append((name, count, elapsed, requests))
        print(f"bench: app_clients {name:<18} {fmt_s(elapsed):>8} s  rows {count}  "
              f"{stats['by_target']}  throttled {stats['throttled']}", file=sys.stderr)
        if count is not None and count != expected[name]:
            failures.append(f"app_clients {name}: {count} rows, expected {expected[name]}")
    table = ("| query | rows | seconds | requests |\n|---|---:|---:|---|\n" + "".join(
        f"| {q} | {c} | {fmt_s(e)} | {r} |\n" for q, c, e, r in rows_out))
    bound = n / 5
    star = rows_out[1][2]
    table += (f"\n`select *` describes each of the {n} clients: at DescribeUserPoolClient's "
              f"5 a second per pool that is at least {bound:.1f} s"
              + (f"; it took {star / bound:.2f}× that" if not isinstance(star, str) else "")
              + ".\n")
    section = ("## App clients\n\n" + APPS_TEXT.format(clients=n) + table
               + f"\nMeasured {now_utc()} with `{args.command}` at revision "
                 f"{git_revision()}; load average (1 / 5 / 15 min) {machine()['load']}.\n")
    return section, failures


# The writes benchmark: a server writing with the defaults (batch_size 50: that many rows'
# requests in flight together) against one writing one row at a time (batch_size '1').
WRITE_SERVERS = {
    "wrapper": ("w", ""),
    "baseline": ("b", ", batch_size '1'"),
}
# Cognito's write quotas at AWS's defaults, as the proxy meters them (scripts/bench.sh).
WRITE_RATES = {"AdminCreateUser": 50, "AdminDisableUser": 25, "AdminDeleteUser": 25}


def write_runs(n, prefix):
    """(run, SQL, rows written, the operation each row sends) for a server's PREFIX users:
    insert N, disable the first half, delete that half."""
    half = n // 2
    last = f"{prefix}{half:04d}"
    return [
        (f"insert {n} users",
         f"insert into {{T}} (username, email) "
         f"select format('{prefix}%s', lpad(n::text, 4, '0')), "
         f"format('{prefix}%s@example.com', n) from generate_series(1, {n}) n",
         n, "AdminCreateUser"),
        (f"disable {half}",
         f"update {{T}} set enabled = false where username like '{prefix}%' "
         f"and username <= {lit(last)}", half, "AdminDisableUser"),
        (f"delete {half}",
         f"delete from {{T}} where username like '{prefix}%' and username <= {lit(last)}",
         half, "AdminDeleteUser"),
    ]


def run_write(args, sql):
    """One write statement in a fresh connection: (seconds or "timeout", rows, stats delta)."""
    with connect(args, args.dbname) as conn:
        conn.execute(f"set statement_timeout = '{args.timeout}s'")
        conn.execute("select 1")
        proxy_call(args.proxy, "reset", "POST")
        start = time.monotonic()
        try:
            rows = conn.execute(sql).rowcount
            elapsed = time.monotonic() - start
        except psycopg.errors.QueryCanceled:
            rows, elapsed = None, "timeout"
        stats = proxy_call(args.proxy, "stats")
    return elapsed, rows, stats


def writes_benchmark(args, state):
    """The write runs on a new, empty pool: insert, disable and delete with the defaults and
    with batch_size '1', each timed against its quota's bound; then the pool must hold
    exactly the users the statements leave. Returns (markdown section, failures)."""
    n, base_n = args.write_users, args.write_baseline
    upstream = boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                            region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                            aws_secret_access_key="x")
    # Made directly at the emulator, so that the proxy's counters see only the runs.
    pool_id = upstream.create_user_pool(PoolName="bench-writes")["UserPool"]["Id"]
    with connect(args, args.dbname) as conn:
        for server, (_, options) in WRITE_SERVERS.items():
            conn.execute(f"""create server {server}_writes foreign data wrapper cognito_wrapper
                options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x',
                         region {lit(state['region'])}, user_pool_id {lit(pool_id)},
                         endpoint_url {lit(args.proxy)}, updatable 'true' {options})""")
            conn.execute(f"create foreign table {server}_wusers (username text, email text, "
                         f"enabled boolean) server {server}_writes options (object 'users')")
    rows_out, failures = [], []
    runs = {server: write_runs(n if server == "wrapper" else base_n, prefix)
            for server, (prefix, _) in WRITE_SERVERS.items()}
    for k in range(3):
        for server in WRITE_SERVERS:
            name, template, want, op = runs[server][k]
            time.sleep(args.pause)
            elapsed, rows, stats = run_write(args, template.format(T=f"{server}_wusers"))
            print(f"bench: writes {server:<8} {name:<18} {fmt_s(elapsed):>8} s  rows {rows}  "
                  f"{stats['by_target']}  throttled {stats['throttled']}  "
                  f"max in flight {stats['max_in_flight']}", file=sys.stderr)
            if rows is not None and rows != want:
                failures.append(f"writes {server} {name}: {rows} rows, expected {want}")
            rows_out.append({"server": server, "run": name, "rows": rows, "op": op,
                             "seconds": elapsed, "stats": stats, "want": want})
    # What the statements leave: each server's second half, enabled; nothing else.
    held = {}
    for page in upstream.get_paginator("list_users").paginate(UserPoolId=pool_id):
        for u in page["Users"]:
            if u["Username"] in held:
                failures.append(f"writes: user {u['Username']} listed twice")
            held[u["Username"]] = u["Enabled"]
    left = {f"{prefix}{i:04d}": True
            for server, (prefix, _) in WRITE_SERVERS.items()
            for i in range((n if server == "wrapper" else base_n) // 2 + 1,
                           (n if server == "wrapper" else base_n) + 1)}
    if held != left:
        missing, extra = sorted(set(left) - set(held)), sorted(set(held) - set(left))
        disabled = sorted(u for u, e in held.items() if not e)
        failures.append(f"writes: the pool holds {len(held)} users, expected {len(left)}; "
                        f"missing {missing[:5]}, unexpected {extra[:5]}, disabled {disabled[:5]}")
    upstream.delete_user_pool(UserPoolId=pool_id)

    lines = []
    for r in rows_out:
        # The quota's bound for the wrapper's whole run, and the baseline's time scaled to it.
        full = n if r["op"] == "AdminCreateUser" else n // 2
        bound = full / WRITE_RATES[r["op"]]
        scaled = (r["seconds"] * full / r["want"]
                  if not isinstance(r["seconds"], str) and r["want"] else r["seconds"])
        s = r["stats"]
        ops = ", ".join(f"{op} {k}" for op, k in sorted(s["by_target"].items()))
        label = r["run"] if r["server"] == "wrapper" else r["run"] + (
            f" (scaled to {full})" if r["want"] != full else "")
        lines.append(f"| {label} | {r['server']} | {fmt_s(r['seconds'])} "
                     f"| {fmt_s(scaled)} | {bound:.1f} "
                     f"| {'–' if isinstance(scaled, str) else f'{scaled / bound:.2f}×'} "
                     f"| {s['requests']} ({ops}) | {s['throttled']} | {s['max_in_flight']} |")
    table = ("| run | server | seconds | seconds for the whole run | bound s | ratio "
             "| requests | throttled | most in flight |\n"
             "|---|---|---:|---:|---:|---:|---|---:|---:|\n" + "\n".join(lines) + "\n")
    section = ("## Writes\n\n" + WRITES_TEXT.format(users=n, half=n // 2, base=base_n)
               + table + "\n" + WRITES_NOTES + f"\nMeasured {now_utc()} with `{args.command}` at revision "
               f"{git_revision()}; load average (1 / 5 / 15 min) {machine()['load']}.\n")
    return section, failures


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def replace_section(path, section):
    """PATH with its section of the same heading replaced by SECTION (or SECTION appended):
    a run of one part of the benchmark keeps the other parts' figures."""
    text = Path(path).read_text() if Path(path).exists() else ""
    heading = section.split("\n", 1)[0]
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        rest = "\n" + text[end + 1:] if end >= 0 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    Path(path).write_text(text)


def fmt_s(v):
    return v if isinstance(v, str) else f"{v:.2f}"


def fmt_requests(r):
    text = str(r["list_users"])
    if r["throttled"]:
        text += f" ({r['throttled']} throttled)"
    return text


def speed_up(w, b, timeout):
    if isinstance(w, str):
        return "–"
    if isinstance(b, str):
        return f"> {timeout / max(w, 1e-3):.0f}×"
    return f"{b / max(w, 1e-3):.1f}×"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--state", required=True, help="the seeded emulator's state JSON")
    ap.add_argument("--proxy", required=True, help="fault_proxy URL in front of the emulator")
    ap.add_argument("--pghost", default=os.environ.get("PGHOST", "127.0.0.1"))
    ap.add_argument("--pgport", default=os.environ.get("PGPORT", "56329"))
    ap.add_argument("--pguser", default=os.environ.get("PGUSER", "postgres"))
    ap.add_argument("--dbname", default="bench")
    ap.add_argument("--timeout", type=int, default=120, help="statement_timeout, seconds")
    ap.add_argument("--pause", type=float, default=1.1,
                    help="seconds between runs, so that one run's quota window is over")
    ap.add_argument("--wrapper-options", default="",
                    help="extra options for the wrapper server, e.g. \"max_concurrent_requests '16'\"")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--json", default=str(ROOT / "tests" / "results" / "bench.json"))
    ap.add_argument("--command", default="scripts/bench.sh")
    ap.add_argument("--write-users", type=int, default=1000,
                    help="users the wrapper inserts (it disables and deletes half of them)")
    ap.add_argument("--write-baseline", type=int, default=200,
                    help="users the one-at-a-time baseline inserts, disables and deletes")
    ap.add_argument("--only", choices=["app_clients", "writes"],
                    help="run only these runs and replace only their section of --out")
    args = ap.parse_args()

    state = json.loads(Path(args.state).read_text())
    if args.only:
        create_database(args)
        run = {"app_clients": app_clients_benchmark, "writes": writes_benchmark}[args.only]
        section, failures = run(args, state)
        print(section)
        if failures:
            print("bench: FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
            return 1
        replace_section(args.out, section)
        print(f"bench: replaced the {args.only} section of {args.out}", file=sys.stderr)
        return 0
    if "plain" in state["pools"]:
        state["pools"]["shared"] = state["pools"]["plain"]
    picked = pick_users(state, state["endpoint"])
    print(f"bench: middle user {picked['username']} <{picked['email']}> sub {picked['sub']}; "
          f"join names {picked['spread'][0]} .. {picked['spread'][-1]}", file=sys.stderr)
    server_version, ext_version = setup(args, state, picked)
    proxy_config = proxy_call(args.proxy, "config")

    results, failures = [], []
    for name, template in queries(picked):
        row = {"query": name, "sql": template.format(T="T")}
        fingerprints = {}
        for server in SERVERS:
            time.sleep(args.pause)
            elapsed, rows, stats = run_one(args, template.format(T=f"{server}_users"))
            count = None if rows is None else (
                rows[0][0] if name == "full scan" else len(rows))
            row[server] = {"seconds": elapsed, "rows": count,
                           "list_users": stats["by_target"].get("ListUsers", 0),
                           "other_requests": stats["requests"]
                           - stats["by_target"].get("ListUsers", 0),
                           "throttled": stats["throttled"], "faulted": stats["faulted"],
                           "max_in_flight": stats["max_in_flight"]}
            if rows is not None and name != "limit 10":  # any 10 rows will do for LIMIT
                fingerprints[server] = sorted(map(repr, rows))
            print(f"bench: {name:<22} {server:<8} {fmt_s(elapsed):>8} s  rows {count}  "
                  f"ListUsers {row[server]['list_users']}  throttled {stats['throttled']}  "
                  f"max in flight {stats['max_in_flight']}", file=sys.stderr)
        w, b = row["wrapper"], row["baseline"]
        if w["rows"] is not None and b["rows"] is not None:
            if w["rows"] != b["rows"]:
                failures.append(f"{name}: wrapper returned {w['rows']} rows, "
                                f"baseline {b['rows']}")
            elif len(fingerprints) == 2 and fingerprints["wrapper"] != fingerprints["baseline"]:
                failures.append(f"{name}: wrapper and baseline returned different rows")
        row["rows"] = w["rows"] if w["rows"] is not None else b["rows"]
        results.append(row)

    expected = {"full scan": state["pools"]["main"]["users"], "lookup by email": 1,
                "lookup by username": 1, "lookup by sub": 1, "limit 10": 10,
                "prefix LIKE": picked["prefix_rows"], "join 20 local names": 20}
    for row in results:
        if row["rows"] is not None and row["rows"] != expected[row["query"]]:
            failures.append(f"{row['query']}: {row['rows']} rows, expected "
                            f"{expected[row['query']]}")

    teams_table = ""
    if "teams" in state["pools"]:
        teams_table, teams_failures = team_benchmark(args, state)
        failures += teams_failures
        print(teams_table)

    apps_section = ""
    if "apps" in state["pools"]:
        apps_section, apps_failures = app_clients_benchmark(args, state)
        failures += apps_failures
        print(apps_section)

    writes_section, writes_failures = writes_benchmark(args, state)
    failures += writes_failures
    print(writes_section)

    shared_table, lone_bound = "", None
    if "shared" in state["pools"]:
        shared_table, shared_failures, lone_bound = shared_quota(args, state)
        failures += shared_failures
        print(shared_table)

    header = ("| query | rows | wrapper s | wrapper requests | baseline s | baseline requests "
              "| speed-up |\n|---|---:|---:|---:|---:|---:|---:|\n")
    table = header + "".join(
        f"| {r['query']} | {r['rows'] if r['rows'] is not None else '?'} "
        f"| {fmt_s(r['wrapper']['seconds'])} | {fmt_requests(r['wrapper'])} "
        f"| {fmt_s(r['baseline']['seconds'])} | {fmt_requests(r['baseline'])} "
        f"| {speed_up(r['wrapper']['seconds'], r['baseline']['seconds'], args.timeout)} |\n"
        for r in results)
    print(table)

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
         "machine": machine(), "users": state["pools"]["main"]["users"],
         "proxy": proxy_config, "picked": picked, "results": results,
         "failures": failures}, indent=2) + "\n")

    if failures:
        print("bench: FAILED, the two servers disagree or miss rows:\n  "
              + "\n  ".join(failures), file=sys.stderr)
        print(f"bench: {args.out} left as it was", file=sys.stderr)
        return 1

    if lone_bound:
        lone = results[0]["wrapper"]["seconds"]
        shared_table += (f"\nA lone full scan of {state['pools']['main']['users']} users (the first "
                         f"row of the table above): {fmt_s(lone)} s against the quota's bound of "
                         f"{lone_bound:.2f} s"
                         + (f", {lone / lone_bound:.2f}×" if not isinstance(lone, str) else "")
                         + ".\n")
    write_doc(args, state, picked, proxy_config, server_version, ext_version, table,
              ("\n## Sharing the quota\n\n" + SHARED_TEXT.format(
                  users=state["pools"]["shared"]["users"]) + shared_table
               if shared_table else "")
              + ("\n## Group members\n\n" + TEAMS_TEXT.format(**state["pools"]["teams"])
                 + teams_table if teams_table else "")
              + ("\n" + apps_section if apps_section else "")
              + "\n" + writes_section)
    print(f"bench: wrote {args.out}", file=sys.stderr)
    return 0


SHARED_TEXT = """Several clients under the one quota (30 ListUsers requests per rolling second,
as AWS meters them per account and region), on a pool of {users} users: four sessions
scanning it at once, and one session scanning it while another client (boto3, outside the
cluster, through the same proxy) steadily sends 20 requests a second. *bound*: the time the
quota allows for full pages (4 x pages / 30 per s; pages / the 10 per s left). *ratio*:
seconds / bound. *requests*: ListUsers requests of the sessions, throttled ones included.
The other client does not slow down: beyond the quota the proxy refuses whichever request
comes next, its own or ours, so a scan that keeps retrying can take more than the 10 per s
left (the bound of that row is then not a floor).

"""


TEAMS_TEXT = """`object 'group_members'` on a pool of {groups} groups of equal size ({memberships}
memberships, every user in one group), through the same proxy, which also meters each quota
category as Cognito does: UserList (ListUsers, ListUsersInGroup) 30 a second,
UserPoolResourceRead (ListGroups, GetGroup) 25 and ListGroups alone 5 per pool,
UserResourceRead (AdminListGroupsForUser) 120. The baseline lists every group's members with
one request at a time and checks conditions in PostgreSQL (`pushdown 'false',
max_concurrent_requests '1'`); the join reads 20 usernames from a local table.
*requests*: every request the proxy saw, per operation.

"""


APPS_TEXT = """`object 'app_clients'` (imported) on a pool of {clients} app clients, through the same
proxy, which meters UserPoolClientRead (ListUserPoolClients, DescribeUserPoolClient) at 20 a
second and each of the two operations at 5 a second per pool, as Cognito does.
ListUserPoolClients gives only a client's id and name; any other column needs one
DescribeUserPoolClient per client. *requests*: every request the proxy saw, per operation.
Rerun this part alone with `BENCH_ONLY=app_clients scripts/bench.sh`, which replaces only
this section.

"""


WRITES_TEXT = """INSERT, UPDATE and DELETE on `object 'users'` (`updatable 'true'`) of a new, empty
pool, through the same proxy, which also meters Cognito's write quotas at AWS's defaults:
UserCreation (AdminCreateUser) 50 requests a second, UserUpdate (AdminDisableUser,
AdminEnableUser, AdminDeleteUser, AdminUpdateUserAttributes, AdminDeleteUserAttributes,
AdminAddUserToGroup, AdminRemoveUserFromGroup) 25. `wrapper` writes with the default
`batch_size` (50 rows' requests in flight together); `baseline` with `batch_size '1'`, one
request at a time. The wrapper inserts {users} users, disables the first {half} (`update ...
set enabled = false where username like 'w%' and username <= ...`) and deletes them; the
baseline does the same with {base} users of its own, and its times are also scaled to the
wrapper's row counts. The UPDATE and DELETE first list the users (ListUsers, at UserList's 30
a second). *bound*: the quota's floor for the wrapper's rows ({users} / 50 per s, {half} / 25
per s). *ratio*: seconds for the whole run / bound. *requests*: every request the proxy saw,
per operation; *throttled*: those it refused at a quota (each retried). Afterwards the pool
must hold exactly each server's second half, enabled, each user once, or the run fails.
Rerun this part alone with `BENCH_ONLY=writes scripts/bench.sh`, which replaces only this
section.

"""


WRITES_NOTES = """Where the time above the bound goes (src/cognito/rate.rs, src/fdw/modify.rs,
src/fdw/settle.rs): the write limiters space requests 2% wider than the quota (49 and 24.5 a
second: 1.02× the bound). An INSERT sends `batch_size` rows and waits for the last of them
before PostgreSQL hands over the next batch (ExecForeignBatchInsert), so each batch
ends with one round trip with fewer requests in flight. An UPDATE or DELETE keeps its
rows in flight across rows, but they are driven only while the statement waits for a free
place among them; while the scan under it waits for its next ListUsers page, requests whose
turn has come are not sent, then leave together. The quota counts requests per rolling
second, so a request sent late lets one a second later arrive less than a second after it:
that is throttled, retried, and cuts the write rate by a quarter for a while. That this is
where the UPDATE's and DELETE's throttled requests come from is inferred, not traced: the
INSERT, with no scan under it and the same 2% slack, is never throttled, and there are about
two or three per page of the scan. The baseline's time per row is one round trip: the
proxy's 100 ms plus the emulator's own time.
"""


def write_doc(args, state, picked, proxy_config, server_version, ext_version, table,
              sections):
    """The report: the users runs' TABLE under the settings, then the other runs' SECTIONS,
    each a `## ` section of its own (BENCH_ONLY replaces one in place)."""
    m = machine()
    now = now_utc()
    proxy_on = [f"{proxy_config['latency_ms']:g} ms latency added to every request",
                f"quota of {proxy_config['rate']} ListUsers requests started per rolling second"
                if proxy_config["rate"] else "no rate quota"]
    proxy_on += [f"`{k}` {v}" for k, v in proxy_config.items() if k.endswith("_fraction") and v]
    proxy_on = ", ".join(proxy_on)
    wrapper_opts = "default options" + (f" plus `{args.wrapper_options}`"
                                        if args.wrapper_options else "")
    text = f"""# Benchmarks

How fast the wrapper reads a Cognito user pool, against a baseline that reads it the way the
reference wrapper does (the whole pool, one page of 60 users after the other, WHERE and LIMIT
applied by PostgreSQL). Rerun with one command:

```sh
{args.command}
```

(`SKIP_BUILD=1` skips setting up the tools and building and installing the extension;
`BENCH_USERS` sets the pool size, default 6000; see the head of `scripts/bench.sh`.) It starts
a throwaway PostgreSQL 15, the seeded moto emulator and `tests/emulator/fault_proxy.py` in
front of it, which adds AWS-like latency to every request and enforces ListUsers' quota of
30 requests per second (a request beyond it gets `TooManyRequestsException`, as from
Cognito). The driver is `tests/bench/bench.py`; every run's raw figures also land in
`tests/results/bench.json`.

## Latest run

- Date: {now}
- Command: `{args.command}`
- Revision: {git_revision()}; extension `wrappers` {ext_version} on PostgreSQL {server_version}
- Machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory']} memory, Linux {m['kernel']};
  load average (1 / 5 / 15 min) when the report was written: {m['load']}
- Pool: {state['pools']['main']['users']} users (seeded moto 5.2.5, `--pools main,plain,teams,apps`), 60 per page
- Proxy: {proxy_on}
- Servers: `wrapper` with {wrapper_opts}; `baseline` with `pushdown 'false', parallel_scan 'off'`
- Each query runs once per server, in a fresh connection after a warm-up `select 1`, with
  `statement_timeout` {args.timeout} s ("timeout" in the table), {args.pause} s apart so that
  one run's quota window is over before the next starts
- Lookups use user `{picked['username']}` from the middle of the pool; the join reads 20
  usernames spread over the pool from a local table; the prefix is `{picked['prefix']}%`

{table}
*rows*: rows returned (for the full scan, the count), equal for both servers, or the run
fails. *requests*: ListUsers requests the proxy saw during the query, throttled answers
included and counted in parentheses. *speed-up*: baseline time / wrapper time.
{sections}"""
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    sys.exit(main())
