"""Which credentials sign each request, checked where AWS checks them: the fault proxy in front
of the emulator verifies every SigV4 signature against the secret it expects for the access key
(moto itself ignores signatures), and records the key and session token of each request.

Every server and user mapping here has its own key and secret, so a test shows which one
signed: inline secrets, Vault by name and by id, aws_session_token, a user mapping winning over
the server, a PUBLIC mapping for roles without their own, and a wrong secret refused.

These assertions live here rather than in tests/sql/credentials.sql: psql talks to the emulator
directly there, and only a proxy that the test starts and reads can say who signed what."""

import boto3
import botocore.config
import botocore.exceptions
import psycopg
import pytest

from conftest import connect, install_wrapper

SECRETS = {
    "AKIAINLINE": "inline-secret",
    "AKIATOKEN": "token-secret",
    "AKIAVAULTNAME": "vault-name-secret",
    "AKIAVAULTID": "vault-id-secret",
    "AKIASERVER": "server-secret",
    "AKIAMAPPED": "mapped-secret",
    "AKIAPUBLIC": "public-secret",
}
# The same stand-in for Supabase Vault's interface as tests/sql/credentials.sql.
VAULT = """
create schema vault;
create table vault.secrets (id uuid primary key default gen_random_uuid(), name text unique,
                            secret text);
create view vault.decrypted_secrets as
  select id, name, secret as decrypted_secret from vault.secrets;
"""


@pytest.fixture
def signing(pg_env, fresh_db, state, fault_proxy):
    url, proxy = fault_proxy(secrets=SECRETS)
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    conn.execute(VAULT)
    pool, region = state["pools"]["demo"]["id"], state["region"]

    def server(name, options):
        conn.execute(f"""create server {name} foreign data wrapper cognito_wrapper
            options (region '{region}', user_pool_id '{pool}', endpoint_url '{url}'
                     {options})""")
        conn.execute(f"create foreign table {name}_users (username text) "
                     f"server {name} options (object 'users')")

    yield conn, proxy, server
    conn.close()


def signers(conn, proxy, table, users):
    """Run a full scan of TABLE; return {(key, token, verdict)} over the requests it made."""
    proxy.reset_stats()
    assert conn.execute(f"select count(*) from {table}").fetchone()[0] == users
    seen = proxy.snapshot()["signers"]
    assert any(s["target"] == "ListUsers" for s in seen), seen
    return {(s["key"], s["token"], s["verdict"]) for s in seen}


