"""The semantic checks of ``kras-rules check`` (engine/verify.py).

Each deliberately broken rule base under tests/fixtures/broken is caught with the right code and
rule id, its witness case reproduces the problem through the engine, the miniature and the shipped
rule bases pass, and every case (drawn at random) falls into a profile the search examined.
"""
from __future__ import annotations

import datetime as dt
import itertools
import math
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.api import Engine
from engine.cli import main
from engine.errors import CaseError
from engine.verify import CODES, SEARCH_CODES, verify
from engine.verify.domain import Domain as _Domain, Unit as _Unit, case_of
from engine.verify.checks import Verifier

from conftest import edited_rules

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BROKEN = FIXTURES / "broken"

# fixture -> (code, rule ids the finding must name)
CAUGHT = {
    "anti_egfr_kras_mutant_crc": ("V001", ("TCRC-009", "TCRC-001")),
    "approval_meets_stated_not_eligible": ("V001", ("TLNG-001", "TNOT-001")),
    "g12c_inhibitor_any_kras": ("V002", ("TLNG-009", "TLNG-001")),
    "dead_rule": ("V003", ("TDEAD-001",)),
    "unreachable_verdict": ("V003", ("TLNG-001",)),
    "shadowed_rule": ("V004", ("TSHD-001", "TLNG-001")),
    "duplicate_rule": ("V005", ("TLNG-001", "TLNG-002")),
    "fact_never_true": ("V007", ("TDER-001", "TLNG-002")),
    "fact_never_used": ("V008", ("TDER-009",)),
    "fact_cycle": ("V009", ("TDER-001", "TDER-002")),
    "acquired_at_baseline": ("V011", ("TRES-009",)),
}


@pytest.fixture(scope="module")
def broken():
    cache: dict[str, tuple[Engine, object]] = {}

    def get(name: str):
        if name not in cache:
            eng = Engine(BROKEN / name)
            cache[name] = (eng, verify(eng))
        return cache[name]

    return get


def test_every_broken_rule_base_has_a_test():
    assert {p.name for p in BROKEN.iterdir() if p.is_dir()} == set(CAUGHT)


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_broken_rule_base_is_caught_with_its_code_and_rules(name, broken):
    code, rules = CAUGHT[name]
    _, rep = broken(name)
    hits = rep.find(code)
    assert hits, f"{name}: expected {code}, got {[f.text() for f in rep.findings]}"
    assert any(set(rules) <= set(f.rules) for f in hits), [f.rules for f in hits]
    assert CODES[code][1] == "error"
    assert rep.find(code, rules[0])
    assert rep.problems, "an error finding must fail check"
    rendered = [p.render() for p in rep.problems]
    assert any(code in r and rules[0] in r and "kb/rules.yaml" in r for r in rendered), rendered


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_broken_rule_base_has_no_unrelated_errors(name, broken):
    code, _ = CAUGHT[name]
    _, rep = broken(name)
    assert rep.codes("error") - {code, "V003"} == set(), [f.text() for f in rep.findings]


def _outcomes(result, therapy: str) -> dict[str, str]:
    opt = result.option(therapy)
    assert opt is not None
    return {opt.rules[0]: opt.verdict, **{c.rule: c.verdict for c in opt.considered}}


def test_conflict_witness_reproduces_an_approval_meeting_an_exclusion(broken):
    eng, rep = broken("anti_egfr_kras_mutant_crc")
    (f,) = rep.find("V001")
    assert f.therapy == "cetuximab"
    got = _outcomes(eng.evaluate(f.witness), "cetuximab")
    assert got["TCRC-009"] in ("eligible", "conditional") and got["TCRC-001"] == "excluded"
    # strength alone decides the case (the exclusion wins), which is exactly what must be declared
    assert eng.evaluate(f.witness).option("cetuximab").verdict == "excluded"
    assert "overrides" in f.message


def test_declared_precedence_resolves_the_conflict(tmp_path):
    dst = edited_rules(tmp_path, BROKEN / "anti_egfr_kras_mutant_crc", lambda by_id, data: by_id["TCRC-001"].update(
        overrides=[{"rule": "TCRC-009", "because": "RAS-mutant tumours do not respond to anti-EGFR antibodies."}]))
    rep = verify(Engine(dst))
    assert not rep.find("V001"), [x.text() for x in rep.findings]


def test_allele_leak_witness_lacks_the_allele_and_gets_a_positive_verdict(broken):
    eng, rep = broken("g12c_inhibitor_any_kras")
    (f,) = rep.find("V002")
    w = f.witness
    assert "KRAS" in eng.normalise(w).tested  # sequenced: listed in tested_genes, or carrying another mutation
    assert all(a["variant"] != "G12C" for a in w.get("alterations", []))
    got = _outcomes(eng.evaluate(w), "sotorasib")
    assert got["TLNG-009"] == "eligible"
    assert "KRAS G12C" in f.message and "TLNG-001" in f.message


