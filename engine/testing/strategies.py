"""Hypothesis strategies of valid cases: varied ones (:func:`cases`), their parts, and cases on
the edges of a rule (:func:`boundary_cases`, :func:`rule_cases`).
"""
from __future__ import annotations

import datetime as dt
import string
from typing import Any
from collections.abc import Callable, Iterable, Sequence

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("engine.testing needs hypothesis: pip install 'kras-rules[test]'") from exc

from engine.testing.domain import (
    AA,
    FIELDS,
    KINDS,
    OUTCOMES,
    SETTINGS,
    STAGES,
    Domain,
    HistorySpec,
    Neighbourhood,
    _hit_texts,
    _miss_texts,
    _protein_ref,
    _resolves,
    _valid_variant,
    domain,
)


# --------------------------------------------------------------------------- drawing
#
# Generators are plain functions of hypothesis' ``draw``: choices are drawn as indices (integers
# strategies are cached by hypothesis), so no strategy object is built per example. Lists put the
# simplest choice first, since hypothesis shrinks an index towards 0.


def _pick(draw, seq: Sequence[Any]) -> Any:
    if not seq:
        raise ValueError("nothing to choose from")
    return seq[draw(st.integers(0, len(seq) - 1))] if len(seq) > 1 else seq[0]


def _chance(draw, one_in: int) -> bool:
    return draw(st.integers(0, one_in - 1)) == 0


def _weighted(draw, *options: tuple[int, Callable[[], Any]]) -> Any:
    """Call one of the thunks, chosen with the given weights."""
    live = [(w, f) for w, f in options if w > 0]
    total = sum(w for w, _ in live)
    k = draw(st.integers(0, total - 1))
    for w, f in live:
        if k < w:
            return f()
        k -= w
    raise AssertionError("unreachable")


def _some(draw, lo: int, hi: int, make: Callable[[], Any]) -> list:
    return [make() for _ in range(draw(st.integers(lo, hi)))]


def _cancer_text(draw, d: Domain) -> str:
    near = d.near_codes or d.all_codes
    return _weighted(
        draw,
        (4, lambda: _pick(draw, near)),
        (2, lambda: _pick(draw, d.all_codes)),
        (2, lambda: _pick(draw, d.names)[0]),
        (1, lambda: _pick(draw, near).lower()),
    )


def _gene_text(draw, d: Domain, gene: str) -> str:
    spellings = d.gene_spellings.get(gene, (gene,))
    return gene if len(spellings) == 1 or draw(st.integers(0, 4)) else _pick(draw, spellings)


def _random_missense(draw, d: Domain, gene: str) -> str:
    residues, length = _protein_ref(d.vocab, gene)
    positions = d.positions.get(gene)
    if positions and draw(st.booleans()):
        pos = _pick(draw, positions)
    else:
        pos = draw(st.integers(1, length or 1200))
    ref = residues.get(pos) or _pick(draw, AA)
    alt = _pick(draw, [a for a in AA if a != ref])
    text = f"{ref}{pos}{alt}"
    if _valid_variant(d.vocab, gene, text) is None:
        return _pick(draw, d.kind_words["mutation"])  # a residue the reference data contradict
    return text


def _kind_word(draw, d: Domain, kinds: Sequence[str] = KINDS) -> str:
    return _pick(draw, d.kind_words[_pick(draw, kinds)])


def _variant_text(draw, d: Domain, gene: str) -> str:
    named, codons, recurrent = d.named_variants.get(gene), d.rule_codons.get(gene), d.recurrent.get(gene)
    return _weighted(
        draw,
        (4 if named else 0, lambda: _pick(draw, named or ())),  # (each thunk runs only if its weight is not 0)
        (3 if codons else 0, lambda: _pick(draw, d.codon_variants[(gene, _pick(draw, codons or ()))])),
        (2 if recurrent else 0, lambda: _pick(draw, recurrent or ())),
        (2, lambda: _kind_word(draw, d)),
        (1, lambda: _random_missense(draw, d, gene)),
    )


def _gene(draw, d: Domain) -> str:
    if d.rule_genes and draw(st.integers(0, 3)):
        return _pick(draw, d.rule_genes)
    return _pick(draw, d.genes)


_ORIGINS = (None, None, None, None, "somatic", "germline")
_ACQUIRED = (None, None, None, False, True)
_CLASSIFICATIONS = (None, None, None, "pathogenic", "likely_pathogenic", "uncertain_significance", "likely_benign", "benign")


