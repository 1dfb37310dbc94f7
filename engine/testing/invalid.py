"""Hypothesis strategies of cases with exactly one thing wrong (:func:`invalid_cases`,
:func:`labelled_invalid_cases`).
"""
from __future__ import annotations

import string
from typing import Any
from collections.abc import Callable, Iterable, Sequence

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("engine.testing needs hypothesis: pip install 'kras-rules[test]'") from exc

from engine.case import AlterationIn, CaseIn, PriorTherapyIn
from engine.testing.domain import (
    AA,
    AA3,
    KINDS,
    OUTCOMES,
    SETTINGS,
    STAGES,
    Domain,
    _private,
    _protein_ref,
    _resolves,
    _valid_variant,
    domain,
)
from engine.testing.strategies import _alteration, _case_draw, _gene, _kind_word, _line, _pick, _some


# --------------------------------------------------------------------------- invalid cases


def _typo(draw, word: str) -> str:
    if not word:
        return "x"
    i = draw(st.integers(0, len(word) - 1))
    op = _pick(draw, ("drop", "double", "swap", "replace", "append"))
    letter = _pick(draw, string.ascii_letters)
    if op == "drop" and len(word) > 1:
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    if op == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "replace" and word[i].lower() != letter.lower():
        return word[:i] + letter + word[i + 1:]
    return word + letter


def _misspelt(draw, words: Sequence[str], known: Callable[[str], bool]) -> str | None:
    """A misspelling of one of ``words`` that ``known`` rejects (None if none is found quickly)."""
    for _ in range(8):
        word = _typo(draw, _pick(draw, words))
        if word.strip() and not known(word):
            return word
    return None


def _is(fn: Callable[[str], Any]) -> Callable[[str], bool]:
    return lambda text: _resolves(fn, text) is not None


def _bad_variant(draw, d: Domain, gene: str) -> str:
    """A variant text the vocabulary rejects for ``gene``."""
    vocab = d.vocab
    residues, length = _protein_ref(vocab, gene)
    positions = d.positions.get(gene) or ()
    choices = ["junk", "position_only", "synonymous", "genomic", "cdna"]
    if positions:
        choices.append("wrong_reference")
    if length:
        choices.append("past_end")
    how = _pick(draw, choices)
    pos = _pick(draw, positions) if positions else draw(st.integers(1, length or 500))
    ref = residues.get(pos) or _pick(draw, AA)
    if how == "position_only":
        text = f"{ref}{pos}"
    elif how == "synonymous":
        text = _pick(draw, (f"{ref}{pos}{ref}", f"p.{ref}{pos}=", f"p.{AA3[ref]}{pos}{AA3[ref]}"))
    elif how == "genomic":
        text = f"g.{draw(st.integers(1, 10**8))}A>T"
    elif how == "cdna":
        text = f"c.{draw(st.integers(1, 5000))}{_pick(draw, 'ACGT')}>{_pick(draw, 'ACGT')}"
    elif how == "wrong_reference":
        wrong = _pick(draw, [a for a in AA if a != ref])
        alt = _pick(draw, [a for a in AA if a not in (ref, wrong)])
        text = f"{wrong}{pos}{alt}"
    elif how == "past_end":
        text = f"{_pick(draw, AA)}{length + draw(st.integers(2, 500))}{_pick(draw, AA)}"
    else:
        text = "".join(_some(draw, 1, 12, lambda: _pick(draw, string.ascii_letters + string.digits + " .>*_-")))
    if text.strip() and _valid_variant(vocab, gene, text) is None:
        return text
    return f"{ref}{pos}"  # a position without a change is never a variant


_INVALID_KINDS = (
    "not_object", "unknown_field", "unknown_field_nested", "missing_cancer", "cancer_type",
    "cancer_wrong_type", "stage", "gene", "variant", "variant_word", "origin", "acquired",
    "partner_not_fusion", "partner_unknown", "alterations_type", "tested_gene", "tested_type",
    "germline_contradiction", "in_situ_spread", "line_empty", "drug", "regimen", "setting", "outcome", "weeks",
    "history_type", "as_of", "id_type", "jurisdiction",
)


