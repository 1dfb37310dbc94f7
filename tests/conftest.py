"""Shared fixtures and hypothesis profiles.

Profiles: ``ci`` (default; bounded so the suite stays under ten minutes), ``dev`` (quick), ``long``
(the 100,000-profile differential run): choose with ``--hypothesis-profile=long`` or the environment
variable ``KRAS_HYPOTHESIS_PROFILE``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
if REPO.name == "mutants" and not SHARED.exists():
    # mutation testing runs a copy of the project in its mutants/ folder: the shared documents
    # are beside the project, one level further up
    SHARED = REPO.parent.parent / "shared"
    os.environ.setdefault("KRAS_SEEDS_DIR", str(SHARED / "seeds"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Hermetic caching: the rule-base cache of this test session (and of the command lines it runs)
# lives in a temporary folder under tests/, removed at the end; nothing is written to the home
# directory.
# Under mutation testing (mutmut sets MUTANT_UNDER_TEST) the rule-base cache is off, so that a
# rule base is always built by the code under test, and the miniature engine is built for each
# test: mutmut runs, for each mutant, only the tests that called the mutated function, and a
# session-wide engine would be counted as used by the first test alone.
MUTATION_RUN = "MUTANT_UNDER_TEST" in os.environ
_CACHE = Path(tempfile.mkdtemp(prefix=".cache-", dir=Path(__file__).resolve().parent))
os.environ["KRAS_RULES_CACHE"] = "off" if MUTATION_RUN else str(_CACHE)


def edited_rules(parent: Path, src: Path, edit) -> Path:
    """A copy of the rule base ``src`` in ``parent``, each rule file of its ``kb/`` changed by
    ``edit(by_id, data)``: ``by_id`` maps the file's rule ids to their (mutable) rules, ``data``
    is the whole file (to add or remove rules; a file left with none is removed, as a rule base
    holds no empty file). Returns the copy's folder."""
    import yaml

    dst = parent / src.name
    shutil.copytree(src, dst)
    for f in sorted((dst / "kb").glob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        edit({rule["id"]: rule for rule in data["rules"]}, data)
        if data["rules"]:
            f.write_text(yaml.safe_dump(data, sort_keys=False))
        else:
            f.unlink()
    return dst


def pytest_configure(config):
    config.addinivalue_line("markers", "longest: a test of several minutes, started first (see below)")
    # Under pytest-xdist, tests are handed out a few at a time (not in chunks of hundreds): the
    # worker that runs a test of several minutes then holds no queue of others behind it.
    if getattr(config.option, "maxschedchunk", False) is None:
        config.option.maxschedchunk = 4


def pytest_collection_modifyitems(config, items):
    # The longest tests first: each starts at once on a worker of its own. Started last (pytest's
    # order is by file name), the one that takes six minutes made a CI run take twelve.
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)


settings.register_profile("dev", max_examples=50, deadline=None)
# ci: 150 examples a property (300 until the exhaustive check of the lung approvals grew by a
# quarter, 200 until the check read whether the profile is from after the therapy: each time the
# run neared its ten minutes; the differential test keeps its 5,000 profiles; the long profile
# runs 100,000)
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "long", max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("KRAS_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def engine():
    from engine.api import default_engine

    return default_engine()


@pytest.fixture(scope="function" if MUTATION_RUN else "session")
def mini():
    from engine.api import Engine

    return Engine(FIXTURES / "mini")


def shared_or_skip(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not available: {'/'.join(parts)}")
    return p
