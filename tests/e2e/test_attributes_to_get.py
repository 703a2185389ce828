"""A scan asks ListUsers only for the attributes it reads, where that is safe. Cognito answers
AttributesToGet with an error when a user in the results has no value for an attribute asked
for, so the scan asks for `sub` (every user has one) and the attribute of the filter it sends
(every user that filter returns has it), and for everything as soon as a query reads any other
attribute. The emulator answers AttributesToGet as AWS documents (tests/emulator/seeded_moto.py,
`strict_attributes_to_get`), so asking for an attribute a user lacks fails here as it would
against AWS; the fault proxy records what each ListUsers request asked for."""

import boto3
import botocore.exceptions
import pytest

from conftest import connect, install_wrapper

SUB = ["sub"]
ALL = None  # no AttributesToGet: every attribute


@pytest.fixture
def scan(pg_env, fresh_db, state, fault_proxy):
    """run(sql) -> (rows, AttributesToGet of each ListUsers request it made)."""
    url, proxy = fault_proxy()
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    conn.execute(f"""create server few foreign data wrapper cognito_wrapper
        options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x',
                 region '{state["region"]}', user_pool_id '{state["pools"]["main"]["id"]}',
                 endpoint_url '{url}')""")
    conn.execute("""create foreign table few_users (
          username text, sub text, email text, phone_number text, status text,
          created_at timestamp, attributes jsonb)
        server few options (object 'users')""")

    def run(sql):
        proxy.reset_stats()
        rows = conn.execute(sql).fetchall()
        return rows, proxy.snapshot()["attributes_to_get"]

    run.conn = conn
    yield run
    conn.close()


def test_the_emulator_refuses_attributes_some_user_lacks(state):
    """The premise of the tests below: without it they could not tell a wrong request."""
    cognito = boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                           region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                           aws_secret_access_key="x")
    pool = state["pools"]["main"]["id"]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cognito.list_users(UserPoolId=pool, AttributesToGet=["phone_number"], Limit=60)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    page = cognito.list_users(UserPoolId=pool, AttributesToGet=["sub"], Limit=60)
    assert all([a["Name"] for a in u["Attributes"]] == ["sub"] for u in page["Users"])


def test_a_count_and_columns_outside_the_attributes_ask_for_sub_alone(scan, state):
    users = state["pools"]["main"]["users"]
    rows, asked = scan("select count(*) from few_users")
    assert rows == [(users,)]
    assert asked and all(a == SUB for a in asked), asked

    rows, asked = scan("select username, sub, status, created_at from few_users")
    assert len(rows) == users
    assert all(sub for _, sub, _, _ in rows), "every user has a sub"
    assert asked and all(a == SUB for a in asked), asked


def test_the_filtered_attribute_is_asked_for_with_sub(scan):
    rows, asked = scan("select username, email from few_users where email = 'user0010@example.com'")
    assert rows == [("user0010", "user0010@example.com")]
    assert asked == [["email", "sub"]]

    # An IN list: one request per value, each on email.
    rows, asked = scan("select email from few_users "
                       "where email in ('user0011@example.com', 'user0012@example.com') "
                       "order by 1")
    assert rows == [("user0011@example.com",), ("user0012@example.com",)]
    assert asked == [["email", "sub"], ["email", "sub"]]


def test_any_other_attribute_asks_for_all(scan):
    # Users 1..99 by prefix, of which only every fourth has a phone number: asking for
    # phone_number would fail on the others.
    rows, asked = scan("select username, phone_number from few_users "
                       "where username like 'user00%' and phone_number is not null order by 1")
    assert [u for u, _ in rows] == [f"user{i:04d}" for i in range(4, 100, 4)]
    assert rows[0] == ("user0004", "+15550000004")
    assert asked and all(a is ALL for a in asked), asked

    # Filtered on email, but reading the phone number too.
    rows, asked = scan("select phone_number from few_users where email = 'user0011@example.com'")
    assert rows == [(None,)]
    assert asked == [ALL]

    rows, asked = scan("select attributes->>'given_name' from few_users "
                       "where username = 'user0012'")
    assert len(rows) == 1 and rows[0][0]
    assert asked == [ALL]


def test_explain_shows_the_attributes_asked_for(scan):
    plan = "\n".join(r[0] for r in scan("explain (costs off) select count(*) from few_users")[0])
    assert "Cognito Attributes: sub" in plan, plan
    plan = "\n".join(r[0] for r in scan(
        "explain (costs off) select email from few_users where email = 'a@b.c'")[0])
    assert "Cognito Attributes: email, sub" in plan, plan
    plan = "\n".join(r[0] for r in scan("explain (costs off) select email from few_users")[0])
    assert "Cognito Attributes" not in plan, plan
    # EXPLAIN ANALYZE shows what the run asked for. A generic plan expects to send its
    # parameter as an email filter; a value that cannot travel (a double quote) leaves the
    # run unfiltered, and then email may be missing: all attributes.
    scan.conn.execute("set plan_cache_mode = force_generic_plan")
    scan.conn.execute("prepare look(text) as select email from few_users where email = $1")
    explain = "explain (analyze, costs off, timing off, summary off) execute look(%s)"
    plan = "\n".join(r[0] for r in scan(explain % "'user0010@example.com'")[0])
    assert "Cognito Attributes: email, sub" in plan, plan
    plan = "\n".join(r[0] for r in scan(explain % "'\"'")[0])
    assert "Cognito Filters Sent: none" in plan, plan
    assert "Cognito Attributes" not in plan, plan
