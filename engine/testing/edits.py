"""Edits of a case dict for writing properties: another date, data removed (unknown, never
false), the values removed data could have had, lists shuffled.
"""
from __future__ import annotations

import datetime as dt
import random as _random
from typing import Any
from collections.abc import Mapping

from engine.testing.domain import FIELDS, REDUCTIONS, STAGES, Pattern, _hit_texts, _resolves, _rulebase, domain


def at_date(case: Mapping[str, Any], day: dt.date | str) -> dict:
    """A copy of ``case`` evaluated at another date."""
    out = dict(case)
    out["as_of"] = day.isoformat() if isinstance(day, dt.date) else day
    return out


def reduce_case(case: Mapping[str, Any], what: str) -> dict:
    """A copy of ``case`` with one kind of data removed (one of :data:`REDUCTIONS`): the
    prior-therapy history, the list of tested genes, the stage or the germline-testing flag.
    Germline alterations are dropped with the germline flag (they imply germline testing)."""
    out = {k: v for k, v in case.items()}
    if what == "history":
        out.pop("prior_therapies", None)
    elif what == "tested_genes":
        out.pop("tested_genes", None)
    elif what == "stage":
        out.pop("stage", None)
    elif what == "germline_tested":
        out.pop("germline_tested", None)
        out["alterations"] = [a for a in case.get("alterations") or () if a.get("origin") != "germline"]
    elif what in REDUCTIONS:  # a scalar field of FIELDS
        out.pop(what, None)
    else:
        raise ValueError(f"unknown reduction '{what}' (one of {', '.join(REDUCTIONS)})")
    return out


def untest_gene(engine: Any, case: Mapping[str, Any], gene: str) -> dict:
    """A copy of ``case`` in which ``gene`` was not tested: its somatic alterations and its
    place in ``tested_genes`` removed (germline findings and fusion partners stay)."""
    vocab = _rulebase(engine).vocab
    target = vocab.gene(gene)
    out = dict(case)
    out["alterations"] = [
        a for a in case.get("alterations") or ()
        if a.get("origin") == "germline" or _resolves(vocab.gene, a["gene"]) != target
    ]
    if case.get("tested_genes") is not None:
        out["tested_genes"] = [g for g in case["tested_genes"] if _resolves(vocab.gene, g) != target]
    return out


def case_genes(engine: Any, case: Mapping[str, Any]) -> tuple[str, ...]:
    """The genes a case says something about (tested, or carrying a somatic alteration), as
    HGNC symbols."""
    vocab = _rulebase(engine).vocab
    names = list(case.get("tested_genes") or ())
    names += [a["gene"] for a in case.get("alterations") or () if a.get("origin") != "germline"]
    return tuple(sorted({g for g in (_resolves(vocab.gene, n) for n in names) if g}))


