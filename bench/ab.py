"""``evaluate`` speed of this tree against an earlier commit, side by side in one run:
``python bench/ab.py --before COMMIT``.

The earlier commit's files are extracted (``git archive``) to a temporary folder; both trees then
evaluate the same inputs (the example cases of this tree and seeded generated cases from
``bench/bench.py``'s generator) in alternating subprocesses, so that a shared machine's load falls
on both alike; time is the process's CPU time (``time.process_time``), which other processes on a
shared machine disturb far less than wall time. Each figure is the best of the rounds (cases/s of
CPU time, one core). Not a test.

``--modes`` picks what is timed per case: ``evaluate`` (the result as ``Engine.evaluate`` returns
it: in a tree with explanations on demand, the decided fields only), ``explain`` (also every text:
``result.explain()`` where the tree has it, which an eager tree has already done) and ``json``
(also ``result.to_json()``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
from engine.api import Engine
cases = [json.loads(l) for l in open(sys.argv[1])]
engine = Engine()
mode = sys.argv[3]
def run(c):
    r = engine.evaluate(c)
    if mode == "explain":
        if "explain" in type(r).__dict__ or hasattr(type(r), "explain"):
            r.explain()
    elif mode == "json":
        r.to_json()
for c in cases[:200]:
    run(c)
best = 0.0
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    for c in cases:
        run(c)
    best = max(best, len(cases) / (time.process_time() - t))
print(best)
"""


_ACCEPTED = r"""
import json, sys
from engine.api import Engine
engine = Engine()
for line in open(sys.argv[1]):
    try:
        engine.evaluate(json.loads(line))
    except Exception:  # a case this tree's format does not know (a field added later): left out
        continue
    sys.stdout.write(line)
"""


def accepted(tree: Path, inputs: Path) -> int:
    """Keep in ``inputs`` only the cases ``tree`` evaluates (an earlier tree may refuse a field
    added since), so both trees time the same cases; returns how many were left out."""
    env = {**os.environ, "PYTHONPATH": str(tree), "KRAS_RULES_CACHE": "off"}
    kept = subprocess.run([sys.executable, "-c", _ACCEPTED, str(inputs)], env=env, cwd=tree,
                          capture_output=True, text=True, check=True).stdout
    total = sum(1 for _ in inputs.open())
    inputs.write_text(kept)
    return total - kept.count("\n")


def measure(tree: Path, inputs: Path, rounds: int, mode: str = "evaluate") -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "KRAS_RULES_CACHE": "off"}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(inputs), str(rounds), mode], env=env, cwd=tree,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", required=True, help="the commit (e.g. main) or the folder of a tree to compare with")
    ap.add_argument("--cases", type=int, default=5000, help="generated cases")
    ap.add_argument("--rounds", type=int, default=3, help="timed passes per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="alternating measurements per tree")
    ap.add_argument("--modes", default="evaluate", help="what to time per case, comma-separated: evaluate, explain, json")
    ap.add_argument("--examples", type=int, default=20, help="passes over the example cases")
    a = ap.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    from bench import Generator  # noqa: E402

    from engine.api import Engine

    with tempfile.TemporaryDirectory(prefix="kras-rules-ab-") as tmp:
        if Path(a.before).is_dir():  # a folder holding another tree
            before = Path(a.before).resolve()
        else:
            before = Path(tmp) / "before"
            before.mkdir()
            archive = subprocess.run(["git", "archive", a.before], cwd=REPO, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        examples = Path(tmp) / "examples.jsonl"
        generated = Path(tmp) / "generated.jsonl"
        examples.write_text("".join(json.dumps(json.loads(p.read_text())) + "\n" for p in sorted((REPO / "cases").glob("*.json"))) * a.examples)
        gen = Generator(Engine(), 2026)
        generated.write_text("".join(json.dumps(gen.case(i)) + "\n" for i in range(a.cases)))
        dropped = {p.name: accepted(before, p) for p in (examples, generated)}
        rows = []
        modes = [m.strip() for m in a.modes.split(",") if m.strip()]
        for label, inputs in ((f"example cases (x{a.examples})", examples), (f"{a.cases} generated cases", generated)):
            figs: dict[tuple[str, str], list[float]] = {}
            for _ in range(a.repeat):
                for mode in modes:
                    for side, tree in (("before", before), ("after", REPO)):
                        figs.setdefault((side, mode), []).append(measure(tree, inputs, a.rounds, mode))
            for mode in modes:
                b, t = max(figs[("before", mode)]), max(figs[("after", mode)])
                rows.append((f"{label}, {mode}", b, t, t / b))
    print(f"one core, best of {a.repeat}x{a.rounds} passes; before = {a.before}, after = this tree")
    if any(dropped.values()):
        print("left out (the earlier tree refuses them): " + ", ".join(f"{n} {k}" for k, n in dropped.items()))
    print(f"{'inputs, timed':44} {'before cases/s':>15} {'after cases/s':>15} {'after/before':>13}")
    for label, b, t, r in rows:
        print(f"{label:44} {b:15,.0f} {t:15,.0f} {r:13.2f}")


if __name__ == "__main__":
    main()
