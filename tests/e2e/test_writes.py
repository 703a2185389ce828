"""Round trips of writes: statements run on the foreign tables and on a local copy must leave
Cognito holding exactly what the copy holds, also when Cognito throttles and fails.

Each test makes a pool of its own (CreateUserPool through boto3) and deletes it at the end. The
oracle is what boto3 lists of the pool afterwards, not what the wrapper reads back: the test
would see a user missing, doubled or left with stale values even if the wrapper's reading
were wrong in the same way.

The fault run puts the fault proxy (tests/emulator/fault_proxy.py) before the emulator for
every request: 30% are answered TooManyRequestsException (not executed), 10% HTTP 500 (not
executed), and 3% are executed and then cut off in the middle of their answer, so the wrapper
does not know whether they were made. A retried AdminCreateUser then meets "user exists" and
must take the user it made for its own; a retried AdminDeleteUser finds the user gone.
"""

import json
import uuid

import boto3
import psycopg
import pytest

from conftest import connect, figure, install_wrapper

USERS = 500
UPDATED = 200
DELETED = 100


def cognito(state):
    return boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                        region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                        aws_secret_access_key="x")


@pytest.fixture
def pool(state):
    """A new, empty pool with a custom attribute, deleted after the test."""
    client = cognito(state)
    created = client.create_user_pool(
        PoolName=f"writes-{uuid.uuid4().hex[:8]}",
        Schema=[{"Name": "team", "AttributeDataType": "String", "Mutable": True}])
    pool_id = created["UserPool"]["Id"]
    yield pool_id
    client.delete_user_pool(UserPoolId=pool_id)


def held(state, pool_id):
    """Every user of the pool as boto3 lists it: username -> (enabled, attributes without sub),
    and every membership as (group, username)."""
    client = cognito(state)
    users = {}
    for page in client.get_paginator("list_users").paginate(UserPoolId=pool_id):
        for u in page["Users"]:
            assert u["Username"] not in users, f"user {u['Username']} listed twice"
            attrs = {a["Name"]: a["Value"] for a in u.get("Attributes", []) if a["Name"] != "sub"}
            users[u["Username"]] = (u["Enabled"], attrs)
    members = set()
    for page in client.get_paginator("list_groups").paginate(UserPoolId=pool_id):
        for g in page["Groups"]:
            for mpage in client.get_paginator("list_users_in_group").paginate(
                    UserPoolId=pool_id, GroupName=g["GroupName"]):
                for u in mpage["Users"]:
                    members.add((g["GroupName"], u["Username"]))
    return users, members


def expected(conn):
    """The local copy, in the shape `held` gives."""
    users = {}
    for username, enabled, attrs in conn.execute(
            "select username, enabled, attrs from local_users"):
        users[username] = (enabled, {k: v for k, v in attrs.items() if v is not None})
    members = set(conn.execute("select group_name, username from local_members").fetchall())
    return users, members


STATEMENTS = [
    # (on the foreign tables, on the local copy)
    (f"""insert into cognito_users (username, email, team, attributes)
         select username, email, team, jsonb_build_object('nickname', nickname)
           from legacy""",
     """insert into local_users
         select username, true,
                jsonb_build_object('email', email, 'custom:team', team, 'nickname', nickname)
           from legacy"""),
    ("insert into cognito_groups (group_name) values ('staff'), ('admins')",
     "select 1"),
    ("""insert into cognito_members (group_name, username)
         select case when n % 3 = 0 then 'admins' else 'staff' end, username
           from legacy where n % 2 = 0""",
     """insert into local_members
         select case when n % 3 = 0 then 'admins' else 'staff' end, username
           from legacy where n % 2 = 0"""),
    (f"""update cognito_users u set team = 'moved', enabled = false,
           attributes = u.attributes - 'nickname'
         from legacy l where l.username = u.username and l.n <= {UPDATED}""",
     f"""update local_users u set enabled = false,
           attrs = (u.attrs - 'nickname') || '{{"custom:team": "moved"}}'
         from legacy l where l.username = u.username and l.n <= {UPDATED}"""),
    (f"""delete from cognito_members m using legacy l
          where l.username = m.username and l.n > {USERS - 2 * DELETED} and l.n % 4 = 0""",
     f"""delete from local_members m using legacy l
          where l.username = m.username and l.n > {USERS - 2 * DELETED} and l.n % 4 = 0"""),
    (f"""delete from cognito_users u using legacy l
          where l.username = u.username and l.n > {USERS - DELETED}""",
     # Deleting a user takes it out of its groups.
     f"""with gone as (delete from local_members m using legacy l
                        where l.username = m.username and l.n > {USERS - DELETED})
         delete from local_users u using legacy l
          where l.username = u.username and l.n > {USERS - DELETED}"""),
]


