"""``evaluate`` speed of this tree against an earlier commit, side by side in one run:
``python bench/ab.py --before COMMIT``.

The earlier commit's files are extracted (``git archive``) to a temporary folder; both trees then
evaluate the same inputs (the example cases of this tree and seeded generated cases from
``bench/bench.py``'s generator) in alternating subprocesses, so that a shared machine's load falls
on both alike; time is the process's CPU time (``time.process_time``), which other processes on a
shared machine disturb far less than wall time. Each figure is the best of the rounds (cases/s of
CPU time, one core). Not a test.
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
for c in cases[:200]:
    engine.evaluate(c)
best = 0.0
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    for c in cases:
        engine.evaluate(c)
    best = max(best, len(cases) / (time.process_time() - t))
print(best)
"""


def measure(tree: Path, inputs: Path, rounds: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "KRAS_RULES_CACHE": "off"}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(inputs), str(rounds)], env=env, cwd=tree,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", required=True, help="the commit (e.g. main) or the folder of a tree to compare with")
    ap.add_argument("--cases", type=int, default=5000, help="generated cases")
    ap.add_argument("--rounds", type=int, default=3, help="timed passes per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="alternating measurements per tree")
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
        examples.write_text("".join(json.dumps(json.loads(p.read_text())) + "\n" for p in sorted((REPO / "cases").glob("*.json"))) * 20)
        gen = Generator(Engine(), 2026)
        generated.write_text("".join(json.dumps(gen.case(i)) + "\n" for i in range(a.cases)))
        rows = []
        for label, inputs in (("example cases (x20)", examples), (f"{a.cases} generated cases", generated)):
            figs = {"before": [], "after": []}
            for _ in range(a.repeat):
                figs["before"].append(measure(before, inputs, a.rounds))
                figs["after"].append(measure(REPO, inputs, a.rounds))
            b, t = max(figs["before"]), max(figs["after"])
            rows.append((label, b, t, t / b))
    print(f"evaluate, one core, best of {a.repeat}x{a.rounds} passes; before = {a.before}, after = this tree")
    print(f"{'inputs':28} {'before cases/s':>15} {'after cases/s':>15} {'after/before':>13}")
    for label, b, t, r in rows:
        print(f"{label:28} {b:15,.0f} {t:15,.0f} {r:13.2f}")


if __name__ == "__main__":
    main()
