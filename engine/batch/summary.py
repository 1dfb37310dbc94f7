"""The per-cohort summary of a batch (``kras-rules evaluate --summary``), printed to stderr.

A cohort is one input file (``<stdin>`` for standard input). For each cohort the summary counts the
cases by cancer type, the verdicts per therapy, the errors (by message), and the alterations that
no rule knows: those whose gene and variant match no ``alteration`` pattern of the compiled rule
base (derived from the rules, so a new rule changes the list without a code change).

Summaries merge (:meth:`Summary.merge`), so worker processes can each count their share.

>>> s = Summary(engine)                        # doctest: +SKIP
>>> s.add(result, None, case=normal_case, cohort="cohort.jsonl")    # doctest: +SKIP
>>> print(s.render())                          # doctest: +SKIP
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Iterable

from engine.conditions import KINDS
from engine.semantics import LISTED as VERDICTS  # noqa: E402  (the order options are listed in)
_TOTAL = "all cohorts"


class KnownVariants:
    """Which alterations some rule's ``alteration`` pattern can match (cached per alteration); each
    condition kind says which alterations a leaf of it could be about (its ``may_match``)."""

    def __init__(self, program):
        # (kind key, atom key): plain data, picklable as the atoms' keys are
        self.patterns = [(a.kind, a.key) for a in program.atoms if KINDS[a.kind].may_match is not None]
        self.genes = {g for kind, key in self.patterns if (g := KINDS[kind].named(key).gene) is not None}
        self._cache: dict[tuple, bool] = {}

    def known(self, alt) -> bool:
        key = (alt.gene, alt.kind, alt.label, alt.codon)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._match(alt)
        return hit

    def _match(self, alt) -> bool:
        if alt.gene not in self.genes:
            return False
        return any(KINDS[kind].could_match(key, alt) for kind, key in self.patterns)


@dataclass
class Cohort:
    cases: int = 0
    errors: int = 0
    cancer_types: Counter = field(default_factory=Counter)
    jurisdictions: Counter = field(default_factory=Counter)  # the regulator whose approvals applied -> cases
    verdicts: dict[str, Counter] = field(default_factory=dict)  # therapy -> verdict -> count
    unknown_variants: Counter = field(default_factory=Counter)  # "GENE label" -> cases
    error_messages: Counter = field(default_factory=Counter)

    def merge(self, other: Cohort) -> None:
        self.cases += other.cases
        self.errors += other.errors
        self.cancer_types.update(other.cancer_types)
        self.jurisdictions.update(other.jurisdictions)
        for t, c in other.verdicts.items():
            self.verdicts.setdefault(t, Counter()).update(c)
        self.unknown_variants.update(other.unknown_variants)
        self.error_messages.update(other.error_messages)


def cohort_of(source: str) -> str:
    """The input a record came from: ``f.jsonl:12`` -> ``f.jsonl``, ``f.json[3]`` -> ``f.json``."""
    if source.endswith("]"):
        i = source.rfind("[")
        if i > 0:
            return source[:i]
    head, sep, tail = source.rpartition(":")
    if sep and tail.isdigit():
        return head
    return source


class Summary:
    """Counts per cohort; ``engine`` (optional) enables the list of variants no rule knows."""

    def __init__(self, engine=None):
        self.cohorts: dict[str, Cohort] = {}
        self._known = KnownVariants(engine.program) if engine is not None else None

    def __getstate__(self):  # workers send their counts back; the matcher stays behind
        return {"cohorts": self.cohorts}

    def __setstate__(self, state):
        self.cohorts = state["cohorts"]
        self._known = None

    def add(self, result, error_record: dict | None = None, *, case=None, cohort: str | None = None) -> None:
        """Count one output record: a result, or an error record (``result`` is then None)."""
        if cohort is None:
            cohort = cohort_of(error_record["source"]) if error_record and error_record.get("source") else "input"
        c = self.cohorts.get(cohort)
        if c is None:
            c = self.cohorts[cohort] = Cohort()
        c.cases += 1
        if result is None:
            c.errors += 1
            for e in (error_record or {}).get("error", ()):
                c.error_messages[(f"{e['path']}: " if e.get("path") else "") + e["message"]] += 1
            return
        self._count(c, result.cancer_type, [(o.therapy, o.verdict) for o in result.options], case)

    def add_counts(self, cancer_type: str, verdicts: Iterable[tuple[str, str]], *, case=None, cohort: str = "input") -> None:
        """Count one evaluated case from its cancer type and (therapy, verdict) pairs."""
        c = self.cohorts.get(cohort)
        if c is None:
            c = self.cohorts[cohort] = Cohort()
        c.cases += 1
        self._count(c, cancer_type, verdicts, case)

    def _count(self, c: Cohort, cancer_type: str, verdicts: Iterable[tuple[str, str]], case) -> None:
        c.cancer_types[cancer_type] += 1
        if case is not None:
            c.jurisdictions[case.jurisdiction] += 1
        for therapy, verdict in verdicts:
            v = c.verdicts.get(therapy)
            if v is None:
                v = c.verdicts[therapy] = Counter()
            v[verdict] += 1
        if case is not None and self._known is not None:
            seen = set()
            # one fusion written from each partner's side (a cBioPortal fusion file has a row per
            # gene): known from one side, it is known (EML4 with ALK is the ALK fusion the rules read)
            fused = {(a.gene, a.partner) for a in case.alterations if a.kind == "fusion" and a.partner
                     and self._known.known(a)}
            for alt in case.alterations:
                if not self._known.known(alt) and (alt.partner, alt.gene) not in fused:
                    name = f"{alt.gene} {alt.label}"
                    if name not in seen:
                        seen.add(name)
                        c.unknown_variants[name] += 1

    def merge(self, other: Summary) -> Summary:
        for name, c in other.cohorts.items():
            mine = self.cohorts.get(name)
            if mine is None:
                mine = self.cohorts[name] = Cohort()
            mine.merge(c)
        return self

    def total(self) -> Cohort:
        t = Cohort()
        for c in self.cohorts.values():
            t.merge(c)
        return t

    def render(self, *, top: int = 20) -> str:
        """The summary as a plain-text table (one section per cohort, then the total)."""
        sections = [(name, self.cohorts[name]) for name in self.cohorts]
        if len(sections) > 1:
            sections.append((_TOTAL, self.total()))
        if not sections:
            return "Summary: no cases."
        return "\n\n".join(_render_cohort(name, c, top) for name, c in sections)


def _table(headers: list[str], rows: Iterable[list[str]], indent: str = "    ") -> list[str]:
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = []
    for r in [headers] + rows:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r))]
        out.append(indent + "  ".join(cells).rstrip())
    return out


def _render_cohort(name: str, c: Cohort, top: int) -> str:
    ok = c.cases - c.errors
    lines = [f"Summary of {name}: {c.cases:,} case{'s' if c.cases != 1 else ''}, {ok:,} evaluated, {c.errors:,} error{'s' if c.errors != 1 else ''}"]
    if c.jurisdictions:  # the verdicts and levels below are those of these regulators' approvals
        lines.append("  Evaluated under the approvals of: " + ", ".join(
            f"{j} ({n:,} case{'s' if n != 1 else ''})" for j, n in sorted(c.jurisdictions.items(), key=lambda kv: (-kv[1], kv[0]))))
    if c.cancer_types:
        lines.append("  Cases by cancer type:")
        ranked = sorted(c.cancer_types.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = [[code, f"{n:,}", f"{100 * n / ok:.1f}%"] for code, n in ranked[:top]]
        rest = ranked[top:]
        if rest:
            n = sum(k for _, k in rest)
            rows.append([f"{len(rest):,} other types", f"{n:,}", f"{100 * n / ok:.1f}%"])
        lines += _table(["cancer type", "cases", "share"], rows)
    if c.verdicts:
        lines.append("  Verdicts per therapy (cases):")
        rows = []
        for t in sorted(c.verdicts, key=lambda t: (-sum(c.verdicts[t].values()), t)):
            v = c.verdicts[t]
            rows.append([t] + [f"{v[x]:,}" if v[x] else "-" for x in VERDICTS])
        lines += _table(["therapy"] + list(VERDICTS), rows)
    if c.unknown_variants:
        lines.append(f"  Variants no rule knows ({len(c.unknown_variants):,} distinct; cases):")
        rows = [[v, f"{n:,}"] for v, n in sorted(c.unknown_variants.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
        lines += _table(["variant", "cases"], rows)
        if len(c.unknown_variants) > top:
            lines.append(f"    ... and {len(c.unknown_variants) - top:,} more")
    if c.error_messages:
        lines.append(f"  Errors ({len(c.error_messages):,} distinct messages):")
        rows = [[m[:90], f"{n:,}"] for m, n in sorted(c.error_messages.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
        lines += _table(["message", "count"], rows)
        if len(c.error_messages) > top:
            lines.append(f"    ... and {len(c.error_messages) - top:,} more")
    return "\n".join(lines)
