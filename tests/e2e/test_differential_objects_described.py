"""Differential test of the objects that are listed and described one by one: app_clients,
identity_providers and user_pools. The same WHERE clause over the foreign table (with
pushdown) and over a local copy must give the same rows. The local copy is an independent
oracle: what boto3 lists and describes (the demo pool's app clients and identity providers,
the region's pools), converted here by the README's column tables, secrets left out; every
row of each foreign table must equal it.

Clauses come from a seeded random generator (set DIFF_SEED to try another): equality and IN
lists on the column that is sent (client_id, provider_name, id) and on those that are not,
LIKE, NULL tests, comparisons, arrays and documents, AND/OR/NOT, over values from the pool
and values built to trip a lookup (other case, white space, quotes, empty, too long,
non-ASCII, another pool's); each clause reads either the whole row or only the columns the
listing gives (no Describe unless the clause needs one). Then LIMIT, parameters on the
generic plan, joins, and correlated subqueries that look each outer row up.

Each Describe of a client or provider is capped at 5 a second per pool, so the demo pool has
only 6 clients and 3 providers (tests/emulator/seeded_moto.py, seed_demo_apps).
"""

import json
import os
import random
import urllib.request
import uuid

import boto3
import pytest
from psycopg import sql as psql_sql
from psycopg.types.json import Jsonb

from conftest import (ODD_VALUES, ClauseGen, connect, create_db, drop_db, figure,
                      install_wrapper, sorted_rows as rows, utc)

SEED = int(os.environ.get("DIFF_SEED", "20241202"))
CLAUSES = 30
# The keys of a provider's details that AWS documents as secrets.
SECRET_KEYS = {"client_secret", "private_key"}


def cognito(state):
    return boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                        region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                        aws_secret_access_key="x")


def time_text(moment):
    """A time inside `details`, as timestamptz prints it in UTC."""
    return utc(moment).strftime("%Y-%m-%d %H:%M:%S+00")


def client_rows(c, pool):
    """The pool's app clients as rows of the imported app_clients table."""
    out = []
    for page in c.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool):
        for listed in page["UserPoolClients"]:
            d = c.describe_user_pool_client(UserPoolId=pool,
                                            ClientId=listed["ClientId"])["UserPoolClient"]
            details = {k: time_text(v) if k.endswith("Date") else v
                       for k, v in d.items() if k != "ClientSecret"}
            details.setdefault("RefreshTokenValidity", 0)
            out.append((
                d["ClientId"], d.get("ClientName"), utc(d["CreationDate"]),
                utc(d["LastModifiedDate"]), d.get("ExplicitAuthFlows", []),
                d.get("AllowedOAuthFlows", []), d.get("AllowedOAuthScopes", []),
                d.get("CallbackURLs", []), d.get("LogoutURLs", []),
                d.get("SupportedIdentityProviders", []), bool(d.get("ClientSecret")),
                Jsonb(details)))
    return out


def provider_rows(c, pool):
    """The pool's identity providers as rows of the imported identity_providers table."""
    out = []
    for page in c.get_paginator("list_identity_providers").paginate(UserPoolId=pool):
        for listed in page["Providers"]:
            d = c.describe_identity_provider(UserPoolId=pool, ProviderName=listed[
                "ProviderName"])["IdentityProvider"]
            out.append((
                listed["ProviderName"], listed["ProviderType"], utc(listed["CreationDate"]),
                utc(listed["LastModifiedDate"]), Jsonb(d.get("AttributeMapping", {})),
                d.get("IdpIdentifiers", []),
                Jsonb({k: v for k, v in d.get("ProviderDetails", {}).items()
                       if k not in SECRET_KEYS})))
    return out


