"""Mistakes a rule author makes in the rule files, each refused at load time with the file, the
rule and the field: a key written twice in one mapping (PyYAML alone keeps the last value without
a word, so a second ``when:`` pasted into a rule would replace its gate), a replaced rule that does
not hand over on its successor's first day, a jurisdiction the rule base does not list, a rule
with criteria but no words for a failed one, example names given twice, placeholder text."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import ruleyaml
from engine.errors import RuleError
from engine.rulebase import load_rulebase
from engine.vocabulary import Vocabulary

MINI = Path(__file__).resolve().parent / "fixtures" / "mini"
VOCAB = Path(__file__).resolve().parents[1] / "rules" / "vocabulary"


def test_a_duplicate_key_is_an_error_with_both_lines():
    with pytest.raises(ruleyaml.DuplicateKey) as info:
        ruleyaml.load("rules:\n  - id: X\n    when: {cancer: PAAD}\n    title: t\n    when: {cancer: LUAD}\n")
    assert ruleyaml.where(info.value) == " at line 5, column 5"
    assert ruleyaml.problem(info.value).startswith("duplicate key 'when' (first at line 3)")


def test_the_same_key_in_different_mappings_and_merge_keys_are_read():
    data = ruleyaml.load("a: {x: 1}\nb: {x: 2}\nbase: &b {y: 1}\nc:\n  <<: *b\n  z: 2\n")
    assert data == {"a": {"x": 1}, "b": {"x": 2}, "base": {"y": 1}, "c": {"y": 1, "z": 2}}


def test_a_rule_with_its_gate_written_twice_does_not_load(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(MINI, rules)
    path = rules / "kb" / "mini.yaml"
    text = path.read_text(encoding="utf-8")
    gate = "    when: {all: [{cancer: NSCLC}, {alteration: {gene: KRAS, variant: G12C}}]}\n"
    assert gate in text
    path.write_text(text.replace(gate, gate + "    when: {cancer: NSCLC}\n", 1), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rulebase(rules, cache=False)
    rendered = info.value.render()
    assert "kb/mini.yaml" in rendered and "duplicate key 'when'" in rendered and "which value is meant?" in rendered


def test_a_vocabulary_file_with_a_duplicate_key_does_not_load(tmp_path):
    copy = tmp_path / "vocabulary"
    shutil.copytree(VOCAB, copy)
    path = copy / "regimens.yaml"
    path.write_text("regimens:\n  FOLFOX:\n    drugs: [fluorouracil, leucovorin, oxaliplatin]\n"
                    "  FOLFOX:\n    drugs: [fluorouracil]\n", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        Vocabulary.load(copy)
    rendered = info.value.render()
    assert "regimens.yaml" in rendered and "duplicate key 'FOLFOX' (first at line 2)" in rendered


def test_a_criterion_written_once_with_an_alias_is_every_rules_own_and_an_edit_reaches_them_all(tmp_path):
    """The shipped NSCLC KRAS G12C rules share two population criteria through YAML aliases: each
    rule holds the same criterion, and editing the anchored text changes it in every rule."""
    sharing = ("LNG-001", "LNG-002", "LNG-003", "LNG-004", "LNG-009", "LNG-010")
    rules_dir = Path(__file__).resolve().parents[1] / "rules"

    def driver_criteria(rb):
        by_id = {r.id: r for r in rb.rules}
        return [next(q for q in by_id[i].requires if q.criterion.startswith("no other oncogenic driver"))
                for i in sharing]

    shipped = driver_criteria(load_rulebase(rules_dir, cache=False))
    assert all(c == shipped[0] for c in shipped) and shipped[0].kind == "population"
    assert "*g12c-no-other-driver" in (rules_dir / "kb" / "lung.yaml").read_text(encoding="utf-8")
    copy = Path(shutil.copytree(rules_dir, tmp_path / "rules"))
    path = copy / "kb" / "lung.yaml"
    text = path.read_text(encoding="utf-8")
    old = "where a therapy for it is approved by the evaluation date, a note names it."
    assert text.count(old) == 1
    path.write_text(text.replace(old, old[:-1] + ", as edited once."), encoding="utf-8")
    edited = driver_criteria(load_rulebase(copy, cache=False))
    assert all(c.reading.endswith("as edited once.") for c in edited)


# --------------------------------------------------------------------------- replaced_by and dates


def _mini_with(tmp_path, old: str, new: str) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(MINI, rules)
    path = rules / "kb" / "mini.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return rules


def _load_problems(rules: Path) -> str:
    with pytest.raises(RuleError) as info:
        load_rulebase(rules, cache=False)
    return info.value.render()


# TLNG-001 (from 2021-05-28) handed over to TLNG-002 (from 2022-01-06), as a follow-up approval would
_TLNG1 = "    effective_from: 2021-05-28\n"


def test_a_replaced_rule_needs_an_end_date_or_it_keeps_deciding_beside_its_successor(tmp_path):
    text = _load_problems(_mini_with(tmp_path, _TLNG1, _TLNG1 + "    replaced_by: TLNG-002\n"))
    assert "TLNG-001" in text and "effective_to" in text and "replaced by TLNG-002 from 2022-01-06" in text
    assert "did you mean '2022-01-06'" in text


def test_a_replaced_rule_ending_before_its_successor_starts_leaves_a_gap(tmp_path):
    text = _load_problems(_mini_with(tmp_path, _TLNG1, _TLNG1 + "    effective_to: 2021-12-01\n    replaced_by: TLNG-002\n"))
    assert "no rule of the two holds from 2021-12-01 to 2022-01-05" in text


def test_a_replaced_rule_ending_after_its_successor_starts_overlaps_it(tmp_path):
    text = _load_problems(_mini_with(tmp_path, _TLNG1, _TLNG1 + "    effective_to: 2022-02-01\n    replaced_by: TLNG-002\n"))
    assert "both rules hold from 2022-01-06 to 2022-01-31" in text


def test_a_replaced_rule_ending_the_day_its_successor_starts_loads(tmp_path):
    rb = load_rulebase(_mini_with(tmp_path, _TLNG1, _TLNG1 + "    effective_to: 2022-01-06\n    replaced_by: TLNG-002\n"),
                       cache=False)
    assert rb.rule("TLNG-001").replaced_by == "TLNG-002"


def test_an_unknown_successor_is_named_with_a_suggestion(tmp_path):
    text = _load_problems(_mini_with(tmp_path, _TLNG1, _TLNG1 + "    effective_to: 2022-01-06\n    replaced_by: TLNG-02\n"))
    assert "replaced_by names unknown rule 'TLNG-02'" in text


# --------------------------------------------------------------------------- jurisdictions


def test_a_jurisdiction_the_rule_base_does_not_list_is_a_load_error(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(MINI, rules)
    meta = rules / "meta.yaml"
    meta.write_text(meta.read_text(encoding="utf-8") + "jurisdictions: [FDA, EMA]\n", encoding="utf-8")
    load_rulebase(rules, cache=False)  # the mini rule base names FDA only
    kb = rules / "kb" / "mini.yaml"
    text = kb.read_text(encoding="utf-8")
    assert "    jurisdiction: FDA\n" in text
    kb.write_text(text.replace("    jurisdiction: FDA\n", "    jurisdiction: FDAA\n", 1), encoding="utf-8")
    rendered = _load_problems(rules)
    assert "jurisdiction: unknown jurisdiction 'FDAA'" in rendered and "did you mean 'FDA'" in rendered
    kb.write_text(text.replace("    jurisdiction: FDA\n", "    jurisdiction: US\n", 1), encoding="utf-8")
    assert "unknown jurisdiction 'US'; the rule base's (meta.yaml jurisdictions): FDA, EMA" in _load_problems(rules)
    # another name of a jurisdiction must name one the rule base lists
    kb.write_text(text, encoding="utf-8")
    meta.write_text(meta.read_text(encoding="utf-8") + "jurisdiction_names: {EU: EMEA}\n", encoding="utf-8")
    assert "meta.yaml: jurisdiction_names.EU: unknown jurisdiction 'EMEA'" in _load_problems(rules)


def test_the_shipped_rule_base_lists_its_jurisdictions():
    rb = load_rulebase(Path(__file__).resolve().parents[1] / "rules", cache=False)
    assert rb.meta.jurisdictions is not None
    assert {r.jurisdiction for r in rb.rules if r.jurisdiction} <= set(rb.meta.jurisdictions)


# --------------------------------------------------------------------------- messages


def test_a_schema_error_names_the_rule_by_its_id_and_a_yaml_error_stands_alone(tmp_path):
    text = _load_problems(_mini_with(tmp_path, _TLNG1, "    effective_from: October 2021\n"))
    assert "kb/mini.yaml: TLNG-001.effective_from: Input should be a valid date" in text and "rules[" not in text
    text = _load_problems(_mini_with(tmp_path / "b", _TLNG1, _TLNG1 + "    effective_to: 2021-01-01\n"))
    assert "TLNG-001: 'effective_to' (2021-01-01) must come after 'effective_from' (2021-05-28)" in text
    gate = "    when: {all: [{cancer: NSCLC}, {alteration: {gene: KRAS, variant: G12C}}]}\n"
    text = _load_problems(_mini_with(tmp_path / "c", gate, gate[:-2] + "\n"))
    assert text.startswith("kb/mini.yaml: invalid YAML at line ") and len(text.strip().splitlines()) == 1


# --------------------------------------------------------------------------- completeness of a rule


def test_a_rule_with_criteria_needs_words_for_a_failed_one(tmp_path):
    old = "    explain: {met: Approved after a prior line., unmet: Approved only after a prior line.}\n"
    text = _load_problems(_mini_with(tmp_path, old, "    explain: {met: Approved after a prior line.}\n"))
    assert "TLNG-001: a rule with criteria ('requires') needs 'explain.unmet'" in text


def test_example_names_differ_within_a_rule(tmp_path):
    text = _load_problems(_mini_with(tmp_path, "      - name: kras-g12d\n", "      - name: nras-untested\n"))
    assert "TDER-001: example names must differ within a rule: 'nras-untested' given twice" in text


def test_a_placeholder_rationale_is_refused(tmp_path):
    text = _load_problems(_mini_with(tmp_path, "    rationale: A test derivation of a three-valued fact from two genes.\n",
                                     "    rationale: TODO write this later, it is a derivation.\n"))
    assert "TDER-001: 'rationale' holds a placeholder ('TODO')" in text


# --------------------------------------------------------------------------- citations of a seed document

_DOC = """A Test Document