def _alteration(draw, d: Domain, gene: str | None = None, text: str | None = None,
                origin: str | None = None, acquired: bool | None = None, partner: str | None = None,
                free: bool = True, classification: str | None = None) -> dict:
    """One alteration; with ``free`` the unset origin / acquired flags (and a germline one's
    classification) are drawn too."""
    gene = gene or _gene(draw, d)
    text = text or _variant_text(draw, d, gene)
    alt: dict[str, Any] = {"gene": _gene_text(draw, d, gene), "variant": text}
    if origin is None and free:
        origin = _pick(draw, _ORIGINS)
    if origin is not None:
        alt["origin"] = origin
    if acquired is None and free:
        acquired = _pick(draw, _ACQUIRED)
    if acquired is not None:
        alt["acquired"] = acquired
    if classification is None and free and origin == "germline":
        classification = _pick(draw, _CLASSIFICATIONS)
    if classification is not None:
        alt["classification"] = classification
    if d.vocab.variant(gene, text).kind == "fusion":
        if partner is None and free and draw(st.booleans()):
            partner = _pick(draw, d.rule_genes or d.genes)
        if partner is not None:
            alt["partner"] = _gene_text(draw, d, partner)
    return alt


def _drug_text(draw, d: Domain, drug: str) -> str:
    names = d.drug_names.get(drug, (drug,))
    return drug if len(names) == 1 or draw(st.integers(0, 2)) == 0 else _pick(draw, names)


def _any_drug(draw, d: Domain) -> str:
    if d.rule_drugs and draw(st.integers(0, 3)):
        return _pick(draw, d.rule_drugs)
    return _pick(draw, d.all_drugs)


def _line(draw, d: Domain, drugs: Iterable[str] | None = None, regimen: str | None = None,
          spec: HistorySpec | None = None, meet: bool = False) -> dict:
    """One prior-therapy line; near what ``spec`` asks (setting, outcome, weeks), or meeting it."""
    line: dict[str, Any] = {}
    if drugs is None and regimen is None:
        # now and then a line whose drugs are not given (neither drugs nor regimen)
        form = "open" if _chance(draw, 12) else _pick(draw, ("drugs", "drugs", "regimen", "both") if d.regimens else ("drugs",))
        if form in ("regimen", "both"):
            regimen = _pick(draw, d.regimens)
        if form in ("drugs", "both"):
            drugs = list(dict.fromkeys(_some(draw, 1, 3, lambda: _any_drug(draw, d))))
    if regimen is not None:
        line["regimen"] = regimen if draw(st.integers(0, 3)) else regimen.lower()
    if drugs:
        texts = [_drug_text(draw, d, x) for x in drugs]
        if len(texts) > 1 and _chance(draw, 6):
            joined = " + ".join(texts)  # one entry naming a combination, where the vocabulary reads it so
            if _resolves(d.vocab.therapy_word, joined) == tuple(sorted(set(drugs))):
                texts = [joined]
        line["drugs"] = texts
    settings = tuple(sorted(spec.settings)) if spec and spec.settings else ()
    outcomes = tuple(sorted(spec.outcomes)) if spec and spec.outcomes else ()
    min_weeks = spec.min_weeks if spec else None
    setting = _pick(draw, settings if meet and settings else (None, None, *settings, *settings, *SETTINGS))
    if setting is not None:
        line["setting"] = setting
    outcome = _pick(draw, outcomes if meet and outcomes else (None, None, *outcomes, *outcomes, *OUTCOMES))
    if outcome is not None:
        line["outcome"] = outcome
    near: list[int | str | None]
    if meet and min_weeks is not None:
        near = [min_weeks, min_weeks + 1, min_weeks + 52]
    else:
        near = [None, None, *[min_weeks + k for k in (0, -1, 1) if min_weeks + k >= 0], "any"] if min_weeks is not None \
            else [None, None, "any"]
    weeks = _pick(draw, near)
    if weeks == "any":
        weeks = draw(st.integers(0, 200)) if draw(st.booleans()) else round(draw(st.floats(0, 1000)), 1)
    if weeks is not None:
        line["weeks"] = weeks
    return line


