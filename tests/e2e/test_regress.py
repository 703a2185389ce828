"""pg_regress-style SQL tests.

For each tests/sql/NAME.sql: run it with `psql -a` in a fresh database
regress_NAME, write the echoed input plus output to tests/results/NAME.out and
compare with tests/expected/NAME.out and its alternatives NAME_1.out ... NAME_9.out,
as pg_regress does: the result passes if it equals any one of them. An alternative
holds what a PostgreSQL version prints differently (EXPLAIN's wording, say); a
failure shows the diff against the file closest to the result.

Files share their set-up through tests/sql/fixtures/ (`\ir fixtures/wrapper.sql`: the
extension and the wrapper; `\ir fixtures/main_server.sql`: cognito_server on the main
pool); psql -a echoes an included file's lines as well, so expected files show them.

psql variables available to the scripts (use them as :'main_pool' etc.; psql -a
echoes the raw line, so expected files do not contain the generated ids):
  endpoint region main_pool empty_pool demo_pool big_pool silent_endpoint

REGRESS_ACCEPT=1 copies each result that equals none of its expected files over
the closest one (NAME.out when there is none); REGRESS_ACCEPT=new writes it as a
new alternative instead, for output that differs on one PostgreSQL version only.
Review the git diff by eye before committing. REGRESS_TIMEOUT (seconds, default
600) bounds each script.
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


# NAME.out, then NAME_1.out to NAME_9.out (pg_regress also reads a NAME_0.out; none is used).
ALTERNATIVES = [""] + [f"_{i}" for i in range(1, 10)]


def expected_files(name):
    """NAME.out and the alternatives of it that exist, in pg_regress's order."""
    return [path for path in (EXPECTED_DIR / f"{name}{alt}.out" for alt in ALTERNATIVES)
            if path.exists()]


def diff(expected, result):
    """The unified diff (a list of lines) from an expected file to a result file."""
    return list(difflib.unified_diff(
        expected.read_bytes().decode("utf-8", "replace").splitlines(keepends=True),
        result.read_bytes().decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=str(rel(expected)), tofile=str(rel(result))))


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
                # From sql/, so that `\ir fixtures/NAME.sql` finds the shared fixtures (a
                # script on stdin includes relative to the working directory).
                cwd=SQL_DIR, env=pg_env, stdin=script,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=float(os.environ.get("REGRESS_TIMEOUT", "600")),
            )
    finally:
        drop_db(psql, dbname)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = RESULTS_DIR / f"{name}.out"
    result.write_bytes(proc.stdout)
    candidates = expected_files(name)
    if any(path.read_bytes() == proc.stdout for path in candidates):
        return
    # As pg_regress: the diff shown (and the file REGRESS_ACCEPT=1 rewrites) is the one
    # against the expected file with the fewest differing lines.
    diffs = sorted(((diff(path, result), path) for path in candidates),
                   key=lambda pair: len(pair[0]))

    accept = os.environ.get("REGRESS_ACCEPT")
    if accept in ("1", "new"):
        EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
        if accept == "1" and diffs:
            target = diffs[0][1]
        else:
            target = next(path for path in (EXPECTED_DIR / f"{name}{alt}.out"
                                             for alt in ALTERNATIVES) if not path.exists())
        shutil.copyfile(result, target)
        return
    if not candidates:
        pytest.fail(f"{rel(EXPECTED_DIR / f'{name}.out')} is missing: review "
                    f"{rel(result)} and copy it there "
                    f"(or rerun with REGRESS_ACCEPT=1)", pytrace=False)

    lines, closest = diffs[0]
    others = ", ".join(str(rel(path)) for _, path in diffs[1:])
    pytest.fail(f"output differs from every expected file"
                f"{f' (also tried {others})' if others else ''}; "
                f"the closest, {rel(closest)}:\n" + "".join(lines), pytrace=False)


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
