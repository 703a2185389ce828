"""The harness itself: CI cannot be talked out of a run (scripts/test.sh refuses the skipping
switches under CI=true), an empty regress directory or a missing pool fails instead of
skipping, crashed backends in the PostgreSQL log are found, and busy ports are avoided."""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import ROOT

# The lines PostgreSQL 15 writes when a backend crashes; pg_log_crashes must find each.
CRASH_LINES = [
    "LOG:  server process (PID 4242) was terminated by signal 11: Segmentation fault",
    "LOG:  server process (PID 4242) was terminated by signal 6: Aborted",
    "LOG:  server process (PID 4242) was terminated by exception 0xC0000005",
    "LOG:  server process (PID 4242) exited with exit code 134",
    "LOG:  terminating any other active server processes",
    "PANIC:  could not write to file \"pg_wal/xlogtemp.1\": No space left on device",
]
# Lines of a healthy run that must not count.
CLEAN_LINES = [
    "LOG:  database system is ready to accept connections",
    "ERROR:  Cognito ListUsers request to http://127.0.0.1:1 failed: Connection refused",
    "FATAL:  terminating connection due to administrator command",
    "LOG:  background worker \"logical replication launcher\" (PID 77) exited with exit code 1",
    "DEBUG:  server process (PID 4242) exited with exit code 0",
]


