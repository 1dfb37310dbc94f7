"""``cancer: [CODE, ...]``: the case's cancer type lies in the OncoTree subtree of a listed code;
unknown when the case is coded less specifically than a listed code (LUNG for NSCLC)."""
from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from engine.errors import TermError
from engine.conditions.base import TV, ConditionKind, LeafNames, Strict, join_words, one_or_many, register


class CancerCond(Strict):
    cancer: Annotated[tuple[str, ...], BeforeValidator(one_or_many)] = Field(min_length=1)


def build(cond, vocab) -> tuple:
    codes = frozenset(cond.cancer)
    key = ("cancer", codes)
    # a case coded less specifically than a listed code (LUNG for NSCLC) may be of it: unknown
    coarser = frozenset(anc for c in codes for anc in vocab.cancer(c).lineage[1:]) - codes

    def fn(case) -> TV:
        if not codes.isdisjoint(case.lineage):
            return True
        return None if case.cancer.code in coarser else False

    def describe(case) -> str:
        within = sorted(codes & case.lineage)
        c = case.cancer
        if within and within != [c.code]:
            return f"{c.code} ({c.name}), a kind of {', '.join(within)}"
        return f"{c.code} ({c.name})"

    return key, fn, (lambda case: "cancer subtype (histology)"), describe


def label(cond, vocab=None) -> str:
    return "cancer type " + " or ".join(cond.cancer)


def check_terms(cond, t) -> None:
    for i, code in enumerate(cond.cancer):
        t.term(t.vocab.cancer_code, ("cancer", i), code)


def rule_terms(cond, vocab, acc) -> None:
    acc.rule_codes.update(cond.cancer)


def case_terms(cond, positive, vocab, acc) -> None:
    (acc.pos_codes if positive else acc.neg_codes).update(cond.cancer)


def domain(key, terms) -> None:
    terms.cancers |= key[1]


def _names(cond, vocab, codes=None) -> list[str]:
    """Each code with its OncoTree name; the codes of a group the vocabulary names (``named`` in
    cancer_types.yaml), all listed, by the group's name."""
    names = []
    for code, group in vocab.cancers.grouped(list(cond.cancer if codes is None else codes)):
        if group is not None:
            names.append(group)
            continue
        try:
            names.append(f"{vocab.cancer_code(code).name} ({code})")
        except Exception:  # pragma: no cover - codes are checked at load
            names.append(code)
    return names


def words(cond, vocab) -> str:
    """For a student: each code with its OncoTree name ("cancer type: Non-Small Cell Lung Cancer (NSCLC)")."""
    return "cancer type: " + " or ".join(_names(cond, vocab))


def negated(cond, vocab) -> str:
    """``not`` over the leaf, for a student: "a cancer type other than Colorectal Adenocarcinoma
    (COADREAD) or Melanoma (MEL)" (the subtypes of each excluded too); codes that a group of the
    vocabulary names are its words ("a solid tumour other than Colorectal Adenocarcinoma
    (COADREAD)"), and a group it names is read by that name ("any melanoma (...)")."""
    words, left = vocab.cancers.outside_words(cond.cancer)
    if not words:
        return "a cancer type other than " + join_words(_names(cond, vocab))
    text = join_words(words)
    return f"{text} other than {join_words(_names(cond, vocab, left))}" if left else text


def held(atom, case, value) -> str:
    """The case's own cancer type, written as where the leaf holds ("PAAD (Pancreatic
    Adenocarcinoma)")."""
    return f"{case.cancer.code} ({case.cancer.name})"


def names(key) -> LeafNames:
    return LeafNames(cancers=key[1])


def disjoint(a, b, vocab) -> bool:
    """No cancer type lies in the subtrees of both: no code of one is the other's or above or
    below it in OncoTree (unknown codes are the term check's to report)."""
    try:
        la = [frozenset(vocab.cancer(c).lineage) for c in a.cancer]
        lb = [frozenset(vocab.cancer(c).lineage) for c in b.cancer]
    except TermError:  # an unknown code: reported by check_terms
        return False
    codes_a, codes_b = set(a.cancer), set(b.cancer)
    return not any(codes_a & x or codes_b & y for x in lb for y in la)


KIND = register(ConditionKind("cancer", CancerCond, build, label, check_terms, lambda cond: ("cancer_type",),
                              "cancer", rule_terms, case_terms, domain=domain, words=words, negated=negated, held=held,
                              names=names, disjoint=disjoint))