def round_trip(pg_env, fresh_db, state, pool_id, endpoint, statement_timeout="120s"):
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    conn.execute(f"""create server w foreign data wrapper cognito_wrapper options (
        region '{state["region"]}', user_pool_id '{pool_id}', endpoint_url '{endpoint}',
        updatable 'true', max_attempts '10', request_timeout_ms '60000')""")
    conn.execute("""create user mapping for current_user server w
        options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x')""")
    conn.execute("""create foreign table cognito_users (username text, email text,
        team text options (attribute 'custom:team'), enabled boolean, attributes jsonb)
        server w options (object 'users')""")
    conn.execute("create foreign table cognito_groups (group_name text) server w "
                 "options (object 'groups')")
    conn.execute("create foreign table cognito_members (group_name text, username text) "
                 "server w options (object 'group_members')")
    conn.execute(f"""create table legacy as
        select n, format('user%s', lpad(n::text, 4, '0')) as username,
               format('user%s@example.com', n) as email,
               'team' || (n % 7) as team, 'nick' || n as nickname
          from generate_series(1, {USERS}) n""")
    conn.execute("create table local_users (username text primary key, enabled boolean, "
                 "attrs jsonb)")
    conn.execute("create table local_members (group_name text, username text)")
    conn.execute(f"set statement_timeout = '{statement_timeout}'")
    counts = []
    for foreign, local in STATEMENTS:
        foreign_rows = conn.execute(foreign).rowcount
        local_rows = conn.execute(local).rowcount
        if not local.startswith("select"):
            assert foreign_rows == local_rows, f"{foreign}: {foreign_rows} rows, not {local_rows}"
        counts.append(foreign_rows)
    # The wrapper reads back what boto3 lists (a check of the reading, beside the oracle).
    read = conn.execute("select count(*), count(*) filter (where not enabled) "
                        "from cognito_users").fetchone()
    return conn, counts, read


def test_a_round_trip_leaves_cognito_as_the_local_copy(pg_env, fresh_db, state, pool):
    conn, counts, read = round_trip(pg_env, fresh_db, state, pool, state["endpoint"])
    assert counts == [USERS, 2, USERS // 2, UPDATED, counts[4], DELETED]
    assert counts[4] > 0
    want_users, want_members = expected(conn)
    users, members = held(state, pool)
    assert len(users) == USERS - DELETED
    assert users == want_users
    assert members == want_members
    assert read == (USERS - DELETED, UPDATED)


def test_a_round_trip_under_throttling_and_failures_loses_and_doubles_nothing(
        pg_env, fresh_db, state, pool, fault_proxy):
    url, proxy = fault_proxy(throttle_fraction=0.3, error_fraction=0.1, truncate_fraction=0.03,
                             faults_all=True, seed=11)
    conn, counts, read = round_trip(pg_env, fresh_db, state, pool, url, "600s")
    stats = proxy.snapshot()
    assert counts == [USERS, 2, USERS // 2, UPDATED, counts[4], DELETED]
    want_users, want_members = expected(conn)
    users, members = held(state, pool)
    assert users == want_users
    assert members == want_members
    assert read == (USERS - DELETED, UPDATED)
    assert stats["throttled"] > 100 and stats["by_fault"]["error"] > 30
    assert stats["by_fault"]["truncate"] > 5
    figure(f"writes under faults: {stats['requests']} requests, {stats['throttled']} throttled, "
           f"{stats['by_fault']['error']} HTTP 500, {stats['by_fault']['truncate']} cut off "
           f"after being made; Cognito holds exactly the local copy")


@pytest.mark.parametrize("batch_size, written", [(1, 2), (50, 3)])
def test_a_failing_statement_says_how_many_rows_it_wrote(pg_env, fresh_db, state, pool,
                                                         batch_size, written):
    """One row at a time, the rows before the bad one are written; in one batch, every other
    row of the batch is (they are in flight together), and the count says so exactly."""
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    conn.execute(f"""create server w foreign data wrapper cognito_wrapper options (
        region '{state["region"]}', user_pool_id '{pool}', endpoint_url '{state["endpoint"]}',
        updatable 'true', batch_size '{batch_size}')""")
    conn.execute("""create user mapping for current_user server w
        options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x')""")
    conn.execute("create foreign table u (username text, email text) server w "
                 "options (object 'users')")
    conn.execute("insert into u values ('taken', null)")
    notices = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary))
    with pytest.raises(psycopg.errors.UniqueViolation) as failed:
        conn.execute("insert into u values ('a1', null), ('a2', null), ('taken', null), "
                     "('a3', null)")
    assert f"{written} rows of this statement were written to Cognito before this error" in \
        failed.value.diag.message_detail
    assert any(f"the {written} changes it made to Cognito stay made" in n for n in notices), \
        notices
    names = [n for (n,) in conn.execute("select username from u order by 1")]
    assert names == ["a1", "a2", "a3"][:written] + ["taken"]


@pytest.mark.parametrize("batch_size, in_flight", [(1, 1), (10, 10)])
def test_update_and_delete_keep_batch_size_rows_in_flight(pg_env, fresh_db, state, pool,
                                                          fault_proxy, batch_size, in_flight):
    """Without RETURNING, an UPDATE and a DELETE send up to batch_size rows' requests at once:
    behind 500 ms of latency (ten requests start within it at UserUpdate's 25 a second) the
    proxy sees that many in flight together (one with batch_size '1'), and every row is
    written exactly once."""
    url, proxy = fault_proxy(latency_ms=500)
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    conn.execute(f"""create server w foreign data wrapper cognito_wrapper options (
        region '{state["region"]}', user_pool_id '{pool}', endpoint_url '{url}',
        updatable 'true', batch_size '{batch_size}')""")
    conn.execute("""create user mapping for current_user server w
        options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x')""")
    conn.execute("create foreign table u (username text, enabled boolean) server w "
                 "options (object 'users')")
    conn.execute("insert into u (username) select 'r' || n from generate_series(10, 39) n")
    seen = {}
    for name, sql in [("update", "update u set enabled = false where username < 'r30'"),
                      ("delete", "delete from u where username < 'r30'")]:
        proxy.reset_stats()
        assert conn.execute(sql).rowcount == 20
        seen[name] = proxy.snapshot()["max_in_flight"]
    # A request of the scan before each write may overlap the first writes.
    for name, most in seen.items():
        assert in_flight <= most <= in_flight + 1, f"{name}: {most} requests in flight"
    users, _ = held(state, pool)
    assert {name: enabled for name, (enabled, _) in users.items()} == \
        {f"r{n}": True for n in range(30, 40)}
