"""Where the credentials come from, shown by who really signed each request.

A recorder in front of the emulator (tests/emulator/aws_standins.py) reads the access key id
of every Cognito and STS request from its SigV4 Authorization header, and the key ids STS
hands out. So each test shows which credentials were used:

- `role_arn`: the base keys sign STS AssumeRole, and the key STS returns signs Cognito; the
  assumed credentials are cached (one AssumeRole for several queries), per server and role;
  STS is asked at `sts_endpoint_url`, else at `endpoint_url`; a refused AssumeRole is a 28000
  error naming the role, never a key.
- `credentials 'aws'`: the AWS SDK's default chain of the PostgreSQL server process. These
  tests start clusters of their own, whose server process has the environment the test
  gives it: an instance metadata stand-in (IMDSv2), ECS container credentials, shared config
  and credentials files, environment variables. Credentials that expire within the refresh window are fetched again
  without a failed query. With `credentials 'options'` (the default) none of these is read,
  even when all are there.
- Only a superuser may set `credentials 'aws'`.
"""

import psycopg
import pytest

from aws_standins import Cluster, Imds, Recorder
from test_scan_properties import connect, install_wrapper

ROLE = "arn:aws:iam::123456789012:role/cognito-reader"
DENIED = "arn:aws:iam::123456789012:role/denied-reader"


@pytest.fixture
def recorder(state):
    started = []

    def start(**kwargs):
        r = Recorder(state["endpoint"], **kwargs).start()
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def make_server(conn, state, name, url, options="", table=True):
    pool = state["pools"]["demo"]
    conn.execute(f"""create server {name} foreign data wrapper cognito_wrapper
        options (region '{state["region"]}', user_pool_id '{pool["id"]}', endpoint_url '{url}',
                 use_remote_estimate 'false', max_attempts '2' {options})""")
    if table:
        conn.execute(f"create foreign table {name}_users (username text) "
                     f"server {name} options (object 'users')")
    return pool["users"]


def count(conn, table):
    return conn.execute(f"select count(*) from {table}").fetchone()[0]


def cognito_keys(rec):
    return {key for service, key, _ in rec.signers("cognito-idp")}


def sts_calls(rec):
    return [(key, action) for service, key, action in rec.signers("sts")]


@pytest.fixture
def db(pg_env, fresh_db):
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    yield conn
    conn.close()


def test_a_role_is_assumed_with_the_base_keys_and_signs_cognito(db, state, recorder):
    rec = recorder()
    users = make_server(db, state, "assumed", rec.url, f", role_arn '{ROLE}', "
                        "external_id 'ext-TOPSECRET', role_session_name 'reporting'")
    db.execute("create user mapping for current_user server assumed options "
               "(aws_access_key_id 'AKIABASEKEY', aws_secret_access_key 'base-secret')")
    assert count(db, "assumed_users") == users
    assert sts_calls(rec) == [("AKIABASEKEY", "AssumeRole")]
    issued = rec.issued[0]
    assert issued and issued != "AKIABASEKEY"
    assert cognito_keys(rec) == {issued}
    # Cached: more queries, no more AssumeRole.
    for _ in range(3):
        assert count(db, "assumed_users") == users
    assert len(sts_calls(rec)) == 1
    assert cognito_keys(rec) == {issued}


def test_the_mapping_role_wins_and_sts_follows_sts_endpoint_url(db, state, recorder):
    rec, sts = recorder(), recorder()
    users = make_server(db, state, "two", rec.url,
                        f", role_arn '{ROLE}', sts_endpoint_url '{sts.url}'")
    db.execute("create user mapping for current_user server two options "
               "(aws_access_key_id 'AKIAMAPPED', aws_secret_access_key 's', "
               " role_arn 'arn:aws:iam::123456789012:role/mapped-reader')")
    assert count(db, "two_users") == users
    assert sts_calls(rec) == []
    assert sts_calls(sts) == [("AKIAMAPPED", "AssumeRole")]
    assert cognito_keys(rec) == {sts.issued[0]}


