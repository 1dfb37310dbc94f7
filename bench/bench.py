"""Speed and memory of kras-rules on this machine, in one run: ``python bench/bench.py``.

Measures, and prints as one table (``--markdown`` for the README):

* ``evaluate`` in-process on one core (the default backend; a case dict in, a Result out), for the
  example cases of ``cases/`` and for generated ones: cases/s, median and p99 latency per case;
* the same step by step on normalised generated cases: inference alone, inference + resolution;
  and, taking turns with the floor, inference with compiled plans and interpreted;
* a hand-written Python function encoding the five core rules (``floor``), on the same
  normalised cases: the floor for any interpreter of those rules;
* the durable backend (when durable-rules is installed);
* end-to-end JSON Lines batch (decode, validate, evaluate, serialise): in-process on one core, and
  the CLI (``python -m engine evaluate``) on one core and on every core, JSON and TSV;
* peak memory of the CLI streaming 1,000,000 generated cases (``--million N`` to change; RSS of
  the largest process from ``resource.getrusage`` in a wrapper subprocess, and the summed RSS of
  the process tree sampled from /proc), with the progress line drawn on a pseudo-terminal;
* the CLI's wall time for one case.

Generated cases come from a seeded generator derived from the rule base (the cancer codes, genes,
variants and drug classes its rules test, the dates they change on), widened with other genes
and cancer types; ``--emit N`` prints N of them as JSON Lines. Not a test: nothing here fails
on a slow machine. Educational decision support only: not medical advice.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.api import Engine  # noqa: E402
from engine.batch.run import Processor, default_jobs  # noqa: E402
from engine.evaluation.evaluator import infer  # noqa: E402
from engine.evaluation.resolve import build_result, decisions  # noqa: E402
from engine.testing import domain  # noqa: E402

# --------------------------------------------------------------------------- generated cases

_AA3 = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
        "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
        "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val"}
_SETTINGS = ["metastatic", "adjuvant", "maintenance", None, None]
_OUTCOMES = ["progression", "progression", "stable", "response", "intolerance", None]
_STAGES = [None, "early", "locally_advanced", "metastatic", "metastatic", "metastatic"]


class Generator:
    """Seeded random cases built from what the rules of ``engine`` test.

    Every case it makes is valid (``check()`` verifies a sample); about one in five alterations is
    of a gene or kind no rule names, so cohort summaries have something to report.
    """

    def __init__(self, engine: Engine, seed: int = 2026):
        self.rng = random.Random(seed)
        rb, vocab = engine.rulebase, engine.rulebase.vocab
        d = domain(engine)  # the rule base's domain object, shared with engine.testing's strategies
        codes: set[str] = set(d.rule_codes)
        alts: list[dict] = []
        classes: set[str] = set(d.rule_classes)
        labels_by_gene: dict[str, set[str]] = {}
        for p in d.patterns:
            if p.labels:
                labels_by_gene.setdefault(p.gene, set()).update(p.labels)
        for p in d.patterns:
            variants: list[str] = []
            if p.labels:
                variants += sorted(p.labels)
            elif p.codons:
                variants += self._codon_changes(vocab, p.gene, p.codons, labels_by_gene.get(p.gene, set()))
            elif p.kind:
                variants.append(p.kind)
            else:
                variants.append("mutation")
            for v in variants:
                alts.append({"gene": p.gene, "variant": v, "origin": p.origin, "acquired": p.acquired,
                             "partner": p.partner, "fusion": p.kind == "fusion"})
        # cancer types: the codes the rules name, their subtypes, and a few unrelated ones
        types = vocab.cancer_types
        named = sorted(codes & set(types))
        subtypes = sorted(c for c, t in types.items() if set(t.lineage[1:]) & codes)
        others = sorted(c for c, t in types.items() if c not in codes and c not in subtypes)
        self.cancers = named * 6 + subtypes + self.rng.sample(others, min(12, len(others)))
        self.in_situ = vocab.cancers.non_invasive
        self.alts = alts
        rule_genes = sorted({a["gene"] for a in alts})
        self.rule_genes = rule_genes
        self.other_genes = sorted(g for g in vocab.genes if g.isalnum() and g not in rule_genes)[:400]
        self.drugs_by_class = {c: sorted(vocab.drugs_in_class(c)) for c in sorted(classes) if vocab.drugs_in_class(c)}
        self.regimens = sorted(vocab.regimens)
        dates = {r.effective_from for r in rb.rules} | {r.effective_to for r in rb.rules if r.effective_to}
        dates.add(rb.meta.knowledge_version)
        recent = sorted(d for d in dates if d.year >= 2021)
        self.dates = [d.isoformat() for d in recent] + [(d - dt.timedelta(days=1)).isoformat() for d in recent]
        self.today = (rb.meta.knowledge_version + dt.timedelta(days=1)).isoformat()

    def _codon_changes(self, vocab, gene: str, codons, labels: set[str]) -> list[str]:
        out = []
        for c in sorted(codons):
            refs = {lab[0] for lab in labels if lab[1:-1] == str(c) and lab[0].isalpha()}
            for ref in sorted(refs) or "GQAKDE":  # (in a fixed order: a set's follows the hash seed)
                for alt in "CDVRSAHLK":
                    if alt == ref:
                        continue
                    try:
                        vocab.variant(gene, f"{ref}{c}{alt}")
                    except Exception:
                        continue
                    out.append(f"{ref}{c}{alt}")
                    break
                if out and out[-1][1:-1] == str(c):
                    break
        return out

    def _spell(self, v: str) -> str:
        r = self.rng.random()
        if len(v) >= 3 and v[0] in _AA3 and v[-1] in _AA3 and v[1:-1].isdigit():
            if r < 0.3:
                return "p." + v
            if r < 0.4:
                return f"p.{_AA3[v[0]]}{v[1:-1]}{_AA3[v[-1]]}"
        return v

    def case(self, i: int) -> dict:
        rng = self.rng
        case: dict = {"id": f"gen-{i}", "cancer_type": rng.choice(self.cancers)}
        stage = rng.choice(_STAGES)
        if stage in ("locally_advanced", "metastatic") and case["cancer_type"] in self.in_situ:
            stage = "early"  # (an in-situ type beyond early is an input error: the same draws, a valid case)
        if stage:
            case["stage"] = stage
        alts = []
        germline = False
        for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3))):
            if rng.random() < 0.8:
                a = rng.choice(self.alts)
                alt = {"gene": a["gene"], "variant": self._spell(a["variant"])}
                if a["origin"] == "germline":
                    alt["origin"] = "germline"
                    germline = True
                if a["acquired"]:
                    alt["acquired"] = True
                if a["fusion"] and a["partner"]:
                    alt["partner"] = a["partner"]
            else:
                alt = {"gene": rng.choice(self.other_genes), "variant": rng.choice(("amplification", "loss", "mutation"))}
            alts.append(alt)
        if alts:
            case["alterations"] = alts
        r = rng.random()
        if r < 0.6:
            tested = rng.sample(self.rule_genes, rng.randint(1, len(self.rule_genes)))
            case["tested_genes"] = sorted(tested)
        if germline or rng.random() < 0.3:
            case["germline_tested"] = True if germline else rng.random() < 0.5
        if rng.random() < 0.2:
            case["multiagent_candidate"] = rng.random() < 0.5
        r = rng.random()
        if r < 0.2:
            pass  # history unknown
        elif r < 0.35:
            case["prior_therapies"] = []
        else:
            lines = []
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.3:
                    line: dict = {"regimen": rng.choice(self.regimens)}
                else:
                    picks = rng.sample(sorted(self.drugs_by_class), rng.randint(1, 2))
                    line = {"drugs": sorted({rng.choice(self.drugs_by_class[c]) for c in picks})}
                s, o = rng.choice(_SETTINGS), rng.choice(_OUTCOMES)
                if s:
                    line["setting"] = s
                if o:
                    line["outcome"] = o
                if rng.random() < 0.5:
                    line["weeks"] = rng.randint(4, 60)
                lines.append(line)
            case["prior_therapies"] = lines
        case["as_of"] = self.today if rng.random() < 0.5 else rng.choice(self.dates)
        return case

    def cases(self, n: int, start: int = 0) -> list[dict]:
        return [self.case(i) for i in range(start, start + n)]

    def write_jsonl(self, path: Path, n: int) -> None:
        with path.open("w", encoding="utf-8") as fh:
            for i in range(n):
                fh.write(json.dumps(self.case(i), separators=(",", ":")) + "\n")


def check(engine: Engine, cases: list[dict]) -> int:
    """How many of ``cases`` the engine rejects (0 for a sound generator)."""
    from engine.errors import EngineError

    bad = 0
    for c in cases:
        try:
            engine.normalise(c)
        except EngineError:
            bad += 1
    return bad


# --------------------------------------------------------------------------- the floor

# The five core rules, by hand, on the engine's normalised case (bench only: the engine itself
# never names a gene, drug or date). Dates are the FDA approval dates the rules carry.
_SOTORASIB_NSCLC = dt.date(2021, 5, 28)
_ADAGRASIB_NSCLC = dt.date(2022, 12, 12)
_ADAGRASIB_CETUXIMAB_CRC = dt.date(2024, 6, 21)
_SOTORASIB_PANITUMUMAB_CRC = dt.date(2025, 1, 16)
_DARAXONRASIB_PDAC = dt.date(2026, 5, 1)
_DARAXONRASIB_APPROVAL = dt.date(2026, 8, 26)
_RAS_CODONS = frozenset({12, 13, 59, 61, 117, 146})
_CRC_CHEMO = frozenset({"fluoropyrimidine", "oxaliplatin", "irinotecan"})


def floor(case) -> dict[str, str]:
    """therapy -> verdict for the five core rules (sure answers only; unknowns give nothing)."""
    out: dict[str, str] = {}
    lineage, alts, lines, day = case.lineage, case.alterations, case.lines, case.as_of
    g12c = False
    ras = False
    other_kras = False  # a second KRAS alteration: its verdict depends on when it arose
    braf_v600e = False
    for a in alts:
        if a.gene == "KRAS" and a.label == "G12C" and not a.acquired:
            g12c = True
        elif a.gene == "KRAS":
            other_kras = True
        if (a.gene == "KRAS" or a.gene == "NRAS") and a.kind == "mutation" and a.codon in _RAS_CODONS:
            ras = True
        if a.gene == "BRAF" and a.label == "V600E":
            braf_v600e = True
    g12c = g12c and not other_kras
    fda = case.jurisdiction == "FDA"
    if "NSCLC" in lineage:  # 1. KRAS G12C NSCLC after at least one line
        if g12c and fda and case.stage in ("locally_advanced", "metastatic") and lines:
            if day >= _SOTORASIB_NSCLC:
                out["sotorasib"] = "eligible"
            if day >= _ADAGRASIB_NSCLC:
                out["adagrasib"] = "eligible"
    elif "COADREAD" in lineage:
        if ras:  # 2. RAS-mutant colorectal cancer: no anti-EGFR antibody
            out["cetuximab"] = out["panitumumab"] = "excluded"
        elif (fda and "KRAS" in case.tested and "NRAS" in case.tested and "BRAF" in case.tested
              and not braf_v600e and case.stage == "metastatic" and lines is not None):
            # 3. RAS (and BRAF V600E) wild-type, in a setting of each label: first line (no line
            # for metastatic disease, none of unknown setting), or after the named chemotherapy
            first = not any(ln.setting == "metastatic" or ln.setting is None for ln in lines)
            got = set()
            for ln in lines:
                got |= ln.classes
            if first or _CRC_CHEMO <= got:
                out["panitumumab"] = "eligible"
            if first or {"oxaliplatin", "irinotecan"} <= got or any(
                    "irinotecan" in ln.classes and ln.outcome in ("progression", "intolerance") for ln in lines):
                out["cetuximab"] = "eligible"
        if g12c and fda and lines and case.stage in ("locally_advanced", "metastatic"):  # 4. G12C after FP + ox + iri
            got = set()
            for ln in lines:
                got |= ln.classes
            if _CRC_CHEMO <= got:
                if day >= _ADAGRASIB_CETUXIMAB_CRC:
                    out["adagrasib+cetuximab"] = "eligible"
                if day >= _SOTORASIB_PANITUMUMAB_CRC and case.stage == "metastatic":
                    out["panitumumab+sotorasib"] = "eligible"
    elif "PAAD" in lineage:  # 5. metastatic PDAC, previously treated or unfit for multiagent therapy: daraxonrasib
        if case.stage == "metastatic" and (lines or case.multiagent_candidate is False) and fda and day >= _DARAXONRASIB_APPROVAL:
            out["daraxonrasib"] = "eligible"
        elif (case.stage == "metastatic" and lines and any(ln.setting == "metastatic" for ln in lines)
              and _DARAXONRASIB_PDAC <= day < _DARAXONRASIB_APPROVAL):  # the trial: treated metastatic disease
            out["daraxonrasib"] = "consider"
    return out


# --------------------------------------------------------------------------- timing helpers


def timed(fn, items, repeat_to: int | None = None) -> dict:
    """Call ``fn`` on each item (cycling to ``repeat_to`` calls); cases/s and latency."""
    if repeat_to:
        items = [items[i % len(items)] for i in range(repeat_to)]
    for it in items[: min(200, len(items))]:  # warm caches
        fn(it)
    lat = []
    clock = time.perf_counter_ns
    gc.collect()
    c0 = time.process_time()
    t0 = clock()
    for it in items:
        s = clock()
        fn(it)
        lat.append(clock() - s)
    total = (clock() - t0) / 1e9
    cpu = time.process_time() - c0
    lat.sort()
    return {"n": len(items), "rate": len(items) / total, "cpu_rate": len(items) / max(cpu, 1e-9),
            "median_us": lat[len(lat) // 2] / 1e3, "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e3}


def run_cli(argv: list[str], stdin_path: Path | None = None, pty_stderr: bool = False, module: list[str] | None = None) -> dict:
    """Run the CLI in a wrapper subprocess; wall time, peak RSS (getrusage of the wrapper's
    children: the largest single process) and the sampled RSS of the whole process tree."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "inp = open(sys.argv[1], 'rb') if sys.argv[1] != '-' else None\n"
        "r = subprocess.run(sys.argv[2:], stdin=inp, stdout=subprocess.DEVNULL)\n"
        "wall = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(f'{r.returncode} {wall} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime}', file=sys.__stdout__)\n"
    )
    prog = module if module is not None else ["-m", "engine"]
    cmd = [sys.executable, "-c", wrapper, str(stdin_path) if stdin_path else "-", sys.executable, *prog, *argv]
    master = slave = None
    tail = [b""]
    if pty_stderr:
        import pty

        master, slave = pty.openpty()
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=slave, text=True)
    if slave is not None:
        os.close(slave)

        def drain():  # keep the last few hundred bytes the terminal was shown
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                tail[0] = (tail[0] + data)[-600:]

        th = threading.Thread(target=drain, daemon=True)
        th.start()
    samples: list[tuple[float, int]] = []
    before = _steal()
    t0 = time.perf_counter()
    while p.poll() is None:
        samples.append((time.perf_counter() - t0, _tree_rss(p.pid)))
        time.sleep(0.25)
    after = _steal()
    out = p.stdout.read().split()
    if master is not None:
        th.join(timeout=2)
        os.close(master)
    code, wall, maxrss_kb, cpu = int(out[0]), float(out[1]), int(out[2]), float(out[3])
    rss = [r for _, r in samples if r]
    first = [r for t, r in samples if r and 0.1 * wall < t <= 0.5 * wall]
    second = [r for t, r in samples if r and t > 0.5 * wall]
    shown = tail[0].decode("utf-8", "replace").replace("\n", "\r").split("\r")
    progress = [s.strip() for s in shown if "cases/s" in s]
    return {"code": code, "wall": wall, "cpu": cpu, "maxrss_mb": maxrss_kb / 1024, "tree_peak_mb": max(rss, default=0) / 1024,
            "tree_first_mb": max(first, default=0) / 1024, "tree_second_mb": max(second, default=0) / 1024, "progress": progress[-1] if progress else "",
            "steal": (after[0] - before[0]) / max(after[1] - before[1], 1) if before and after else None}