def test_shadowed_rule_witness_shows_another_verdict_winning(broken):
    eng, rep = broken("shadowed_rule")
    (f,) = rep.find("V004")
    opt = eng.evaluate(f.witness).option("sotorasib")
    assert opt.rules[0] == "TLNG-001"
    assert {c.rule: c.verdict for c in opt.considered}["TSHD-001"] != opt.verdict


def test_cycle_leaves_the_dependent_rules_out_of_the_search(broken):
    _, rep = broken("fact_cycle")
    (f,) = rep.find("V009")
    assert "fact_a -> fact_b -> fact_a" in f.message
    assert any("TLNG-001" in line for line in rep.summary)


def test_mini_rule_base_passes(mini):
    rep = verify(mini)
    assert rep.problems == [], [p.render() for p in rep.problems]
    assert rep.profiles > 0 and set(rep.per_therapy) == set(mini.rulebase.therapies)


@pytest.mark.longest
def test_shipped_rules_pass_the_search_is_reported_and_every_case_falls_in_an_examined_profile(engine):
    """The exhaustive check of the shipped rules, then the property that its search covers every
    case (below, ``_assert_in_some_profile``). One test, so that the domain and the units are
    built once: xdist 3.8 cannot keep two tests on one worker under pytest 9. The search runs in
    two processes: this test is one of the longest of the suite, and the rest of it runs beside it
    on the other worker."""
    dom = _Domain(engine.program)
    t0 = time.perf_counter()
    rep = verify(engine, domain=dom, jobs=2)  # (the same findings as one process: test_the_search_apart_finds_the_same)
    seconds = time.perf_counter() - t0
    print(f"\nexhaustive verification of the shipped rules: {rep.profiles:,} profiles in {seconds:.2f} s")
    assert rep.problems == [], "\n".join(p.render() for p in rep.problems)
    assert all(f.severity == "warning" for f in rep.findings)
    concluded = {t for r in engine.rulebase.rules if r.kind == "conclusion" for t in engine.rulebase.targets[r.id]}
    assert set(rep.per_therapy) == concluded and all(n > 0 for n in rep.per_therapy.values())
    assert f"{rep.profiles:,} abstract profiles examined" in rep.summary[0]
    # a resistance exclusion of a combination (RES-021) is not subsumed by the anti-EGFR
    # exclusion (CRC-001): where it applies, the combination's approval sets CRC-001 aside
    assert not rep.find("V006", "RES-021") and not rep.find("V006", "RES-019")
    units = _units(engine, dom)

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], deadline=None)
    @given(cases())
    def every_case_falls_in_an_examined_profile(case):
        _assert_in_some_profile(engine, units, case)

    every_case_falls_in_an_examined_profile()


@pytest.mark.parametrize("rules", sorted(p.name for p in BROKEN.iterdir() if p.is_dir()) + ["mini"])
def test_the_search_apart_finds_the_same(rules):
    """The search per therapy in two forked processes, its records merged in therapy order, gives
    the findings, counts and summary of one process: on every broken rule base (conflicts, dead,
    shadowed, duplicate and subsumed rules, leaks) and the miniature one."""
    eng = Engine(FIXTURES / "mini" if rules == "mini" else BROKEN / rules)
    dom = _Domain(eng.program)
    one, two = verify(eng, domain=dom), verify(eng, domain=dom, jobs=2)
    assert [repr(f) for f in one.findings] == [repr(f) for f in two.findings]
    assert [repr(p) for p in one.problems] == [repr(p) for p in two.problems]
    assert one.per_therapy == two.per_therapy and one.profiles == two.profiles
    assert one.summary[1:] == two.summary[1:]


@pytest.mark.parametrize("rules", sorted(p.name for p in BROKEN.iterdir() if p.is_dir()) + ["mini"])
def test_a_profile_whose_outcomes_repeat_adds_only_its_counts(rules, monkeypatch):
    """The search examines in full only the first profile of each set of rule outcomes; the
    profiles that repeat them add their counts. That gives the findings (witnesses, the counts a
    duplicate pair reports), profile counts and summary of examining every profile in full."""
    eng = Engine(FIXTURES / "mini" if rules == "mini" else BROKEN / rules)
    dom = _Domain(eng.program)
    reused = verify(eng, domain=dom)
    monkeypatch.setattr(Verifier, "reuse_outcomes", False)
    full = verify(eng, domain=dom)
    assert [repr(f) for f in reused.findings] == [repr(f) for f in full.findings]
    assert [repr(p) for p in reused.problems] == [repr(p) for p in full.problems]
    assert reused.per_therapy == full.per_therapy and reused.profiles == full.profiles
    assert reused.summary[1:] == full.summary[1:]