def test_a_refused_assume_role_names_the_role_and_never_a_key(db, state, recorder):
    rec = recorder()
    make_server(db, state, "refused", rec.url, f", role_arn '{DENIED}'")
    db.execute("create user mapping for current_user server refused options "
               "(aws_access_key_id 'AKIAREFUSEDKEY', aws_secret_access_key 'refused-secret')")
    with pytest.raises(psycopg.Error) as err:
        count(db, "refused_users")
    diag = err.value.diag
    assert diag.sqlstate == "28000", (diag.sqlstate, diag.message_primary)
    assert DENIED in diag.message_primary and "AccessDenied" in diag.message_primary
    text = " ".join(filter(None, [diag.message_primary, diag.message_detail,
                                  diag.message_hint, diag.context]))
    assert "AKIAREFUSEDKEY" not in text and "refused-secret" not in text, text
    assert cognito_keys(rec) == set()  # nothing was sent unsigned or with the base key
    # One AssumeRole per query: a refusal is not retried by our loop.
    assert [a for _, a in sts_calls(rec)] == ["AssumeRole"]
    assert db.execute("select cognito_fdw_live_scans()").fetchone()[0] == 0


def test_a_mapping_cannot_assume_a_role_with_lent_credentials(db, state, recorder):
    rec = recorder()
    make_server(db, state, "lent", rec.url, ", aws_access_key_id 'AKIASERVER', "
                "api_key_id 'no-such-secret'")
    db.execute(f"create user mapping for current_user server lent options (role_arn '{ROLE}')")
    with pytest.raises(psycopg.Error) as err:
        count(db, "lent_users")
    assert err.value.diag.sqlstate == "42501"
    assert rec.signers() == []


def test_only_a_superuser_may_choose_the_server_process_credentials(db, state):
    db.execute("drop role if exists creds_plain")
    db.execute("create role creds_plain")
    try:
        db.execute("grant usage on foreign data wrapper cognito_wrapper to creds_plain")
        db.execute("set role creds_plain")
        for statement in [
            f"""create server nope foreign data wrapper cognito_wrapper options (
                 region '{state["region"]}', user_pool_id '{state["pools"]["demo"]["id"]}',
                 credentials 'aws')""",
            f"""create server nope foreign data wrapper cognito_wrapper options (
                 region '{state["region"]}', user_pool_id '{state["pools"]["demo"]["id"]}',
                 ca_file '/etc/passwd')""",
        ]:
            with pytest.raises(psycopg.Error) as err:
                db.execute(statement)
            assert err.value.diag.sqlstate == "42501", err.value.diag.message_primary
        db.execute(f"""create server mine foreign data wrapper cognito_wrapper options (
                 region '{state["region"]}', user_pool_id '{state["pools"]["demo"]["id"]}')""")
        with pytest.raises(psycopg.Error) as err:
            db.execute("create user mapping for current_user server mine "
                       "options (credentials 'aws')")
        assert err.value.diag.sqlstate == "42501"
        with pytest.raises(psycopg.Error) as err:
            db.execute("alter server mine options (add credentials 'aws')")
        assert err.value.diag.sqlstate == "42501"
    finally:
        db.execute("reset role")
        db.execute("drop server if exists mine cascade")
        db.execute("drop owned by creds_plain cascade")
        db.execute("drop role creds_plain")
    with pytest.raises(psycopg.Error) as err:
        db.execute(f"""create server keys foreign data wrapper cognito_wrapper options (
            region '{state["region"]}', user_pool_id '{state["pools"]["demo"]["id"]}',
            credentials 'aws', aws_access_key_id 'AKIA', aws_secret_access_key 'TOPSECRET')""")
    assert "cannot be used with credentials 'aws'" in err.value.diag.message_primary
    assert "TOPSECRET" not in str(err.value)


# ------------------------------------------------- clusters with an environment of their own ----

@pytest.fixture
def cluster():
    started = []

    def start(env):
        c = Cluster(env)
        started.append(c)
        return c

    yield start
    for c in started:
        crashes = c.crashes()
        c.stop()
        assert not crashes, crashes


def open_db(c):
    conn = psycopg.connect(host="127.0.0.1", port=c.port, user="postgres", dbname="postgres",
                           autocommit=True)
    install_wrapper(conn)
    return conn


def write_files(c):
    """Shared credentials and config files in the cluster's directory; their paths."""
    creds, config = c.base / "credentials", c.base / "config"
    creds.write_text("[default]\naws_access_key_id = AKIAFILEKEY\n"
                     "aws_secret_access_key = file-secret\n")
    config.write_text("[default]\nregion = us-east-1\n")
    return {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(config)}


def test_the_chain_reads_instance_metadata_and_refreshes_expiring_keys(
        state, recorder, cluster):
    # Credentials valid for 2 minutes are inside the 5-minute refresh window from the start:
    # each query must fetch new ones, and none may fail.
    imds = Imds(lifetime=120).start()
    try:
        c = cluster({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}).start()
        rec = recorder()
        conn = open_db(c)
        users = make_server(conn, state, "instance", rec.url, ", credentials 'aws'")
        seen = []
        for _ in range(3):
            rec.reset()
            assert count(conn, "instance_users") == users
            seen.append(cognito_keys(rec))
        assert all(len(keys) == 1 for keys in seen), seen
        keys = [next(iter(k)) for k in seen]
        assert all(k.startswith("AKIAIMDS") for k in keys), keys
        assert len(set(keys)) == 3, keys  # refreshed before each query
        assert imds.fetches >= 3 and imds.tokens >= 1
        conn.close()
    finally:
        imds.stop()