def _steal() -> tuple[int, int] | None:
    """The machine's steal time and all its CPU time so far (clock ticks over every core, from
    /proc/stat; None where it is not readable): on a virtual machine, the share of its cores'
    time the host gave to others, which no process here is charged for and which caps how much
    faster more workers can be."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def own_dates(engine: Engine, lines: list[str], seed: int = 7) -> list[str]:
    """The cohort's cases, each evaluated at a date of its own: a day of the three years up to
    the knowledge version, drawn per case (seeded), as a study evaluated at each sample's date
    would be. Lines that are not a JSON object stay as they are."""
    rnd = random.Random(seed)
    last = engine.rulebase.meta.knowledge_version
    out = []
    for line in lines:
        try:
            case = json.loads(line)
        except ValueError:
            case = None
        if not isinstance(case, dict):
            out.append(line)
            continue
        case["as_of"] = (last - dt.timedelta(days=rnd.randrange(3 * 365))).isoformat()
        out.append(json.dumps(case))
    return out


def reuse_ab(engine: Engine, path: Path, rounds: int = 3, dated: bool = False) -> list[dict]:
    """A cohort file (JSON Lines, e.g. ``kras-rules import`` of a study) through the batch's
    per-record step in this process, JSON and TSV, with records reused (engine.batch.reuse: a case
    that reads the same as an earlier one gets its record) and with every case evaluated. The two
    take turns for ``rounds`` rounds, each a fresh processor over the whole file after a warm-up
    pass (best CPU time each); the outputs are compared. ``dated``: each case at a date of its
    own (:func:`own_dates`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if dated:
        lines = own_dates(engine, lines)
    out = []
    for fmt in ("json", "tsv"):
        warm = Processor(engine, fmt, reuse=False)
        for line in lines[:2000]:  # warm the plans (compiled after their first uses)
            warm("x:1", line)
        best = {True: float("inf"), False: float("inf")}
        texts: dict[bool, list] = {}
        reused = 0
        for _ in range(rounds):
            for on in (True, False):
                p = Processor(engine, fmt, reuse=on)
                gc.collect()
                c0 = time.process_time()
                texts[on] = [p.record("x:1", line)[0] for line in lines]  # (as the batch: JSON as bytes)
                best[on] = min(best[on], time.process_time() - c0)
                if on:
                    reused = p.reuse.total_reused
        out.append({"fmt": fmt, "n": len(lines), "reused": reused, "reuse_cpu": best[True],
                    "every_cpu": best[False], "same": texts[True] == texts[False]})
    return out


def _cohort_words(engine: Engine, files: list[str], rounds: int = 3) -> list[str]:
    words = []
    for f, dated in ((f, dated) for f in files for dated in (False, True)):
        for r in reuse_ab(engine, Path(f), rounds, dated):
            n = r["n"]
            words.append(
                f"cohort {Path(f).name}{', each case at a date of its own' if dated else ''}, {r['fmt']}: "
                f"{n:,} cases, {100 * r['reused'] / max(n, 1):.0f}% of records reused; "
                f"{n / r['reuse_cpu']:,.0f} cases/CPU-s reusing, {n / r['every_cpu']:,.0f} evaluating every case "
                f"({r['every_cpu'] / r['reuse_cpu']:.2f}x); outputs {'identical' if r['same'] else 'DIFFERENT'}")
            print("  " + words[-1], file=sys.stderr)
    return words


def ceiling(engine: Engine, path: Path, jobs: int, n: int, rounds: int = 2) -> dict:
    """What ``jobs`` cores of this machine can give a batch at best, and what the batch's worker
    pool gets of it: the first ``n`` records of
    ``path`` rendered as JSON, in chunks of 256 as the batch does, by one process forked from the
    loaded engine, and by ``jobs`` such processes at once. The processes share nothing but a
    counter from which each takes the next chunk (so the work is balanced as in the batch), and no
    parent reads, sends, receives or writes anything. Every process starts from the same loaded
    engine (forked, as workers are), so both runs pay the same warm-up. The two take turns for
    ``rounds`` rounds (best wall time each). Their ratio is what ``--jobs N`` over ``--jobs 1``
    could reach on this machine with no cost of its own: on a virtual machine two busy cores can
    each run slower than one (shared caches, the host's other work, steal time). The worker pool
    (:class:`engine.batch.parallel.WorkerPool`) takes its turn on the same chunks, its parent sending
    each chunk's lines and receiving its output, as the CLI's does (without reading the file or
    writing the output)."""
    import multiprocessing as mp

    with open(path, encoding="utf-8") as f:
        lines = [line for _, line in zip(range(n), f, strict=False)]
    items = [("x:1", line) for line in lines]
    blocks = [items[i:i + 256] for i in range(0, len(items), 256)]
    proc = Processor(engine, "json")

    def run(parts: int) -> tuple[float, float | None]:
        counter = mp.get_context("fork").Value("i", 0)
        s0 = _steal()
        t0 = time.perf_counter()
        pids = []
        for _ in range(parts):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                try:
                    while True:
                        with counter.get_lock():
                            k = counter.value
                            counter.value = k + 1
                        if k >= len(blocks):
                            break
                        proc.chunk(blocks[k])
                finally:
                    os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        wall = time.perf_counter() - t0
        s1 = _steal()
        return wall, ((s1[0] - s0[0]) / max(s1[1] - s0[1], 1) if s0 and s1 else None)

    def run_pool() -> float:  # the batch's own pool on the same chunks: the parent sends and receives them
        from engine.batch.parallel import WorkerPool

        t0 = time.perf_counter()
        with WorkerPool(proc, jobs) as pool:
            for _ in pool.map(iter(blocks)):
                pass
        return time.perf_counter() - t0

    gc.collect()
    one, many, pooled, steal = float("inf"), float("inf"), float("inf"), []
    for _ in range(rounds):
        w, _s = run(1)
        one = min(one, w)
        w, s = run(jobs)
        many = min(many, w)
        if s is not None:
            steal.append(s)
        pooled = min(pooled, run_pool())
    return {"n": len(items), "one": one, "many": many, "ratio": one / many, "pool": pooled, "pool_ratio": one / pooled,
            "steal": max(steal) if steal else None}


def _ceiling_words(c: dict, jobs: int) -> str:
    steal = "" if c["steal"] is None else f"; the machine's steal time up to {100 * c['steal']:.0f}%"
    return (f"This machine's ceiling for --jobs {jobs}, taking turns: the first {c['n']:,} cases rendered as JSON by "
            f"forked processes taking chunks from a shared counter, no parent reading or writing: {c['one']:.1f} s with one, "
            f"{c['many']:.1f} s with {jobs}, {c['ratio']:.2f}x{steal}; the batch's worker pool of {jobs} on the same chunks "
            f"(the parent sending and receiving them): {c['pool']:.1f} s, {c['pool_ratio']:.2f}x one process, "
            f"{100 * c['pool_ratio'] / c['ratio']:.0f}% of the ceiling")


def _tree_rss(pid: int) -> int:
    """Summed proportional set size (PSS, kB: shared pages split between the processes sharing
    them, so forked workers are not counted twice) of ``pid`` and its descendants, from /proc
    (VmRSS where smaps_rollup is missing; 0 where /proc is unavailable)."""
    try:
        kids: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                    kids.setdefault(ppid, []).append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        total, todo = 0, [pid]
        while todo:
            q = todo.pop()
            todo.extend(kids.get(q, ()))
            try:
                with open(f"/proc/{q}/smaps_rollup") as fh:
                    total += next((int(l.split()[1]) for l in fh if l.startswith("Pss:")), 0)
            except OSError:
                try:
                    with open(f"/proc/{q}/status") as fh:
                        total += next((int(l.split()[1]) for l in fh if l.startswith("VmRSS:")), 0)
                except OSError:
                    pass
        return total
    except OSError:
        return 0


def paired(fns: dict, items: list, rounds: int = 5) -> dict:
    """Seconds per item of each function in ``fns`` on the same ``items``, in the same process,
    the functions taking turns round after round (so a machine whose speed drifts affects them
    alike); each function's best round counts."""
    for fn in fns.values():
        for it in items[: min(200, len(items))]:  # warm caches
            fn(it)
    best = {k: float("inf") for k in fns}
    clock = time.process_time
    for _ in range(rounds):
        for k, fn in fns.items():
            gc.collect()
            t0 = clock()
            for it in items:
                fn(it)
            best[k] = min(best[k], (clock() - t0) / len(items))
    return best


def durable_vs_raw(engine, cases: list[dict], rounds: int = 3) -> list[tuple[str, float]]:
    """The durable backend against durable-rules itself on an equivalent rule set, on the same
    cases in the same process, taking turns: the rule base's own durable rules (the same
    conditions, the same derived facts, the same ruleset for each case's cancer type) run as a
    plain durable-rules program would run them
    (``engine.durable.RawRuleset``: actions that assert facts, one post per case, no checking),
    posting the very facts the backend posts for each case (computed beforehand). Ratios of CPU
    time per case: the backend's inference (the session and reading its firings back) and a whole
    ``evaluate`` (validation, normalisation and resolution too)."""
    from engine.durable import RawRuleset
    from engine.evaluation.evaluator import Ctx

    backend = engine.durable()
    norms = [engine.normalise(c) for c in cases]
    posts = [backend.facts(Ctx(engine.program, n)) for n in norms]
    raws: dict[int, RawRuleset] = {}   # one per durable ruleset of the backend (its parts)
    runs = []
    for n in norms:
        part = backend.part(n)
        if id(part) not in raws:
            raws[id(part)] = RawRuleset(part.rules.rules)
        runs.append(raws[id(part)].run)
    both = list(zip(norms, cases, posts, runs, strict=True))
    per = paired({"raw": lambda t: t[3](t[2]), "infer": lambda t: backend.infer(t[0]),
                  "evaluate": lambda t: engine.evaluate(t[1], backend="durable")}, both, rounds=rounds)
    return [("inference (the session and its firings read back; normalised case in)", per["infer"] / per["raw"]),
            ("evaluate from a decoded dict (validation, normalisation, resolution too)", per["evaluate"] / per["raw"])]


def parse_write(path: str) -> int:
    """The floor of an end-to-end JSON Lines batch: read ``path`` as the batch reads it, decode
    each line with the batch's decoder and write the value back, encoded as the batch encodes, to
    stdout (``--parse-write FILE``; no validation, no evaluation)."""
    from engine.streams import codec
    from engine.streams.inputs import decode_json, read_lines

    if codec.FAST:
        import orjson

        encode = orjson.dumps
    else:  # pragma: no cover - the plain path
        def encode(v):
            return json.dumps(v, separators=(",", ":")).encode("utf-8")
    out = sys.stdout.buffer
    buf: list[bytes] = []
    with open(path, "rb") as fh:
        for _, text in read_lines(fh, path):
            if isinstance(text, str):
                try:
                    buf.append(encode(codec.decode(text, decode_json)) + b"\n")
                except Exception:
                    buf.append(b"{}\n")
            if len(buf) >= 256:
                out.write(b"".join(buf))
                buf.clear()
    out.write(b"".join(buf))
    out.flush()
    return 0


# --------------------------------------------------------------------------- the run


def _table(head: tuple, rows: list[tuple], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)] + [
            "| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    return ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))).rstrip()
            for r in [head, *rows]]