def _date(draw, d: Domain, near: Sequence[dt.date] = ()) -> str:
    day = _weighted(
        draw,
        (6 if near else 0, lambda: _pick(draw, near)),
        (3, lambda: _pick(draw, d.dates)),
        (2, lambda: draw(st.dates(d.first_date, d.last_date))),
    )
    return day.isoformat()


def _jurisdiction(draw, d: Domain, own: str | None = None) -> str | None:
    options = [None, None] + ([own.upper()] * 2 if own else []) + list(d.jurisdictions)
    j = _pick(draw, options)
    return j if j is None or draw(st.integers(0, 3)) else j.lower()


_ID = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)


def _case_draw(draw, d: Domain) -> dict:
    case: dict[str, Any] = {"cancer_type": _cancer_text(draw, d)}
    if draw(st.booleans()):
        case["id"] = draw(_ID)
    alts = _some(draw, 0, 4, lambda: _alteration(draw, d))
    if alts or draw(st.booleans()):
        case["alterations"] = alts
    tested = _pick(draw, ("absent", "absent", "altered", "rules", "random"))
    if tested != "absent":
        genes = {a["gene"] for a in alts} if tested == "altered" else set()
        if tested == "rules" and d.rule_genes:
            genes |= set(_some(draw, 0, len(d.rule_genes), lambda: _pick(draw, d.rule_genes)))
        if tested == "random":
            genes |= set(_some(draw, 0, 6, lambda: _gene(draw, d)))
        case["tested_genes"] = sorted(genes)
    germline_alt = any(a.get("origin") == "germline" for a in alts)
    g = _pick(draw, (None, True) if germline_alt else (None, True, False))
    if g is not None:
        case["germline_tested"] = g
    history = _pick(draw, ("unknown", "naive", "lines", "lines", "lines"))
    if history == "naive":
        case["prior_therapies"] = []
    elif history == "lines":
        case["prior_therapies"] = _some(draw, 1, 4, lambda: _line(draw, d))
    stage = _pick(draw, (None, *STAGES))
    if stage is not None:
        case["stage"] = stage
    for fd in FIELDS:
        v = _pick(draw, fd.values)
        if v is not None:
            case[fd.field] = v
    case["as_of"] = _date(draw, d)
    j = _jurisdiction(draw, d)
    if j is not None:
        case["jurisdiction"] = j
    return case


@st.composite
def _case(draw, d: Domain) -> dict:
    return _case_draw(draw, d)


def cases(engine: Any, cancer_type: str | None = None) -> st.SearchStrategy[dict]:
    """Valid cases drawn from the rule base of ``engine`` (an Engine or a RuleBase); with
    ``cancer_type`` (a code or a name the vocabulary reads, checked here), cases of that cancer
    type only, everything else drawn as usual."""
    d = domain(engine)
    if cancer_type is None:
        return _case(d)
    # (an unknown one is the TermError, with its suggestion, here: not in every example)
    in_situ = d.vocab.cancer(cancer_type).code in d.vocab.cancers.non_invasive

    def of_type(case: dict) -> dict:
        case = {**case, "cancer_type": cancer_type}
        if in_situ and case.get("stage") not in (None, "early"):  # (an in-situ tumour has not spread)
            case["stage"] = "early"
        return case

    return _case(d).map(of_type)


@st.composite
def _alteration_st(draw, d: Domain, gene: str | None) -> dict:
    return _alteration(draw, d, gene)


def alterations(engine: Any, gene: str | None = None) -> st.SearchStrategy[dict]:
    """Valid entries of a case's ``alterations``: of ``gene`` (any name the vocabulary reads) or
    of any gene, the genes the rules test most often; variants the rules name in every notation,
    changes at and next to the codons they name, real recurrent changes, kind words."""
    d = domain(engine)
    return _alteration_st(d, d.vocab.gene(gene) if gene is not None else None)


@st.composite
def _lines_st(draw, d: Domain, min_size: int, max_size: int) -> list:
    return _some(draw, min_size, max_size, lambda: _line(draw, d))


