"""The shipped rule base: every rule's examples run as tests (`pytest -k LNG-001` runs one rule),
every rule carries its metadata, and the base passes `check`."""
from __future__ import annotations

import pytest

from engine.api import default_engine
from engine.check import run_check, run_example

_RB = default_engine().rulebase
EXAMPLES = [(r, e) for r in _RB.rules if r.status != "retired" for e in r.examples]


@pytest.mark.parametrize("rule,example", EXAMPLES, ids=[f"{r.id}_{e.name}" for r, e in EXAMPLES])
def test_rule_example(engine, rule, example):
    res = run_example(engine, rule, example)
    assert res.ok, res.message


@pytest.mark.parametrize("rule", _RB.rules, ids=[r.id for r in _RB.rules])
def test_rule_metadata_is_complete(rule):
    assert rule.title and rule.rationale and rule.citations and rule.examples and rule.effective_from
    if rule.kind == "conclusion":
        assert rule.evidence and rule.explain and rule.explain.met
    if rule.kind == "conclusion" and rule.requires:
        assert rule.explain.unmet, "a rule with criteria says in words what a failed criterion means"
    if rule.status in ("regular", "accelerated", "withdrawn"):
        assert rule.jurisdiction


def test_every_therapy_is_decided_by_some_rule(engine):
    targeted = {t for ts in engine.rulebase.targets.values() for t in ts}
    assert set(engine.rulebase.therapies) <= targeted


def test_shipped_rule_base_passes_check(engine):
    # without the exhaustive search, run on the shipped rules by test_verify and test_cli
    report = run_check(engine, search=False)
    assert not report.problems, [p.render() for p in report.problems]
    assert all(e.ok for e in report.examples)
    assert report.quotes_verified > 0 or not report.seeds_found


def test_rule_table_in_docs_is_generated_and_current(capsys):
    from pathlib import Path

    from engine.cli import main

    assert main(["rules", "--format", "markdown"]) == 0
    table = capsys.readouterr().out
    doc = (Path(__file__).resolve().parents[1] / "rules" / "RULES.md").read_text()
    assert table == doc, "rules/RULES.md is stale: regenerate it with `kras-rules rules --format markdown > rules/RULES.md`"
