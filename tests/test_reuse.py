"""Records reused across the cases of a batch (engine/batch/reuse.py): a reused record is byte for byte
the record evaluation writes for the case, in JSON and TSV, whatever the case and its id."""
from __future__ import annotations

import importlib.util
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import formats

from engine.batch import reuse
from engine.api import default_engine
from engine.batch.run import Processor
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
IDS = ['"quoted"', "back\\slash", "naïve é 中", "no-break\u00a0space", "emoji 😀", "", "x" * 150, "\ud800"]


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
def test_a_batch_date_is_the_date_each_record_is_evaluated_on(engine, fmt):
    """The batch's date replaces the case's own (2026-07-01), in the record evaluated and in the
    one reused."""
    case = json.loads((REPO / "cases" / "luad-g12c-second-line.json").read_text())
    write = {"json": lambda r: r.to_json(), "tsv": formats.tsv_row}[fmt]
    for as_of in ("2021-01-01", "2026-06-01"):
        p = Processor(engine, fmt, as_of=as_of)
        for i in range(2):  # evaluated, then reused
            x = dict(case, id=f"c{i}")
            want = write(engine.evaluate(x, as_of=as_of))
            assert as_of in want and p("s", x)[0] == want + "\n"
        assert p.reuse.total_reused == 1


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
    assert "the exact NRAS variant" in got[0] and "the exact NRAS variant" not in got[1]
    assert "NRAS testing" in got[1]  # (not "KRAS and NRAS": KRAS was tested)
    assert p.reuse.total_reused == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_a_case_holds_of_a_gene_it_fails_on_is_its_own(engine, fmt):
    """Two colorectal cases whose atoms read the same values (KRAS and NRAS tested, no hotspot
    mutation), one listing a non-hotspot NRAS change (R68G, as in a TCGA exome) and one listing
    none: an explanation's Case line names the gene's own change ("no NRAS mutation at codon ...
    (the case: NRAS R68G)") for the first only. Found by bench.py on the TCGA exomes: the second
    case's record was reused for the first, without those words."""
    base = {"cancer_type": "COAD", "stage": "metastatic", "tested_genes": ["KRAS", "NRAS", "BRAF"], "as_of": "2026-12-01"}
    plain = dict(base, id="plain")
    r68g = dict(base, id="r68g", alterations=[{"gene": "NRAS", "variant": "R68G"}])
    p, q = (Processor(engine, fmt, reuse=on) for on in (True, False))
    got = [p("s", c)[0] for c in (plain, r68g, plain, r68g)]
    assert got == [q("s", c)[0] for c in (plain, r68g, plain, r68g)]
    if fmt == "json":
        assert "(the case: NRAS R68G)" in got[1] and "(the case: NRAS R68G)" not in got[0]
    # (a TSV row holds no explanation: the two cases share theirs)
    assert p.reuse.total_reused == (2 if fmt == "json" else 3)


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
    # (a JSON record of a lung cancer names what its tests found in the genes of the drivers the
    # G12C approvals' population rules out, so fewer records are alike than TSV rows: 0.896 of them
    # reused where TSV reuses more)
    assert p.reuse.total_reused > (0.85 if fmt == "json" else 0.9) * len(cohort)


FIREHOSE_COAD = SHARED / "data" / "tcga_mutations" / "Firehose_COAD"


@pytest.mark.skipif(not FIREHOSE_COAD.with_suffix(".clinical.tsv").is_file(), reason="the real public data is not present")
def test_an_exome_cohort_is_written_the_same_with_records_reused(engine, never_rests):
    """TCGA colorectal exomes (with their clinical file, every gene tested): many samples list
    changes of genes a rule reads that meet none of its conditions (NRAS R68G), which the
    explanations name; a reused record must still be the record evaluation writes."""
    imp = make_importer(vocab=engine.rulebase.vocab, on_error=lambda e: None, assay="exome",
                        clinical=[FIREHOSE_COAD.with_suffix(".clinical.tsv")])
    cohort = list(imp.run(FIREHOSE_COAD.parent / "Firehose_COAD.nonsilent.maf.tsv.gz"))
    assert len(cohort) > 300
    got, p = _records(engine, cohort, "json", reuse_on=True)
    want, _ = _records(engine, cohort, "json", reuse_on=False)
    assert [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b] == []
    assert p.reuse.total_reused > 0.5 * len(cohort)


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


