"""Start-up: evaluating one case from the command line loads only what that command uses.

A behaviour test, not a timing one (the timing is in ``bench/bench.py``, row "CLI, one case"): a
fresh interpreter runs ``python -m engine evaluate CASE`` and reports the modules it imported. The
HTTP service, the importers, the tutoring commands, the Dask and durable-rules backends, the worker
pool and the YAML reader (the rule base comes from its cache once it has been read) stay unloaded.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "luad-g12c-second-line.json"

# run ``python -m engine ARGS`` in this interpreter, then print the loaded modules on stderr
PROBE = """
import contextlib, io, json, runpy, sys
sys.argv = ["kras-rules"] + json.loads(sys.argv[1])
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        runpy.run_module("engine", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
import gc
loader = sys.modules.get("pydantic.plugin._loader")
print(json.dumps({"exit": code, "out": out.getvalue(), "modules": sorted(sys.modules),
                  "gc": [gc.isenabled(), gc.get_freeze_count()],
                  "plugins_looked_for": getattr(loader, "_plugins", None) is not None}), file=sys.stderr)
"""

# what evaluating one case must not load (module names, or package prefixes ending in '.')
UNUSED = (
    "yaml", "hypothesis", "fastapi", "starlette", "uvicorn", "httpx", "dask", "distributed",
    "vcfpy", "durable", "engine.importers", "engine.service", "engine.distributed", "engine.durable",
    "engine.batch.parallel", "engine.tutoring.cli", "engine.check", "engine.verify", "engine.testing",
    "engine.catalogue", "multiprocessing", "concurrent",
    "importlib.metadata", "email",  # (what pydantic's plugin loader imports: see the test below)
)


def _probe(args: list[str], cache: Path, **extra: str) -> dict:
    env = dict(os.environ, KRAS_RULES_CACHE=str(cache), PYTHONPATH=str(ROOT), **extra)
    env.pop("KRAS_RULES_TRACEBACK", None)
    if "PYDANTIC_DISABLE_PLUGINS" not in extra:
        env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    last = proc.stderr.strip().splitlines()[-1]
    return json.loads(last)


def _loaded(modules: list[str], name: str) -> list[str]:
    return [m for m in modules if m == name or m.startswith(name + ".")]


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory) -> Path:
    """A rule-base cache holding the shipped rule base (the first run reads the YAML files)."""
    cache = tmp_path_factory.mktemp("cache")
    first = _probe(["evaluate", str(CASE)], cache)
    assert first["exit"] == 0
    assert _loaded(first["modules"], "yaml"), "the first run reads the rule files"
    assert list(cache.glob("rulebase-*.pickle")), "the first run fills the cache"
    return cache


@pytest.mark.parametrize("fmt", ["text", "json", "tsv"])
def test_one_case_loads_only_what_it_uses(warm_cache: Path, fmt: str) -> None:
    got = _probe(["evaluate", "--format", fmt, str(CASE)], warm_cache)
    assert got["exit"] == 0
    if fmt == "json":
        assert json.loads(got["out"])["case_id"] == "luad-g12c-second-line"
    else:
        assert "sotorasib" in got["out"]
    loaded = {name: _loaded(got["modules"], name) for name in UNUSED}
    assert {k: v for k, v in loaded.items() if v} == {}
    assert "engine.api" in got["modules"] and "pydantic" in got["modules"]  # the probe saw the real run


def test_other_commands_still_registered(warm_cache: Path) -> None:
    """The subcommands left out of a core command's parser are there for the others."""
    got = _probe(["why", str(CASE), "sotorasib", "--format", "json"], warm_cache)
    assert got["exit"] == 0, got["out"]
    assert "engine.tutoring.cli" in got["modules"]
    helped = _probe(["--help"], warm_cache)
    assert helped["exit"] == 0
    for command in ("evaluate", "import", "why", "compare", "serve"):
        assert command in helped["out"]


def test_command_word() -> None:
    from engine.cli import command_of

    assert command_of(["evaluate", "x.json"]) == "evaluate"
    assert command_of(["--rules", "evaluate", "why", "x"]) == "why"  # a folder named like a command
    assert command_of(["--rules=r", "--version", "check"]) == "check"
    assert command_of(["--help"]) is None
    assert command_of(["--", "evaluate"]) is None


def test_start_up_sets_its_objects_aside_and_looks_for_no_pydantic_plugin(warm_cache: Path) -> None:
    """The command pauses garbage collection while it imports and loads (nothing made then is
    garbage), sets those objects aside (``gc.freeze``) and collects again afterwards; it does not
    scan installed packages for pydantic plugins unless ``PYDANTIC_DISABLE_PLUGINS`` is set."""
    got = _probe(["evaluate", str(CASE)], warm_cache)
    assert got["exit"] == 0 and "sotorasib" in got["out"]
    enabled, frozen = got["gc"]
    assert enabled and frozen > 10_000
    assert got["plugins_looked_for"] is False
    asked = _probe(["evaluate", str(CASE)], warm_cache, PYDANTIC_DISABLE_PLUGINS="")
    assert asked["exit"] == 0 and asked["plugins_looked_for"] is True
    assert "importlib.metadata" in asked["modules"]
    # only some plugins disabled: pydantic's own loader looks for the others
    some = _probe(["evaluate", str(CASE)], warm_cache, PYDANTIC_DISABLE_PLUGINS="a-plugin")
    assert some["exit"] == 0 and some["plugins_looked_for"] is True


def test_the_loader_given_to_pydantic_answers_as_its_own_with_every_plugin_disabled(monkeypatch) -> None:
    """With every plugin disabled, the one-case command gives pydantic a plugin loader that skips
    importing ``importlib.metadata`` (about a sixteenth of the run); its answer is the one
    pydantic's own loader gives then, for each value pydantic reads as "all"."""
    import importlib

    from engine import cli

    real = importlib.import_module("pydantic.plugin._loader")
    for value in ("__all__", "1", "true"):
        monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", value)
        monkeypatch.delitem(sys.modules, "pydantic.plugin._loader")
        cli._no_plugin_loader()
        given = sys.modules["pydantic.plugin._loader"]
        assert given is not real
        assert list(given.get_plugins()) == list(real.get_plugins()) == []
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "a-plugin")  # some disabled: pydantic's own
    monkeypatch.delitem(sys.modules, "pydantic.plugin._loader")
    cli._no_plugin_loader()
    assert "pydantic.plugin._loader" not in sys.modules


def test_a_program_calling_main_keeps_its_own_garbage_collection(tmp_path: Path, monkeypatch) -> None:
    import gc

    from engine import cli

    monkeypatch.setenv("KRAS_RULES_CACHE", str(tmp_path))
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    # (spied on rather than counted: objects set aside earlier in this process, by other tests,
    # may be freed while main runs, which lowers the count of those set aside)
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    assert cli.main(["evaluate", "--format", "tsv", str(CASE)]) == 0
    assert gc.isenabled() and calls == []
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ
