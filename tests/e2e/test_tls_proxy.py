"""TLS with a private CA, and an HTTP proxy.

A TLS front made by the test (a CA generated here, a certificate for 127.0.0.1 it signed) in
front of the emulator: `endpoint_url 'https://...'` with `ca_file` naming the CA reads the
pool; without it the certificate does not verify, which is a clear error naming the endpoint,
at once (not retried). A CONNECT proxy counts the tunnels opened through it: `https_proxy`
sends every request through it, with the user name and password of its URL as
Proxy-Authorization, and never shows them; `no_proxy` bypasses it.
"""

import base64
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from aws_standins import ConnectProxy, Recorder, make_ca
from test_credentials import cognito_keys, count, make_server
from test_scan_properties import connect, install_wrapper


@pytest.fixture
def tls(state):
    # Not pytest's tmp_path: the server process (the postgres OS user) must read the CA file.
    directory = Path(tempfile.mkdtemp(prefix="wrappers-tls-"))
    directory.chmod(0o755)
    ca, cert, key = make_ca(directory)
    (directory / "junk.pem").write_text("not a certificate\n")
    (directory / "junk.pem").chmod(0o644)
    front = Recorder(state["endpoint"], tls=(cert, key)).start()
    proxy = ConnectProxy().start()
    yield ca, front, proxy
    front.stop()
    proxy.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def db(pg_env, fresh_db):
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    yield conn
    conn.close()


KEYS = ", aws_access_key_id 'AKIATLS', aws_secret_access_key 's'"


def test_a_private_ca_in_ca_file_verifies_the_endpoint(db, state, tls):
    ca, front, _ = tls
    users = make_server(db, state, "private", front.url, KEYS + f", ca_file '{ca}'")
    assert count(db, "private_users") == users
    assert cognito_keys(front) == {"AKIATLS"}


def test_a_certificate_that_does_not_verify_is_a_clear_error(db, state, tls):
    _, front, _ = tls
    make_server(db, state, "untrusted", front.url, KEYS)
    with pytest.raises(psycopg.Error) as err:
        count(db, "untrusted_users")
    diag = err.value.diag
    assert diag.sqlstate == "HV00N", diag.message_primary
    assert front.url in diag.message_primary and "TLS" in diag.message_primary
    assert "certificate" in diag.message_primary.lower(), diag.message_primary
    assert "ca_file" in (diag.message_hint or "")
    assert front.signers() == []  # no request got through
    # A bad ca_file is refused before any connection.
    junk = str(Path(tls[0]).with_name("junk.pem"))
    db.execute(f"alter server untrusted options (add ca_file '{junk}')")
    with pytest.raises(psycopg.Error) as err:
        count(db, "untrusted_users")
    assert "holds no usable PEM certificate" in err.value.diag.message_primary


def test_https_proxy_tunnels_every_request_and_hides_its_password(db, state, tls):
    ca, front, proxy = tls
    url = f"http://proxyuser:PROXY%2FTOPSECRET@127.0.0.1:{proxy.port}"
    users = make_server(db, state, "proxied", front.url,
                        KEYS + f", ca_file '{ca}', https_proxy '{url}'")
    assert count(db, "proxied_users") == users
    assert len(proxy.tunnels) >= 1
    assert set(proxy.tunnels) == {front.url.removeprefix("https://")}
    expected = "Basic " + base64.b64encode(b"proxyuser:PROXY/TOPSECRET").decode()
    assert set(proxy.auth) in ({expected}, {"Basic " + base64.b64encode(
        b"proxyuser:PROXY%2FTOPSECRET").decode()}), proxy.auth
    assert cognito_keys(front) == {"AKIATLS"}

    # no_proxy: straight to the endpoint.
    tunnels = len(proxy.tunnels)
    db.execute("alter server proxied options (add no_proxy '127.0.0.1')")
    assert count(db, "proxied_users") == users
    assert len(proxy.tunnels) == tunnels

    # A proxy that is not there: the error names the endpoint, never the proxy's password.
    db.execute("alter server proxied options (drop no_proxy, "
               "set https_proxy 'http://proxyuser:TOPSECRET@127.0.0.1:1', "
               "set max_attempts '1')")
    with pytest.raises(psycopg.Error) as err:
        count(db, "proxied_users")
    text = " ".join(filter(None, [err.value.diag.message_primary, err.value.diag.message_detail,
                                  err.value.diag.message_hint]))
    assert front.url in text and "TOPSECRET" not in text, text


def test_the_proxy_password_is_never_shown(db, state, tls):
    ca, front, proxy = tls
    with pytest.raises(psycopg.Error) as err:
        db.execute(f"""create server badproxy foreign data wrapper cognito_wrapper options (
            region '{state["region"]}', user_pool_id '{state["pools"]["demo"]["id"]}',
            https_proxy 'socks5://u:TOPSECRET@127.0.0.1:{proxy.port}')""")
    assert "TOPSECRET" not in str(err.value)
    assert err.value.diag.sqlstate == "HV024"