def _invalid_draw(draw, d: Domain, kind: str | None = None) -> tuple[Any, tuple]:
    vocab = d.vocab
    case = _case_draw(draw, d)
    alts = case.get("alterations") or []
    kind = kind or _pick(draw, _INVALID_KINDS)

    def with_alteration(**kw) -> int:
        alt = _alteration(draw, d, **kw)
        alt.pop("partner", None)
        alts.append(alt)
        case["alterations"] = alts
        return len(alts) - 1

    def with_line() -> int:
        lines = case.get("prior_therapies") or []
        lines.append(_line(draw, d))
        case["prior_therapies"] = lines
        return len(lines) - 1

    if kind == "not_object":
        return _pick(draw, ([case], "LUAD", None, 42, [], True)), ()
    if kind == "unknown_field":
        fields = tuple(CaseIn.model_fields)
        word: str | None = _misspelt(draw, fields, lambda w: w in fields) or "cancer-type"
        case[word] = _pick(draw, ("x", 1, None, [], "2026-01-01"))
        return case, ()
    if kind == "unknown_field_nested":
        if draw(st.booleans()):
            i = with_alteration()
            fields = tuple(AlterationIn.model_fields)
            case["alterations"][i][_misspelt(draw, fields, lambda w: w in fields) or "gen"] = "x"
            return case, ("alterations", i)
        i = with_line()
        fields = tuple(PriorTherapyIn.model_fields)
        case["prior_therapies"][i][_misspelt(draw, fields, lambda w: w in fields) or "drug"] = "x"
        return case, ("prior_therapies", i)
    if kind == "missing_cancer":
        del case["cancer_type"]
        return case, ("cancer_type",)
    if kind == "cancer_type":
        pool = d.near_codes if draw(st.booleans()) else d.name_texts
        word = _misspelt(draw, pool, _is(vocab.cancer))
        case["cancer_type"] = word if word is not None else "no such cancer"
        return case, ("cancer_type",)
    if kind == "cancer_wrong_type":
        case["cancer_type"] = _pick(draw, ("", "   ", 12, None, ["LUAD"], {"code": "LUAD"}))
        return case, ("cancer_type",)
    if kind == "stage":
        word = _misspelt(draw, STAGES, lambda w: w in STAGES)
        case["stage"] = _pick(draw, (word or "stage IV", "IV", "Metastatic", "advanced", 4, ""))
        return case, ("stage",)
    if kind == "gene":
        i = with_alteration()
        case["alterations"][i]["gene"] = _misspelt(draw, d.rule_genes or d.genes, _is(vocab.gene)) or "NOTAGENE1"
        return case, ("alterations", i, "gene")
    if kind == "variant":
        gene = _gene(draw, d)
        text = _bad_variant(draw, d, gene)
        i = with_alteration(gene=gene, text=_pick(draw, d.kind_words["mutation"]))
        case["alterations"][i]["variant"] = text
        return case, ("alterations", i, "variant")
    if kind == "variant_word":
        words = tuple(_private(vocab, "_not_alterations", {})) + tuple(_private(vocab, "_ambiguous_variants", {}))
        i = with_alteration()
        case["alterations"][i]["variant"] = _pick(draw, words or ("???",))
        return case, ("alterations", i, "variant")
    if kind == "origin":
        i = with_alteration()
        case["alterations"][i]["origin"] = _pick(draw, ("inherited", "Germline", "tumour", "", 1))
        return case, ("alterations", i, "origin")
    if kind == "acquired":
        i = with_alteration()
        case["alterations"][i]["acquired"] = _pick(draw, ("maybe", "unknown", 2, [], "acquired"))
        return case, ("alterations", i, "acquired")
    if kind == "partner_not_fusion":
        text = _kind_word(draw, d, tuple(k for k in KINDS if k != "fusion"))
        i = with_alteration(gene=_gene(draw, d), text=text)
        case["alterations"][i]["partner"] = _pick(draw, d.genes)
        return case, ("alterations", i, "partner")
    if kind == "partner_unknown":
        i = with_alteration(gene=_gene(draw, d), text=_pick(draw, d.kind_words["fusion"]))
        case["alterations"][i]["partner"] = _misspelt(draw, d.genes, _is(vocab.gene)) or "NOTAGENE2"
        return case, ("alterations", i, "partner")
    if kind == "alterations_type":
        case["alterations"] = _pick(draw, ("KRAS G12C", {"gene": "x"}, 1))
        return case, ("alterations",)
    if kind == "tested_gene":
        genes = list(case.get("tested_genes") or [])
        genes.append(_misspelt(draw, d.rule_genes or d.genes, _is(vocab.gene)) or "NOTAGENE3")
        case["tested_genes"] = genes
        return case, ("tested_genes", len(genes) - 1)
    if kind == "tested_type":
        case["tested_genes"] = _pick(draw, ("KRAS", 3, {"KRAS": True}))
        return case, ("tested_genes",)
    if kind == "in_situ_spread":
        if vocab.cancers.non_invasive:
            case["cancer_type"] = _pick(draw, sorted(vocab.cancers.non_invasive))
            case["stage"] = _pick(draw, ("locally_advanced", "metastatic"))
            return case, ("stage",)
        kind = "germline_contradiction"  # (a vocabulary without in-situ types)
    if kind == "germline_contradiction":
        with_alteration(origin="germline")
        case["germline_tested"] = False
        return case, ("germline_tested",)
    if kind == "line_empty":
        i = with_line()
        # (an entry with neither drugs nor regimen is valid: a line whose drugs are not given)
        case["prior_therapies"][i] = _pick(draw, ({"drugs": []}, {"drugs": [], "setting": "metastatic"}, {"regimen": ""}))
        return case, ("prior_therapies", i)
    if kind == "drug":
        i = with_line()
        line = case["prior_therapies"][i]
        line["drugs"] = list(line.get("drugs") or []) + [
            _misspelt(draw, d.all_drug_names, _is(vocab.therapy_word)) or "notadrug"]
        return case, ("prior_therapies", i, "drugs", len(line["drugs"]) - 1)
    if kind == "regimen":
        i = with_line()
        word = _misspelt(draw, d.regimens or ("FOLFOX",), _is(vocab.therapy_word)) or "NOTAREGIMEN"
        case["prior_therapies"][i]["regimen"] = word
        return case, ("prior_therapies", i, "regimen")
    if kind in ("setting", "outcome"):
        i = with_line()
        allowed = SETTINGS if kind == "setting" else OUTCOMES
        word = _misspelt(draw, allowed, lambda w: w in allowed)
        case["prior_therapies"][i][kind] = _pick(draw, (word or "first-line", "", 3))
        return case, ("prior_therapies", i, kind)
    if kind == "weeks":
        i = with_line()
        case["prior_therapies"][i]["weeks"] = _pick(draw, (-1, -0.5, 1001, 1e6, "six", [], "nan", "inf"))
        return case, ("prior_therapies", i, "weeks")
    if kind == "history_type":
        case["prior_therapies"] = _pick(draw, ("FOLFOX", 2, {"regimen": "FOLFOX"}))
        return case, ("prior_therapies",)
    if kind == "as_of":
        case["as_of"] = _pick(draw, ("2026-02-30", "2021-13-45", "yesterday", "01/07/2026", "2026/07/01",
                                     "", "2026-7-1x", [], True))
        return case, ("as_of",)
    if kind == "id_type":
        case["id"] = _pick(draw, (5, 1.5, ["a"], {"id": "a"}, True))
        return case, ("id",)
    if kind == "jurisdiction":
        known = {j.upper() for j in d.jurisdictions}
        case["jurisdiction"] = _misspelt(draw, d.jurisdictions, lambda w: w.strip().upper() in known) or "F.D.A"
        return case, ("jurisdiction",)
    raise ValueError(f"unknown kind of invalid case '{kind}' (one of {', '.join(_INVALID_KINDS)})")


