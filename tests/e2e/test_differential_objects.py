"""Differential test of the objects beside users: the same WHERE clause over the foreign
table (with pushdown) and over a local copy must give the same rows. The local copy is an
independent oracle, what boto3 lists of the demo pool (its groups and each group's members,
converted here by the README's column tables); every row of each foreign table must equal it.

Clauses come from a seeded random generator (set DIFF_SEED to try another): equality and IN
lists on the columns that are sent (group names, usernames) and on those that are not, LIKE,
NULL tests, comparisons, AND/OR/NOT, over values from the pool and values built to trip a
lookup (other case, white space, quotes, empty, too long, non-ASCII); then LIMIT, parameters on
the generic plan, and joins that look each outer row up.
"""

import json
import os
import random
import uuid

import boto3
import pytest

from conftest import (ODD_VALUES, ClauseGen, connect, create_db, drop_db, figure,
                      install_wrapper, sorted_rows as rows, utc)

SEED = int(os.environ.get("DIFF_SEED", "20241201"))
CLAUSES = 150

GROUP_COLUMNS = "group_name, description, precedence, role_arn, created_at, updated_at"
MEMBER_COLUMNS = "group_name, username, email, status, enabled, created_at, updated_at, attributes"


def oracle(state):
    """The demo pool's groups and memberships as boto3 lists them, as rows of the imported
    tables."""
    client = boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                          region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                          aws_secret_access_key="x")
    pool = state["pools"]["demo"]["id"]
    groups, members = [], []
    for page in client.get_paginator("list_groups").paginate(UserPoolId=pool):
        for g in page["Groups"]:
            groups.append((g["GroupName"], g.get("Description") or None, g.get("Precedence"),
                           g.get("RoleArn") or None, utc(g["CreationDate"]),
                           utc(g["LastModifiedDate"])))
    for name, *_ in groups:
        for page in client.get_paginator("list_users_in_group").paginate(
                UserPoolId=pool, GroupName=name):
            for u in page["Users"]:
                attrs = {a["Name"]: a["Value"] for a in u.get("Attributes", [])}
                members.append((name, u["Username"], attrs.get("email"), u["UserStatus"],
                                u["Enabled"], utc(u["UserCreateDate"]),
                                utc(u["UserLastModifiedDate"]), json.dumps(attrs)))
    return groups, members


@pytest.fixture(scope="module")
def objects_db(psql, pg_env, state):
    name = f"t_diffobj_{uuid.uuid4().hex[:8]}"
    create_db(psql, name)
    region, endpoint, pool = state["region"], state["endpoint"], state["pools"]["demo"]["id"]
    groups, members = oracle(state)
    assert len(groups) == state["pools"]["demo"]["groups"]
    assert len(members) == state["pools"]["demo"]["memberships"]
    with connect(pg_env, name) as conn:
        install_wrapper(conn)
        conn.execute(f"create server demo foreign data wrapper cognito_wrapper options ("
                     f"aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', "
                     f"region '{region}', user_pool_id '{pool}', endpoint_url '{endpoint}', "
                     f"requests_per_second '1000')")
        conn.execute("create schema fdw")
        conn.execute("import foreign schema cognito limit to (groups, group_members) "
                     "from server demo into fdw")
        conn.execute("create table local_groups as select * from fdw.groups limit 0")
        conn.execute("create table local_group_members as select * from fdw.group_members "
                     "limit 0")
        with conn.cursor() as cur:
            cur.executemany(f"insert into local_groups ({GROUP_COLUMNS}) values "
                            f"(%s, %s, %s, %s, %s, %s)", groups)
            cur.executemany(f"insert into local_group_members ({MEMBER_COLUMNS}) values "
                            f"(%s, %s, %s, %s, %s, %s, %s, %s)", members)
    yield name, groups, members
    drop_db(psql, name)


def test_every_row_equals_the_oracle(pg_env, objects_db):
    name, groups, members = objects_db
    with connect(pg_env, name) as conn:
        for table in ("groups", "group_members"):
            assert rows(conn, f"fdw.{table}") == rows(conn, f"local_{table}"), table
        assert len(rows(conn, "fdw.group_members")) == len(members) > 0