def prior_therapies(engine: Any, min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[list]:
    """Valid ``prior_therapies`` lists: lines of drugs (generic, brand or code names, the drugs of
    the classes the rules ask about most often) or regimens, with settings, outcomes and weeks."""
    return _lines_st(domain(engine), min_size, max_size)


# --------------------------------------------------------------------------- cases near a rule


_MODES = ("hit", "hit", "miss", "vague", "absent_tested", "absent_untested")


def _near_rule_draw(draw, d: Domain, rule_ids: Sequence[str]) -> dict:
    rule_id = _pick(draw, rule_ids)
    n = d.neighbourhood(rule_id)
    meet = draw(st.booleans())  # aim at every condition of the rule holding, or anywhere near
    case: dict[str, Any] = {}

    where = "in" if meet else _pick(draw, ("in", "in", "name", "out"))
    if where == "out":
        case["cancer_type"] = _pick(draw, n.cancers_out)
    elif where == "name":
        case["cancer_type"] = _pick(draw, n.names_in or n.cancers_in)
    else:
        case["cancer_type"] = _pick(draw, n.cancers_in)

    alts: list[dict] = []
    tested: set[str] = set()
    untested: set[str] = set()
    germline_known: bool | None = None
    for p, pols in n.patterns:
        if meet and len(pols) == 1:
            mode = "hit" if True in pols else "absent_tested"
        else:
            mode = _pick(draw, _MODES)
        origin = p.origin
        classification = None
        if mode == "hit":
            text = _pick(draw, _hit_texts(d, p))
            acquired, partner = p.acquired, p.partner
            if p.deleterious:  # (a change that keeps the protein whole is deleterious only when so classified)
                classification = _pick(draw, ("pathogenic", "likely_pathogenic"))
            if p.acquired_on is not None and acquired is None:  # acquired, at diagnosis or not stated
                acquired = _pick(draw, (None, True, False))
        elif mode == "miss":
            text = _pick(draw, _miss_texts(d, p))
            acquired = (not p.acquired) if p.acquired is not None and draw(st.booleans()) else p.acquired
            if p.origin is not None and draw(st.booleans()):
                origin = "somatic" if p.origin == "germline" else "germline"
            partner = None
            if p.deleterious and draw(st.booleans()):
                classification = _pick(draw, ("uncertain_significance", "likely_benign", "benign"))
        elif mode == "vague":
            text = _pick(draw, d.kind_words["mutation"])
            acquired, partner = p.acquired, None
        else:
            if p.origin == "germline":
                germline_known = True if mode == "absent_tested" else _pick(draw, (None, False))
            elif mode == "absent_tested":
                tested.add(p.gene)
            else:
                untested.add(p.gene)
            continue
        if origin == "germline" and germline_known is False:
            origin = None
        alts.append(_alteration(draw, d, p.gene, text, origin, acquired, partner, free=not meet,
                                classification=classification))
    if not meet:
        alts += _some(draw, 0, 2, lambda: _alteration(draw, d))
    if alts or draw(st.booleans()):
        case["alterations"] = alts
    if draw(st.booleans()):
        tested |= {d.vocab.gene(a["gene"]) for a in alts if a.get("origin") != "germline"}
    tested -= untested
    if tested or draw(st.booleans()):
        extra = [g for g in _some(draw, 0, 3, lambda: _pick(draw, d.genes)) if g not in untested]
        case["tested_genes"] = sorted({_gene_text(draw, d, g) for g in tested} | set(extra))
    if any(a.get("origin") == "germline" for a in alts):
        germline_known = _pick(draw, (True, None)) if not meet else True
    elif germline_known is None and (n.germline or draw(st.booleans())):
        germline_known = _pick(draw, (True, None, False)) if not meet else True
    if germline_known is not None:
        case["germline_tested"] = germline_known

    history = _history(draw, d, n, meet)
    if history is not None:
        case["prior_therapies"] = history

    stage = _pick(draw, n.stages) if meet and n.stages else _pick(draw, (None, *n.stages, *STAGES))
    if stage is not None:
        case["stage"] = stage
    wanted = dict(n.fields)
    for fd in FIELDS:
        v = _pick(draw, wanted[fd.field]) if meet and wanted.get(fd.field) else _pick(draw, fd.values)
        if v is not None:
            case[fd.field] = v
    case["as_of"] = _pick(draw, n.in_effect).isoformat() if meet else _date(draw, d, n.dates)
    j = n.rule.jurisdiction.upper() if meet and n.rule.jurisdiction else _jurisdiction(draw, d, n.rule.jurisdiction)
    if j is not None:
        case["jurisdiction"] = j
    return case


def _history(draw, d: Domain, n: Neighbourhood, meet: bool) -> list | None:
    specs = [s for s in n.history if s.classes or s.drugs or s.single_line]
    counts = sorted({c for s in n.history for c in s.counts})
    meets = [s.meets for s in n.history if s.meets is not None]
    if meet:
        if not specs and not meets:
            return [] if draw(st.booleans()) else _some(draw, 1, 3, lambda: _line(draw, d))
        lines = []
        for spec in specs:
            lines += _lines_for(draw, d, spec, "all" if spec.single_line else _pick(draw, ("all", "spread", "regimen")), True)
        counting = [s for s in n.history if s.meets is not None]
        while counting and len(lines) < max(meets):
            lines.append(_line(draw, d, spec=_pick(draw, counting), meet=True))
    else:
        modes = ["unknown", "naive", "random"] + (["all", "spread", "short", "regimen"] if specs else [])
        modes += ["count", "count"] if counts else []
        mode = _pick(draw, modes)
        if mode == "unknown":
            return None
        if mode == "naive":
            return []
        if mode == "random":
            return _some(draw, 1, 4, lambda: _line(draw, d))
        if mode == "count":
            spec = _pick(draw, n.history)
            return [_line(draw, d, spec=spec) for _ in range(_pick(draw, counts))]
        lines = _lines_for(draw, d, _pick(draw, specs), mode, False)
        if draw(st.booleans()):
            lines += _some(draw, 0, 2, lambda: _line(draw, d, spec=_pick(draw, n.history)))
    order = draw(st.permutations(range(len(lines))))
    return [lines[i] for i in order]


def _lines_for(draw, d: Domain, spec: HistorySpec, mode: str, meet: bool) -> list[dict]:
    """Lines giving the drugs and classes ``spec`` asks for: all in one line, spread over two,
    by a regimen, or one short."""
    needed = [_pick(draw, d.class_members.get(c) or d.all_drugs) for c in sorted(spec.classes)] + sorted(spec.drugs)
    if not needed:
        return [_line(draw, d, spec=spec, meet=meet)]
    if mode == "regimen":
        fits = d.regimens_with(spec.classes)
        if fits:
            lines = [_line(draw, d, regimen=_pick(draw, fits), spec=spec, meet=meet)]
            covered = _regimen_classes(d, lines[0])
            missing = [x for x in needed if not (d.vocab.drug(x).classes & spec.classes & covered)]
            if missing and (meet or draw(st.booleans())):
                lines.append(_line(draw, d, drugs=dict.fromkeys(missing), spec=spec, meet=meet))
            return lines
        mode = "all"
    if mode == "short" and len(needed) > 1:
        needed.pop(draw(st.integers(0, len(needed) - 1)))
    if mode == "spread" and len(needed) > 1:
        cut = draw(st.integers(1, len(needed) - 1))
        groups = [needed[:cut], needed[cut:]]
    else:
        groups = [needed]
    return [_line(draw, d, drugs=dict.fromkeys(g), spec=spec, meet=meet) for g in groups if g]


def _regimen_classes(d: Domain, line: dict) -> frozenset[str]:
    drugs = d.vocab.therapy_word(line["regimen"])
    return frozenset(c for x in drugs for c in d.vocab.drug(x).classes)


@st.composite
def _near_rule(draw, d: Domain, rule_ids: tuple[str, ...]) -> dict:
    return _near_rule_draw(draw, d, rule_ids)


def boundary_cases(engine: Any, rules: Iterable[str] | None = None) -> st.SearchStrategy[dict]:
    """Valid cases on the edges of the rules: draws a rule (of ``rules``, ids, default every rule
    not retired), then a case around it (see :func:`rule_cases`)."""
    d = domain(engine)
    ids = tuple(rules) if rules is not None else d.live_rules
    if not ids:
        raise ValueError("boundary_cases needs at least one rule id")
    for rule_id in ids:
        d.neighbourhood(rule_id)  # RuleError with a suggestion for an unknown id
    return _near_rule(d, ids)


def rule_cases(engine: Any, rule_id: str) -> st.SearchStrategy[dict]:
    """Valid cases around one rule: half aim at every condition of the rule holding (its cancer
    types, each alteration it or a fact it uses needs, its history, stage, dates and
    jurisdiction), half wander near it: a pattern present, just missed, vague, absent in a tested
    gene or untested; history unknown, naive, one line or one drug class short; each stage or
    none; the day before, of and after each date. Raises RuleError for an unknown rule id."""
    return boundary_cases(engine, (rule_id,))

