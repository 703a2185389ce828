"""ALTER EXTENSION wrappers UPDATE from 0.1.0 (the install script users of 0.1.0 have, kept in
tests/upgrade/) to the current version keeps servers, user mappings and foreign tables working,
and leaves the extension with exactly the objects a fresh install of the current version has:
an object added to the extension without an update script fails here."""

import shutil
from pathlib import Path

import pytest

from conftest import ROOT

OLD = "0.1.0"

MEMBERS = """select pg_describe_object(classid, objid, objsubid) as member
  from pg_depend where refclassid = 'pg_extension'::regclass and deptype = 'e'
   and refobjid = (select oid from pg_extension where extname = 'wrappers') order by 1;"""


def scalar(psql, db, sql):
    rc, out = psql(db, sql, "-At")
    assert rc == 0, out
    return out.strip()


@pytest.fixture
def old_script(psql):
    """The 0.1.0 install script, placed beside the current one for the test's length."""
    sharedir = scalar(psql, "postgres", "select setting from pg_config where name = 'SHAREDIR'")
    target = Path(sharedir) / "extension" / f"wrappers--{OLD}.sql"
    placed = not target.exists()
    if placed:
        shutil.copyfile(ROOT / "tests" / "upgrade" / f"wrappers--{OLD}.sql", target)
    yield target
    if placed:
        target.unlink()


def test_update_from_0_1_0_keeps_everything_working(psql, state, fresh_db, old_script):
    current = scalar(psql, "postgres",
                     "select default_version from pg_available_extensions where name = 'wrappers'")
    assert current != OLD, "the current version must differ from the one updated from"
    # What a fresh install of the current version holds.
    rc, out = psql(fresh_db, "create schema fresh; create extension wrappers with schema fresh;"
                   + MEMBERS + "drop extension wrappers; drop schema fresh;", "-At")
    assert rc == 0, out
    fresh_members = out

    setup = f"""
create schema extensions;
create extension wrappers with schema extensions version '{OLD}';
set search_path = public, extensions;
create foreign data wrapper cognito_wrapper handler cognito_fdw_handler
  validator cognito_fdw_validator;
create server demo foreign data wrapper cognito_wrapper
  options (region '{state["region"]}', user_pool_id '{state["pools"]["demo"]["id"]}',
           endpoint_url '{state["endpoint"]}');
create user mapping for current_user server demo
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x');
create schema cognito;
import foreign schema cognito from server demo into cognito;
"""
    rc, out = psql(fresh_db, setup)
    assert rc == 0, out
    assert scalar(psql, fresh_db, "select extversion from pg_extension "
                                  "where extname = 'wrappers'") == OLD
    query = "select username, email, status, enabled from cognito.users order by username;"
    rc, before = psql(fresh_db, query)
    assert rc == 0 and "(12 rows)" in before, before

    rc, out = psql(fresh_db, "alter extension wrappers update;")
    assert rc == 0, out
    assert scalar(psql, fresh_db, "select extversion from pg_extension "
                                  "where extname = 'wrappers'") == current

    # A new session loads the new library: the same answers, the same options still valid.
    rc, after = psql(fresh_db, query)
    assert rc == 0, after
    assert after == before
    rc, out = psql(fresh_db, "alter server demo options (add max_concurrent_requests '2');"
                             "select count(*) from cognito.users;")
    assert rc == 0 and "12" in out, out

    rc, updated_members = psql(fresh_db, MEMBERS, "-At")
    assert rc == 0, updated_members
    assert "cognito_fdw_handler()" in fresh_members, fresh_members
    assert updated_members.replace("extensions.", "") == fresh_members.replace("fresh.", "")