def test_the_proxy_checks_signatures_as_aws_does(state, fault_proxy):
    """The verifier against an independent signer, botocore's."""
    url, proxy = fault_proxy(secrets={"AKIABOTO": "boto-secret"})

    def client(key, secret, token=None):
        return boto3.client("cognito-idp", endpoint_url=url, region_name=state["region"],
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            aws_session_token=token,
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    pool = state["pools"]["demo"]
    page = client("AKIABOTO", "boto-secret", "boto-token").list_users(
        UserPoolId=pool["id"], Filter='username ^= "demo user"', Limit=60)
    assert page["ResponseMetadata"]["HTTPStatusCode"] == 200
    for key, secret, code in [("AKIABOTO", "another-secret", "InvalidSignatureException"),
                              ("AKIANOBODY", "boto-secret", "UnrecognizedClientException")]:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            client(key, secret).list_users(UserPoolId=pool["id"])
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    stats = proxy.snapshot()
    assert [(s["key"], s["token"], s["verdict"]) for s in stats["signers"]] == [
        ("AKIABOTO", "boto-token", "valid"),
        ("AKIABOTO", None, "bad_signature"),
        ("AKIANOBODY", None, "unknown_key")]
    assert stats["forwarded"] == 1 and stats["bad_signature"] == stats["unknown_key"] == 1


def test_inline_secrets_and_the_session_token_sign(signing, state):
    conn, proxy, server = signing
    users = state["pools"]["demo"]["users"]
    server("inline", ", aws_access_key_id 'AKIAINLINE', aws_secret_access_key 'inline-secret'")
    server("token", ", aws_access_key_id 'AKIATOKEN', aws_secret_access_key 'token-secret', "
                    "aws_session_token 'token-of-the-server'")
    assert signers(conn, proxy, "inline_users", users) == {("AKIAINLINE", None, "valid")}
    assert signers(conn, proxy, "token_users", users) == {
        ("AKIATOKEN", "token-of-the-server", "valid")}


def test_a_wrong_secret_is_refused_by_the_signature_check(signing):
    conn, proxy, server = signing
    server("wrong", ", aws_access_key_id 'AKIAINLINE', aws_secret_access_key 'not-the-secret',"
                    " max_attempts '2', use_remote_estimate 'false'")
    with pytest.raises(psycopg.Error) as err:
        conn.execute("select count(*) from wrong_users")
    assert "InvalidSignatureException" in str(err.value.diag.message_detail) + str(
        err.value.diag.message_primary)
    stats = proxy.snapshot()
    assert stats["bad_signature"] >= 1 and stats["forwarded"] == 0, stats


def test_vault_secrets_sign_by_name_and_by_id(signing, state):
    conn, proxy, server = signing
    users = state["pools"]["demo"]["users"]
    conn.execute("insert into vault.secrets (name, secret) "
                 "values ('by-name', 'vault-name-secret')")
    secret_id = conn.execute("insert into vault.secrets (name, secret) "
                             "values ('by-id', 'vault-id-secret') returning id").fetchone()[0]
    server("vault_name", ", aws_access_key_id 'AKIAVAULTNAME', api_key_id 'by-name'")
    server("vault_id", f", aws_access_key_id 'AKIAVAULTID', api_key_id '{secret_id}'")
    assert signers(conn, proxy, "vault_name_users", users) == {("AKIAVAULTNAME", None, "valid")}
    assert signers(conn, proxy, "vault_id_users", users) == {("AKIAVAULTID", None, "valid")}
    # The secret is read at the start of each scan: a changed secret is used at once.
    conn.execute("update vault.secrets set secret = 'vault-id-secret-2' where name = 'by-id'")
    proxy.update({"secrets": {**SECRETS, "AKIAVAULTID": "vault-id-secret-2"}})
    assert signers(conn, proxy, "vault_id_users", users) == {("AKIAVAULTID", None, "valid")}


def test_user_mappings_win_over_the_server_and_public_serves_the_rest(signing, state):
    conn, proxy, server = signing
    users = state["pools"]["demo"]["users"]
    server("mapped", ", aws_access_key_id 'AKIASERVER', aws_secret_access_key 'server-secret'")
    conn.execute("create role signing_reader")
    try:
        conn.execute("grant select on mapped_users to signing_reader")
        # Without mappings the server's key signs, for every role.
        assert signers(conn, proxy, "mapped_users", users) == {("AKIASERVER", None, "valid")}
        conn.execute("create user mapping for current_user server mapped options "
                     "(aws_access_key_id 'AKIAMAPPED', aws_secret_access_key 'mapped-secret', "
                     "aws_session_token 'token-of-the-mapping')")
        assert signers(conn, proxy, "mapped_users", users) == {
            ("AKIAMAPPED", "token-of-the-mapping", "valid")}
        conn.execute("set role signing_reader")
        assert signers(conn, proxy, "mapped_users", users) == {("AKIASERVER", None, "valid")}
        conn.execute("reset role")
        conn.execute("create user mapping for public server mapped options "
                     "(aws_access_key_id 'AKIAPUBLIC', aws_secret_access_key 'public-secret')")
        conn.execute("set role signing_reader")
        assert signers(conn, proxy, "mapped_users", users) == {("AKIAPUBLIC", None, "valid")}
        conn.execute("reset role")
        # The role's own mapping still wins over PUBLIC's.
        assert signers(conn, proxy, "mapped_users", users) == {
            ("AKIAMAPPED", "token-of-the-mapping", "valid")}
    finally:
        conn.execute("reset role")
        conn.execute("drop owned by signing_reader")
        conn.execute("drop role signing_reader")