Lung cancer

Sotorasib is approved after a prior line.
• No approved KRAS inhibitor in this bullet

Colorectal cancer

Cetuximab is excluded in RAS-mutant tumours.
"""


def _cited(tmp_path, cites: list[tuple[str | None, str]]) -> list[str]:
    from engine.rulebase import check_citations

    rules = tmp_path / "rules"
    shutil.copytree(MINI, rules)
    (rules / "sources.yaml").write_text(
        (rules / "sources.yaml").read_text(encoding="utf-8")
        + "  - id: TEST-DOC\n    title: A test document\n    kind: document\n    file: doc.txt\n", encoding="utf-8")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "doc.txt").write_text(_DOC, encoding="utf-8")
    kb = rules / "kb" / "mini.yaml"
    lines = "".join(f"      - {{source: TEST-DOC, {'section: ' + repr(s) + ', ' if s else ''}quote: {q!r}}}\n" for s, q in cites)
    anchor = "    citations: [{source: TEST-LABEL, quote: test quote}]\n"
    text = kb.read_text(encoding="utf-8")
    assert anchor in text
    kb.write_text(text.replace(anchor, "    citations:\n      - {source: TEST-LABEL, quote: test quote}\n" + lines, 1),
                  encoding="utf-8")
    problems: list = []
    check_citations(load_rulebase(rules, cache=False), problems, seeds)
    return [p.render() for p in problems]


def test_a_quote_is_found_under_its_section(tmp_path):
    assert _cited(tmp_path, [("Lung cancer", "approved after a prior line"),
                             ("Colorectal cancer", "excluded in RAS-mutant tumours"),
                             (None, "excluded in RAS-mutant")]) == []


def test_a_quote_under_another_section_names_the_one_it_is_under(tmp_path):
    (p,) = _cited(tmp_path, [("Lung cancer", "approved after a prior line"),
                             ("Lung cancer", "excluded in RAS-mutant tumours"),
                             ("Colorectal cancer", "Cetuximab is excluded")])
    assert "quote is in TEST-DOC but not under its section 'Lung cancer': it is under 'Colorectal cancer'" in p


def test_a_bullet_line_is_not_a_section_and_a_missing_quote_names_the_source(tmp_path):
    got = _cited(tmp_path, [("• No approved KRAS inhibitor in this bullet", "approved after a prior line"),
                            ("Lung cancer", "KRAS inhibitors cure every cancer")])
    assert any("is a line of its text, not a heading of TEST-DOC" in p for p in got), got
    assert any("quote not found in TEST-DOC (A test document)" in p for p in got), got


def test_a_rule_from_after_the_knowledge_version_is_refused(tmp_path):
    text = _load_problems(_mini_with(tmp_path, _TLNG1, "    effective_from: 2027-10-20\n"))
    assert "TLNG-001.effective_from: 'effective_from' (2027-10-20) is after the knowledge version (2026-06-30" in text


def test_a_misspelt_regimen_where_a_drug_is_asked_for_is_named():
    from engine.errors import TermError

    with pytest.raises(TermError) as info:
        Vocabulary.load(VOCAB).drug("folfirinoxx")
    (p,) = info.value.problems
    assert p.suggestion == "FOLFIRINOX" and "spelt like the regimen 'FOLFIRINOX', which is not a drug" in p.message


def test_a_quote_changed_at_its_end_is_shown_where_it_stops_matching(tmp_path):
    # (an author's edit late in a long quote: the first 60 characters alone would not show it)
    got = _cited(tmp_path, [("Lung cancer", "approved after a prior line of systemic therapy in adults")])
    (p,) = [p for p in got if "quote not found" in p]
    assert "the document has '...approved after a prior line' but then" in p and "where the quote has 'of systemic therapy in adults...'" in p, p
    (p,) = [p for p in _cited(tmp_path / "again", [("Lung cancer", "Panitumumab cures every cancer")])
            if "quote not found" in p]
    assert "(no passage of the document begins so)" in p, p


def test_a_withdrawn_approval_that_still_makes_a_therapy_eligible_is_refused_with_how_to_record_it(tmp_path):
    text = _load_problems(_mini_with(tmp_path, "    status: accelerated\n    jurisdiction: FDA\n    effective_from: 2021-05-28\n",
                                     "    status: withdrawn\n    jurisdiction: FDA\n    effective_from: 2021-05-28\n"))
    assert "TLNG-001" in text and "status 'withdrawn' concludes 'eligible'" in text
    assert "effective_to: <the withdrawal date>" in text and "'not_eligible'" in text


# --------------------------------------------------------------------------- the rule-author review
# What a rule author's slip did before: a crash with no file, a rule file never read, a rule that
# silenced itself or a condition that can never hold loaded without a word, a date refused as "a date".


def test_a_date_the_calendar_does_not_have_is_a_yaml_error_at_its_line(tmp_path):
    """PyYAML's "day is out of range for month" was an internal error (exit 3) naming no file."""
    with pytest.raises(ruleyaml.YAMLError) as info:
        ruleyaml.load("rules:\n  - effective_from: 2021-02-30\n")
    assert ruleyaml.where(info.value) == " at line 2, column 21"
    assert ruleyaml.problem(info.value).startswith("no such day '2021-02-30'")
    problems = _load_problems(_mini_with(tmp_path, _TLNG1, "    effective_from: 2021-02-30\n"))
    assert "kb/mini.yaml: invalid YAML at line" in problems and "no such day '2021-02-30'" in problems


