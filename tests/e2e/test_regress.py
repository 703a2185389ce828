"""pg_regress-style SQL tests.

For each tests/sql/NAME.sql: run it with `psql -a` in a fresh database
regress_NAME, write the echoed input plus output to tests/results/NAME.out and
compare with tests/expected/NAME.out.

psql variables available to the scripts (use them as :'main_pool' etc.; psql -a
echoes the raw line, so expected files do not contain the generated ids):
  endpoint region main_pool empty_pool demo_pool big_pool silent_endpoint

REGRESS_ACCEPT=1 copies each result over its expected file (review the
git diff by eye before committing). REGRESS_TIMEOUT (seconds, default 600)
bounds each script.
"""

import difflib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REQUIRED_POOLS, ROOT, create_db, drop_db

# REGRESS_DIR (default: tests/) holds sql/, expected/ and results/; pointing it
# elsewhere lets the harness be tried on throwaway files.
BASE = Path(os.environ.get("REGRESS_DIR", ROOT / "tests")).resolve()
SQL_DIR = BASE / "sql"
EXPECTED_DIR = BASE / "expected"
RESULTS_DIR = BASE / "results"

NAMES = sorted(p.stem for p in SQL_DIR.glob("*.sql"))


def rel(path):
    return path.relative_to(BASE.parent)


def psql_vars(state, silent_url):
    values = {"endpoint": state["endpoint"], "region": state["region"],
              "silent_endpoint": silent_url}
    for pool, info in state["pools"].items():
        values[f"{pool}_pool"] = info["id"]
    args = []
    for key, value in values.items():
        args += ["-v", f"{key}={value}"]
    return args


# An empty directory must not pass as "nothing failed": one test then fails.
@pytest.mark.parametrize("name", NAMES or [None])
def test_regress(name, pg_env, psql, state, silent_url):
    if name is None:
        pytest.fail(f"no .sql files in {SQL_DIR}: nothing to compare", pytrace=False)
    dbname = f"regress_{name}"
    create_db(psql, dbname)
    try:
        # The script comes on stdin, as pg_regress feeds it: psql then prints errors
        # without a "file:line:" prefix, so adding a line does not shift every later error.
        with open(BASE / "sql" / f"{name}.sql", "rb") as script:
            proc = subprocess.run(
                ["psql", "-X", "-a", "-q", "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=default",
                 "-d", dbname, *psql_vars(state, silent_url)],
                cwd=BASE.parent, env=pg_env, stdin=script,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=float(os.environ.get("REGRESS_TIMEOUT", "600")),
            )
    finally:
        drop_db(psql, dbname)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = RESULTS_DIR / f"{name}.out"
    result.write_bytes(proc.stdout)
    expected = EXPECTED_DIR / f"{name}.out"

    if os.environ.get("REGRESS_ACCEPT") == "1":
        EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result, expected)
        return
    if not expected.exists():
        pytest.fail(f"{rel(expected)} is missing: review "
                    f"{rel(result)} and copy it there "
                    f"(or rerun with REGRESS_ACCEPT=1)", pytrace=False)

    want = expected.read_bytes()
    if proc.stdout != want:
        diff = difflib.unified_diff(
            want.decode("utf-8", "replace").splitlines(keepends=True),
            proc.stdout.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=str(rel(expected)), tofile=str(rel(result)))
        pytest.fail("output differs from expected:\n" + "".join(diff), pytrace=False)


def test_emulator_serves_seeded_pools(state):
    """Harness sanity check: the emulator answers over HTTP with what it seeded,
    so a regress failure is about the extension, not the emulator."""
    import boto3

    client = boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                          region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                          aws_secret_access_key="secret")
    # (big is left out: 8,000 users of 2 KB; the state fixture checks that it exists)
    for pool in [p for p in REQUIRED_POOLS if p != "big"]:
        info = state["pools"][pool]
        count, kwargs = 0, {"UserPoolId": info["id"], "Limit": 60}
        while True:
            page = client.list_users(**kwargs)
            count += len(page["Users"])
            if "PaginationToken" not in page:
                break
            kwargs["PaginationToken"] = page["PaginationToken"]
        assert count == info["users"], pool