def start_up(runs: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """``python -m engine evaluate`` on one case and ``python -c "import pydantic"``, taking turns
    (so both see the same machine): wall and CPU seconds of each run. The engine's bytecode is
    compiled first (as an installed package has it) and the rule-base cache filled by a warm-up."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "engine")], check=False)
    case = ["evaluate", str(REPO / "cases" / "luad-g12c-second-line.json")]
    pydantic = ["-c", "import pydantic"]
    run_cli(case)
    run_cli([], module=pydantic)
    one: list[float] = []
    one_cpu: list[float] = []
    base: list[float] = []
    base_cpu: list[float] = []
    for _ in range(runs):
        r = run_cli(case)
        one.append(r["wall"])
        one_cpu.append(r["cpu"])
        r = run_cli([], module=pydantic)
        base.append(r["wall"])
        base_cpu.append(r["cpu"])
    return one, one_cpu, base, base_cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20_000, help="generated cases for the in-process measures")
    ap.add_argument("--batch", type=int, default=100_000, help="generated cases for the CLI batch runs")
    ap.add_argument("--million", type=int, default=1_000_000, help="cases for the memory run (0: skip)")
    ap.add_argument("--durable", type=int, default=1_000, help="cases for the durable backend (0: skip)")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--emit", type=int, metavar="N", help="print N generated cases as JSON Lines and stop")
    ap.add_argument("--profile", type=int, metavar="N", help="cProfile N evaluations of generated cases and stop")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--startup", type=int, metavar="RUNS", help="only the one-case start-up against `import pydantic`, RUNS turns each")
    ap.add_argument("--parse-write", metavar="FILE", help=argparse.SUPPRESS)  # the batch floor, run as a subprocess
    ap.add_argument("--ceiling", metavar="FILE", help="only the machine's ceiling for --jobs on FILE (JSON Lines cases)")
    ap.add_argument("--only-cohort", action="store_true", help="with --cohort: measure only the cohorts")
    ap.add_argument("--cohort", metavar="FILE", action="append", default=[],
                    help="a cohort's cases (JSON Lines, e.g. from `kras-rules import`): records reused against "
                         "every case evaluated, in process and on the command line (repeatable)")
    a = ap.parse_args(argv)
    if a.parse_write:
        return parse_write(a.parse_write)
    if a.ceiling:
        jobs = default_jobs()  # what --jobs uses by default
        c = ceiling(Engine(), Path(a.ceiling), jobs, 10**9)
        print(_ceiling_words(c, jobs))
        return 0
    if a.cohort and a.only_cohort:
        _cohort_words(Engine(), a.cohort)  # (printed as measured)
        return 0
    if a.startup:
        one, one_cpu, base, base_cpu = start_up(a.startup)
        print(f"load average {os.getloadavg()[0]:.1f}; medians of {a.startup} runs each, taking turns:")
        print(f"  CLI, one case:      {statistics.median(one):.3f} s wall, {statistics.median(one_cpu):.3f} s CPU")
        print(f"  import pydantic:    {statistics.median(base):.3f} s wall, {statistics.median(base_cpu):.3f} s CPU")
        print(f"  ratio, run by run:  {statistics.median(o / b for o, b in zip(one, base, strict=True)):.2f}x wall, "
              f"{statistics.median(o / b for o, b in zip(one_cpu, base_cpu, strict=True)):.2f}x CPU (aim: at most 3x)")
        return 0
    if a.quick:
        a.cases, a.batch, a.million, a.durable = 1_000, 2_000, 5_000, 50
    engine = Engine()
    gen = Generator(engine, a.seed)
    if a.emit:
        out = sys.stdout
        for i in range(a.emit):
            out.write(json.dumps(gen.case(i), separators=(",", ":")) + "\n")
        return 0

    load = os.getloadavg()[0]
    if a.profile:
        import cProfile
        import pstats

        cases = gen.cases(a.profile)
        p = Processor(engine, "json")
        lines = [json.dumps(c) for c in cases]
        prof = cProfile.Profile()
        prof.enable()
        for line in lines:
            p.record("x:1", line)
        prof.disable()
        st = pstats.Stats(prof, stream=sys.stdout)
        st.sort_stats("tottime").print_stats(20)
        st.sort_stats("cumulative").print_stats(25)
        return 0

    jobs = default_jobs()  # what --jobs uses by default
    rows: list[tuple[str, str, str, str, str]] = []
    notes: list[str] = []

    def row(name, r):
        rows.append((name, f"{r['n']:,}", f"{r['cpu_rate']:,.0f}", f"{r['rate']:,.0f}", f"{r['median_us']:,.0f}", f"{r['p99_us']:,.0f}"))
        print(f"  {name}: {r['rate']:,.0f} cases/s", file=sys.stderr)

    examples = [json.loads(p.read_text()) for p in sorted((REPO / "cases").glob("*.json"))]
    generated = gen.cases(a.cases)
    bad = check(engine, generated[:2000])
    if bad:
        notes.append(f"generator: {bad} of 2,000 sampled cases were rejected by the engine")
    print("in-process, one core ...", file=sys.stderr)
    row(f"evaluate, example cases ({len(examples)} cycled)", timed(engine.evaluate, examples, repeat_to=a.cases))
    row("evaluate, generated cases", timed(engine.evaluate, generated))
    norms = [engine.normalise(c) for c in generated]
    row("  normalise only (decoded dict in)", timed(engine.normalise, generated))
    row("  inference only (normalised case in)", timed(lambda n: infer(engine.program, n), norms))
    row("  inference + deciding, decided fields only (Engine.decide: what a TSV row reads)", timed(lambda n: decisions(infer(engine.program, n)), norms))
    row("  inference + deciding (Result out, texts on demand)", timed(lambda n: build_result(infer(engine.program, n), lazy_texts=True), norms))
    row("  inference + resolution (Result out)", timed(lambda n: build_result(infer(engine.program, n)), norms))
    row("hand-written floor, 5 core rules (normalised in)", timed(floor, norms))
    # engine / hand-written on the same cases in the same process, taking turns
    same = generated[: min(len(generated), 5000)]
    same_norms = norms[: len(same)]
    both = list(zip(same_norms, same, strict=True))  # (normalised case, decoded dict)
    # the default inference compiles a plan once it is hot (engine.evaluation.evaluator.COMPILE_AFTER); the
    # compiled and the interpreted paths are also timed apart, taking turns with the rest
    per = paired({"floor": lambda t: floor(t[0]), "infer": lambda t: infer(engine.program, t[0]),
                  "decided": lambda t: build_result(infer(engine.program, t[0]), lazy_texts=True),
                  "decisions": lambda t: decisions(infer(engine.program, t[0])),
                  "infer_compiled": lambda t: infer(engine.program, t[0], compiled=True),
                  "infer_interpreted": lambda t: infer(engine.program, t[0], compiled=False),
                  "result": lambda t: build_result(infer(engine.program, t[0])),
                  "evaluate": lambda t: engine.evaluate(t[1]),
                  "evaluate_interpreted": lambda t: engine.evaluate(t[1], backend="interpreted")},
                 both, rounds=3 if a.quick else 5)
    ratios = [
        ("inference only (rule outcomes: verdicts, missing and failed criteria; normalised case in)", per["infer"] / per["floor"], "5x for verdicts, levels, criteria"),
        ("inference + deciding (the result as evaluate returns it: verdicts, levels, criteria; texts on demand)", per["decided"] / per["floor"], "5x for verdicts, levels, criteria"),
        ("  inference + deciding, decided fields only (Engine.decide: verdicts, levels, missing, deciding rule; no criteria)", per["decisions"] / per["floor"], ""),
        ("  inference only, every plan compiled", per["infer_compiled"] / per["floor"], ""),
        ("  inference only, interpreted (the reference)", per["infer_interpreted"] / per["floor"], ""),
        ("inference + resolution (the full result: options, explanations, trace, facts)", per["result"] / per["floor"], "10x with explanations"),
        ("evaluate from a decoded dict (validation and normalisation too)", per["evaluate"] / per["floor"], ""),
        ("  evaluate, inference interpreted", per["evaluate_interpreted"] / per["floor"], ""),
    ]
    print("  engine / hand-written floor: " + ", ".join(f"{r:,.0f}x" for _, r, _ in ratios), file=sys.stderr)
    notes.append(f"compiled plans, same cases, same process: inference {per['infer_interpreted'] / per['infer']:.2f}x "
                 f"faster than interpreted ({1 / per['infer_interpreted']:,.0f} -> {1 / per['infer']:,.0f} cases/CPU-s); "
                 f"evaluate {1 / per['evaluate_interpreted']:,.0f} -> {1 / per['evaluate']:,.0f} cases/CPU-s "
                 f"(interpreted -> default)")
    agree = total = 0
    for n in norms[:5000]:
        f = floor(n)
        if not f:
            continue
        res = build_result(infer(engine.program, n))
        got = {o.therapy: o.verdict for o in res.options}
        for t, v in f.items():
            total += 1
            agree += got.get(t) == v
    if total:
        notes.append(f"floor vs engine on {total:,} verdicts the floor gives: {100 * agree / total:.1f}% the same "
                     "(the floor ignores what the engine also weighs: overrides, acquired resistance, EMA rules, withdrawals)")
    durable_ratios: list[tuple[str, float]] = []
    if a.durable:
        try:
            import durable  # noqa: F401
        except ImportError:
            notes.append("durable backend: durable-rules not installed, skipped")
        else:
            print("durable backend ...", file=sys.stderr)
            row("durable backend, generated cases", timed(lambda c: engine.evaluate(c, backend="durable"), generated[: a.durable]))
            durable_ratios = durable_vs_raw(engine, generated[: a.durable], rounds=2 if a.quick else 3)
            print("  durable backend / raw durable-rules: " + ", ".join(f"{r:,.2f}x" for _, r in durable_ratios), file=sys.stderr)

    print("end to end, JSON Lines ...", file=sys.stderr)
    lines = [json.dumps(c, separators=(",", ":")) for c in generated]
    ex_lines = [json.dumps(c) for c in examples]
    for fmt in ("json", "tsv"):
        p = Processor(engine, fmt)
        row(f"JSONL line -> {fmt} line, generated cases", timed(lambda l, p=p: p.record("x:1", l), lines))
    p = Processor(engine, "json", reuse=False)  # (cycled, every record would be reused)
    row("JSONL line -> json line, example cases cycled, every case evaluated", timed(lambda l: p.record("x:1", l), ex_lines, repeat_to=a.cases))
    cohort_notes = _cohort_words(engine, a.cohort, rounds=2 if a.quick else 3) if a.cohort else []

    with tempfile.TemporaryDirectory(prefix="kras-bench-") as tmp:
        big = Path(tmp) / "batch.jsonl"
        gen2 = Generator(engine, a.seed + 1)
        gen2.write_jsonl(big, a.batch)
        batch_rows = []
        pw = run_cli(["--parse-write", str(big)], module=[str(Path(__file__).resolve())])
        batch_rows.append(("parse-and-write floor, same file (decode each line, write it back), 1 core", a.batch, pw))
        print(f"  parse-and-write floor: {a.batch / pw['wall']:,.0f} cases/s", file=sys.stderr)
        for fmt in ("json", "tsv"):
            for j in sorted({1, jobs}):
                r = run_cli(["evaluate", "--format", fmt, "--jobs", str(j), "--no-progress", str(big)])
                batch_rows.append((f"CLI batch, {fmt}, --jobs {j}", a.batch, r))
                print(f"  CLI {fmt} jobs {j}: {a.batch / r['wall']:,.0f} cases/s", file=sys.stderr)
        for f in a.cohort:  # a real cohort on the command line: records reused, and not
            n_cohort = sum(1 for _ in open(f, encoding="utf-8"))
            for flag in ([], ["--no-reuse"]):
                r = run_cli(["evaluate", "--format", "json", "--jobs", "1", "--no-progress", *flag, str(Path(f).resolve())])
                batch_rows.append((f"CLI batch, json, --jobs 1, cohort {Path(f).name}" + (", --no-reuse" if flag else ""), n_cohort, r))
        ceil = None
        if jobs > 1:
            print("  machine ceiling ...", file=sys.stderr)
            ceil = ceiling(engine, big, jobs, min(a.batch, 40_000), rounds=1 if a.quick else 2)
        try:
            import distributed  # noqa: F401
        except ImportError:
            notes.append("Dask: not installed, the --dask run skipped")
        else:  # the same batch on a Dask cluster of this machine's cores (cluster start-up included)
            r = run_cli(["evaluate", "--format", "json", "--dask", f"local:{jobs}", "--no-progress", str(big)])
            batch_rows.append((f"CLI batch, json, --dask local:{jobs} (start-up of the cluster included)", a.batch, r))
            print(f"  CLI json dask local:{jobs}: {a.batch / r['wall']:,.0f} cases/s", file=sys.stderr)
        one, one_cpu, base, base_cpu = start_up(5 if a.quick else 9)
        mem = None
        if a.million:
            print(f"memory run, {a.million:,} cases ...", file=sys.stderr)
            huge = Path(tmp) / "million.jsonl"
            gen3 = Generator(engine, a.seed + 2)
            gen3.write_jsonl(huge, a.million)
            size = huge.stat().st_size
            big.unlink()
            mem = run_cli(["evaluate", "--format", "json", str(huge)], pty_stderr=True)
            mem["size"] = size

    # ------------------------------------------------------------------ report
    md = a.markdown
    out: list[str] = []
    head = ("in-process, one core", "cases", "cases/CPU-s", "cases/s (wall)", "median µs", "p99 µs")
    out += _table(head, rows, md)
    out.append("")
    rh = ("engine / hand-written floor, same cases, same process", "ratio (CPU time per case)", "aim")
    out += _table(rh, [(name, f"{r:,.1f}x", aim) for name, r, aim in ratios], md)
    out.append("")
    if durable_ratios:
        dh = ("durable backend / raw durable-rules, same rules, same facts, same process", "ratio (CPU time per case)", "aim")
        out += _table(dh, [(name, f"{r:,.2f}x", "3x" if i == 0 else "") for i, (name, r) in enumerate(durable_ratios)], md)
        out.append("")
    floor_cpu = batch_rows[0][2]["cpu"]
    bh = ("CLI run", "cases", "wall s", "cases/s (wall)", "CPU s (all processes)", "cases/CPU-s", "x floor (CPU)", "peak RSS (largest process)",
          "steal (machine)")
    brows = [(name, f"{n:,}", f"{r['wall']:.1f}", f"{n / r['wall']:,.0f}", f"{r['cpu']:.1f}", f"{n / max(r['cpu'], 1e-9):,.0f}",
              f"{r['cpu'] / max(floor_cpu, 1e-9):,.1f}x", f"{r['maxrss_mb']:.0f} MB",
              "" if r["steal"] is None else f"{100 * r['steal']:.0f}%") for name, n, r in batch_rows]
    brows.append((f"CLI, one case (median of {len(one)} runs)", "1", f"{statistics.median(one):.2f}", "",
                  f"{statistics.median(one_cpu):.2f}", "", "", "", ""))
    brows.append(("`python -c \"import pydantic\"`, the same runs taking turns", "", f"{statistics.median(base):.2f}", "",
                  f"{statistics.median(base_cpu):.2f}", "", "", "", ""))
    out += _table(bh, brows, md)
    out.append("")
    by_name = {name: r for name, _, r in batch_rows}
    scaling = []
    for fmt in ("json", "tsv"):
        one_job, all_jobs = by_name.get(f"CLI batch, {fmt}, --jobs 1"), by_name.get(f"CLI batch, {fmt}, --jobs {jobs}")
        if jobs > 1 and one_job and all_jobs:
            steal = "" if all_jobs["steal"] is None else f", the machine's steal time {100 * all_jobs['steal']:.0f}%"
            scaling.append(f"{fmt} {one_job['wall'] / all_jobs['wall']:.2f}x (CPU of all processes "
                           f"{all_jobs['cpu'] / max(one_job['cpu'], 1e-9):.2f}x that of one{steal})")
    if scaling:
        out.append(f"--jobs {jobs} over --jobs 1, wall time: " + "; ".join(scaling) + " (aim: 1.8x for json)")
        out.append("")
    if ceil is not None:
        out.append(_ceiling_words(ceil, jobs))
        out.append("")
    for text in cohort_notes:
        out += [f"Reused records, {text}.", ""] if md else [f"Reused records, {text}."]
    out.append(f"CLI one case / `import pydantic`, run by run (median of the ratios): "
               f"{statistics.median(o / b for o, b in zip(one, base, strict=True)):.2f}x wall, "
               f"{statistics.median(o / b for o, b in zip(one_cpu, base_cpu, strict=True)):.2f}x CPU (aim: at most 3x)")
    if mem:
        out.append("")
        out.append(
            f"Memory: {a.million:,} generated cases ({mem['size'] / 1e6:,.0f} MB of JSON Lines) streamed through "
            f"`evaluate --format json` on {jobs} cores in {mem['wall']:.0f} s ({a.million / mem['wall']:,.0f} cases/s), exit {mem['code']}: "
            f"peak RSS of the largest process {mem['maxrss_mb']:.0f} MB (getrusage); whole process tree (PSS, sampled "
            f"every 0.25 s) at most {mem['tree_first_mb']:.0f} MB from 10% to 50% of the run and {mem['tree_second_mb']:.0f} MB "
            f"in its second half"
            + (" (flat: the second half needs no more than the first)." if mem["tree_second_mb"] <= 1.1 * mem["tree_first_mb"]
               else f" (grew by {mem['tree_second_mb'] - mem['tree_first_mb']:.0f} MB; for a short run this is start-up).")
        )
        if mem["progress"]:
            out += ["", f"Last progress line drawn on the terminal: `{mem['progress']}`"]
    out.append("")
    out.append(f"Machine: {platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
               f"{jobs} cores, load average {load:.1f} at the start of the run"
               + (" (other work shared the cores: compare the CPU figures)" if load > 0.5 else "") + f"; seed {a.seed}.")
    for n in notes:
        out += ["", f"Note: {n}."] if md else [f"Note: {n}."]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