def _without_alteration(case: dict, k: int) -> dict:
    """``case`` with its ``k``-th alteration dropped, its gene still tested (listed in
    tested_genes): often the same atom values, and other words for what the case holds."""
    alts = list(case.get("alterations") or ())
    gone = alts.pop(k)
    out = dict(case, alterations=alts)
    if gone.get("origin") != "germline":
        genes = list(case.get("tested_genes") or [])
        out["tested_genes"] = genes if gone["gene"] in genes else [*genes, gone["gene"]]
    return out


def _neighbours(case: dict, rnd: random.Random) -> list[dict]:
    """Cases near ``case``: each kind of data removed, each gene untested, each alteration
    dropped with its gene still tested, the lists shuffled."""
    out = [reduce_case(case, what) for what in REDUCTIONS]
    out += [untest_gene(ENGINE, case, gene) for gene in case_genes(ENGINE, case)]
    out += [_without_alteration(case, k) for k in range(len(case.get("alterations") or ()))]
    out += [shuffle_case(case, rnd) for _ in range(2)]
    return [dict(c, id=f"n{i}") for i, c in enumerate(out)]


@given(VALID, st.randoms(use_true_random=False), st.sampled_from(FORMATS), st.integers(-400, 400))
def test_cases_near_each_other_are_written_as_evaluated(case, rnd, fmt, days):
    """A profile and its neighbours (most read much the same, some exactly the same), the profile
    again, and at another date (the same rules in effect or not): every record through one store
    is the record written for that case alone."""
    import datetime as dt

    day = dt.date.fromisoformat(case["as_of"])
    if dt.date(100, 1, 1) < day < dt.date(9900, 1, 1):
        day += dt.timedelta(days=days)
    later = dict(case, id="later", as_of=day.isoformat())
    payloads = [case, *_neighbours(case, rnd), case, later]
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


@pytest.mark.parametrize("fmt", FORMATS)
def test_cases_at_dates_of_their_own_are_written_as_evaluated(engine, fmt, never_rests):
    """Generated cases at dates around the rules' own (a day before, on, after each start or
    end), around the knowledge version and anywhere, each also a few weeks later: every record
    through one store is the record written for that case alone, and cases at other dates do
    share records."""
    import datetime as dt

    rnd = random.Random(9)
    named = sorted(engine.program.dates)
    kv = engine.rulebase.meta.knowledge_version
    payloads = []
    for c in _generated(engine, 120, seed=31):
        r = rnd.random()
        if r < 0.4:
            day = rnd.choice(named) + dt.timedelta(days=rnd.choice([-1, 0, 1]))
        elif r < 0.7:
            day = kv + dt.timedelta(days=rnd.randrange(-20, 200))
        else:
            day = dt.date(2019, 1, 1) + dt.timedelta(days=rnd.randrange(3000))
        later = day + dt.timedelta(days=rnd.randrange(1, 60))
        payloads += [dict(c, as_of=day.isoformat()), dict(c, id=f"{c.get('id')}-later", as_of=later.isoformat())]
    got, p = _records(engine, payloads, fmt, reuse_on=True)
    assert got == _records(engine, payloads, fmt, reuse_on=False)[0]
    assert p.reuse.total_reused > len(payloads) // 5


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
    # (how many copies meet their original before a clear depends on how much each case reads)
    for i, x in enumerate(payloads[-3:]):  # just written: kept until the store is next cleared
        assert p(f"again-{i}", x) == Processor(engine, "json", reuse=False)(f"again-{i}", x)
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


# ---------------------------------------------------------------- the store's bounds and windows


def _store(engine) -> reuse.Reuse:
    return reuse.Reuse(engine, lambda case: f"<{case.id}>")


