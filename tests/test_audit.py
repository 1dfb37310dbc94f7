"""The audit trail (rules/verification.yaml): every regulatory rule has a verification record,
``check`` reports V013 when one is missing, and bad records are load errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from engine import audit
from engine.cli import main
from engine.errors import RuleError
from engine.rulebase import load_rulebase

REPO = Path(__file__).resolve().parents[1]


def _copy_rules(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(REPO / "rules", dst)
    return dst


def _records(rules: Path) -> dict:
    return yaml.safe_load((rules / audit.FILE).read_text())


def test_every_regulatory_rule_of_the_shipped_rule_base_has_a_record() -> None:
    rb = load_rulebase(REPO / "rules", cache=False)
    assert audit.unverified(rb) == []
    regulatory = [r.id for r in rb.rules if r.status in audit.REGULATORY]
    have = audit.records_by_rule(rb)
    assert regulatory and all(rid in have for rid in regulatory)
    for v in rb.verifications:
        assert v.source in rb.sources and v.checked_on.year >= 2026


def test_check_reports_v013_for_a_regulatory_rule_without_a_record(tmp_path, capsys) -> None:
    rules = _copy_rules(tmp_path)
    data = _records(rules)
    victim = next(v for v in data["verifications"] if "LNG-001" in v["rules"])
    victim["rules"] = [r for r in victim["rules"] if r != "LNG-001"] or None
    if victim["rules"] is None:
        data["verifications"].remove(victim)
    (rules / audit.FILE).write_text(yaml.safe_dump(data, sort_keys=False))
    code = main(["check", "--quick", str(rules)])  # verification records: quick check too
    err = capsys.readouterr().err
    assert code == 1
    assert "V013 regulatory rule without a verification record" in err and "LNG-001" in err


def test_a_record_naming_an_unknown_rule_or_source_does_not_load(tmp_path) -> None:
    rules = _copy_rules(tmp_path)
    data = _records(rules)
    data["verifications"][0]["rules"] = ["LNG-0001"]
    data["verifications"][1]["source"] = "LUMAKRAS-LABLE"
    (rules / audit.FILE).write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(RuleError) as exc:
        load_rulebase(rules, cache=False)
    text = exc.value.render()
    assert "verification.yaml" in text and "unknown rule 'LNG-0001'" in text and "LNG-001" in text
    assert "unknown source 'LUMAKRAS-LABLE'" in text


def test_records_are_rendered_in_rules_md() -> None:
    doc = (REPO / "rules" / "RULES.md").read_text()
    rb = load_rulebase(REPO / "rules", cache=False)
    assert "## Verification records" in doc
    for v in rb.verifications:
        assert f"| {v.id} |" in doc


# --------------------------------------------------------------------------- the ledger of rule ids (V015)


def test_the_shipped_rules_and_the_ledger_of_ids_agree() -> None:
    rb = load_rulebase(REPO / "rules", cache=False)
    assert audit.id_ledger(rb) == []
    issued = yaml.safe_load((REPO / "rules" / audit.LEDGER).read_text())["ids"]
    assert set(issued) == {r.id for r in rb.rules}  # retired rules included


def _rename(rules: Path, old: str, new: str) -> None:
    for f in (rules / "kb").glob("*.yaml"):
        text = f.read_text()
        if f"id: {old}\n" in text:
            f.write_text(text.replace(f"id: {old}\n", f"id: {new}\n"))
            return
    raise AssertionError(old)


def test_a_renamed_rule_is_reported_with_its_new_name(tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    _rename(rules, "CTX-002", "CTX-092")
    text = [p.render() for p in audit.id_ledger(load_rulebase(rules, cache=False))]
    assert any("V015 rule id CTX-002 was issued" in t and "never deleted or renamed" in t
               and "(was it renamed to CTX-092?)" in t for t in text), text
    assert any("V015 rule id CTX-092 is not in the ledger" in t and "'CTX-092: note'" in t for t in text), text


def test_an_id_given_to_a_rule_of_another_kind_is_reported(tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    ledger = rules / audit.LEDGER
    ledger.write_text(ledger.read_text().replace("  CTX-002: note\n", "  CTX-002: conclusion\n"))
    (p,) = audit.id_ledger(load_rulebase(rules, cache=False))
    assert "V015 rule id CTX-002 was issued for a conclusion rule" in p.render() and "takes a new id" in p.render()


def test_a_retired_id_given_to_a_new_rule_is_reported(tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    rb = load_rulebase(rules, cache=False)
    retired = next(r for r in rb.rules if r.status == "retired" and r.kind == "conclusion")
    live = next(r for r in rb.rules if r.status != "retired" and r.kind == "conclusion" and r.id != retired.id)
    # the retired rule deleted, and its id given to a copy of a live rule
    path = rules / rb.rule_files[live.id]
    text = path.read_text()
    start = text.index(f"  - id: {live.id}\n")
    end = text.find("\n  - id: ", start + 1)
    block = text[start:end if end >= 0 else len(text)].rstrip("\n") + "\n"
    _delete_rule(rules, rb, retired.id)
    path = rules / rb.rule_files[live.id]
    path.write_text(path.read_text().rstrip("\n") + "\n\n" + block.replace(f"id: {live.id}\n", f"id: {retired.id}\n", 1))
    text = [p.render() for p in audit.id_ledger(load_rulebase(rules, cache=False))]
    assert any(f"V015 rule id {retired.id} was retired" in t and "new rule takes a new id" in t for t in text), text


def test_a_retired_rule_must_be_marked_retired_in_the_ledger(tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    ledger = rules / audit.LEDGER
    assert "  RES-004: conclusion (retired)\n" in ledger.read_text()
    ledger.write_text(ledger.read_text().replace("  RES-004: conclusion (retired)\n", "  RES-004: conclusion\n"))
    (p,) = audit.id_ledger(load_rulebase(rules, cache=False))
    assert "V015 rule RES-004 is retired: mark its id retired" in p.render() and "'RES-004: conclusion (retired)'" in p.render()


def _delete_rule(rules: Path, rb, rule_id: str) -> None:
    path = rules / rb.rule_files[rule_id]
    text = path.read_text()
    start = text.index(f"  - id: {rule_id}\n")
    end = text.find("\n  - id: ", start + 1)
    path.write_text(text[:start] + (text[end + 1:] if end >= 0 else ""))


def test_check_fails_on_a_new_rule_missing_from_the_ledger(tmp_path: Path, capsys) -> None:
    rules = _copy_rules(tmp_path)
    ledger = rules / audit.LEDGER
    ledger.write_text(ledger.read_text().replace("  CTX-002: note\n", ""))
    code = main(["check", "--quick", str(rules)])
    err = capsys.readouterr().err
    assert code == 1 and "V015 rule id CTX-002 is not in the ledger of issued ids" in err


def test_a_rule_base_without_a_ledger_is_not_checked_for_one() -> None:
    rb = load_rulebase(REPO / "tests" / "fixtures" / "mini", cache=False)
    assert audit.id_ledger(rb) == []


def test_a_record_must_cite_what_its_rules_cite_and_be_checked_after_they_hold(tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    data = _records(rules)
    rec = next(v for v in data["verifications"] if v["rules"] == ["CRC-002"])
    rec["source"], rec["checked_on"] = "LUMAKRAS-LABEL", "2016-01-01"
    (rules / audit.FILE).write_text(yaml.safe_dump(data, sort_keys=False))
    got = [p.render() for p in audit.inconsistent_records(load_rulebase(rules, cache=False))]
    assert any(f"{rec['id']} names source LUMAKRAS-LABEL, which none of its rules (CRC-002) cites" in p for p in got), got
    assert any(f"{rec['id']} was checked on 2016-01-01, before its rules hold (from 2017-02-06)" in p for p in got), got


def test_the_shipped_records_are_consistent_with_their_rules() -> None:
    assert audit.inconsistent_records(load_rulebase(REPO / "rules", cache=False)) == []


def test_the_shipped_rules_show_learners_no_rule_id_or_fact_name() -> None:
    assert audit.internal_names(load_rulebase(REPO / "rules", cache=False)) == []


def test_a_reading_or_explanation_naming_a_rule_id_or_a_fact_is_reported(tmp_path: Path, capsys) -> None:
    rules = _copy_rules(tmp_path)
    f = rules / "kb" / "ovarian.yaml"
    text = f.read_text()
    assert "          Recurrent disease, as the trial (RAMP 201) enrolled: a line" in text
    f.write_text(text.replace("          Recurrent disease, as the trial (RAMP 201) enrolled: a line",
                              "          Recurrent disease, as for OVA-001: a line", 1)
                 .replace("        avutometinib + defactinib has FDA accelerated approval (2025-05-08, RAMP 201",
                          "        kras_mutant: avutometinib + defactinib has FDA accelerated approval (2025-05-08, RAMP 201", 1))
    found = [p.render() for p in audit.internal_names(load_rulebase(rules, cache=False))]
    assert any(t.startswith("OVA-003.requires[1].reading: V016 a text results show names 'OVA-001'") for t in found), found
    assert any(t.startswith("OVA-003.explain.met: V016 a text results show names 'kras_mutant'") for t in found), found
    assert len(found) == 2, found
    assert main(["check", "--quick", str(rules)]) == 1
    assert "OVA-003.requires[1].reading: V016" in capsys.readouterr().err