def test_check_searches_in_several_processes_when_asked(capsys):
    assert main(["check", "--jobs", "2", str(BROKEN / "dead_rule")]) == 1
    assert "V003 dead-rule: TDEAD-001" in capsys.readouterr().err
    assert main(["check", "--jobs", "0", str(BROKEN / "dead_rule")]) == 2
    assert "not a number of processes: '0'" in capsys.readouterr().err
    # (evaluate's --jobs reads the same way)
    assert main(["evaluate", "--jobs", "0", str(BROKEN / "dead_rule")]) == 2
    assert "argument --jobs: not a number of processes: '0'" in capsys.readouterr().err


def test_check_fails_on_a_broken_rule_base_and_names_code_rules_and_witness(capsys):
    code = main(["check", str(BROKEN / "anti_egfr_kras_mutant_crc")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "V001 conflict" in err and "TCRC-009" in err and "TCRC-001" in err and "Witness: {" in err


def test_check_verbose_reports_the_exhaustive_pass(capsys):
    code = main(["check", "--verbose", str(FIXTURES / "mini")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "abstract profiles examined in" in out and " s " in out


# --------------------------------------------------------------------------- exhaustiveness

KRAS = ["G12C", "G12D", "G12V", "G12R", "G12A", "G13D", "G13C", "Q61H", "Q61K", "A59T", "A146T", "K117N",
        "Y96D", "Q99L", "R68M", "H95D", "V14I", "amplification", "mutation"]
VARIANTS = {"KRAS": KRAS, "NRAS": ["Q61K", "G12D", "G13R", "mutation"], "BRAF": ["V600E", "V600K", "mutation"],
            "BRCA2": ["mutation", "loss"], "STK11": ["loss", "mutation"]}
CANCERS = ["LUAD", "NSCLC", "LUSC", "COAD", "READ", "COADREAD", "PAAD", "BRCA", "SKCM", "UCEC"]
DRUGS = ["fluorouracil", "capecitabine", "oxaliplatin", "irinotecan", "carboplatin", "cisplatin", "pemetrexed",
         "docetaxel", "gemcitabine", "sotorasib", "adagrasib", "pembrolizumab", "cetuximab"]


@st.composite
def cases(draw):
    alts = []
    for gene, variants in VARIANTS.items():
        for v in draw(st.lists(st.sampled_from(variants), max_size=3, unique=True)):
            germ = gene.startswith("BRCA") and draw(st.booleans())
            alts.append({"gene": gene, "variant": v, "origin": "germline" if germ else "somatic",
                         "acquired": draw(st.booleans()) if gene == "KRAS" and not germ else False})
    case = {"cancer_type": draw(st.sampled_from(CANCERS)), "alterations": alts,
            "stage": draw(st.sampled_from([None, "early", "locally_advanced", "metastatic"])),
            "as_of": draw(st.dates(dt.date(2015, 1, 1), dt.date(2027, 12, 31))).isoformat(),
            "jurisdiction": draw(st.sampled_from(["FDA", "EMA", "PMDA"]))}
    tested = draw(st.lists(st.sampled_from(sorted(VARIANTS)), unique=True))
    if tested or draw(st.booleans()):
        case["tested_genes"] = tested
    case["germline_tested"] = draw(st.sampled_from([None, True, False]))
    after = draw(st.sampled_from([None, True, False]))
    if after is not None:
        case["tested_after_prior_therapy"] = after
    if draw(st.booleans()):
        case["prior_therapies"] = [
            {"drugs": draw(st.lists(st.sampled_from(DRUGS), min_size=1, max_size=3, unique=True)),
             "setting": draw(st.sampled_from([None, "adjuvant", "metastatic", "maintenance"])),
             "outcome": draw(st.sampled_from([None, "progression", "response", "stable", "intolerance"])),
             "weeks": draw(st.sampled_from([None, 4, 15, 16, 30]))}
            for _ in range(draw(st.integers(0, 4)))
        ]
    return case


MAX_TRIED = 5_000  # profiles tried for one signature before the whole enumeration is made


class _Examined:
    """The signatures of a unit's examined profiles (``Unit.signature`` of each profile's case),
    asked about one case at a time without building them all (millions for the shipped rules).

    A case's profile is looked up, dimension by dimension, by the atoms that only that dimension
    moves (from the unit's first profile, each dimension's values in turn); the profile so found
    counts only if it is enumerated (``Unit.profile``) and its case has the case's whole
    signature. Where the lookup finds none (atoms that two dimensions move together), every
    profile is enumerated, once, and the answer is whether one of them has the signature: the
    answer is always that of the whole enumeration, only reached faster."""

    def __init__(self, dom: _Domain, unit: _Unit):
        self.dom, self.unit = dom, unit
        self.slice = unit.groups[0][0][1] if unit.groups else dom.slices[0]
        self.all: set | None = None
        self.fallbacks = 0
        dims = [vals for _, vals in unit.dims]
        base = next(c for c in itertools.product(*dims) if unit.profile(c) is not None)  # (the first profile)
        first = self._sig(base)
        sigs = [[self._sig(base[:d] + (v,) + base[d + 1:]) for v in vals] for d, vals in enumerate(dims)]
        moved = [{p for sig in per if sig is not None for p, x in enumerate(sig) if x != first[p]} for per in sigs]
        self.keys: list[tuple[int, ...]] = []
        self.lookup: list[dict[tuple, list]] = []
        for d, per in enumerate(sigs):
            own = tuple(sorted(moved[d].difference(*(m for e, m in enumerate(moved) if e != d))))
            table: dict[tuple, list] = {}
            for v, sig in zip(dims[d], per, strict=True):
                table.setdefault(tuple(sig[p] for p in own) if sig is not None else None, []).append(v)
            self.keys.append(own)
            self.lookup.append(table)

    def _sig(self, combo: tuple):
        prof = self.unit.profile(combo)
        return None if prof is None else self.unit.signature(self.dom.case(*prof, self.slice))

    def __contains__(self, sig: tuple) -> bool:
        # each dimension's values agreeing with the signature on the atoms it alone moves (a
        # value whose own profile above was not a case, or every value where it moves none)
        choices = [table.get(tuple(sig[p] for p in own), []) + table.get(None, [])
                   for own, table in zip(self.keys, self.lookup, strict=True)]
        if 0 < math.prod(map(len, choices)) <= MAX_TRIED:
            if any(self._sig(combo) == sig for combo in itertools.product(*choices)):
                return True
        self.fallbacks += 1
        if self.all is None:
            self.all = {self.unit.signature(self.dom.case(*prof, self.slice)) for prof in self.unit.profiles()}
        return sig in self.all


def _units(eng: Engine, dom: _Domain) -> dict[str, tuple[_Unit, _Examined]]:
    program = eng.program
    by_t: dict[str, list] = {}
    for cr in program.rules:
        if cr.rule.kind == "conclusion" and cr.rule.status != "retired":
            for t in cr.targets:
                by_t.setdefault(t, []).append(cr)
    out = {}
    for t, rules in by_t.items():
        unit = _Unit(dom, set(), rules)
        out[t] = (unit, _Examined(dom, unit))
    return out


@pytest.fixture(scope="module")
def mini_units():
    eng = Engine(FIXTURES / "mini")
    return eng, _units(eng, _Domain(eng.program))


def _assert_in_some_profile(eng: Engine, units, case: dict) -> None:
    try:
        norm = eng.normalise(case)
    except CaseError:
        assume(False)
        return
    for t, (unit, vectors) in units.items():
        # (the atoms' values, those a derived fact stands for read as the fact's: Unit.signature)
        assert unit.signature(norm) in vectors, f"{t}: case {case} is in no examined profile"
        live = tuple(cr.in_effect(norm) for cr in unit.rules)
        if any(live):
            key = (tuple(cr.in_effect(norm) for cr in unit.derivers), live)
            assert key in unit.group_keys, f"{t}: date/jurisdiction of {case} in no examined slice"


def test_a_signature_is_examined_exactly_when_an_enumerated_profile_has_it(mini_units):
    """The look-up of ``_Examined`` answers as the whole enumeration does: yes for the signature
    of every enumerated profile (at once, without enumerating, for most), no for a signature no
    profile has."""
    eng, units = mini_units
    for t, (unit, examined) in units.items():
        ex = _Examined(examined.dom, unit)
        sigs = {unit.signature(ex.dom.case(*prof, ex.slice)) for prof in unit.profiles()}
        assert all(sig in ex for sig in sigs), t
        assert ex.fallbacks <= len(sigs) // 2, (t, ex.fallbacks, len(sigs))
        assert ex.all is None or ex.all == sigs
        some = next(iter(sigs))
        assert (*some[:-1], "no such value") not in ex and (*some, None) not in ex


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], deadline=None)
@given(cases())
def test_every_case_falls_in_an_examined_profile_of_the_mini_rules(mini_units, case):
    eng, units = mini_units
    _assert_in_some_profile(eng, units, case)


# every fixture whose code the search is not needed for; V007 has two sources, and this fixture's
# fact is derived by a rule but true in no profile, which only the search can see
SEARCH_ONLY_FIXTURES = {"fact_never_true"}
QUICK_CAUGHT = {n for n, (code, _) in CAUGHT.items() if code not in SEARCH_CODES and n not in SEARCH_ONLY_FIXTURES}


def test_the_quick_check_is_tested_on_some_fixtures():
    assert QUICK_CAUGHT == {"fact_never_used", "fact_cycle", "acquired_at_baseline"}


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_the_quick_check_finds_a_subset_of_the_full_check_and_the_unsearched_codes(name, broken):
    eng, full = broken(name)
    quick = verify(eng, search=False)
    assert {f.text() for f in quick.findings} <= {f.text() for f in full.findings}
    assert not {f.code for f in quick.findings} & set(SEARCH_CODES)
    code, rules = CAUGHT[name]
    if name in QUICK_CAUGHT:
        assert any(set(rules) <= set(f.rules) for f in quick.find(code)), [f.text() for f in quick.findings]
    assert quick.profiles == 0 and "search of profiles was skipped" in quick.summary[0]


def test_check_quick_says_the_search_was_skipped_and_still_fails_a_cycle(capsys):
    code = main(["check", "--quick", "--verbose", str(FIXTURES / "mini")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "quick: the exhaustive search of profiles was skipped" in out
    assert "V001" in out and "abstract profiles examined" not in out
    code = main(["check", "--quick", str(BROKEN / "fact_cycle")])
    out, err = capsys.readouterr()
    assert code == 1 and "V009" in err and "check: FAILED" in err


def test_a_rule_that_never_reaches_its_own_verdict_is_dead_and_its_witness_shows_what_it_says(broken):
    eng, rep = broken("unreachable_verdict")
    (f,) = rep.find("V003", "TLNG-001")
    assert "never gives its own verdict 'eligible'" in f.message
    assert eng.evaluate(f.witness).option("sotorasib").verdict in ("not_eligible", "conditional")
    # the dead-rule fixture's live approval reaches its verdict: only the dead rule is named there
    _, rep = broken("dead_rule")
    assert not rep.find("V003", "TLNG-001")


def test_a_shadowed_rule_is_shown_beside_the_overlapping_rule_of_its_own_verdict(tmp_path):
    """An approval repeating another with a stricter requirement never decides: V004's example is
    the approval it overlaps (the one to reconcile it with), not an exclusion that wins over both."""
    def edit(by_id, data):
        approval = by_id["TLNG-001"]
        data["rules"] = [r for r in data["rules"] if r["id"] != "TSHD-001"]
        data["rules"].append(dict(approval, id="TLNG-002", title="Sotorasib for KRAS G12C NSCLC after two prior lines",
                                  requires=[{"criterion": "at least two prior systemic therapies",
                                             "test": {"prior_lines": {"min": 2}}, "missing": "prior therapy history"}],
                                  examples=[{"name": "third-line", "case": {
                                      "cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
                                      "prior_therapies": [{"drugs": ["carboplatin"]}, {"drugs": ["docetaxel"]}]},
                                      "expect": {"verdict": "eligible", "decided_by_this_rule": False}}]))
        data["rules"].append({
            "id": "TRES-001", "title": "Sotorasib in early-stage KRAS G12C disease (a test exclusion)", "kind": "conclusion",
            "rationale": "A test exclusion that wins over both approvals where it holds.", "status": "literature",
            "effective_from": "2021-01-01", "evidence": "resistance_clinical",
            "population": {"text": "test population of the fixture rule", "cancers": "any"},
            "when": {"all": [{"alteration": {"gene": "KRAS", "variant": "G12C"}}, {"stage": ["early"]}]},
            "conclude": {"therapy": "sotorasib", "verdict": "excluded"},
            "explain": {"met": "A test exclusion."}, "citations": [{"source": "TEST-LABEL", "quote": "test quote"}],
            "examples": [{"name": "early", "case": {
                "cancer_type": "LUAD", "stage": "early", "alterations": [{"gene": "KRAS", "variant": "G12C"}]},
                "expect": {"verdict": "excluded"}}]})

    rep = verify(Engine(edited_rules(tmp_path, BROKEN / "shadowed_rule", edit)))
    (f,) = rep.find("V004", "TLNG-002")
    assert "TLNG-001" in f.rules and "TRES-001" not in f.rules, f.text()


def test_a_domain_built_for_another_rule_base_is_refused(engine, mini):
    with pytest.raises(ValueError, match="another rule base"):
        verify(engine, domain=_Domain(mini.program))


def test_the_most_recent_line_is_read_from_the_last_line_of_every_examined_history(tmp_path):
    """``position: last`` reads the most recent line only. The search of histories merges them by
    what later lines can change, and a later line replaces what the most recent line was: every
    history of up to three lines (of a few kinds) reads, on the history's atoms, as some examined
    history does (before, the search kept the best value of every line, and lost histories such as
    a response followed by a line whose outcome is not given)."""
    def edit(by_id, data):
        if "TLNG-001" in by_id:
            by_id["TLNG-001"]["requires"].append({
                "criterion": "the most recent line ended in a response",
                "test": {"prior_line": {"outcome": ["response"], "position": "last"}}})
            for outcome in ("progression", "response"):
                by_id["TLNG-001"]["requires"].append({
                    "criterion": f"some line ended in {outcome}",
                    "test": {"prior_line": {"outcome": [outcome]}}})

    eng = Engine(edited_rules(tmp_path, FIXTURES / "mini", edit))
    dom = _Domain(eng.program)
    atoms = [eng.program.atoms[i] for i in dom.history.atoms]
    assert any(a.spec.prior_line.position == "last" for a in atoms if a.kind == "prior_line")
    examined = {vec[: len(atoms)] for vec in dom.history.vectors}
    lines = [{"drugs": [d], "outcome": o, **({"setting": s} if s else {})}
             for d in ("carboplatin", "sotorasib") for o in ("progression", "response", None)
             for s in (None, "metastatic")]
    n = 0
    for k in range(4):
        for history in itertools.product(lines, repeat=k):
            case = eng.normalise({"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-06-30",
                                  "alterations": [{"gene": "KRAS", "variant": "G12C"}],
                                  "prior_therapies": list(history)})
            assert tuple(a.fn(case) for a in atoms) in examined, history
            n += 1
    assert n == 1 + 12 + 12**2 + 12**3


# --------------------------------------------------------------------------- population.treatment

SHIPPED = Path(__file__).resolve().parent.parent / "rules"


def _reads_history(test) -> bool:
    return any(k in repr(test) for k in ("prior_line", "received"))


@pytest.mark.parametrize("rid, history, words", [
    # the colorectal trial option without its two history criteria: a treatment-naive case would get it
    ("CRC-006", None, "previously treated cancers (population.treatment: previously_treated)"),
    # a criterion on the history that a treatment-naive case still meets
    ("CRC-006", {"prior_lines": {"max": 3}}, "can hold for a case given no prior systemic therapy"),
    # BREAKWATER's first-line option without its first-line criterion: a treated case would get it
    ("BRAF-012", None, "given no systemic therapy for advanced disease (population.treatment: untreated)"),
])
def test_a_population_treatment_that_the_conditions_do_not_hold_to_is_caught(tmp_path, rid, history, words):
    def edit(by_id, data):
        rule = by_id.get(rid)
        if rule is not None:
            kept = [q for q in rule["requires"] if not _reads_history(q["test"])]
            assert len(kept) < len(rule["requires"])  # (the edit removes what the rule reads of the history)
            if history is not None:
                kept.append({"criterion": "a criterion on the history", "test": history})
            rule["requires"] = kept

    rep = verify(Engine(edited_rules(tmp_path, SHIPPED, edit)), search=False)
    hits = rep.find("V011")
    assert [f.rules for f in hits] == [(rid,)], [f.text() for f in hits]
    assert words in hits[0].message and CODES["V011"][1] == "error"


def test_the_shipped_populations_that_state_a_treatment_hold_to_it(engine):
    annotated = [cr.rule.id for cr in engine.program.rules
                 if cr.rule.population is not None and cr.rule.population.treatment is not None]
    assert {"CRC-006", "BRAF-012", "PAN-001"} <= set(annotated)
    assert not verify(engine, search=False).find("V011")


@pytest.mark.parametrize("rules", sorted(p.name for p in BROKEN.iterdir() if p.is_dir()) + ["mini"])
def test_a_units_history_dimension_reads_as_the_whole_rule_bases_on_its_atoms(rules, monkeypatch):
    """Each unit of the search reads the history dimension of its own history atoms, searched
    with only the drug classes, settings and outcomes they name (Domain.history_for). On those
    atoms it has exactly the vectors of the dimension of every history atom of the rule base
    (the exposure read for the acquired-on classes the unit's atoms name): none is lost by
    searching fewer lines, and none is made up. Units that read the same atoms share one."""
    monkeypatch.setenv("KRAS_RULES_CACHE", "off")
    eng = Engine(FIXTURES / "mini" if rules == "mini" else BROKEN / rules)
    program = eng.program
    dom = _Domain(program)
    whole = dom.history
    classes = sorted(dom._history_atoms()[2].acquired_on)
    units: dict[tuple, list] = {}
    for cr in program.rules:
        if cr.rule.status == "retired":
            continue
        key = ("therapy", cr.targets) if cr.rule.kind == "conclusion" else (cr.rule.kind, cr.rule.derive or cr.rule.id)
        units.setdefault(key, []).append(cr)
    compared = 0
    for rs in units.values():
        unit = _Unit(dom, set(), rs)
        own = unit.history
        assert own is dom.history_for(unit.atoms)  # (built once)
        exposed = bool(unit.atoms & dom.acquired_on_atoms)
        if not own.atoms and not exposed:
            continue
        own_classes = sorted(dom._history_atoms(frozenset(own.atoms) | (unit.atoms & dom.acquired_on_atoms))[2].acquired_on)
        pos = [whole.atoms.index(i) for i in own.atoms]
        # (per class: the exposure to it, then whether a line of it may postdate the profile)
        at = [2 * classes.index(c) + k for c in own_classes for k in (0, 1)]
        expected = {tuple(v[p] for p in pos) + ((None if v[-1] is None else tuple(v[-1][j] for j in at),) if exposed else ())
                    for v in whole.vectors}
        got = {tuple(v[: len(own.atoms)]) + ((v[-1],) if exposed else ()) for v in own.vectors}
        assert got == expected, [program.atoms[i].key for i in own.atoms]
        fns = [program.atoms[i].fn for i in own.atoms]
        case = dom._probe()
        for h, vec in zip(own.values, own.vectors, strict=True):  # (each vector, the atoms' own reading)
            case.lines = None if h is None else dom.case_lines(h)
            assert vec[: len(own.atoms)] == tuple(fn(case) for fn in fns), h
        assert len(own.values) <= len(whole.values)
        compared += 1
    assert compared or not whole.atoms


def test_every_history_of_up_to_two_lines_is_in_each_shipped_units_history_dimension(engine):
    """On the shipped rules, a unit's history dimension holds the atoms' values of every history
    of one or two lines made of: a drug of each class its atoms name, a chemotherapy none
    names, or drugs not given; every setting and outcome, or none. Among them, a maintenance or
    second-line line alone, from which normalisation adds the first line the history leaves
    out: a line kept apart from others only by that (engine.case.implied_lines)."""
    program = engine.program
    vocab = engine.rulebase.vocab
    dom = _Domain(program)
    by_t: dict[str, list] = {}
    for cr in program.rules:
        if cr.rule.kind == "conclusion" and cr.rule.status != "retired":
            for t in cr.targets:
                by_t.setdefault(t, []).append(cr)
    settings_ = [None, "adjuvant", "neoadjuvant", "metastatic", "maintenance"]
    outcomes = [None, "progression", "response", "stable", "intolerance"]
    checked = 0
    for t, rs in sorted(by_t.items()):
        unit = _Unit(dom, set(), rs)
        own = unit.history
        if not own.atoms:
            continue
        terms = dom._history_atoms(frozenset(own.atoms))[2]
        drugs = [["docetaxel"], None] + [[min(vocab.drugs_in_class(c))] for c in sorted(terms.classes)]
        lines = [{k: v for k, v in (("drugs", d), ("setting", st_), ("outcome", o)) if v is not None}
                 for d in drugs for st_ in settings_ for o in outcomes]
        examined = {v[: len(own.atoms)] for v in own.vectors}
        fns = [program.atoms[i].fn for i in own.atoms]
        pairs = [(a,) for a in lines] + [(a, b) for a in lines[::7] for b in lines[::3]]
        for history in pairs:
            case = engine.normalise({"cancer_type": "NSCLC", "as_of": "2026-06-30", "prior_therapies": list(history)})
            assert tuple(fn(case) for fn in fns) in examined, (t, history)
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize("rules", sorted(p.name for p in BROKEN.iterdir() if p.is_dir()) + ["mini"])
def test_genes_read_only_through_a_fact_are_searched_as_the_facts_values(rules, monkeypatch):
    """KRAS and NRAS, read by a unit only through ``ras_mutant``, are enumerated as one dimension
    with a combination of their states for each value of the fact (Unit._collapsible): the search
    finds the same things, rule for rule and therapy for therapy, as over every combination of
    their states, in fewer profiles. Witnesses may be other cases of the same profile."""
    eng = Engine(FIXTURES / "mini" if rules == "mini" else BROKEN / rules)
    dom = _Domain(eng.program)
    joint = verify(eng, domain=dom)
    by_t: dict[str, list] = {}
    for cr in eng.program.rules:
        if cr.rule.kind == "conclusion" and cr.rule.status != "retired":
            for t in cr.targets:
                by_t.setdefault(t, []).append(cr)
    units = [_Unit(dom, set(), rs) for rs in by_t.values()]
    monkeypatch.setattr("engine.verify.domain.MAX_JOINT_STATES", 0)
    apart = verify(eng, domain=dom)
    assert all(not _Unit(dom, set(), rs).joint for rs in by_t.values())
    if rules == "mini":  # (its cetuximab rules read RAS through the fact alone)
        assert any(u.joint and u.joint[0][0] == "ras_mutant" for u in units)
        assert joint.profiles < apart.profiles
    assert sorted((f.code, f.rules, f.therapy) for f in joint.findings) == sorted((f.code, f.rules, f.therapy) for f in apart.findings)
    assert [p.render() for p in joint.problems] == [p.render() for p in apart.problems]
    assert set(joint.per_therapy) == set(apart.per_therapy)


def test_a_fact_read_only_as_true_or_not_is_searched_as_two_values(tmp_path, monkeypatch):
    """Where every rule asks only whether a fact is true (under ``unmet``, or ``not: {unmet: ...}``),
    its false and unknown values are one: the joint dimension of its genes has two combinations,
    and the search finds what it finds over every combination of their states."""
    def edit(by_id, data):
        if "TCRC-001" in by_id:
            by_id["TCRC-001"]["when"] = {"all": [{"cancer": "COADREAD"}, {"not": {"unmet": {"fact": "ras_mutant"}}}]}
            by_id["TCRC-002"]["requires"][0]["test"] = {"unmet": {"fact": "ras_mutant"}}

    eng = Engine(edited_rules(tmp_path, FIXTURES / "mini", edit))
    dom = _Domain(eng.program)
    rules = [cr for cr in eng.program.rules if cr.rule.kind == "conclusion" and "cetuximab" in cr.targets]
    unit = _Unit(dom, set(), rules)
    assert [(f, truth_only) for f, _, truth_only in unit.joint] == [("ras_mutant", True)]
    assert len(dict(unit.dims)["fact ras_mutant"]) == 2
    joint = verify(eng, domain=dom)
    monkeypatch.setattr("engine.verify.domain.MAX_JOINT_STATES", 0)
    apart = verify(eng, domain=dom)
    assert joint.profiles < apart.profiles
    assert sorted((f.code, f.rules, f.therapy) for f in joint.findings) == sorted((f.code, f.rules, f.therapy) for f in apart.findings)


def test_the_search_evaluates_the_first_profile_of_each_signature_and_counts_the_others(mini_units):
    """``Unit.distinct_profiles`` (what the search evaluates): the first profile of each
    signature in the enumeration's order, with how many profiles have it, as working out every
    profile's whole signature gives them; some units' profiles repeat signatures."""
    eng, units = mini_units
    repeated = 0
    for t, (unit, _) in units.items():
        firsts: dict[tuple, list] = {}
        if unit.groups:
            for prof in unit.profiles():
                firsts.setdefault(unit.signature(case_of(unit.dom, prof, unit.groups[0][0][1])), [prof, 0])[1] += 1
        got = unit.distinct_profiles()
        assert got == [tuple(v) for v in firsts.values()], t
        repeated += sum(n for _, n in got) - len(got)
    assert repeated > 0


@pytest.mark.parametrize("rules", sorted(p.name for p in BROKEN.iterdir() if p.is_dir()) + ["mini"])
def test_the_history_dimensions_atom_values_are_the_atoms_own(rules, monkeypatch):
    """The history dimension reads atoms' values from each history's state in the search of
    histories (its per-line flags, counts of lines, items received) and, for a history that
    leaves out a first line, from their roles (the best value of each line alone; the counts of
    lines in a count atom's settings; the drug classes and drugs received), rather than by
    reading each history whole: on every history of each of these rule bases, each value is the
    atom's own on the history's lines. (On the shipped rules all 1,362,646 histories of the
    dimension of every history atom were compared so too, with no difference.)"""
    monkeypatch.setenv("KRAS_RULES_CACHE", "off")
    eng = Engine(FIXTURES / "mini" if rules == "mini" else BROKEN / rules)
    dom = _Domain(eng.program)
    hist = dom.history
    if not hist.vectors:  # (a rule base that reads no history: the dimension is one unknown history)
        assert hist.values == [None] and not hist.atoms
        return
    fns = [eng.program.atoms[i].fn for i in hist.atoms]
    case = dom._probe()
    for h, vec in zip(hist.values, hist.vectors, strict=True):
        case.lines = None if h is None else dom.case_lines(h)
        assert vec[:-1] == tuple(fn(case) for fn in fns), h
