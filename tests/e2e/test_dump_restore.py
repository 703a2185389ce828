"""pg_dump of a database that uses the wrapper (the extension, servers, a user mapping, a Vault
reference, imported and hand-written foreign tables, a view over one) restores with pg_restore
into a fresh database, which then answers the same queries the same way."""

import subprocess
import uuid

import pytest

from conftest import create_db, drop_db

SETUP = """
create schema extensions;
create extension wrappers with schema extensions;
set search_path = public, extensions;
create foreign data wrapper cognito_wrapper handler cognito_fdw_handler
  validator cognito_fdw_validator;

-- a stand-in with Supabase Vault's interface (as in tests/sql/credentials.sql)
create schema vault;
create table vault.secrets (id uuid primary key default gen_random_uuid(), name text unique,
                            description text, secret text);
create view vault.decrypted_secrets as
  select id, name, description, secret as decrypted_secret from vault.secrets;
insert into vault.secrets (name, secret) values ('cognito', 'vault-held-secret');

create server vaulted foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', api_key_id 'cognito', region '{region}',
           user_pool_id '{main}', endpoint_url '{endpoint}');
create server mapped foreign data wrapper cognito_wrapper
  options (region '{region}', user_pool_id '{demo}', endpoint_url '{endpoint}',
           max_concurrent_requests '2');
create user mapping for current_user server mapped
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'mapped-secret');

create schema cognito;
import foreign schema cognito from server mapped into cognito;
create foreign table public.tenants (
    username varchar(12), tenant text options (attribute 'custom:tenant'),
    created_at timestamptz(0))
  server vaulted options (object 'users', parallel_scan 'off');
create view public.acme as select username from public.tenants where tenant = 'acme';
"""

QUERIES = [
    "select count(*) from cognito.users",
    "select username, email, status, enabled from cognito.users order by username",
    "select count(*), min(username), max(username) from public.acme",
    "select username, tenant, created_at from public.tenants where username = 'user0003'",
    # pg_dump writes options sorted by name, so their stored order changes: compare them by name.
    "select srvname, o.* from pg_foreign_server, pg_options_to_table(srvoptions) o order by 1, 2",
    "select srvname, o.* from pg_user_mappings, pg_options_to_table(umoptions) o order by 1, 2",
    "select foreign_table_name, option_name, option_value "
    "from information_schema.foreign_table_options order by 1, 2",
    "explain (costs off) select username from public.tenants where username = 'user0003'",
]


def answers(psql, db):
    out = []
    for sql in QUERIES:
        rc, text = psql(db, sql + ";\n")
        assert rc == 0, f"{sql}\n{text}"
        out.append(text)
    return out


@pytest.fixture
def restored(psql, pg_env, fresh_db):
    name = f"r_{uuid.uuid4().hex[:12]}"
    create_db(psql, name)
    yield name
    drop_db(psql, name)


def test_a_dump_restores_into_a_database_that_answers_the_same(
        psql, pg_env, state, fresh_db, restored, tmp_path):
    pools = state["pools"]
    rc, out = psql(fresh_db, SETUP.format(region=state["region"], endpoint=state["endpoint"],
                                          main=pools["main"]["id"], demo=pools["demo"]["id"]))
    assert rc == 0, out
    before = answers(psql, fresh_db)
    assert "12" in before[0], before[0]  # the demo pool's users

    dump = tmp_path / "wrapper.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), "-d", fresh_db], env=pg_env,
                   check=True, capture_output=True, text=True)
    restore = subprocess.run(["pg_restore", "--exit-on-error", "-d", restored, str(dump)],
                             env=pg_env, capture_output=True, text=True)
    assert restore.returncode == 0, restore.stderr
    # The inline-secret warning is the only thing a restore may say, and none is inline here.
    assert restore.stderr == "", restore.stderr

    after = answers(psql, restored)
    for sql, was, now in zip(QUERIES, before, after):
        assert now == was, f"{sql}\nbefore the dump:\n{was}\nrestored:\n{now}"