@st.composite
def _invalid(draw, d: Domain, kinds: tuple[str, ...] | None) -> tuple[Any, tuple]:
    return _invalid_draw(draw, d, _pick(draw, kinds) if kinds else None)


def labelled_invalid_cases(engine: Any, kinds: Iterable[str] | None = None) -> st.SearchStrategy[tuple[Any, tuple]]:
    """Pairs ``(case, path)``: a case with exactly one thing wrong, and the field path (a tuple
    like ``("alterations", 0, "variant")``) that the engine's error must name, or a prefix of it;
    ``()`` for a case that is not an object or has an unknown top-level field. ``kinds`` limits
    the faults to some of :data:`INVALID_KINDS`."""
    kinds = tuple(kinds) if kinds is not None else None
    for k in kinds or ():
        if k not in _INVALID_KINDS:
            raise ValueError(f"unknown kind of invalid case '{k}' (one of {', '.join(_INVALID_KINDS)})")
    return _invalid(domain(engine), kinds)


def invalid_cases(engine: Any, kinds: Iterable[str] | None = None) -> st.SearchStrategy[Any]:
    """Cases with exactly one thing wrong (see :func:`labelled_invalid_cases`); evaluating any of
    them must raise :class:`~engine.errors.CaseError`."""
    return labelled_invalid_cases(engine, kinds).map(lambda pair: pair[0])


INVALID_KINDS = _INVALID_KINDS