def completions(engine: Any, case: Mapping[str, Any], what: str, rule_id: str | None = None,
                gene: str | None = None) -> list[tuple[str, dict]]:
    """Cases that put back data ``case`` lacks, each with a label: for ``what`` one of
    :data:`REDUCTIONS` or ``"gene"`` (with ``gene``: that gene's test result). The values come
    from the rule ``rule_id`` and the facts it rests on (every rule when None): each stage; no
    prior therapy and histories meeting each history criterion; each gene tested wild-type and
    each alteration pattern present; germline testing done, not done, and each germline finding.

    A rule whose verdict holds while some data is unknown must hold for each completion (Kleene
    logic is monotone): use this to check that a rule does not decide on data it does not have.
    An alteration the rules read only under ``unmet`` (whether one was found: an untested gene
    counts as none) is not put back: finding it is new information the verdict may turn on.
    """
    d = domain(engine)
    hoods = [d.neighbourhood(rule_id)] if rule_id else [d.neighbourhood(r) for r in d.live_rules]
    patterns = [p for p in dict.fromkeys(p for n in hoods for p, _ in n.patterns)
                if not all(p in n.found_only for n in hoods if any(p == q for q, _ in n.patterns))]
    base = dict(case)
    out: list[tuple[str, dict]] = []

    def hit(p: Pattern) -> dict:
        alt: dict[str, Any] = {"gene": p.gene, "variant": _hit_texts(d, p)[0]}
        if p.origin:
            alt["origin"] = p.origin
        if p.acquired is not None:
            alt["acquired"] = p.acquired
        if p.partner and d.vocab.variant(p.gene, alt["variant"]).kind == "fusion":
            alt["partner"] = p.partner
        return alt

    def with_alt(p: Pattern, extra: Mapping[str, Any] | None = None) -> tuple[str, dict]:
        alt = hit(p)
        filled = {**base, **(extra or {}), "alterations": list(base.get("alterations") or []) + [alt]}
        if alt.get("origin") == "germline" and filled.get("germline_tested") is False:
            filled["germline_tested"] = True
        return f"{p.gene} {alt['variant']}" + (" (germline)" if alt.get("origin") == "germline" else ""), filled

    if what == "stage":
        out += [(f"stage {s}", {**base, "stage": s}) for s in STAGES]
    elif what == "history":
        out.append(("no prior therapy", {**base, "prior_therapies": []}))
        for n in hoods:
            for spec in n.history:
                classes = sorted(spec.classes)
                drugs = [d.class_members[c][0] for c in classes if d.class_members.get(c)] + sorted(spec.drugs)
                line: dict[str, Any] = {"drugs": drugs or [d.all_drugs[0]]}
                if spec.settings:
                    line["setting"] = sorted(spec.settings)[0]
                if spec.outcomes:
                    line["outcome"] = sorted(spec.outcomes)[0]
                if spec.min_weeks is not None:
                    line["weeks"] = spec.min_weeks
                count = max(spec.meets or 1, 1)
                out.append((f"history {line}" + (f" x{count}" if count > 1 else ""),
                            {**base, "prior_therapies": [dict(line) for _ in range(count)]}))
    elif what == "tested_genes":
        known = set(case_genes(engine, base))
        genes = sorted({p.gene for p in patterns if p.origin != "germline"})
        out.append((f"{', '.join(genes) or 'no gene'} tested wild-type", {**base, "tested_genes": genes}))
        out += [with_alt(p) for p in patterns if p.origin != "germline" and p.gene not in known]
    elif what == "gene":
        if gene is None:
            raise ValueError("completions(..., 'gene') needs the gene")
        gene = d.vocab.gene(gene)
        tested = list(base.get("tested_genes") or []) + [gene]
        out.append((f"{gene} tested wild-type", {**base, "tested_genes": tested}))
        out += [with_alt(p) for p in patterns if p.gene == gene and p.origin != "germline"]
    elif what == "germline_tested":
        out += [("germline testing done", {**base, "germline_tested": True}),
                ("no germline testing", {**base, "germline_tested": False})]
        out += [with_alt(p, {"germline_tested": True}) for p in patterns if p.origin == "germline"]
    elif what in REDUCTIONS:  # a scalar field of FIELDS: each value
        fd = next(f for f in FIELDS if f.field == what)
        out += [(f"{fd.name}: {v}", {**base, what: v}) for v in fd.values if v is not None]
    else:
        raise ValueError(f"unknown kind of data '{what}' (one of {', '.join(REDUCTIONS)}, gene)")
    return out


def shuffle_case(case: Mapping[str, Any], rnd: _random.Random) -> dict:
    """A copy of ``case`` with every list in another order (alterations, tested genes and the
    drugs of each prior line) and the keys of every object in another order. The prior lines keep
    their order: it is chronological, and "first line" depends on it."""

    def mix(value, keep_order=False):
        if isinstance(value, dict):
            items = list(value.items())
            rnd.shuffle(items)
            return {k: mix(v, keep_order=(k == "prior_therapies")) for k, v in items}
        if isinstance(value, list):
            items = [mix(v) for v in value]
            if not keep_order:
                rnd.shuffle(items)
            return items
        return value

    return mix(dict(case))