def test_the_store_fills_to_its_bounds_and_starts_afresh_only_past_them(engine, monkeypatch):
    """A path of n reads adds at most n + 1 nodes: the store starts afresh when they might not fit
    in MAX_NODES, not before; a record is kept while the characters stay within MAX_CHARS."""
    monkeypatch.setattr(reuse, "MAX_NODES", 10)
    monkeypatch.setattr(reuse, "MAX_CHARS", 160)  # a record's tail: at most 10 characters
    s = _store(engine)
    s._keep(("a",), None, [(0, True), (1, False), (2, None)], "<x>aaaa", "<x>", ())
    assert len(s.reads) == 4 and s.chars == 4
    s._keep(("b",), None, [(0, True), (1, True), (2, True), (3, True), (4, True)], "<y>bbbb", "<y>", ())
    assert len(s.reads) == 10 and s.chars == 8  # exactly full: kept beside the first
    assert set(s.roots) == {("a",), ("b",)}
    s._keep(("c",), None, [], "<z>c", "<z>", ())  # one node more than fits: afresh
    assert set(s.roots) == {("c",)} and len(s.reads) == 1 and s.chars == 1
    assert list(s.records.values()) == [("c", ())] and len(s.edges) == 0
    # characters: a record is kept beside the others while the text fits
    monkeypatch.setattr(reuse, "MAX_NODES", 10**6)
    s = _store(engine)
    for k in range(15):  # 15 records of 10 characters (13 with the head)
        s._keep(("k", k), None, [], "<i>" + "x" * 10, "<i>", ())
    assert len(s.roots) == 15 and s.chars == 150
    s._keep(("last",), None, [], "<>" + "y" * 8, "<>", ())  # 150 + 10 = 160: still fits
    assert len(s.roots) == 16 and s.chars == 158
    s._keep(("over",), None, [], "<>" + "z" * 2, "<>", ())  # 158 + 4 > 160: afresh
    assert set(s.roots) == {("over",)} and s.chars == 2


def test_a_record_of_a_sixteenth_of_the_store_is_kept_and_no_longer(engine, monkeypatch):
    monkeypatch.setattr(reuse, "MAX_CHARS", 1600)
    s = _store(engine)
    s._keep(("a",), None, [(0, True)], "<a>" + "x" * 100, "<a>", ())
    s._keep(("b",), None, [(0, True)], "<b>" + "x" * 101, "<b>", ())
    assert list(s.roots) == [("a",)] and [len(t) for t, _ in s.records.values()] == [100]
    # a record that does not start with its case's head, or whose id has none, is not kept
    s._keep(("c",), None, [], "<other>x", "<c>", ())
    none = reuse.Reuse(engine, lambda case: None)
    none._keep(("c",), None, [], "x", None, ())
    assert list(s.roots) == [("a",)] and not none.roots and not none.reads


