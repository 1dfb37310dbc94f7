"""Records reused across the cases of a batch (engine/reuse.py): a reused record is byte for byte
the record evaluation writes for the case, in JSON and TSV, whatever the case and its id."""
from __future__ import annotations

import importlib.util
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import reuse
from engine.api import default_engine
from engine.batch import Processor
from engine.importers import make_importer
from engine.testing import REDUCTIONS, boundary_cases, case_genes, cases, reduce_case, shuffle_case, untest_gene

from conftest import REPO, SHARED

CASES = sorted((REPO / "cases").glob("*.json"))
LUNG = SHARED / "data" / "cbioportal" / "lung_msk_2017"
FORMATS = ["json", "tsv"]
# ids a record must carry as given: quotes, backslashes, non-ASCII, a tab (TSV cleans it), a
# lone surrogate (JSON cannot carry it without pydantic: then the record is an error record)
ENGINE = default_engine()
VALID = st.one_of(cases(ENGINE), boundary_cases(ENGINE))
IDS = ['"quoted"', "back\\slash", "naïve é 中", "tab\there", "line\nbreak", "", "x" * 150, "\ud800"]


def _generated(engine, n: int, seed: int = 11) -> list[dict]:
    spec = importlib.util.spec_from_file_location("kras_bench", REPO / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.Generator(engine, seed=seed).cases(n)


def _records(engine, payloads: list, fmt: str, *, reuse_on: bool, summary: bool = False):
    p = Processor(engine, fmt, reuse=reuse_on, summary=summary)
    out = [p(f"in-{i}", payload) for i, payload in enumerate(payloads)]
    return out, p


@pytest.fixture
def never_rests(monkeypatch):
    monkeypatch.setattr(reuse, "MIN_REUSED", 0.0)


def _with_copies(originals: list[dict], seed: int) -> list:
    """The cases, then each again under another id (some ids hard to write), in another order,
    some as JSON text (the batch's own input) and some as decoded values."""
    rnd = random.Random(seed)
    copies = []
    for i, c in enumerate(originals):
        copy = dict(c, id=IDS[i % len(IDS)] + f"-{i}" if i % 3 == 0 else f"copy-{i}")
        copies.append(copy)
    rnd.shuffle(copies)
    return [json.dumps(c) if i % 2 else c for i, c in enumerate([*originals, *copies])]


@pytest.mark.parametrize("fmt", FORMATS)
def test_reused_records_are_the_records_evaluation_writes(engine, fmt, never_rests, monkeypatch):
    monkeypatch.setattr(reuse, "MAX_NODES", 10**7)  # every case kept (the bounds: see below)
    monkeypatch.setattr(reuse, "MAX_CHARS", 10**9)
    originals = [json.loads(p.read_text()) for p in CASES] + _generated(engine, 1500)
    payloads = _with_copies(originals, seed=3)
    got, p = _records(engine, payloads, fmt, reuse_on=True)
    want, _ = _records(engine, payloads, fmt, reuse_on=False)
    assert got == want
    # the store answered (almost) every copy: the comparison above is of reused records
    assert p.reuse.total_reused >= 0.95 * (len(payloads) - len(originals))
    assert p.reuse.total_reused < len(payloads) - len(originals) + len(originals) // 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_summary_counts_are_the_same_with_reused_records(engine, fmt, never_rests):
    payloads = _with_copies(_generated(engine, 300, seed=5), seed=4)
    (_, p), (_, q) = (_records(engine, payloads, fmt, reuse_on=on, summary=True) for on in (True, False))
    assert p.reuse.total_reused > 250
    assert p.summary.render() == q.summary.render()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_case_dated_by_the_batch_is_reused_on_that_date_only(engine, fmt, never_rests):
    case = json.loads((REPO / "cases" / "luad-g12c-second-line.json").read_text())
    for as_of in ("2021-01-01", "2026-06-01"):
        payloads = [dict(case, id=f"c{i}") for i in range(3)]
        p, q = (Processor(engine, fmt, as_of=as_of, reuse=on) for on in (True, False))
        assert [p("s", x) for x in payloads] == [q("s", x) for x in payloads]
        assert p.reuse.total_reused == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_a_case_is_missing_is_its_own(engine, fmt):
    """Two colorectal cases whose atoms read the same values (NRAS status unknown, KRAS
    wild-type), one with a vague NRAS mutation and one without NRAS testing: each record asks for
    what its own case lacks."""
    base = {"cancer_type": "COADREAD", "stage": "metastatic", "tested_genes": ["KRAS", "BRAF"], "as_of": "2026-12-01"}
    vague = dict(base, id="vague", alterations=[{"gene": "NRAS", "variant": "mutation"}])
    untested = dict(base, id="untested")
    p, q = (Processor(engine, fmt, reuse=on) for on in (True, False))
    got = [p("s", c)[0] for c in (vague, untested, vague, untested)]
    assert got == [q("s", c)[0] for c in (vague, untested, vague, untested)]
    if fmt == "json":
        assert "the exact NRAS variant" in got[0] and "the exact NRAS variant" not in got[1]
        assert p.reuse.total_reused == 2
    else:  # a TSV row names the deciding rules' own requirements, the same for both: one record
        assert p.reuse.total_reused == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_case_is_written_for_its_own_jurisdiction(engine, fmt):
    """The same case in both jurisdictions, where no rule in effect is of one jurisdiction (the
    two evaluations share their plan): each record names its own."""
    case = {"cancer_type": "MDSU", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [{"regimen": "FOLFOX", "outcome": "progression"}], "as_of": "2026-12-01"}
    cases = [dict(case, id=f"{j}-{i}", jurisdiction=j) for i in range(2) for j in ("FDA", "EMA")]
    norms = [engine.normalise(c) for c in cases]
    assert engine.program.plan(norms[0]) is engine.program.plan(norms[1])
    p, q = (Processor(engine, fmt, reuse=on) for on in (True, False))
    got = [p("s", c)[0] for c in cases]
    assert got == [q("s", c)[0] for c in cases]
    if fmt == "json":
        assert '"jurisdiction":"EMA"' in got[1] and '"jurisdiction":"FDA"' in got[0]
    assert p.reuse.total_reused == 2


@pytest.mark.skipif(not LUNG.is_dir(), reason="the real public data is not present")
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_real_cohort_is_mostly_reused_and_written_the_same(engine, fmt):
    imp = make_importer(vocab=engine.rulebase.vocab, on_error=lambda e: None,
                        clinical=[LUNG / "data_clinical_sample.txt"], cna=[LUNG / "data_CNA.txt"],
                        fusions=[LUNG / "data_fusions.txt"])
    cohort = list(imp.run(LUNG / "data_mutations_extended.txt"))
    assert len(cohort) > 800
    got, p = _records(engine, cohort, fmt, reuse_on=True)
    want, _ = _records(engine, cohort, fmt, reuse_on=False)
    assert got == want
    assert p.reuse.total_reused > 0.9 * len(cohort)


@given(VALID, st.lists(VALID, max_size=3), st.sampled_from(FORMATS))
def test_a_record_written_after_any_others_is_the_record_written_alone(first, others, fmt):
    """For every profile: its record (and that of a copy under another id) is the same whatever
    the store holds from the cases before it."""
    payloads = [first, *others, dict(first, id="again"), *others, first]
    p = Processor(ENGINE, fmt)
    got = [p(f"in-{i}", x) for i, x in enumerate(payloads)]
    alone = [Processor(ENGINE, fmt, reuse=False)(f"in-{i}", x) for i, x in enumerate(payloads)]
    assert got == alone
    if not got[0][2]:  # the first case was evaluated: its copies are reused
        assert p.reuse.total_reused >= 2


def _neighbours(case: dict, rnd: random.Random) -> list[dict]:
    """Cases near ``case``: each kind of data removed, each gene untested, the lists shuffled."""
    out = [reduce_case(case, what) for what in REDUCTIONS]
    out += [untest_gene(ENGINE, case, gene) for gene in case_genes(ENGINE, case)]
    out += [shuffle_case(case, rnd) for _ in range(2)]
    return [dict(c, id=f"n{i}") for i, c in enumerate(out)]


@given(VALID, st.randoms(use_true_random=False), st.sampled_from(FORMATS))
def test_cases_near_each_other_are_written_as_evaluated(case, rnd, fmt):
    """A profile and its neighbours (most read much the same, some exactly the same): every record
    through one store is the record written for that case alone."""
    payloads = [case, *_neighbours(case, rnd), case]
    p = Processor(ENGINE, fmt)
    got = [p(f"in-{i}", x) for i, x in enumerate(payloads)]
    assert got == [Processor(ENGINE, fmt, reuse=False)(f"in-{i}", x) for i, x in enumerate(payloads)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_neighbours_that_read_the_same_are_reused(engine, fmt, never_rests):
    """The same comparison on generated cases, counting: distinct cases do share records."""
    rnd = random.Random(5)
    payloads = [n for c in _generated(engine, 120, seed=21) for n in (c, *_neighbours(c, rnd))]
    got, p = _records(engine, payloads, fmt, reuse_on=True)
    assert got == _records(engine, payloads, fmt, reuse_on=False)[0]
    assert p.reuse.total_reused > len(payloads) // 2


def test_the_store_is_bounded(engine, monkeypatch, never_rests):
    monkeypatch.setattr(reuse, "MAX_NODES", 300)
    monkeypatch.setattr(reuse, "MAX_CHARS", 100_000)
    payloads = _with_copies(_generated(engine, 400, seed=9), seed=8)
    p = Processor(engine, "json")
    high = clears = 0
    for i, x in enumerate(payloads):
        before = len(p.reuse.reads)
        assert p(f"in-{i}", x) == Processor(engine, "json", reuse=False)(f"in-{i}", x)
        clears += len(p.reuse.reads) < before
        high = max(high, len(p.reuse.reads))
        assert p.reuse.chars <= 100_000
    assert 200 < high <= 300 and clears > 10
    assert p.reuse.total_reused > 0
    # a record longer than a sixteenth of the store is not kept
    monkeypatch.setattr(reuse, "MAX_CHARS", 16_000)
    p = Processor(engine, "json")
    for i, x in enumerate(payloads):
        p(f"in-{i}", x)
        assert all(len(tail) <= 1_000 for tail, _ in p.reuse.records.values())


def test_the_store_rests_while_cases_rarely_repeat(engine, monkeypatch):
    monkeypatch.setattr(reuse, "WINDOW", 40)
    monkeypatch.setattr(reuse, "REST", 100)
    distinct = _generated(engine, 300, seed=13)
    p = Processor(engine, "tsv")
    store = p.reuse
    for i, x in enumerate(distinct[:41]):
        p(f"in-{i}", x)
    # the first window reused few of its 40 cases: the store empties and rests for 100 cases,
    # from the 41st on
    assert store.total_reused < 10 and store.total_seen == 40 and store.resting == 99 and not store.reads
    for i, x in enumerate(distinct[41:140]):
        p(f"in-{i}", x)
    assert store.resting == 0 and store.total_seen == 40
    # then it tries again, and stays on while cases repeat
    again = [dict(distinct[0], id=f"r{i}") for i in range(100)]
    for i, x in enumerate(again):
        p(f"in-{i}", x)
    assert store.total_seen == 140 and store.total_reused >= 98 and store.resting == 0


def test_only_the_default_backend_and_line_formats_reuse(engine):
    assert Processor(engine, "json").reuse is not None
    assert Processor(engine, "tsv").reuse is not None
    assert Processor(engine, "text").reuse is None
    assert Processor(engine, "json", backend="durable").reuse is None
    assert Processor(engine, "json", reuse=False).reuse is None
