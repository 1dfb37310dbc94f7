"""Mutation score per module, from the results of the last `mutmut run` (see bench/mutation.md).

    python bench/mutation_score.py            # table of killed / survived / no tests / not checked
    python bench/mutation_score.py --survived # also list the surviving mutants

Score = killed (including timeouts) / mutants checked, where "no tests" counts as checked and
not killed (no test in the fast selection reaches the code).
"""
from __future__ import annotations

import collections
import re
import subprocess
import sys

KILLED = {"killed", "timeout", "caught by type check"}


def results() -> list[tuple[str, str]]:
    try:
        out = subprocess.run(["mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        sys.exit("mutation_score: mutmut is not installed: pip install -e '.[dev]'")
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+): (.+)$", line)
        if m:
            rows.append((m.group(1), m.group(2).strip()))
    return rows


def module_of(name: str) -> str:
    return name.split(".x_")[0].split(".xǁ")[0]


def main() -> None:
    rows = results()
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, status in rows:
        table[module_of(name)][status] += 1
    print("| module | mutants | killed | survived | no tests | not checked | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mod in sorted(table):
        c = table[mod]
        killed = sum(c[s] for s in KILLED)
        checked = sum(c.values()) - c["not checked"]
        score = f"{100 * killed / checked:.1f}%" if checked else "-"
        print(f"| {mod} | {sum(c.values())} | {killed} | {c['survived']} | {c['no tests']} | {c['not checked']} | {score} |")
    if "--survived" in sys.argv:
        for name, status in rows:
            if status in ("survived", "no tests"):
                print(f"{status}: {name}")


if __name__ == "__main__":
    main()