def test_the_tree_grows_a_branch_where_reads_first_differ(engine):
    """A path is kept as a branch from the node where it leaves the tree: the reads both paths
    share are one node each, and each leaf holds its own record."""
    s = _store(engine)
    plan = object()
    w = ("missing", 5)  # the words of an atom: a branch per text
    s._keep(("k",), plan, [(0, True), (1, False), (w, "x")], "<a>one", "<a>", ("A",))
    s._keep(("k",), plan, [(0, True), (1, True)], "<b>two", "<b>", ("B",))
    s._keep(("k",), plan, [(0, True), (1, False), (w, "y")], "<c>three", "<c>", ("C",))
    root = s.roots[("k",)]
    assert root[0] is plan and s.reads[root[1]] == 0
    assert s.reads == [0, 1, w, None, None, None]
    assert sorted(s.records.values()) == [("one", ("A",)), ("three", ("C",)), ("two", ("B",))]
    # following the edges from the root by each path's values reaches its own leaf
    def leaf(path):
        node = root[1]
        for what, v in path:
            assert s.reads[node] == what
            node = s.edges[reuse._edge(node, what, v)]
        assert s.reads[node] is None
        return s.records[node][0]
    assert leaf([(0, True), (1, False), (w, "x")]) == "one"
    assert leaf([(0, True), (1, True)]) == "two"
    assert leaf([(0, True), (1, False), (w, "y")]) == "three"
    # a path the tree answers already, one that reads otherwise, one of another plan
    s._keep(("k",), plan, [(0, True), (1, True)], "<d>four", "<d>", ())
    s._keep(("k",), plan, [(0, True), (2, True)], "<e>five", "<e>", ())
    s._keep(("k",), plan, [(0, True)], "<f>six", "<f>", ())
    assert len(s.records) == 3 and len(s.reads) == 6 and s.chars == len("onetwothree")
    other = object()
    s._keep(("k",), other, [(0, False)], "<g>seven", "<g>", ())
    assert s.roots[("k",)] == (other, 6) and s.reads[6:] == [0, None] and s.records[7] == ("seven", ())
    # truth values keep one branch each, words one per text
    assert {reuse._edge(0, 0, v) for v in (True, False, None)}.isdisjoint({reuse._edge(1, 0, v) for v in (True, False, None)})
    assert len({reuse._edge(n, 0, v) for n in range(8) for v in (True, False, None)}) == 24


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_window_of_a_quarter_reused_keeps_the_store_on(engine, fmt, monkeypatch):
    """The store is judged per window: a quarter of the window reused keeps it on; a window
    below that makes it rest from the next case on (those cases evaluated and written as usual)."""
    monkeypatch.setattr(reuse, "WINDOW", 4)
    monkeypatch.setattr(reuse, "REST", 3)
    # cases of other cancer types never share a record
    base = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}]}
    codes = ["LUAD", "COAD", "PAAD", "READ", "BLCA", "BRCA", "SKCM", "PRAD", "STAD", "HGSOC", "UCEC"]
    distinct = [dict(base, id=f"d{k}", cancer_type=code) for k, code in enumerate(codes)]
    p = Processor(engine, fmt)
    store = p.reuse
    q = Processor(engine, fmt, reuse=False)

    def same(payloads):
        for i, x in enumerate(payloads):
            assert p(f"in-{i}", x) == q(f"in-{i}", x)

    same([distinct[0], dict(distinct[0], id="again"), distinct[1], distinct[2]])
    assert store.total_reused == 1 and store.seen == 4 and store.resting == 0
    same([dict(distinct[0], id="third"), *distinct[3:6]])  # the first of the next window reused
    assert store.total_reused == 2 and store.total_seen == 8 and store.resting == 0
    same(distinct[6:10])  # none reused: the store rests after them
    assert store.total_seen == 12 and store.resting == 0 and store.reads
    same([distinct[10]])
    assert store.total_seen == 12 and store.resting == 2 and not store.reads and not store.roots
    same([dict(distinct[0], id="resting")])  # not answered while resting, though it could be
    assert store.total_seen == 12 and store.total_reused == 2 and store.resting == 1
    # a first window of which none was reused: the store rests from the fifth case on
    p = Processor(engine, fmt)
    same(distinct[:5])
    assert p.reuse.total_seen == 4 and p.reuse.total_reused == 0 and p.reuse.resting == 2


def test_a_window_below_a_quarter_reused_rests_the_store(engine, monkeypatch):
    monkeypatch.setattr(reuse, "WINDOW", 8)
    monkeypatch.setattr(reuse, "REST", 3)
    base = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}]}
    codes = ["LUAD", "COAD", "PAAD", "READ", "BLCA", "BRCA", "SKCM", "PRAD"]
    distinct = [dict(base, id=f"d{k}", cancer_type=code) for k, code in enumerate(codes)]
    p = Processor(engine, "json")
    for i, x in enumerate([distinct[0], dict(distinct[0], id="again"), *distinct[1:7]]):
        p(f"in-{i}", x)
    assert p.reuse.total_reused == 1 and p.reuse.resting == 0  # one in eight: below a quarter
    p("in-8", distinct[7])
    assert p.reuse.total_seen == 8 and p.reuse.resting == 2


def test_the_store_answers_a_case_that_reads_the_same_with_the_record_under_its_own_id(engine):
    from engine.streams.codec import encode_json

    store = Processor(engine, "json").reuse  # (the batch's JSON records are UTF-8 bytes)
    case = json.loads((REPO / "cases" / "luad-g12c-second-line.json").read_text())
    miss = store.find(engine.normalise(case))
    assert isinstance(miss, reuse.Miss)
    data = encode_json(miss.result)
    miss.keep(data)
    counts = (miss.result.cancer_type, tuple((o.therapy, o.verdict) for o in miss.result.options))
    assert counts[1] and store.find(engine.normalise(dict(case, id="copy"))) == (
        data.replace(b'{"case_id":"luad-g12c-second-line"', b'{"case_id":"copy"', 1), counts)
    assert store.total_reused == 1 and store.total_seen == 2


