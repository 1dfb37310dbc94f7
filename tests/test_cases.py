"""The example cases in ``cases/`` against their expected verdicts in ``cases/expected/``.

Each ``cases/<id>.json`` is one case in the case format of the README; ``cases/expected/<id>.yaml``
says what the engine must conclude for it (see ``cases/README.md``). The expectations were written
from the knowledge catalogue and the verdict definitions, not from the engine's output.

Run one case with ``pytest tests/test_cases.py -k luad-g12c-second-line``.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"
EXPECTED = CASES / "expected"
CATALOGUE = ROOT / "rules" / "therapies.yaml"

CASE_FILES = sorted(CASES.glob("*.json"))
EXPECTED_FILES = sorted(EXPECTED.glob("*.yaml"))

VERDICTS = {"eligible", "conditional", "consider", "not_eligible", "excluded"}
STAGES = {"early", "locally_advanced", "metastatic"}
SETTINGS = {"adjuvant", "neoadjuvant", "metastatic", "maintenance"}
OUTCOMES = {"progression", "response", "stable", "intolerance"}
CASE_KEYS = {"id", "cancer_type", "stage", "alterations", "tested_genes", "germline_tested",
             "multiagent_candidate", "prior_therapies", "tested_after_prior_therapy", "as_of", "jurisdiction"}
ALTERATION_KEYS = {"gene", "variant", "origin", "acquired", "partner"}
PRIOR_KEYS = {"drugs", "regimen", "setting", "outcome", "weeks"}
EXPECTED_KEYS = {"case", "why", "options", "missing", "absent", "notes_contain", "not_verdicts", "cautions"}
ASSERTING_KEYS = {"options", "absent", "notes_contain", "not_verdicts"}


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _load_case(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _load_expected(stem: str) -> dict:
    return yaml.safe_load((EXPECTED / f"{stem}.yaml").read_text(encoding="utf-8"))


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


# ----------------------------------------------------------------------------- file pairing


def test_enough_cases() -> None:
    assert len(CASE_FILES) >= 34, f"only {len(CASE_FILES)} case files in cases/"


def test_every_case_has_an_expected_file_and_vice_versa() -> None:
    cases, expected = set(_ids(CASE_FILES)), set(_ids(EXPECTED_FILES))
    assert not cases - expected, f"cases without cases/expected/<id>.yaml: {sorted(cases - expected)}"
    assert not expected - cases, f"expected files without cases/<id>.json: {sorted(expected - cases)}"


# ----------------------------------------------------------------------------- case shape (the README's case format)


def case_shape_problems(case: object, stem: str) -> list[str]:
    """What in ``case`` departs from the case format of the README (empty: nothing)."""
    if not isinstance(case, dict):
        return [f"a case file holds one JSON object, got {type(case).__name__}"]
    out: list[str] = []
    for key in sorted(set(case) - CASE_KEYS):
        out.append(f"unknown field {key!r}")
    if case.get("id") != stem:
        out.append(f"id {case.get('id')!r} is not the file stem {stem!r}")
    if not isinstance(case.get("cancer_type"), str) or not case.get("cancer_type"):
        out.append("cancer_type: a non-empty string is required")
    if "stage" in case and case["stage"] not in STAGES:
        out.append(f"stage: {case['stage']!r} is not one of {sorted(STAGES)}")
    try:
        dt.date.fromisoformat(case.get("as_of"))
    except (TypeError, ValueError):
        out.append(f"as_of: a YYYY-MM-DD date is required in every example case, got {case.get('as_of')!r}")
    for i, alt in enumerate(case.get("alterations", [])):
        where = f"alterations[{i}]"
        if not isinstance(alt, dict):
            out.append(f"{where}: an object is required")
            continue
        out += [f"{where}: unknown field {k!r}" for k in sorted(set(alt) - ALTERATION_KEYS)]
        for k in ("gene", "variant"):
            if not isinstance(alt.get(k), str) or not alt.get(k):
                out.append(f"{where}.{k}: a non-empty string is required")
        if alt.get("origin", "somatic") not in ("somatic", "germline"):
            out.append(f"{where}.origin: {alt['origin']!r} is not somatic or germline")
        if not isinstance(alt.get("acquired", False), bool):
            out.append(f"{where}.acquired: true or false")
        if "partner" in alt and alt.get("variant") != "fusion":
            out.append(f"{where}.partner: only for a fusion")
    if "tested_genes" in case and not _is_str_list(case["tested_genes"]):
        out.append("tested_genes: a list of gene names")
    if "germline_tested" in case and not isinstance(case["germline_tested"], bool):
        out.append("germline_tested: true or false")
    if "multiagent_candidate" in case and not isinstance(case["multiagent_candidate"], bool):
        out.append("multiagent_candidate: true or false")
    germline = [a for a in case.get("alterations", []) if isinstance(a, dict) and a.get("origin") == "germline"]
    if germline and case.get("germline_tested") is False:
        out.append("germline_tested is false but a germline alteration is listed")
    prior = case.get("prior_therapies")
    if prior is not None and not isinstance(prior, list):
        out.append("prior_therapies: a list, [] (treatment-naive) or absent (unknown)")
    for i, line in enumerate(prior or []):
        where = f"prior_therapies[{i}]"
        if not isinstance(line, dict):
            out.append(f"{where}: an object is required")
            continue
        out += [f"{where}: unknown field {k!r}" for k in sorted(set(line) - PRIOR_KEYS)]
        if not _is_str_list(line.get("drugs", [])) or not (line.get("drugs") or line.get("regimen")):
            out.append(f"{where}: 'drugs' (a non-empty list of names) or 'regimen' is required")
        if "setting" in line and line["setting"] not in SETTINGS:
            out.append(f"{where}.setting: {line['setting']!r} is not one of {sorted(SETTINGS)}")
        if "outcome" in line and line["outcome"] not in OUTCOMES:
            out.append(f"{where}.outcome: {line['outcome']!r} is not one of {sorted(OUTCOMES)}")
        if "weeks" in line and (not isinstance(line["weeks"], (int, float)) or line["weeks"] < 0):
            out.append(f"{where}.weeks: a non-negative number")
    return out


def test_case_shape_check_reports_departures() -> None:
    bad = {"id": "other", "cancer_type": "LUAD", "stage": "advanced", "as_of": "2026-13-01",
           "alterations": [{"gene": "KRAS", "variant": "G12C", "origin": "tumour", "partner": "EML4"}],
           "prior_therapies": [{"setting": "first-line"}], "priors": []}
    problems = "\n".join(case_shape_problems(bad, "luad-x"))
    for fragment in ("unknown field 'priors'", "id 'other'", "stage:", "as_of:", "alterations[0].origin",
                     "alterations[0].partner", "prior_therapies[0]: 'drugs'", "prior_therapies[0].setting"):
        assert fragment in problems
    good = {"id": "luad-x", "cancer_type": "LUAD", "as_of": "2026-07-01", "prior_therapies": []}
    assert case_shape_problems(good, "luad-x") == []


@pytest.mark.parametrize("path", CASE_FILES, ids=_ids(CASE_FILES))
def test_case_file_shape(path: Path) -> None:
    problems = case_shape_problems(_load_case(path), path.stem)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


# ----------------------------------------------------------------------------- expected-file shape


def expected_shape_problems(exp: object, stem: str) -> list[str]:
    """What in an expected file departs from the format in cases/README.md (empty: nothing)."""
    if not isinstance(exp, dict):
        return ["an expected file holds one mapping"]
    out = [f"unknown key {k!r}" for k in sorted(set(exp) - EXPECTED_KEYS)]
    if exp.get("case") != stem:
        out.append(f"case {exp.get('case')!r} is not the file stem {stem!r}")
    if not isinstance(exp.get("why"), str) or len(exp.get("why", "")) < 20:
        out.append("why: one or two sentences are required")
    if not ASSERTING_KEYS & set(exp):
        out.append(f"asserts nothing: give at least one of {sorted(ASSERTING_KEYS)}")
    options = exp.get("options") or {}
    for therapy, verdict in options.items():
        if verdict not in VERDICTS:
            out.append(f"options.{therapy}: {verdict!r} is not a verdict")
    for therapy, items in (exp.get("missing") or {}).items():
        if not _is_str_list(items):
            out.append(f"missing.{therapy}: a list of substrings")
        if options.get(therapy) not in ("conditional", "consider"):
            out.append(f"missing.{therapy}: only a conditional or consider option lists what is missing")
    absent = exp.get("absent") or []
    if not _is_str_list(absent):
        out.append("absent: a list of therapy ids")
    for therapy in set(absent) & set(options):
        out.append(f"{therapy} is both expected and absent")
    if "notes_contain" in exp and not _is_str_list(exp["notes_contain"]):
        out.append("notes_contain: a list of substrings")
    for therapy, items in (exp.get("cautions") or {}).items():
        if not _is_str_list(items):
            out.append(f"cautions.{therapy}: a list of substrings")
        if therapy not in options:
            out.append(f"cautions.{therapy}: give the option's verdict too (a caution never changes it)")
    for therapy, verdicts in (exp.get("not_verdicts") or {}).items():
        if not _is_str_list(verdicts) or not set(verdicts) <= VERDICTS:
            out.append(f"not_verdicts.{therapy}: a list of verdicts")
        if therapy in options:
            out.append(f"not_verdicts.{therapy}: the therapy already has an exact verdict")
    return out


@pytest.mark.parametrize("path", EXPECTED_FILES, ids=_ids(EXPECTED_FILES))
def test_expected_file_shape(path: Path) -> None:
    problems = expected_shape_problems(yaml.safe_load(path.read_text(encoding="utf-8")), path.stem)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def _expected_therapies(exp: dict) -> set[str]:
    return set(exp.get("options") or {}) | set(exp.get("absent") or []) | set(exp.get("not_verdicts") or {})


def test_expected_therapy_ids_are_in_the_catalogue() -> None:
    if not CATALOGUE.exists():
        pytest.skip("rules/therapies.yaml (the therapy catalogue) does not exist yet")
    known = {t["id"] for t in yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["therapies"]}
    unknown = {}
    for path in EXPECTED_FILES:
        for therapy in _expected_therapies(yaml.safe_load(path.read_text(encoding="utf-8"))) - known:
            unknown.setdefault(therapy, []).append(path.stem)
    assert not unknown, f"therapy ids not in rules/therapies.yaml: {unknown}"


# ----------------------------------------------------------------------------- verdicts


def _option_id(option) -> str:
    return getattr(option, "therapy_id", None) or option.therapy


def verdict_problems(result, exp: dict) -> list[str]:
    """Every way ``result`` departs from the expected file ``exp`` (empty: it matches)."""
    options = {_option_id(o): o for o in result.options}
    out: list[str] = []
    for therapy, verdict in (exp.get("options") or {}).items():
        got = options.get(therapy)
        if got is None:
            out.append(f"{therapy}: expected {verdict}, got no option")
            continue
        if got.verdict != verdict:
            out.append(f"{therapy}: expected {verdict}, got {got.verdict} ({got.explanation})")
        if list(got.drugs) != therapy.split("+"):
            out.append(f"{therapy}: drugs {list(got.drugs)} are not the sorted drugs of the id")
    for therapy, substrings in (exp.get("missing") or {}).items():
        got = options.get(therapy)
        missing = " | ".join(got.missing) if got is not None else ""
        for s in substrings:
            if s.lower() not in missing.lower():
                out.append(f"{therapy}: missing should mention {s!r}, got [{missing}]")
    for therapy, substrings in (exp.get("cautions") or {}).items():
        got = options.get(therapy)
        cautions = " | ".join(c.text for c in (getattr(got, "cautions", None) or [])) if got is not None else ""
        for s in substrings:
            if s.lower() not in cautions.lower():
                out.append(f"{therapy}: cautions should mention {s!r}, got [{cautions}]")
    for therapy in exp.get("absent") or []:
        if therapy in options:
            out.append(f"{therapy}: should be absent, got {options[therapy].verdict}")
    notes = result.notes
    for s in exp.get("notes_contain") or []:
        if not any(s.lower() in n.lower() for n in notes):
            out.append(f"notes should mention {s!r}; notes: {notes}")
    for therapy, verdicts in (exp.get("not_verdicts") or {}).items():
        got = options.get(therapy)
        if got is not None and got.verdict in verdicts:
            out.append(f"{therapy}: must not be {got.verdict} ({got.explanation})")
    return out


@pytest.mark.parametrize("path", CASE_FILES, ids=_ids(CASE_FILES))
def test_case_verdicts(path: Path) -> None:
    from engine.api import evaluate

    exp = _load_expected(path.stem)
    result = evaluate(_load_case(path))
    assert result.case_id == path.stem
    assert result.evaluated_as_of == _load_case(path)["as_of"]
    problems = verdict_problems(result, exp)
    assert not problems, f"{path.stem} ({exp['why']}):\n  " + "\n  ".join(problems)


def test_verdict_comparison_reports_every_departure() -> None:
    from types import SimpleNamespace as NS

    def opt(therapy, verdict, drugs=None, missing=()):
        return NS(therapy=therapy, verdict=verdict, drugs=drugs or therapy.split("+"),
                  missing=list(missing), explanation="...")

    result = NS(options=[opt("sotorasib", "conditional", missing=["stage"]), opt("cetuximab", "excluded"),
                         opt("adagrasib", "eligible", drugs=["adagrasib", "x"])],
                notes=["TP53 co-mutation"])
    exp = {"options": {"sotorasib": "eligible", "adagrasib": "eligible", "olaparib": "eligible"},
           "missing": {"sotorasib": ["prior therapy"]}, "absent": ["cetuximab"],
           "notes_contain": ["STK11"], "not_verdicts": {"adagrasib": ["eligible"]}}
    text = "\n".join(verdict_problems(result, exp))
    for fragment in ("sotorasib: expected eligible, got conditional", "adagrasib: drugs",
                     "olaparib: expected eligible, got no option", "'prior therapy'",
                     "cetuximab: should be absent", "'STK11'", "adagrasib: must not be eligible"):
        assert fragment in text
    ok = {"options": {"sotorasib": "conditional"}, "missing": {"sotorasib": ["Stage"]},
          "absent": ["olaparib"], "notes_contain": ["tp53"], "not_verdicts": {"cetuximab": ["eligible"]}}
    assert verdict_problems(result, ok) == []