def test_a_rule_file_named_yml_is_not_left_unread(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(MINI, rules)
    shutil.copy(rules / "kb" / "mini.yaml", rules / "kb" / "more.yml")
    problems = _load_problems(rules)
    assert "kb/more.yml: not read: rule files end in .yaml, got 'more.yml' (did you mean 'kb/more.yaml'?)" in problems


def test_a_rule_that_overrides_itself_does_not_load(tmp_path):
    problems = _load_problems(_mini_with(tmp_path, "      - rule: TCRC-001\n", "      - rule: TCRC-003\n"))
    assert "TCRC-003.overrides[0].rule: a rule cannot override itself" in problems


def test_a_count_of_prior_lines_no_case_can_have_does_not_load(tmp_path):
    problems = _load_problems(_mini_with(tmp_path, "test: {prior_lines: {min: 1}}", "test: {prior_lines: {min: 3, max: 1}}"))
    assert "TLNG-001.requires[0].test.prior_lines: min 3 is more than max 1" in problems


def test_an_unquoted_example_date_is_the_day_it_names(tmp_path):
    """`as_of: 2026-07-01` unquoted was refused with "a date is written YYYY-MM-DD, got a date"."""
    rules = _mini_with(tmp_path, "prior_therapies: [{regimen: FOLFOX}, {regimen: FOLFIRI}]}",
                       "prior_therapies: [{regimen: FOLFOX}, {regimen: FOLFIRI}], as_of: 2026-07-01}")
    rb = load_rulebase(rules, cache=False)
    (ex,) = [e for r in rb.rules for e in r.examples if e.name == "after-three"]
    assert ex.case["as_of"] == "2026-07-01"


def test_a_fact_whose_deriving_rule_was_renamed_points_at_that_rule(tmp_path):
    problems = _load_problems(_mini_with(tmp_path, "    derive: ras_mutant\n", "    derive: ras_mutantt\n"))
    assert "fact 'ras_mutant' is derived by no rule; TDER-001 derives 'ras_mutantt': if its 'derive' was renamed" in problems


def test_an_override_of_an_id_that_is_gone_says_ids_never_change(tmp_path):
    problems = _load_problems(_mini_with(tmp_path, "  - id: TCRC-001\n", "  - id: TCRC-010\n"))
    assert ("overrides unknown rule 'TCRC-001'; an id never changes: if 'TCRC-010' was 'TCRC-001' before, "
            "give it back its id") in problems


def test_a_slip_in_a_rule_file_is_named_in_plain_words(tmp_path):
    """pydantic's and PyYAML's words were all the author got: "Tuple should have at least 1 item
    after validation", "Datetimes provided to dates should have zero time", "Input should be a
    valid dictionary or instance of RuleFile", "mapping values are not allowed in this context"."""
    assert "TLNG-001.effective_from: a date is written YYYY-MM-DD, got the number 20210528 (did you mean '2021-05-28'?)" in (
        _load_problems(_mini_with(tmp_path / "a", _TLNG1, "    effective_from: 20210528\n")))
    rules = _mini_with(tmp_path / "b", "  - id: TDER-001\n", "  - id: TDER-001\n")
    (rules / "kb" / "bare.yaml").write_text("- id: X\n  title: y\n", encoding="utf-8")
    assert "kb/bare.yaml: a rule file is a mapping whose 'rules:' key lists the rules" in _load_problems(rules)
    (rules / "kb" / "bare.yaml").write_text("rules:\n  - id: X\n    title: a title: with a colon\n", encoding="utf-8")
    assert "mapping values are not allowed in this context (a value holding ': ' must be quoted" in _load_problems(rules)
    text = (MINI / "kb" / "mini.yaml").read_text(encoding="utf-8")
    start = text.index("    examples:\n", text.index("  - id: TLNG-001"))
    end = text.index("\n  - id: ", start)
    rules = tmp_path / "c" / "rules"
    shutil.copytree(MINI, rules)
    (rules / "kb" / "mini.yaml").write_text(text[:start] + "    examples: []" + text[end:], encoding="utf-8")
    assert "TLNG-001.examples: at least 1 needed, got none (an empty list)" in _load_problems(rules)
