"""Try mutants by hand: each in a forked process running ``pytest -x`` on the given test files.

Run from the ``mutants/`` copy that ``mutmut run`` generated (see bench/mutation.md):

    cd mutants && python ../bench/mutation_try.py --ids IDS --out RESULTS tests/test_case_normalise.py

``IDS`` holds one mutant name a line (as ``mutmut results`` prints them); ``RESULTS`` gets one line
per mutant: its name, the exit status and the seconds taken (1: killed; 0: survived; 3: timed out,
counted as killed; anything else: an error to look at). Mutants already in ``RESULTS`` are skipped,
so a stopped run resumes.

Each mutant runs in a child forked from a process that has imported only the third-party packages
(pytest, hypothesis, pydantic, yaml); the engine is imported in the child, after the mutant is set,
so no code of the engine runs unmutated before the tests. With ``--rulebase-cache DIR`` the tests
of a mutant of a module that the rule-base cache key does not cover (``engine.rulebase._CODE_FILES``:
a loaded rule base does not depend on it, e.g. ``engine.evaluation.evaluator``, ``engine.case``,
``engine.evaluation.plancode``) read validated rule bases from ``DIR`` instead of loading them again; mutants of
the modules it covers always load their own. Bytecode caching makes the mutated modules import in
well under a second: leave ``PYTHONDONTWRITEBYTECODE`` unset.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.getcwd())

import hypothesis  # noqa: E402,F401  (imported once here, shared by every child)
import pydantic  # noqa: E402,F401
import pytest  # noqa: E402
import yaml  # noqa: E402,F401

#: the engine files a rule base's cache key covers (engine.rulebase._CODE_FILES, read without
#: importing the engine here)
_COVERED = ("rules_model", "audit", "rulebase", "vocabulary", "schema", "errors", "semantics", "conditions")


class _SetMutant:
    def __init__(self, name: str, cache: str | None):
        self.name, self.cache = name, cache

    def pytest_sessionstart(self, session):
        # after tests/conftest.py was read (it chooses fixture scopes from MUTANT_UNDER_TEST; the
        # mutant is set for the whole session, so session-wide fixtures are built by the mutant)
        os.environ["MUTANT_UNDER_TEST"] = self.name
        if self.cache:
            os.environ["KRAS_RULES_CACHE"] = self.cache


def covered(name: str) -> bool:
    parts = name.split(".")
    return len(parts) > 1 and parts[1] in _COVERED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--rulebase-cache")
    ap.add_argument("tests", nargs="+")
    args = ap.parse_args()
    ids = [line.strip().rstrip(":") for line in open(args.ids, encoding="utf-8") if line.strip()]
    done = set()
    if os.path.exists(args.out):
        done = {line.split()[0] for line in open(args.out, encoding="utf-8") if line.strip()}
    with open(args.out, "a", encoding="utf-8", buffering=1) as out:
        for name in ids:
            if name in done:
                continue
            t0 = time.time()
            pid = os.fork()
            if pid == 0:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
                signal.alarm(args.timeout)
                cache = None if covered(name) else args.rulebase_cache
                rc = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *args.tests], plugins=[_SetMutant(name, cache)])
                os._exit(int(rc))
            _, status = os.waitpid(pid, 0)
            out.write(f"{name} {os.waitstatus_to_exitcode(status)} {time.time() - t0:.1f}\n")


if __name__ == "__main__":
    main()