def described_pool(state, pool_id):
    """DescribeUserPool's `UserPool` object as the endpoint sends it (boto3 would turn its
    times into datetimes): moto reads no signature."""
    request = urllib.request.Request(
        state["endpoint"] + "/", data=json.dumps({"UserPoolId": pool_id}).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": "AWSCognitoIdentityProviderService.DescribeUserPool",
                 "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240101/"
                                  f"{state['region']}/cognito-idp/aws4_request, "
                                  f"SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["UserPool"]


def custom_attribute(schema):
    """A schema entry as the custom_attributes column lists it, or None for a standard one."""
    name = schema["Name"]
    if name.startswith("dev:custom:"):
        name, developer_only = name[len("dev:custom:"):], True
    elif name.startswith("custom:"):
        name, developer_only = name[len("custom:"):], False
    else:
        return None

    def number(text):
        try:
            return int(text)
        except ValueError:
            return text

    constraints = {}
    for key, keys in [("StringAttributeConstraints", ("MinLength", "min_length",
                                                      "MaxLength", "max_length")),
                      ("NumberAttributeConstraints", ("MinValue", "min_value",
                                                      "MaxValue", "max_value"))]:
        given = schema.get(key) or {}
        for aws, ours in (keys[:2], keys[2:]):
            if given.get(aws) is not None:
                constraints[ours] = number(given[aws])
    return {"name": name, "type": schema.get("AttributeDataType", "String"),
            "mutable": schema.get("Mutable"), "developer_only": developer_only,
            "constraints": constraints}


def pool_rows(c, state):
    """The region's pools as rows of the imported user_pools table."""
    out = []
    for page in c.get_paginator("list_user_pools").paginate(MaxResults=60):
        for listed in page["UserPools"]:
            d = c.describe_user_pool(UserPoolId=listed["Id"])["UserPool"]
            text = lambda v: v or None  # noqa: E731 (an empty text is none)
            custom = [a for a in map(custom_attribute, d.get("SchemaAttributes", [])) if a]
            out.append((
                listed["Id"], text(listed.get("Name")), text(listed.get("Status")),
                utc(listed["CreationDate"]), utc(listed["LastModifiedDate"]),
                text(d.get("Arn")), d.get("EstimatedNumberOfUsers", 0),
                text(d.get("MfaConfiguration")), text(d.get("DeletionProtection")),
                text(d.get("UserPoolTier")), text(d.get("Domain")),
                text(d.get("CustomDomain")), d.get("UsernameAttributes", []), Jsonb(custom),
                Jsonb(described_pool(state, listed["Id"]))))
    return out


TABLES = ("app_clients", "identity_providers", "user_pools")


@pytest.fixture(scope="module")
def described_db(psql, pg_env, state):
    name = f"t_diffdesc_{uuid.uuid4().hex[:8]}"
    create_db(psql, name)
    region, endpoint, pool = state["region"], state["endpoint"], state["pools"]["demo"]["id"]
    c = cognito(state)
    oracle = {"app_clients": client_rows(c, pool), "identity_providers": provider_rows(c, pool),
              "user_pools": pool_rows(c, state)}
    assert len(oracle["app_clients"]) == state["pools"]["demo"]["app_clients"]
    assert len(oracle["identity_providers"]) == state["pools"]["demo"]["identity_providers"]
    assert len(oracle["user_pools"]) >= len(state["pools"])
    with connect(pg_env, name) as conn:
        install_wrapper(conn)
        conn.execute(f"create server demo foreign data wrapper cognito_wrapper options ("
                     f"aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', "
                     f"region '{region}', user_pool_id '{pool}', endpoint_url '{endpoint}', "
                     f"requests_per_second '1000')")
        conn.execute("create schema fdw")
        conn.execute(f"import foreign schema cognito limit to ({', '.join(TABLES)}) "
                     f"from server demo into fdw")
        for table in TABLES:
            conn.execute(f"create table local_{table} as select * from fdw.{table} limit 0")
            width = len(oracle[table][0])
            with conn.cursor() as cur:
                cur.executemany(f"insert into local_{table} values "
                                f"({', '.join(['%s'] * width)})", oracle[table])
    yield name, oracle, state
    drop_db(psql, name)


def test_every_row_equals_the_oracle(pg_env, described_db):
    name, oracle, _ = described_db
    with connect(pg_env, name) as conn:
        for table in TABLES:
            got = rows(conn, f"fdw.{table}")
            assert got == rows(conn, f"local_{table}"), table
            assert len(got) == len(oracle[table]) > 0
        # The oracle has the secrets' absence by construction; the foreign rows must too.
        text = " ".join(" ".join(rows(conn, f"fdw.{t}")) for t in TABLES)
        assert "democlientsecret" not in text and "never-shown" not in text


def clause_values(oracle, state):
    """What the clauses compare each column with: the objects' values and odd ones."""
    clients, providers, pools = (oracle[t] for t in TABLES)
    ids = [r[0] for r in clients]
    names = sorted({r[1] for r in clients})
    providers_named = [r[0] for r in providers]
    pool_ids = [r[0] for r in pools]
    other_region = pool_ids[0].replace(state["region"], "eu-west-1")
    # The looked-up columns' own values come three times, so that a clause hits one often
    # (a lookup that drops a record fails many clauses, not one).
    return {
        # Another pool's client (main's), an id that differs in case or by a blank.
        "client_id": ids * 3 + [ids[0].upper(), ids[1] + " ", " " + ids[2], ids[3][:-1],
                            "aixdlinuuqzoy3ezovln3yo2c6", "not-an-id", "x" * 128,
                            "équipe"] + ODD_VALUES,
        "client_name": names + ["WEB", "Mobile App", "equipe", "web "] + ODD_VALUES,
        "provider_name": providers_named * 3 + ["demosaml", "GOOGLE", "Google ", "ExampleOIDC",
                                            "y" * 32, "y" * 33, "Googlé"] + ODD_VALUES,
        "provider_type": ["SAML", "OIDC", "Google", "saml", "Facebook"],
        "id": pool_ids * 3 + [pool_ids[0].upper(), pool_ids[1] + " ", other_region, "demo",
                          state["region"] + "_", "x" * 56] + ODD_VALUES,
        "name": sorted({r[1] for r in pools}) + ["DEMO", "démo", "main "] + ODD_VALUES,
        "mfa_configuration": ["OFF", "ON", "OPTIONAL", "off"],
        "deletion_protection": ["ACTIVE", "INACTIVE", "active"],
        "user_pool_tier": ["LITE", "ESSENTIALS", "PLUS", ""],
        "domain": ["custom-auth", "configured-auth", "Custom-Auth"],
    }


# Per table: the columns atoms compare (the sent one twice as often), clauses on columns of
# other types, and the projection of the listing's own columns (no Describe needed).
CLAUSE_SETS = {
    "app_clients": (
        ["client_id", "client_id", "client_name"],
        ["has_secret", "not has_secret", "'implicit' = any(allowed_oauth_flows)",
         "cardinality(callback_urls) = 0", "callback_urls @> array['http://localhost:3000/']",
         "'ALLOW_USER_SRP_AUTH' = any(explicit_auth_flows)",
         "supported_identity_providers && array['Google', 'DemoSAML']",
         "logout_urls = '{}'", "details ->> 'ClientName' = 'web'", "details ? 'ClientSecret'",
         "(details ->> 'RefreshTokenValidity')::int = 30",
         "created_at > '2024-03-02 00:03'", "updated_at - created_at >= interval '3 hours'",
         "allowed_oauth_scopes is null"],
        "row(x.client_id, x.client_name)::text"),
    "identity_providers": (
        ["provider_name", "provider_name", "provider_type"],
        ["attribute_mapping ? 'email'", "attribute_mapping ->> 'email' = 'email'",
         "'example.org' = any(idp_identifiers)", "cardinality(idp_identifiers) = 0",
         "provider_details ? 'client_secret'", "provider_details ->> 'client_id' like 'demo%'",
         "provider_details = '{}'", "created_at < '2024-04-01 00:02:30'",
         "updated_at > created_at + interval '90 minutes'"],
        "row(x.provider_name, x.provider_type, x.created_at, x.updated_at)::text"),
    "user_pools": (
        ["id", "id", "name", "mfa_configuration", "deletion_protection", "user_pool_tier",
         "domain"],
        ["estimated_number_of_users > 10", "estimated_number_of_users = 0",
         "'email' = any(username_attributes)", "jsonb_array_length(custom_attributes) > 1",
         "custom_attributes @> '[{\"name\": \"tenant\"}]'", "details ->> 'Name' = 'demo'",
         "details ? 'Domain'", "created_at >= '2024-01-05'", "status is null",
         "arn like '%:userpool/%'", "custom_domain is not null"],
        "row(x.id, x.name, x.status, x.created_at, x.updated_at)::text"),
}


def test_where_clauses_give_the_same_rows_as_a_local_copy(pg_env, described_db):
    name, oracle, state = described_db
    rng = random.Random(SEED)
    mismatches, compared = [], 0
    with connect(pg_env, name) as conn:
        gen = ClauseGen(rng, conn, clause_values(oracle, state))
        for table, (columns, extra, listed) in CLAUSE_SETS.items():
            for _ in range(CLAUSES):
                where = gen.clause(columns, extra)
                projection = "x::text" if rng.random() < 0.35 else listed
                got = rows(conn, f"fdw.{table}", where, projection=projection)
                want = rows(conn, f"local_{table}", where, projection=projection)
                compared += 1
                if got != want:
                    mismatches.append((table, f"{projection} where {where}", got, want))
            # LIMIT: as many rows as there are, at most n, each one that matches.
            for _ in range(6):
                where, n = gen.clause(columns, extra), rng.randint(0, 3)
                got = conn.execute(f"select x::text from fdw.{table} x where {where} "
                                   f"limit {n}").fetchall()
                want = rows(conn, f"local_{table}", where)
                compared += 1
                if len(got) != min(n, len(want)) or any(r[0] not in want for r in got):
                    mismatches.append((table, f"{where} limit {n}", got, want))
    figure(f"differential objects: {compared} clauses on app_clients, identity_providers "
           f"and user_pools (seed {SEED}), {len(mismatches)} mismatches")
    assert not mismatches, "\n".join(f"{t}: {w}\n  fdw:   {g}\n  local: {l_}"
                                     for t, w, g, l_ in mismatches[:5])


def test_parameters_and_joins_give_the_same_rows(pg_env, described_db):
    """A lookup's value as a parameter of the generic plan (bound by the driver and in a
    prepared statement), joins, and subqueries that look each outer row up, against the same
    on the local copy."""
    name, oracle, state = described_db
    values = clause_values(oracle, state)
    lookups = [("app_clients", "client_id"), ("identity_providers", "provider_name"),
               ("user_pools", "id")]
    with connect(pg_env, name) as conn:
        conn.execute("set plan_cache_mode = force_generic_plan")
        for table, column in lookups:
            unique = list(dict.fromkeys(values[column]))
            for value in unique[:5] + unique[-5:]:
                got = rows(conn, f"fdw.{table}", f"{column} = %s", (value,))
                assert got == rows(conn, f"local_{table}", f"{column} = %s", (value,)), (
                    table, column, value)
            conn.execute(f"prepare {table}_by(text, text) as select x::text from fdw.{table} x "
                         f"where {column} in ($1, $2) order by 1")
            plan = "\n".join(r[0] for r in conn.execute(
                f"explain (costs off) execute {table}_by('a', 'b')"))
            assert f"Cognito Lookup: {column} = any of ($1, $2)" in plan, plan
            for a, b in zip(unique[:6], unique[::-1][:6]):
                # EXECUTE is a utility statement: its arguments are literals, not parameters.
                got = [r[0] for r in conn.execute(
                    psql_sql.SQL("execute {}({}, {})").format(
                        psql_sql.Identifier(f"{table}_by"), a, b))]
                assert got == rows(conn, f"local_{table}", f"{column} in (%s, %s)", (a, b)), (
                    table, a, b)
        conn.execute("reset plan_cache_mode")

        conn.execute("create temp table wanted (v text)")
        ids, providers, pools = (list(dict.fromkeys(values[c])) for _, c in lookups)
        with conn.cursor() as cur:
            cur.executemany("insert into wanted values (%s)", [
                (v,) for v in ids[:2] + [ids[0].upper(), "nosuchclient"] + providers[:2]
                + ["GOOGLE"] + pools[:2] + [pools[0].upper(), ""]])
        conn.execute("analyze wanted")
        # The planner costs a listing by its pages, not its Describes, so these joins list
        # (and describe) the table once; a correlated subquery looks each outer value up.
        for join, lookup in [
            ("select w.v, c.client_name, c.callback_urls from wanted w "
             "join {app_clients} c on c.client_id = w.v", None),
            ("select w.v, p.provider_type, p.provider_details from wanted w "
             "left join {identity_providers} p on p.provider_name = w.v", None),
            ("select w.v, u.name, u.estimated_number_of_users from wanted w "
             "join {user_pools} u on u.id = w.v", None),
            ("select c.client_name, p.provider_name from {app_clients} c "
             "join {identity_providers} p on p.provider_name = any(c.supported_identity_"
             "providers)", None),
            ("select w.v, (select row(c.client_name, c.has_secret)::text from {app_clients} c "
             "where c.client_id = w.v) from wanted w", "client_id"),
            ("select w.v, (select p.attribute_mapping from {identity_providers} p "
             "where p.provider_name = w.v) from wanted w", "provider_name"),
            ("select w.v, (select u.custom_attributes from {user_pools} u "
             "where u.id = w.v) from wanted w", "id"),
        ]:
            fdw = join.format(**{t: f"fdw.{t}" for t in TABLES})
            local = join.format(**{t: f"local_{t}" for t in TABLES})
            plan = "\n".join(r[0] for r in conn.execute(f"explain (costs off) {fdw}"))
            got = sorted(conn.execute(fdw).fetchall(), key=repr)
            want = sorted(conn.execute(local).fetchall(), key=repr)
            assert got == want, f"{fdw}\n{plan}"
            if lookup:
                # The inner side is looked up per outer row, not listed.
                assert f"Cognito Lookup: {lookup} = " in plan, plan
                assert "List" not in plan, plan