def bash(script, *args, env=None, timeout=60):
    """Run SCRIPT with scripts/lib.sh sourced; (returncode, stdout+stderr)."""
    proc = subprocess.run(["bash", "-c", f'source "{ROOT}/scripts/lib.sh"; {script}', "_",
                           *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return proc.returncode, proc.stdout


# Stands in for scripts/lib.sh beside a copy of scripts/test.sh: every step that would
# install, build or start something stops the script instead, so a guard that lets a switch
# through cannot start a second cluster or touch the installation.
STUB_LIB = """
log() { echo "==> $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }
cleanup() { :; }
for step in setup_tools build_extension start_pg start_moto start_silent cargo; do
    eval "$step() { echo \"REACHED $step\"; exit 97; }"
done
"""


@pytest.mark.parametrize("switch", ["SKIP_BUILD", "REGRESS_ACCEPT", "REGRESS_DIR"])
def test_ci_refuses_the_switches_that_skip_or_rewrite(switch, tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "test.sh").write_text((ROOT / "scripts" / "test.sh").read_text())
    (tmp_path / "scripts" / "lib.sh").write_text(STUB_LIB)
    env = {k: v for k, v in os.environ.items()
           if k not in ("SKIP_BUILD", "REGRESS_ACCEPT", "REGRESS_DIR")}

    def run(**extra):
        return subprocess.run(["bash", str(tmp_path / "scripts" / "test.sh")],
                              env={**env, **extra}, cwd=tmp_path, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=60)

    proc = run(CI="true", **{switch: "1"})
    assert proc.returncode == 1, proc.stdout
    assert f"CI=true: {switch} is set" in proc.stdout, proc.stdout
    assert "REACHED" not in proc.stdout, proc.stdout
    # Outside CI the switch is honoured (tools/e2e.sh passes SKIP_BUILD=1): the script goes
    # on to its first step.
    proc = run(CI="", **{switch: "1"})
    assert proc.returncode == 97 and "REACHED" in proc.stdout, proc.stdout


def test_the_crash_scan_finds_every_kind_of_crash_and_nothing_else(tmp_path):
    clean = tmp_path / "clean.log"
    clean.write_text("".join(f"2026-11-30 00:00:00 UTC [1] {line}\n" for line in CLEAN_LINES))
    rc, out = bash('pg_log_crashes "$1"', str(clean))
    assert rc == 1 and out == "", out
    for line in CRASH_LINES:
        crashed = tmp_path / "crashed.log"
        crashed.write_text(clean.read_text() + f"2026-11-30 00:00:01 UTC [1] {line}\n")
        rc, out = bash('pg_log_crashes "$1"', str(crashed))
        assert rc == 0 and line in out, (line, out)


def test_the_running_cluster_log_shows_no_crash_so_far():
    rc, out = bash('pg_log_crashes "$1"', os.environ["PG_LOG"])
    assert rc == 1, f"crashed backends in {os.environ['PG_LOG']}:\n{out}"


def run_pytest(*args, **env):
    # The caller's REGRESS_ACCEPT (a run that rewrites expected files) must not leak into the
    # inner run: each call says what it wants.
    outer = {k: v for k, v in os.environ.items() if k != "REGRESS_ACCEPT"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], env={**outer, **env}, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)
    return proc.returncode, proc.stdout


def test_an_empty_regress_directory_fails(tmp_path):
    (tmp_path / "sql").mkdir()
    rc, out = run_pytest("tests/e2e/test_regress.py::test_regress", REGRESS_DIR=str(tmp_path))
    assert rc == 1, out
    assert "1 failed" in out and "no .sql files in" in out, out


def test_a_regress_result_passes_if_it_equals_any_alternative_expected_file(tmp_path):
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "alt_one.sql").write_text("select 1 as one;\n")
    test = "tests/e2e/test_regress.py::test_regress"
    # No expected file: REGRESS_ACCEPT=1 writes NAME.out, which then passes.
    rc, out = run_pytest(test, REGRESS_DIR=str(tmp_path), REGRESS_ACCEPT="1")
    assert rc == 0, out
    expected = tmp_path / "expected"
    right = (expected / "alt_one.out").read_text()
    assert "select 1 as one;" in right and "(1 row)" in right, right
    # The right output as the alternative alt_one_1.out beside a wrong alt_one.out: passes.
    (expected / "alt_one_1.out").write_text(right)
    (expected / "alt_one.out").write_text(right.replace("(1 row)", "(2 rows)"))
    rc, out = run_pytest(test, REGRESS_DIR=str(tmp_path))
    assert rc == 0, out
    # Every file wrong: fails, with the diff against the closest one (one line off rather
    # than two) and the names of the others.
    (expected / "alt_one_1.out").write_text(right.replace("one", "two"))
    rc, out = run_pytest(test, REGRESS_DIR=str(tmp_path))
    assert rc == 1, out
    assert "output differs from every expected file (also tried " in out, out
    assert "/expected/alt_one_1.out); the closest, " in out, out
    assert "/expected/alt_one.out:\n" in out and "\n-(2 rows)\n+(1 row)\n" in out, out
    # REGRESS_ACCEPT=new keeps both and adds the result as a new alternative, which passes.
    rc, out = run_pytest(test, REGRESS_DIR=str(tmp_path), REGRESS_ACCEPT="new")
    assert rc == 0, out
    assert (expected / "alt_one_2.out").read_text() == right
    assert (expected / "alt_one.out").read_text() != right
    rc, out = run_pytest(test, REGRESS_DIR=str(tmp_path))
    assert rc == 0, out


def test_a_missing_pool_fails(tmp_path, state):
    crippled = json.loads(json.dumps(state))
    del crippled["pools"]["plain"]
    path = tmp_path / "state.json"
    path.write_text(json.dumps(crippled))
    rc, out = run_pytest("tests/e2e/test_regress.py::test_emulator_serves_seeded_pools",
                         MOTO_STATE=str(path))
    assert rc == 1, out
    assert "has no pool plain" in out, out


def test_busy_ports_are_avoided_unless_one_is_asked_for():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        env = {**os.environ, "PORT": str(port)}
        # No port given: a free one, never the busy one.
        rc, out = bash('start_silent "" && echo "port=$SILENT_PORT"; stop_silent', env=env)
        assert rc == 0, out
        got = int(out.rsplit("port=", 1)[1].split()[0])
        assert got != port
        # A port asked for that is busy: a clear refusal, not another port.
        rc, out = bash('start_silent "$PORT"', env=env)
        assert rc != 0 and f"port {port} is already in use" in out, out
        rc, out = bash('free_port', env=env)
        assert rc == 0 and int(out) != port and 0 < int(out) < 65536, out
    finally:
        busy.close()