def test_a_case_the_store_does_not_answer_makes_each_read_once(never_rests):
    """The reads the store made on a case before it left the tree are the evaluation's: no atom,
    description or missing text is computed twice for one case, however far the walk went (an
    engine of its own, its leaf functions counted)."""
    import dataclasses
    from collections import Counter

    from engine.api import Engine
    from engine.streams.codec import json_head, result_json

    eng = Engine()
    calls: Counter = Counter()

    def counted(key, fn):
        def f(case):
            calls[key] += 1
            return fn(case)
        return f

    atoms = eng.program.atoms
    for i, a in enumerate(atoms):
        atoms[i] = dataclasses.replace(a, fn=counted(("fn", i), a.fn), describe=counted(("describe", i), a.describe),
                                       missing=counted(("missing", i), a.missing))
    store = reuse.Reuse(eng, lambda case: json_head(case.id, case.as_of.isoformat()).decode())
    rnd = random.Random(5)
    payloads = [json.loads(f.read_text()) for f in CASES] + _generated(eng, 200, seed=3)
    payloads += [n for c in payloads[:120] for n in _neighbours(c, rnd)]
    partway = 0
    for c in payloads:
        try:
            norm = eng.normalise(c)
        except Exception:
            continue
        plan = eng.program.plan(norm)  # (a new cancer type's plan is found once, by its own reads)
        known = any(p is plan for p, _ in store.roots.values())
        calls.clear()
        found = store.find(norm)
        if isinstance(found, reuse.Miss):
            found.keep(result_json(found.result))
            assert max(calls.values(), default=0) == 1, [k for k, n in calls.items() if n > 1]
            partway += known and bool(found.path)
    assert partway >= 50


def test_a_record_serves_every_date_with_the_same_rules_in_effect(engine, never_rests):
    """A TSV row names the evaluation date in its own cell only, a JSON record also in its notes
    and trace: cases on other dates with the same rules in effect, for the same reasons, share a
    record, each with its own id and date written in every place (a JSON record is cut around
    them). A date the rule base names (a rule's start, the knowledge version) is kept as it is,
    per date; a date on which other rules are in effect never shares."""
    import dataclasses
    import datetime as dt

    from engine.api import Engine

    base = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [{"regimen": "carboplatin + pemetrexed", "setting": "metastatic"}]}
    rb = engine.rulebase
    kv = rb.meta.knowledge_version
    program = engine.program
    day = dt.timedelta(days=1)
    if len({program.interval(kv + k * day) for k in range(-3, 4)}) > 1:
        # the knowledge version is a day a rule starts or ends (a rule ended on the day the rule
        # base recorded why): this test needs one between two such days, so it takes its own
        kv = max(program.dates) + 10 * day
        rb = dataclasses.replace(rb, meta=rb.meta.model_copy(update={"knowledge_version": kv}))
        engine = Engine(rulebase=rb)
    program = engine.program
    # two dates after the knowledge version (the note that names the date), two before it, none
    # named by the rule base; one of another interval; the knowledge version, twice
    after = [kv + dt.timedelta(days=40), kv + dt.timedelta(days=41)]
    first = max(d for d in program.dates if d < kv)
    before = [first + dt.timedelta(days=1), first + dt.timedelta(days=2)]
    other = min(program.dates) - dt.timedelta(days=1)
    days = [*after, *before, other, kv, kv]
    # one interval holds both sides of the knowledge version: only the side tells them apart
    assert len({program.interval(d) for d in [*after, *before]}) == 1 and other < first
    assert not program.dates & {*after, *before, other}
    cases = [dict(base, id=f"c{i}", as_of=d.isoformat()) for i, d in enumerate(days)]
    # tsv: every case of the plan but the first (the knowledge version's day is in it too); json:
    # the second after, the second before, the second on the knowledge version's day
    for fmt, reused in (("tsv", 5), ("json", 3)):
        p = Processor(engine, fmt)
        q = Processor(engine, fmt, reuse=False)
        got = [p(f"in-{i}", c) for i, c in enumerate(cases)]
        assert got == [q(f"in-{i}", c) for i, c in enumerate(cases)]
        assert p.reuse.total_reused == reused, fmt
    # the JSON records kept after the knowledge version are cut around the date: the evaluation
    # date in the note and in each rule not yet in effect
    records = [r for r in p.reuse.records.values() if type(r[0]) is tuple]
    assert records and all(len(r[0]) >= 2 for r in records)
    assert any(b"this evaluation is dated " in part for r in records for part in r[0])