def test_long_lived_instance_credentials_are_cached(state, recorder, cluster):
    imds = Imds(lifetime=6 * 3600).start()
    try:
        c = cluster({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}).start()
        rec = recorder()
        conn = open_db(c)
        users = make_server(conn, state, "cached", rec.url, ", credentials 'aws'")
        for _ in range(3):
            assert count(conn, "cached_users") == users
        assert cognito_keys(rec) == {"AKIAIMDS1"} and imds.fetches == 1
        # The chain's credentials are the base of a role, too. Each server keeps its own
        # provider, so this one fetches its own.
        make_server(conn, state, "chained", rec.url, f", credentials 'aws', role_arn '{ROLE}'")
        rec.reset()
        for _ in range(2):
            assert count(conn, "chained_users") == users
        assert sts_calls(rec) == [("AKIAIMDS2", "AssumeRole")] and imds.fetches == 2
        assert cognito_keys(rec) == {rec.issued[0]}
        conn.close()
    finally:
        imds.stop()


def test_the_chain_prefers_environment_then_files_over_metadata(state, recorder, cluster):
    imds = Imds().start()
    try:
        c = cluster({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
        env = write_files(c)
        c.env.update(env)
        c.start()
        rec = recorder()
        conn = open_db(c)
        users = make_server(conn, state, "files", rec.url, ", credentials 'aws'")
        assert count(conn, "files_users") == users
        assert cognito_keys(rec) == {"AKIAFILEKEY"}
        assert imds.fetches == 0
        conn.close()

        c2 = cluster({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                      "AWS_ACCESS_KEY_ID": "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY": "env-secret"})
        c2.env.update(write_files(c2))
        c2.start()
        conn = open_db(c2)
        rec.reset()
        make_server(conn, state, "envkeys", rec.url, ", credentials 'aws'")
        assert count(conn, "envkeys_users") == users
        assert cognito_keys(rec) == {"AKIAENVKEY"}
        conn.close()
    finally:
        imds.stop()


def test_the_chain_reads_ecs_container_credentials(state, recorder, cluster):
    imds = Imds().start()
    try:
        c = cluster({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI": imds.url + "/ecs-credentials",
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ecs-auth-token"}).start()
        rec = recorder()
        conn = open_db(c)
        users = make_server(conn, state, "task", rec.url, ", credentials 'aws'")
        assert count(conn, "task_users") == users
        assert cognito_keys(rec) == {"AKIAECS1"}
        assert imds.ecs_fetches == 1 and imds.fetches == 0  # ECS comes before the instance
        conn.close()
    finally:
        imds.stop()


def test_credentials_options_never_read_the_environment_files_or_metadata(
        state, recorder, cluster):
    imds = Imds().start()
    try:
        c = cluster({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                     "AWS_ACCESS_KEY_ID": "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY": "env-secret"})
        c.env.update(write_files(c))
        c.start()
        rec = recorder()
        conn = open_db(c)
        users = make_server(conn, state, "opts", rec.url, ", credentials 'options', "
                            "aws_access_key_id 'AKIAOPTIONS', aws_secret_access_key 's'")
        make_server(conn, state, "bare", rec.url)  # the default: 'options', and no keys
        assert count(conn, "opts_users") == users
        with pytest.raises(psycopg.Error) as err:
            count(conn, "bare_users")
        assert "no AWS credentials" in err.value.diag.message_primary
        assert cognito_keys(rec) == {"AKIAOPTIONS"}
        assert imds.fetches == imds.tokens == 0
        conn.close()
    finally:
        imds.stop()


def test_no_credentials_anywhere_is_a_clear_error(state, recorder, cluster):
    c = cluster({"AWS_EC2_METADATA_DISABLED": "true"}).start()
    rec = recorder()
    conn = open_db(c)
    make_server(conn, state, "nothing", rec.url, ", credentials 'aws'")
    with pytest.raises(psycopg.Error) as err:
        count(conn, "nothing_users")
    assert err.value.diag.sqlstate == "28000"
    assert "no AWS credentials found by the AWS SDK's default chain" in (
        err.value.diag.message_primary)
    assert rec.signers() == []
    conn.close()