def clause_values(groups, members):
    """What the clauses compare each column with: the pool's values and odd ones."""
    names = sorted({g[0] for g in groups})
    users = sorted({m[1] for m in members}) + ["judy", "ivan"]  # ivan: in no group
    return {
        "group_name": names + [n.upper() for n in names] + [n + " " for n in names[:2]]
        + ODD_VALUES,
        "username": users + [u.upper() for u in users[:3]] + [" " + users[0]] + ODD_VALUES,
        "description": [g[1] for g in groups if g[1]] + ["nothing", ""],
        "role_arn": ["arn:x", ""],
        "email": [f"{u}@example.com" for u in users[:4]] + ["x@example.com"],
        "status": ["CONFIRMED", "UNCONFIRMED", "FORCE_CHANGE_PASSWORD", "confirmed"],
    }


TABLES = {
    "groups": (["group_name", "group_name", "description", "role_arn"],
               ["precedence < 5", "precedence >= 10", "precedence is null",
                "created_at > '2024-03-01 00:02'"]),
    "group_members": (["group_name", "group_name", "username", "username", "email",
                       "status"],
                      ["enabled", "not enabled", "attributes ->> 'custom:tenant' = 'acme'",
                       "created_at < '2024-01-01'"]),
}


def test_where_clauses_give_the_same_rows_as_a_local_copy(pg_env, objects_db):
    name, groups, members = objects_db
    rng = random.Random(SEED)
    mismatches, compared = [], 0
    with connect(pg_env, name) as conn:
        gen = ClauseGen(rng, conn, clause_values(groups, members))
        for table, (columns, extra) in TABLES.items():
            for _ in range(CLAUSES):
                where = gen.clause(columns, extra)
                got = rows(conn, f"fdw.{table}", where)
                want = rows(conn, f"local_{table}", where)
                compared += 1
                if got != want:
                    mismatches.append((table, where, got, want))
            # LIMIT: as many rows as there are, at most n, each one that matches.
            for _ in range(20):
                where, n = gen.clause(columns, extra), rng.randint(0, 4)
                got = conn.execute(f"select x::text from fdw.{table} x where {where} "
                                   f"limit {n}").fetchall()
                want = rows(conn, f"local_{table}", where)
                compared += 1
                if len(got) != min(n, len(want)) or any(r[0] not in want for r in got):
                    mismatches.append((table, f"{where} limit {n}", got, want))
    figure(f"differential objects: {compared} clauses on groups and group_members "
           f"(seed {SEED}), {len(mismatches)} mismatches")
    assert not mismatches, "\n".join(f"{t}: where {w}\n  fdw:   {g}\n  local: {l_}"
                                     for t, w, g, l_ in mismatches[:5])


def test_parameters_and_joins_give_the_same_rows(pg_env, objects_db):
    """A lookup's value as a parameter of the generic plan, and joins whose inner side looks
    each outer row up (inner and left joins), against the same on the local copy."""
    name, groups, members = objects_db
    names = [g[0] for g in groups] + ["STAFF", "nobody", "two words", ""]
    users = sorted({m[1] for m in members}) + ["ivan", "ALICE", "nobody"]
    with connect(pg_env, name) as conn:
        conn.execute("set plan_cache_mode = force_generic_plan")
        for table, column, values in [("group_members", "group_name", names),
                                      ("group_members", "username", users),
                                      ("groups", "group_name", names)]:
            for value in values:
                got = rows(conn, f"fdw.{table}", f"{column} = %s", (value,))
                assert got == rows(conn, f"local_{table}", f"{column} = %s", (value,)), (
                    table, column, value)
        conn.execute("reset plan_cache_mode")
        conn.execute("create temp table wanted (name text)")
        conn.execute("insert into wanted values ('bob'), ('zoe'), ('ivan'), ('nobody'), "
                     "('staff'), ('empty'), ('équipe')")
        conn.execute("analyze wanted")
        for join, looked_up in [
            ("select w.name, m.group_name from wanted w join {m} m on m.username = w.name",
             True),
            ("select w.name, m.username from wanted w left join {m} m "
             "on m.group_name = w.name", False),
            ("select g.group_name, m.username from {g} g left join {m} m using (group_name) "
             "where g.group_name in ('ops', 'empty', 'Staff')", True),
        ]:
            fdw = join.format(m="fdw.group_members", g="fdw.groups")
            local = join.format(m="local_group_members", g="local_groups")
            plan = "\n".join(r[0] for r in conn.execute(f"explain (costs off) {fdw}"))
            got = sorted(conn.execute(fdw).fetchall(), key=repr)
            want = sorted(conn.execute(local).fetchall(), key=repr)
            assert got == want, f"{fdw}\n{plan}"
            if looked_up:
                # The inner side is looked up per outer row, not listed.
                assert ("Cognito Lookup: username = w.name" in plan
                        or "Cognito Lookup: group_name = g.group_name" in plan), plan
