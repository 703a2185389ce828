"""Secrets never leave Cognito through the wrapper: an app client's ClientSecret and the
secret fields of an identity provider's details (an OIDC or Google client_secret, Sign in with
Apple's private_key) are in no column of `select *`, `details` and `provider_details`
included, nor in the text of a whole row (row_to_json).

The test creates a client with a secret and an OIDC provider with a client secret in the
emulator's empty pool (and removes them afterwards), and reads the secrets the seed put in the
main pool. It asks the emulator for each secret first, so that it looks for the values
Cognito really holds; and it checks that the rows read do hold the fields beside the secrets,
so that it cannot pass by reading nothing."""

import boto3
import psycopg
import pytest

OIDC_SECRET = "oidc-test-secret-5e1d-never-shown"


@pytest.fixture
def cognito(state):
    return boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                        region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                        aws_secret_access_key="x")


@pytest.fixture
def created(cognito, state):
    """A client with a secret and an OIDC provider with a client secret in the empty pool:
    (pool, client id, client secret)."""
    pool = state["pools"]["empty"]["id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="secretive", GenerateSecret=True,
        AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
        CallbackURLs=["https://secretive.example.com/cb"])["UserPoolClient"]
    cognito.create_identity_provider(
        UserPoolId=pool, ProviderName="SecretOIDC", ProviderType="OIDC",
        ProviderDetails={"client_id": "secret-oidc-client", "client_secret": OIDC_SECRET,
                         "attributes_request_method": "GET",
                         "oidc_issuer": "https://issuer.example.com",
                         "authorize_scopes": "openid"},
        AttributeMapping={"email": "email"})
    yield pool, client["ClientId"], client["ClientSecret"]
    cognito.delete_user_pool_client(UserPoolId=pool, ClientId=client["ClientId"])
    cognito.delete_identity_provider(UserPoolId=pool, ProviderName="SecretOIDC")


def rows(conn, sql):
    """Every value of every row as text, and each row's row_to_json text."""
    texts = []
    for row in conn.execute(sql).fetchall():
        texts.extend(str(value) for value in row)
    return texts


def test_no_secret_in_any_column(pg_env, fresh_db, state, cognito, created):
    pool, client_id, client_secret = created
    main = state["pools"]["main"]["id"]
    assert client_secret, "the emulator gave the new client a secret"
    # The secrets Cognito holds in the main pool, as it answers them.
    listed_clients = []
    for page in cognito.get_paginator("list_user_pool_clients").paginate(
            UserPoolId=main, MaxResults=60):
        listed_clients += page["UserPoolClients"]
    secrets = {client_secret, OIDC_SECRET}
    with_secret = []
    for listed in listed_clients:
        described = cognito.describe_user_pool_client(
            UserPoolId=main, ClientId=listed["ClientId"])["UserPoolClient"]
        if described.get("ClientSecret"):
            secrets.add(described["ClientSecret"])
            with_secret.append(listed["ClientId"])
    provider_secrets = {}
    for name in ["ExampleOIDC", "SignInWithApple", "Google"]:
        details = cognito.describe_identity_provider(
            UserPoolId=main, ProviderName=name)["IdentityProvider"]["ProviderDetails"]
        provider_secrets[name] = {k: v for k, v in details.items()
                                  if k in ("client_secret", "private_key")}
        secrets.update(provider_secrets[name].values())
    assert len(with_secret) == state["pools"]["main"]["app_clients_with_secret"]
    assert all(provider_secrets.values()), "the seed's providers have secrets"

    conn = psycopg.connect(host=pg_env["PGHOST"], port=pg_env["PGPORT"],
                           user=pg_env["PGUSER"], dbname=fresh_db, autocommit=True)
    conn.execute("create schema extensions")
    conn.execute("create extension wrappers with schema extensions")
    conn.execute("set search_path = public, extensions")
    conn.execute("create foreign data wrapper cognito_wrapper handler cognito_fdw_handler "
                 "validator cognito_fdw_validator")
    for name, pool_id in [("empty", pool), ("main", main)]:
        conn.execute(f"""create server {name}_server foreign data wrapper cognito_wrapper
            options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x',
                     region '{state["region"]}', user_pool_id '{pool_id}',
                     endpoint_url '{state["endpoint"]}')""")
        conn.execute(f"create schema {name}")
        conn.execute(f"import foreign schema cognito limit to (app_clients, identity_providers) "
                     f"from server {name}_server into {name}")

    ids = ", ".join(f"'{i}'" for i in with_secret)
    seen = []
    # The empty pool: a whole listing with a Describe per client and per provider.
    seen += rows(conn, "select *, row_to_json(t)::text from empty.app_clients t")
    seen += rows(conn, "select *, row_to_json(t)::text from empty.identity_providers t")
    # The main pool: its clients with a secret by id, and every provider.
    seen += rows(conn, f"select *, row_to_json(t)::text from main.app_clients t "
                       f"where client_id in ({ids})")
    seen += rows(conn, "select *, row_to_json(t)::text from main.identity_providers t")
    text = "\n".join(seen)
    leaked = [s for s in secrets if s in text]
    if leaked:  # not the values themselves, even in a failing test's output
        pytest.fail(f"{len(leaked)} of {len(secrets)} secrets read into a row", pytrace=False)

    # What sits beside the secrets is there: the rows were read, details and all.
    assert client_id in text and "https://secretive.example.com/cb" in text
    assert "secret-oidc-client" in text and "https://issuer.example.com" in text
    assert "com.example.app" in text and "KEY1234567" in text  # Apple's client and key ids
    assert conn.execute("select has_secret from empty.app_clients").fetchall() == [(True,)]
    flags = conn.execute(f"select bool_and(has_secret), count(*) from main.app_clients "
                         f"where client_id in ({ids})").fetchone()
    assert flags == (True, len(with_secret))
    details = conn.execute("select provider_details from main.identity_providers "
                           "where provider_name = 'ExampleOIDC'").fetchone()[0]
    assert "client_id" in details and "client_secret" not in details
    conn.close()
