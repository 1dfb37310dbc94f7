"""The command line: formats, exit codes 0/1/2, stdin, batch with bad cases, explain and check."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.cli import main

REPO = Path(__file__).resolve().parents[1]
GOOD = {"id": "g", "cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
        "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"]}], "as_of": "2026-06-01"}
BAD = {"id": "b", "cancer_type": "NSCLCC"}


def run(argv, capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_is_the_api_object(tmp_path, capsys, engine):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(GOOD))
    code, out, err = run(["evaluate", "--format", "json", str(f)], capsys)
    assert code == 0, err
    assert json.loads(out) == json.loads(engine.evaluate(GOOD).to_json())


def test_batch_with_bad_case_evaluates_the_good_ones(tmp_path, capsys):
    f = tmp_path / "batch.json"
    f.write_text(json.dumps([GOOD, BAD, dict(GOOD, id="g2")]))
    code, out, err = run(["evaluate", "--format", "json", str(f)], capsys)
    assert code == 1
    lines = [json.loads(l) for l in out.splitlines()]
    assert [l.get("case_id") for l in lines] == ["g", "b", "g2"]
    assert "error" in lines[1] and "options" in lines[0]
    assert f"{f}[1]: cancer_type: unknown cancer type 'NSCLCC' (did you mean 'NSCLC'?)" in err


def test_jsonl_from_stdin(capsys, monkeypatch):
    text = json.dumps(GOOD) + "\n" + "{not json\n" + json.dumps(dict(GOOD, id="g3")) + "\n"
    code, out, err = run(["evaluate", "--format", "json", "-"], capsys, text, monkeypatch)
    assert code == 1
    assert len(out.splitlines()) == 3
    assert "<stdin>:2: invalid JSON at column 2" in err


def test_invalid_json_names_line_and_column(tmp_path, capsys):
    f = tmp_path / "broken.json"
    f.write_text('{\n  "cancer_type": "LUAD",\n  "stage": metastatic\n}\n')
    code, out, err = run(["evaluate", str(f)], capsys)
    assert code == 1
    assert f"{f}: invalid JSON at line 3, column 12" in err


def test_empty_file(tmp_path, capsys):
    f = tmp_path / "empty.json"
    f.write_text("")
    code, _, err = run(["evaluate", str(f)], capsys)
    assert code == 1 and "empty input" in err


def test_text_format_groups_verdicts_and_says_educational(tmp_path, capsys):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(GOOD))
    code, out, _ = run(["evaluate", str(f)], capsys)
    assert code == 0
    assert "ELIGIBLE" in out and "sotorasib" in out
    assert "not medical advice" in out


def test_tsv_format(tmp_path, capsys):
    f = tmp_path / "c.json"
    f.write_text(json.dumps([GOOD, BAD]))
    code, out, _ = run(["evaluate", "--format", "tsv", str(f)], capsys)
    rows = [l.split("\t") for l in out.splitlines()]
    assert rows[0][0] == "case_id" and len(rows) == 3
    header = rows[0]
    assert rows[1][header.index("highest_level")] == "LEVEL_1"
    assert rows[2][header.index("error")]


def test_jurisdiction_option_evaluates_every_case_under_that_regulator(tmp_path, capsys, engine):
    # an EU cohort written without the field: each case as if it said "jurisdiction": "EMA"
    lgsoc = {"id": "o", "cancer_type": "LGSOC", "stage": "metastatic", "as_of": "2026-07-01",
             "prior_therapies": [{"drugs": ["carboplatin", "paclitaxel"], "outcome": "progression"}]}
    cases = [GOOD, dict(GOOD, id="f", jurisdiction="FDA"), lgsoc, BAD]
    f = tmp_path / "eu.json"
    f.write_text(json.dumps(cases))
    for jobs in ("1", "2"):
        code, out, err = run(["evaluate", "--format", "json", "--jurisdiction", "ema", "--jobs", jobs, "--summary", str(f)], capsys)
        assert code == 1
        got = [json.loads(line) for line in out.splitlines()]
        want = [json.loads(engine.evaluate(dict(c, jurisdiction="EMA")).to_json()) for c in cases[:3]]
        assert got[:3] == want and "error" in got[3]
        assert {r["jurisdiction"] for r in got[:3]} == {"EMA"}
        # the EU verdicts, not only the field: the EU sotorasib label asks that the disease progressed
        assert got[0]["options"] != json.loads(engine.evaluate(GOOD).to_json())["options"]
        assert "Evaluated under the approvals of: EMA (3 cases)" in err
    # the TSV names the regulator in its last column, and without the option each case's own
    code, out, _ = run(["evaluate", "--format", "tsv", str(f)], capsys)
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0][-1] == "jurisdiction" and [r[-1] for r in rows[1:]] == ["FDA", "FDA", "FDA", ""]
    # one the rules do not know is refused before anything is written, naming the ones they know
    code, out, err = run(["evaluate", "--jurisdiction", "EU", str(f)], capsys)
    assert code == 2 and out == ""
    assert "unknown jurisdiction 'EU'; the rules know: EMA, FDA (did you mean 'EMA'?)" in err  # (meta.yaml jurisdiction_names)


def test_usage_error_exit_2(capsys):
    assert main(["evaluate"]) == 2
    assert main(["evaluate", "--as-of", "yesterday", "x.json"]) == 2
    assert main(["frobnicate"]) == 2


def test_missing_file_is_an_error_record(capsys, tmp_path):
    code, out, err = run(["evaluate", "--format", "json", str(tmp_path / "nope.json")], capsys)
    assert code == 1 and "no such file" in err


def test_explain_text_and_json(capsys, engine):
    rid = next(r.id for r in engine.rulebase.rules if r.kind == "conclusion")
    code, out, _ = run(["explain", rid], capsys)
    assert code == 0 and rid in out and "Rationale:" in out and "Citations:" in out and "Examples:" in out
    code, out, _ = run(["explain", rid, "--format", "json"], capsys)
    d = json.loads(out)
    assert d["id"] == rid and d["citations"] and d["examples"]


def test_explain_shows_a_rule_author_the_gate_what_sets_the_rule_aside_and_its_verification(capsys):
    """explain left out what an author needs before changing a rule: its gate, the rules that set
    it aside (LNG-001 did not show RES-001) and where its regulatory facts were verified."""
    code, out, _ = run(["explain", "LNG-001"], capsys)
    assert code == 0
    assert '  applies when: {"all": [{"cancer": ["NSCLC"]}, {"fact": "kras_g12c"}]}' in out
    assert "  set aside by RES-001 where both apply: KRAS Y96D with KRAS G12C" in out
    assert "  verified: VER-001 (checked " in out


def test_the_rule_list_shows_end_dates_and_regulators(capsys):
    code, out, _ = run(["rules"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:7] == ["id", "kind", "status", "from", "to", "where", "verdict"]
    pan = next(line for line in lines if line.startswith("PAN-001 "))  # (a trial option, ended by the approval)
    assert pan.split()[3:6] == ["2026-05-01", "2026-08-26", "-"]
    lng = next(line for line in lines if line.startswith("LNG-001 "))
    assert lng.split()[3:6] == ["2021-05-28", "-", "FDA"]


def test_explain_unknown_rule_suggests(capsys, engine):
    rid = engine.rulebase.rules[0].id
    code, _, err = run(["explain", rid[:-3] + "998"], capsys)  # a number no rule uses
    assert code == 2 and "unknown rule id" in err


def test_check_passes_on_shipped_rules(capsys):
    # (quick: the exhaustive search of the shipped rules, two minutes, is test_verify's)
    code, out, err = run(["check", "--quick"], capsys)
    assert code == 0, err
    assert "check: passed" in out


def _copy_rules(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(REPO / "rules", dst)
    return dst


def _first_rule_file(rules: Path) -> tuple[Path, dict]:
    f = sorted((rules / "kb").glob("*.yaml"))[0]
    return f, yaml.safe_load(f.read_text())


def test_check_fails_loudly_on_unknown_condition(tmp_path, capsys):
    rules = _copy_rules(tmp_path)
    f, data = _first_rule_file(rules)
    data["rules"][0]["when"] = {"cancr": "NSCLC"}
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    code, _, err = run(["check", str(rules)], capsys)
    assert code == 1
    rid = data["rules"][0]["id"]  # the rule named by its id, not its place in the file
    assert f"kb/{f.name}: {rid}.when: unknown condition 'cancr' (did you mean 'cancer'?)" in err


def test_check_fails_on_duplicate_id(tmp_path, capsys):
    rules = _copy_rules(tmp_path)
    f, data = _first_rule_file(rules)
    data["rules"].append(data["rules"][0])
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    code, _, err = run(["check", str(rules)], capsys)
    assert code == 1 and "duplicate rule id" in err


def test_check_fails_on_example_with_wrong_verdict(tmp_path, capsys):
    rules = _copy_rules(tmp_path)
    for f in sorted((rules / "kb").glob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        for r in data["rules"]:
            if r["kind"] == "conclusion" and r["examples"][0]["expect"].get("verdict") == "eligible":
                r["examples"][0]["expect"]["verdict"] = "excluded"
                f.write_text(yaml.safe_dump(data, sort_keys=False))
                code, _, err = run(["check", "--quick", str(rules)], capsys)  # examples run in the quick check too
                assert code == 1
                assert f"{r['id']} example '{r['examples'][0]['name']}': " in err and "expected excluded" in err
                return
    pytest.fail("no eligible example to break")


def test_check_runs_examples_that_expect_no_option(tmp_path, capsys):
    """``no_option: true``: the case gets no option for the rule's therapy at all (a rule silent
    outside its evidence's population). It fails when an option appears, and it cannot be given
    with a verdict."""
    rules = _copy_rules(tmp_path)
    f = rules / "kb" / "pancreatic.yaml"
    data = yaml.safe_load(f.read_text())
    rule = next(r for r in data["rules"] if r["id"] == "PAN-001")
    ex = next(e for e in rule["examples"] if e["expect"].get("no_option"))
    assert main_check(rules, capsys)[0] == 0
    ex["case"]["prior_therapies"][0]["setting"] = "metastatic"  # now in the trial's population: an option
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    code, err = main_check(rules, capsys)
    assert code == 1 and f"kb/pancreatic.yaml: PAN-001 example '{ex['name']}': daraxonrasib: expected no option, got consider" in err
    ex["expect"]["verdict"] = "consider"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    code, err = main_check(rules, capsys)
    assert code == 1 and "'no_option' expects no option" in err


def main_check(rules, capsys) -> tuple[int, str]:
    code, _, err = run(["check", "--quick", str(rules)], capsys)
    return code, err


def test_check_fails_on_misquoted_citation(tmp_path, capsys, monkeypatch):
    seeds = REPO.parent / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("seed documents not available")
    monkeypatch.setenv("KRAS_SEEDS_DIR", str(seeds))
    rules = _copy_rules(tmp_path)
    seeded = {s["id"] for s in yaml.safe_load((rules / "sources.yaml").read_text())["sources"] if s.get("file")}
    for f in sorted((rules / "kb").glob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        for r in data["rules"]:
            for c in r["citations"]:
                if c["source"] in seeded:
                    c["quote"] = "KRAS inhibitors cure every cancer"
                    f.write_text(yaml.safe_dump(data, sort_keys=False))
                    code, _, err = run(["check", "--quick", str(rules)], capsys)  # quotes: quick check too
                    assert code == 1 and "quote not found" in err
                    return
    pytest.fail("no seed citation found")


def test_check_fails_on_unknown_drug_class_and_gene(tmp_path, capsys):
    rules = _copy_rules(tmp_path)
    (rules / "kb" / "zz_broken.yaml").write_text(yaml.safe_dump({"rules": [{
        "id": "ZZZ-001", "title": "Broken rule for the test", "kind": "conclusion",
        "rationale": "A rule with an unknown gene and an unknown drug class.",
        "status": "literature", "effective_from": "2020-01-01", "evidence": "clinical",
        "when": {"all": [{"alteration": {"gene": "KRSA", "variant": "G12C"}},
                          {"received": {"classes": ["platinun"]}}]},
        "conclude": {"therapy": "sotorasib", "verdict": "consider"},
        "explain": {"met": "This rule is broken on purpose."},
        "citations": [{"source": "000_32a27d7d2d1ce808.txt", "quote": "KRAS"}],
        "examples": [{"name": "x", "case": {"cancer_type": "LUAD"}, "expect": {"verdict": "consider"}}],
    }]}, sort_keys=False))
    code, _, err = run(["check", str(rules)], capsys)
    assert code == 1
    assert "kb/zz_broken.yaml: ZZZ-001.when.all[0].alteration.gene: unknown gene 'KRSA'" in err
    assert "unknown drug class 'platinun'" in err and "platinum" in err


def test_console_script_and_module_agree():
    out = subprocess.run([sys.executable, "-m", "engine", "evaluate", "--format", "json", "-"],
                         input=json.dumps(GOOD), capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["case_id"] == "g"


def test_text_shows_an_oncokb_level_only_for_a_biomarker_the_tumour_has_and_an_option_it_may_take(engine):
    """As the TSV row levels options: no level while the deciding rule's gate is unknown (olaparib
    without BRCA data), none for an option the case fails, whose evidence reads 'not for this case'."""
    from engine.formats import text as render_text

    pdac = engine.evaluate({"cancer_type": "PAAD",
                            "alterations": [{"gene": "KRAS", "variant": "G12D"}], "as_of": "2026-11-30"})
    out = render_text(pdac)
    assert "* olaparib: approved, once what is missing is known [" in out and "(OncoKB" not in out.split("olaparib:")[1].split("\n")[0]
    early = engine.evaluate({"cancer_type": "LUAD", "stage": "early", "prior_therapies": [{"drugs": ["carboplatin"]}],
                             "alterations": [{"gene": "KRAS", "variant": "G12C"}], "as_of": "2026-11-30"})
    out = render_text(early)
    assert "* sotorasib: approved, but not for this case [" in out
    # a conditional option's evidence line says the approval waits on what is missing: under its
    # heading "approved" alone read as its verdict
    unknown = render_text(engine.evaluate(dict(json.loads((REPO / "cases" / "luad-g12c-history-unknown.json").read_text()))))
    assert "* adagrasib: approved, once what is missing is known (OncoKB 1) [" in unknown


def test_an_option_on_no_biomarker_carries_no_oncokb_level(engine):
    # trametinib in low-grade serous ovarian cancer is given whatever the KRAS status (GOG 281): a
    # KRAS wild-type tumour must not read as a biomarker-matched level-3A option
    case = {"cancer_type": "LGSOC", "stage": "metastatic", "tested_genes": ["KRAS", "NRAS", "BRAF"], "as_of": "2026-07-01",
            "prior_therapies": [{"drugs": ["carboplatin", "paclitaxel"], "outcome": "progression"}]}
    opt = engine.evaluate(case).option("trametinib")
    assert opt is not None and (opt.verdict, opt.evidence, opt.oncokb_level) == ("consider", "phase3", None)
    from engine.formats import TSV_COLUMNS, tsv_row

    row = dict(zip(TSV_COLUMNS, tsv_row(engine.evaluate(case)).split("\t"), strict=True))
    assert row["highest_level"] == "" and row["level_3A"] == "" and row["consider"] == "trametinib"


def test_the_readme_names_every_tsv_column():
    from engine.formats import TSV_COLUMNS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("A TSV row (`--format tsv`")
    section = readme[start:start + 2000]
    assert all(f"`{c}`" in section for c in TSV_COLUMNS), [c for c in TSV_COLUMNS if f"`{c}`" not in section]


def test_an_approval_cannot_set_aside_resistance_acquired_on_its_own_drug(tmp_path, capsys):
    """Following a conflict's advice the wrong way round: the sotorasib approval declaring that it
    sets aside the exclusion for resistance acquired on a KRAS G12C inhibitor would make sotorasib
    eligible for a tumour that grew resistant to it. Loading refuses it, and says which way round."""
    rules = _copy_rules(tmp_path)
    path = rules / "kb" / "lung.yaml"
    text = path.read_text()
    head = "  - id: LNG-001\n"
    assert head in text
    start = text.index(head)
    cut = text.index("\n    citations:", start)
    text = text[:cut] + "\n    overrides:\n      - {rule: RES-001, because: the approval decides.}" + text[cut:]
    path.write_text(text)
    code, _, err = run(["check", "--quick", str(rules)], capsys)
    assert code != 0
    assert "LNG-001.overrides[0].rule: sets aside RES-001, whose evidence is resistance acquired on a KRAS G12C inhibitor" in err
    assert "List LNG-001 in RES-001's overrides instead" in err


def test_an_approval_date_its_record_does_not_name_is_a_slip(tmp_path, capsys):
    """2020-05-28 written for the approval of 2021-05-28: sotorasib would be eligible a year early,
    and only an example on the day before would notice. The verification record names the day."""
    rules = _copy_rules(tmp_path)
    path = rules / "kb" / "lung.yaml"
    text = path.read_text()
    start = text.index("  - id: LNG-001\n")
    old = "effective_from: 2021-05-28"
    at = text.index(old, start)
    path.write_text(text[:at] + "effective_from: 2020-05-28" + text[at + len(old):])
    code, _, err = run(["check", "--quick", str(rules)], capsys)
    assert code != 0
    assert ("V013 LNG-001 holds from 2020-05-28, a date neither its verification record nor its rationale names "
            "(the record names 2021-05-28)") in err


def test_a_gate_asking_for_two_cancer_types_of_separate_subtrees_is_refused(tmp_path, capsys):
    """`all: [{cancer: PAAD}, {cancer: NSCLC}]` (a copy-paste slip) never holds; it is unknown only
    for a case coded above both (a 'TISSUE' case would get an option asking for its histology).
    Loading refuses it; a code and its own subtype (NSCLC and LUAD) is no contradiction."""
    rules = _copy_rules(tmp_path)
    path = rules / "kb" / "pancreatic.yaml"
    text = path.read_text()
    start = text.index("  - id: PAN-007\n")
    at = text.index("    when: {cancer: PAAD}\n", start)
    path.write_text(text[:at] + "    when: {all: [{cancer: PAAD}, {cancer: NSCLC}]}\n" + text[at + len("    when: {cancer: PAAD}\n"):])
    code, _, err = run(["check", "--quick", str(rules)], capsys)
    assert code != 0
    assert ("PAN-007.when: 'when' asks for both cancer type PAAD and cancer type NSCLC, which no case can be: "
            "the rule never applies") in err
    path.write_text(text[:at] + "    when: {all: [{cancer: PAAD}, {cancer: [PANCREAS]}]}\n" + text[at + len("    when: {cancer: PAAD}\n"):])
    code, _, err = run(["check", "--quick", str(rules)], capsys)
    assert "no case can be" not in err


def test_compare_refuses_standard_input_for_both_cases(capsys, monkeypatch):
    """`compare - -` read standard input twice and said "invalid JSON ... after column 0"."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(GOOD)))
    code, _, err = run(["compare", "-", "-"], capsys)
    assert code == 2 and "standard input ('-') holds one case and is read once" in err