def test_one_plan_on_two_intervals_keeps_a_json_record_per_interval(engine, never_rests):
    """One plan can serve two date intervals (the same rules in effect). Its rules not in effect
    could be so for other reasons on each (not yet in effect on one, ended on the other), which
    the trace would say; no plan of today's rule base has such a pair, so this checks the keeping
    itself: a JSON record is kept per interval; a TSV row, which has no trace, per plan."""
    import datetime as dt

    program = engine.program
    kv = engine.rulebase.meta.knowledge_version
    days = [b + dt.timedelta(days=1) for b in sorted(program.dates) if b < kv]
    days = [d for d in days if d not in program.dates]
    pair = None
    for code in ("COAD", "LUAD", "PAAD", "MEL"):
        for d1, d2 in zip(days, days[1:], strict=False):
            n1, n2 = (engine.normalise({"cancer_type": code, "as_of": d.isoformat()}) for d in (d1, d2))
            if program.plan(n1) is program.plan(n2) and program.interval(d1) != program.interval(d2):
                pair = (code, d1, d2)
                break
        if pair:
            break
    assert pair, "no plan of these cancer types serves two intervals"
    code, d1, d2 = pair
    cases = [{"id": "a", "cancer_type": code, "as_of": d1.isoformat()}, {"id": "b", "cancer_type": code, "as_of": d2.isoformat()}]
    for fmt, reused in (("tsv", 1), ("json", 0)):
        p = Processor(engine, fmt)
        q = Processor(engine, fmt, reuse=False)
        assert [p(f"in-{i}", c) for i, c in enumerate(cases)] == [q(f"in-{i}", c) for i, c in enumerate(cases)]
        assert p.reuse.total_reused == reused, fmt


def test_a_record_is_cut_around_the_date_only_where_the_engine_wrote_it(engine):
    """With a date, a record is kept cut around it when it names the date exactly as often as
    the engine wrote it there (``mentions``); more often (a text of the rule base or of the case
    that holds the same date), and it is not kept: cutting there would write another case's date
    into that text. Without mentions it is kept as it is."""
    s = _store(engine)
    s._keep(("a",), None, [(0, True)], "<a>x 2027-01-10 y 2027-01-10 z", "<a>", (), "2027-01-10", 2)
    s._keep(("b",), None, [(0, True)], "<b>x 2027-01-10 y 2027-01-10 z", "<b>", (), "2027-01-10", 1)
    s._keep(("c",), None, [(0, True)], "<c>x 2027-01-10 z", "<c>", (), "2027-01-10", 0)
    s._keep(("d",), None, [(0, True)], "<d>x y", "<d>", (), "2027-01-10", 0)
    s._keep(("e",), None, [(0, True)], b"<e>x 2027-01-10 z", b"<e>", (), "2027-01-10", 1)
    tails = {k[0]: s.records[s.edges[root << 2 | 1]][0] for k, (_, root) in s.roots.items()}
    assert tails == {"a": ("x ", " y ", " z"), "d": "x y", "e": (b"x ", b" z")}
    assert s.chars == len("x 2027-01-10 y 2027-01-10 z") + len("x y") + len("x 2027-01-10 z")


def test_a_tsv_store_evaluates_a_miss_to_its_decided_fields_only(engine):
    """A TSV row reads only the decided fields, so the TSV batch's store evaluates a case it
    cannot answer to its ``Decisions`` (no option objects, checklists or texts); the JSON store
    to a full result."""
    from engine.result import Decisions, Result

    case = engine.normalise({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
                             "prior_therapies": [{"regimen": "carboplatin/pemetrexed"}], "as_of": "2026-07-01"})
    tsv, js = Processor(engine, "tsv").reuse, Processor(engine, "json").reuse
    assert isinstance(tsv.find(case).result, Decisions) and isinstance(js.find(case).result, Result)
