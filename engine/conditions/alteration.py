"""``alteration: {...}``: an alteration matching the pattern is present (three-valued; see
rules/README.md), optionally one acquired on a drug class (``acquired_on``)."""
from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from engine.conditions.base import (NO_HISTORY, TV, UNKNOWN, AlterationKind, ConditionKind, FieldDimension, HistoryRole, LeafNames,
                                    Origin, Strict, drugs_words, history_words, line_names, line_order, open_lines, register,
                                    register_field)


class AlterationPattern(Strict):
    """Matches one alteration of the case.

    ``gene`` is required. ``variant``/``variants`` name protein changes in any notation the
    vocabulary reads (``G12C``, ``p.Gly12Cys``, ``c.34G>T``); ``codons`` matches a change that alters
    a residue at one of those protein positions in place: a substitution, or an in-frame deletion,
    duplication, insertion or deletion-insertion touching one (``A11_G12dup`` is a codon-12 change);
    not a change that cuts the protein short (a stop gained, a frameshift, a splice-site change),
    which is no hotspot mutation; ``kind`` the alteration kind (default: any). ``origin`` and
    ``acquired`` narrow further; ``exclude_variants`` removes named changes from a codon match.

    Three-valued: true if a matching alteration is listed; false if the gene was tested (listed in
    ``tested_genes`` or carrying a listed mutation) and none matches; otherwise unknown. For a
    ``kind`` other than a mutation (an amplification, a fusion, a loss) a listed mutation does not
    count: only ``tested_genes`` or a somatic call of that kind for the gene shows it was assayed.
    With ``origin: germline`` the test that counts is ``germline_tested``.

    ``acquired_on: CLASS`` (three-valued): a matching alteration flagged ``acquired: false``
    (present at diagnosis) is not acquired on CLASS. Otherwise the history decides, since the
    flag ``acquired: true`` says "found at progression on targeted therapy", not on which: a line
    holding a drug of CLASS that ended in progression -> acquired; a history given with no line
    holding CLASS -> not (acquired on another drug, if at all), unless a line's drugs are not
    given (it may have held CLASS: unknown); a line of CLASS with another or no
    outcome -> acquired when flagged ``acquired: true``, else unknown; no history -> unknown.
    Where no matching alteration was acquired on CLASS (none is listed, or those listed were
    present at diagnosis) and a line of CLASS ended in progression or its end is not given, the
    pattern is false only if the profile is from testing after the last prior therapy
    (``tested_after_prior_therapy``, implied by an alteration flagged ``acquired: true``): a
    profile from before it cannot show what was acquired on it (unknown). A line whose drugs are
    not given does not count here; where the history is not given, the profile is read as the
    tumour's current one.

    ``deleterious: true`` (three-valued): the matching alteration must be deleterious
    (:meth:`engine.case.Alt.deleterious`: its classification where given, else a loss, a
    truncating change or an unspecified "mutation"); one whose classification is not given and
    that keeps the protein whole (a missense or in-frame change) makes the pattern unknown, one
    classified of uncertain significance or benign does not match. A germline variant of the gene
    listed shows germline testing was done.

    ``identified: true`` reads what the case's tests identified, not the tumour: false where no
    listed alteration matches or may match, whether or not the gene was tested; still unknown
    where a listed one may match (an unspecified "mutation" of the gene, one whose
    classification or acquisition is open). For a population that excluded an alteration already
    identified (a trial's "previously identified driver"), which did not ask for testing.
    """

    gene: str
    variant: str | None = None
    variants: tuple[str, ...] | None = None
    codons: tuple[int, ...] | None = None
    exclude_variants: tuple[str, ...] | None = None
    kind: AlterationKind | None = None
    origin: Origin | None = None
    acquired: bool | None = None
    acquired_on: str | None = None  # a drug class id: the alteration was acquired on that class
    partner: str | None = None
    deleterious: Literal[True] | None = None  # the alteration is deleterious (pathogenic), see above
    identified: Literal[True] | None = None  # what the tests identified: no listed match is false, see above

    @model_validator(mode="after")
    def _one_variant_form(self) -> AlterationPattern:
        if self.variant is not None and self.variants is not None:
            raise ValueError("give either 'variant' or 'variants', not both")
        return self


class AlterationCond(Strict):
    alteration: AlterationPattern


def _never_held(case, cls: str) -> bool:
    """Whether the case's history is given and holds no line of drug class ``cls``: nothing can
    have been acquired on the class then, whether or not the gene was tested."""
    lines = case.lines
    if lines is None:
        return False
    for ln in lines:  # (a loop, not any() over a generator: several times a case)
        if ln.open or cls in ln.classes:
            return False
    return True


def profile_after_therapy(value: bool | None, alterations) -> bool | None:
    """``tested_after_prior_therapy`` as the case reader reads it: where it is not stated, an
    alteration flagged ``acquired`` (found at progression on therapy) shows the profile is from
    testing after the therapy."""
    if value is None:
        for a in alterations:
            if a.acquired:
                return True
    return value


def _written_after(value: bool | None, alterations) -> bool | None:
    """What a case writes for the flag as the atoms read it: ``None`` (the profile may predate the
    therapy) is written false where an alteration flagged acquired would imply true."""
    if value is None and any(a.acquired for a in alterations):
        return False
    return value


#: whether the profile is from testing after the last prior therapy: the atoms of an alteration
#: acquired on a drug read it (``depends``); no condition kind of its own asks it. Every atom
#: reads false as not stated (the profile may predate the drug): ``check`` enumerates the two,
#: as the atoms read them (the case reader's implication, an alteration flagged acquired, is in
#: the witness it writes: :func:`_written_after`).
TESTED_AFTER = register_field(FieldDimension("testing after the prior therapy", "tested_after_prior_therapy",
                                             (None, True, False), read=(None, True), written=_written_after))


def _before_therapy(case, cls: str) -> bool:
    """Whether the profile may predate progression on drug class ``cls``: a line of the class
    ended in progression, or its end is not given, and the case does not say its profile is from
    testing after the last prior therapy. What was acquired on a drug is found by testing after
    it; a line stopped for intolerance, or one that responded or held stable, is not where
    resistance was acquired. A line whose drugs are not given does not count against a rule here,
    as it does not for "no progression on X given before" (rules/README.md); where the history is
    not given, the profile is read as the tumour's current one."""
    lines = case.lines
    if lines is None or case.tested_after_prior_therapy is True:
        return False
    for ln in lines:
        if cls in ln.classes and (ln.outcome is None or ln.outcome == "progression"):
            return True
    return False


def _acquired_on(cls: str):
    """Whether one case alteration was acquired on drug class ``cls`` (three-valued, see
    rules/README.md): the alteration's own flag first, then the history."""

    def tv(alt, case) -> TV:
        if alt.acquired is False:  # present at diagnosis
            return False
        lines = case.lines
        if lines is None:  # the flag says on *some* targeted therapy, not on which
            return None
        exposed = False
        maybe = False  # a line whose drugs are not given may have held the class
        for ln in lines:
            if cls in ln.classes:
                if ln.outcome == "progression":
                    return True
                exposed = True
            elif ln.open:
                maybe = True
        if not exposed:  # the history is given and never held the class: acquired on another drug, if at all
            return None if maybe else False
        return True if alt.acquired else None  # found at progression on targeted therapy, and the class was given

    return tv


def build(cond, vocab) -> tuple:
    a = cond.alteration
    gene = a.gene
    labels = None
    if a.variant is not None:
        labels = frozenset({vocab.variant(gene, a.variant).label})
    elif a.variants is not None:
        labels = frozenset(vocab.variant(gene, v).label for v in a.variants)
    exclude = frozenset(vocab.variant(gene, v).label for v in a.exclude_variants) if a.exclude_variants else frozenset()
    codons = frozenset(a.codons) if a.codons is not None else None
    kind, origin, acquired, partner = a.kind, a.origin, a.acquired, a.partner
    on = a.acquired_on
    acq_on = _acquired_on(on) if on is not None else None
    deleterious = bool(a.deleterious)
    identified = bool(a.identified)
    specific = labels is not None or codons is not None
    key = ("alteration", gene, labels, codons, exclude, kind, origin, acquired, partner, on, deleterious, identified)

    def matches(alt) -> bool:
        if alt.gene != gene:
            return False
        if origin is not None and alt.origin != origin:
            return False
        if acquired is not None and (alt.acquired is True) != acquired:
            return False
        if kind is not None and alt.kind != kind:
            return False
        if labels is not None and alt.label not in labels:
            return False
        if codons is not None and not alt.at_codon(codons):
            return False
        if exclude and alt.label in exclude:
            return False
        if partner is not None and alt.partner != partner:
            return False
        return True

    def vague(alt) -> bool:
        # an unspecified "mutation" of the gene could be the specific change the pattern names
        return (
            specific
            and alt.gene == gene
            and alt.codon is None
            and alt.kind == "mutation"
            and (kind is None or kind == "mutation")
            and (origin is None or alt.origin == origin)
            and (acquired is None or (alt.acquired is True) == acquired)
        )

    # the kind whose own calls show the gene was assayed for it (a mutation shows sequencing through
    # case.tested; a germline call says nothing of the tumour)
    assay_kind = kind if kind != "mutation" else None

    def fn(case) -> TV:
        if acq_on is not None and _never_held(case, on):  # (unknown is for what the case leaves open)
            return False
        unsure = False
        found = False
        assayed = False  # a somatic call of the pattern's own kind (a fusion, an amplification) shows the gene was assayed for it
        for alt in case.by_gene.get(gene, ()):  # (matches and vague hold only for the gene's own)
            if alt.kind == assay_kind and alt.origin == "somatic":
                assayed = True
            elif deleterious and origin == "germline" and alt.origin == "germline":
                assayed = True  # a germline variant of the gene listed: germline testing was done
            if matches(alt):
                if deleterious:
                    d = alt.deleterious()
                    if not d:
                        if d is None:
                            unsure = True
                        continue
                if acq_on is None:
                    return True
                v = acq_on(alt, case)
                if v:
                    return True
                found = True
                if v is None:
                    unsure = True
            elif not unsure and vague(alt):
                unsure = True
        if unsure:
            return None
        if identified:
            return False
        if acq_on is not None and _before_therapy(case, on):
            # none listed as acquired, by a profile that may predate the class (one listed as
            # present at diagnosis says nothing of what the tumour acquired after it)
            return None
        if found:
            return False
        if origin == "germline":
            return False if case.germline_tested or assayed else None
        if assay_kind is not None:  # a copy-number or fusion pattern: sequencing that found a mutation says nothing of it
            return False if gene in case.covered or assayed else None
        return False if gene in case.tested or assayed else None

    fast = None
    if not deleterious and origin is None and acquired is None and partner is None and not exclude and codons is None:
        if labels is not None and kind is None:
            fast = _by_label(gene, labels, acq_on, on, identified)
        elif labels is None and kind is not None:
            fast = _by_kind(gene, kind, assay_kind, acq_on, on, identified)
    if fast is not None:  # the same values as fn, in fewer steps (tests compare the two on generated cases)
        fast.reference = fn
        fn = fast

    label = _alteration_words(a)

    def missing(case) -> str:
        own = case.by_gene.get(gene, ())
        if any(vague(alt) for alt in own):
            return f"the exact {gene} variant"
        if deleterious:
            open_ = [alt for alt in own if matches(alt) and alt.deleterious() is None]
            if open_:
                return f"whether {', '.join(alt.describe() for alt in open_)} is pathogenic (its classification)"
        if on is not None and any(matches(alt) and acq_on is not None and acq_on(alt, case) is None for alt in own):
            klass = vocab.class_label(on)
            if case.lines is None:  # (an 'acquired' flag does not name the drug)
                how = NO_HISTORY
            elif (unnamed := _unnamed_if_unheld(case.lines, on)) is not None:  # (a line whose drugs are not given is why)
                how = drugs_words(unnamed, ", ")  # (within one item)
            else:  # a line of the class ended otherwise than in progression, or its end is not given
                how = _ended_or_flagged(case.lines, on)
            # the case's own alterations the question is about, not every variant the rule names
            asked = [alt for alt in own if matches(alt) and acq_on is not None and acq_on(alt, case) is None]
            which = ", ".join(alt.describe(acquired=False) for alt in asked) if asked else label
            return f"whether {which} was acquired on a {klass} ({how})"
        if on is not None and _before_therapy(case, on) and (
                any(matches(alt) for alt in own) or gene in (case.tested if assay_kind is None else case.covered)):
            # none acquired on the class (or one present at diagnosis), by a profile that may predate it
            return _tested_after_words(gene, case.lines, on, vocab)
        if origin == "germline":
            return "germline testing"
        if assay_kind is not None and gene in case.tested:  # sequenced (a mutation is listed), not assayed for this kind
            # acquired on a class the history does not show was given: whether it was given comes first
            if on is not None:
                if case.lines is None:
                    return f"{NO_HISTORY} (whether a {vocab.class_label(on)} was given)"
                unnamed = _unnamed_if_unheld(case.lines, on)
                if unnamed:
                    return drugs_words(unnamed, ", ")
                # (what was acquired on the drug is found by testing after it: a profile from
                # before it cannot show it)
                return f"{gene} {_ASSAY_WORDS[assay_kind]} after {_after_class(case.lines, on, vocab)}"
            return f"{gene} {_ASSAY_WORDS[assay_kind]}"
        return f"{gene} testing"

    def describe(case) -> str:
        found = [alt for alt in case.by_gene.get(gene, ()) if matches(alt) and (not deleterious or alt.deleterious())]
        if acq_on is not None:
            klass = vocab.class_label(on)
            found = [alt for alt in found if acq_on(alt, case)]
            # an alteration the report does not flag is read as acquired from the history: say so
            return ", ".join(f"{alt.describe(acquired=False)} acquired on a {klass}" if alt.acquired else
                             f"{alt.describe(acquired=False)} taken as acquired on a {klass} (not flagged in the "
                             f"report; read so because a {klass} line ended in progression)" for alt in found)
        return ", ".join(alt.describe() for alt in found)

    return key, fn, missing, describe


# The two commonest patterns (named variants of a gene; an alteration kind of a gene), each
# optionally acquired on a drug class, read by a loop of their own: a case's atoms are mostly
# these, read for every case. Each gives what the general reading gives (its steps, with the
# tests for options the pattern does not set left out).


def _by_label(gene: str, labels: frozenset[str], acq_on, on: str | None, identified: bool = False):
    """``variant(s)`` only: a listed change of one of ``labels``; an unspecified "mutation" of the
    gene may be one (unknown)."""

    def fn(case) -> TV:
        if on is not None and _never_held(case, on):  # (acq_on is set with on)
            return False
        own = case.by_gene.get(gene)
        if own:
            unsure = found = False
            for alt in own:
                if alt.label in labels:
                    if acq_on is None:
                        return True
                    v = acq_on(alt, case)
                    if v:
                        return True
                    found = True
                    if v is None:
                        unsure = True
                elif alt.codon is None and alt.kind == "mutation":
                    unsure = True
            if unsure:
                return None
            if found and not (on is not None and _before_therapy(case, on)):
                return False
        if identified:
            return False
        if on is not None and _before_therapy(case, on):
            return None
        return False if gene in case.tested else None

    return fn


def _by_kind(gene: str, kind: str, assay_kind: str | None, acq_on, on: str | None, identified: bool = False):
    """``kind`` only: a listed alteration of that kind (where none is listed, the general
    reading's "assayed" cannot hold: a somatic call of the kind would have matched)."""

    def fn(case) -> TV:
        if on is not None and _never_held(case, on):  # (acq_on is set with on)
            return False
        own = case.by_gene.get(gene)
        if own:
            unsure = found = False
            for alt in own:
                if alt.kind == kind:
                    if acq_on is None:
                        return True
                    v = acq_on(alt, case)
                    if v:
                        return True
                    found = True
                    if v is None:
                        unsure = True
            if unsure:
                return None
            if found and not (on is not None and _before_therapy(case, on)):
                return False
        if identified:
            return False
        if on is not None and _before_therapy(case, on):
            return None
        if assay_kind is not None:
            return False if gene in case.covered else None
        return False if gene in case.tested else None

    return fn


def _unnamed_if_unheld(lines, cls: str) -> list[str] | None:
    """The names of a given history's lines whose drugs are not given (:func:`open_lines`), where
    no line holds drug class ``cls`` (they may have held it); None when a line holds it."""
    if any(cls in ln.classes for ln in lines):
        return None
    return open_lines(lines)


def _ended_or_flagged(lines, cls: str) -> str:
    """What settles whether an alteration was acquired on drug class ``cls`` where a line holds
    it and none ended in progression: how those lines ended where that is not given ("how prior
    therapy 2 (sotorasib) ended"), or the report's flag."""
    held = sorted((ln for ln in lines if cls in ln.classes), key=line_order)
    open_ = [name for ln, name in zip(held, line_names(held), strict=True) if ln.outcome is None]
    ended = f"how {' and '.join(open_)} ended, or " if open_ else ""
    return ended + "whether the report marks the alteration as acquired"


def _after_class(lines, cls: str, vocab) -> str:
    """The time after which testing shows what was acquired on drug class ``cls``: "progression
    on the KRAS G12C inhibitor" where a line of it ended so, else "the KRAS G12C inhibitor"."""
    klass = vocab.class_label(cls)
    if any(cls in ln.classes and ln.outcome == "progression" for ln in lines):
        return f"progression on the {klass}"
    return f"the {klass}"


def _tested_after_words(gene: str, lines, cls: str, vocab) -> str:
    """What settles whether ``gene``'s results can show an alteration acquired on drug class
    ``cls``: whether they are from testing after progression on it, or, where no line of it ended
    in progression, after the lines of it whose end is not given (how they ended, which may
    settle it too, is asked where a criterion reads it)."""
    held = sorted((ln for ln in lines if cls in ln.classes), key=line_order)
    if any(ln.outcome == "progression" for ln in held):
        return f"whether the {gene} results are from testing after progression on the {vocab.class_label(cls)}"
    open_ = [name for ln, name in zip(held, line_names(held), strict=True) if ln.outcome is None]
    return f"whether the {gene} results are from testing after {' and '.join(open_)}"


#: what shows a gene's alterations of a kind other than a mutation (a gene sequenced for
#: mutations may not have been assayed for them)
_ASSAY_WORDS = {"amplification": "copy-number testing", "loss": "copy-number testing", "fusion": "fusion testing"}


def _alteration_words(a) -> str:
    what = a.variant or (", ".join(a.variants) if a.variants else None)
    if what is None and a.codons:
        what = f"{a.kind or 'change'} at codon {', '.join(map(str, a.codons))}"
    if what is None:
        what = a.kind or "alteration"
    return f"{a.gene} {what}"


def _acquired_words(cls: str, vocab) -> str:
    name = vocab.class_label(cls) if vocab is not None else cls.replace("_", " ")
    return f"acquired on a {name}"


def label(cond, vocab=None) -> str:
    a = cond.alteration
    extra = [x for x in (a.origin if a.origin == "germline" else None, "deleterious" if a.deleterious else None,
                         "acquired" if a.acquired else None,
                         _acquired_words(a.acquired_on, vocab) if a.acquired_on else None) if x]
    return _alteration_words(a) + (f" ({', '.join(extra)})" if extra else "") + (" identified" if a.identified else "")


def check_terms(cond, t) -> None:
    a = cond.alteration
    gene = t.gene(a.gene, ("alteration", "gene"))
    if gene is None:
        return
    for key in ("variant", "variants", "exclude_variants"):
        val = getattr(a, key)
        if val is None:
            continue
        vals = (val,) if isinstance(val, str) else val
        for i, v in enumerate(vals):
            t.term(t.vocab.variant, ("alteration",) + ((key,) if isinstance(val, str) else (key, i)), gene, v)
    if a.partner is not None:
        t.gene(a.partner, ("alteration", "partner"))
    if a.acquired_on is not None:
        t.klass(a.acquired_on, ("alteration", "acquired_on"))


def fields(cond) -> tuple[str, ...]:
    return ("alterations", "prior_therapies", TESTED_AFTER.field) if cond.alteration.acquired_on else ("alterations",)


def rule_terms(cond, vocab, acc) -> None:
    p = acc.pattern(cond)
    if p not in acc.patterns:
        acc.patterns.append(p)
    if cond.alteration.acquired_on:
        acc.rule_classes.add(cond.alteration.acquired_on)


def case_terms(cond, positive, vocab, acc) -> None:
    p = acc.pattern(cond)
    acc.polarity.setdefault(p, set()).add(positive)
    acc.germline = acc.germline or p.origin == "germline"
    if cond.alteration.acquired_on:  # exposure to the class, and progression on it, matter
        acc.history.append(acc.HistorySpec(frozenset({cond.alteration.acquired_on}), frozenset(),
                                           outcomes=frozenset({"progression"}), single_line=True))


def depends(cond) -> tuple[str, ...]:
    """A germline pattern is read against ``germline_tested`` too, one acquired on a drug class
    against ``tested_after_prior_therapy``."""
    a = cond.alteration
    return (("germline_tested",) if a.origin == "germline" else ()) + (
        (TESTED_AFTER.field,) if a.acquired_on is not None else ())


def history(cond, vocab, terms) -> HistoryRole | None:
    """Acquired on a drug class: exposure to the class, and progression on it, matter."""
    on = cond.alteration.acquired_on
    if on is None:
        return None
    terms.acquired_on.add(on)
    return HistoryRole("exposure")


def domain(key, terms) -> str:
    """The gene an atom reads, and what check's alterations of it are built from (by the atom's key)."""
    _, gene, labs, cods, excl, kind, origin, acq, partner, on, deleterious, _identified = key
    t = terms.gene(gene)
    t.acquired_on = t.acquired_on or on is not None
    t.classified = t.classified or deleterious
    for lab in sorted(labs or ()) + sorted(excl or ()):
        if lab not in t.labels:
            t.labels.append(lab)
    t.codons |= set(cods or ())
    if kind:
        t.kinds.add(kind)
    if origin:
        t.origins.add(origin)
    if acq is not None:
        t.acquired.add(acq)
    if partner:
        t.partners.add(partner)
    return gene


def held(atom, case, value) -> str:
    """What the case holds of the gene: its alterations, that it was tested, or what is missing."""
    a = atom.spec.alteration
    gene = a.gene
    found = [x.describe() for x in case.by_gene.get(gene, ())]
    on = a.acquired_on
    if value is False and on is not None and _never_held(case, on):
        # false because the class was never given: the history shows it (the gene may be untested)
        return "; ".join([", ".join(found), history_words(case)] if found else [history_words(case)])
    if found:
        return ", ".join(found)
    if value is False and a.identified:  # (whether or not the gene was tested: say which, so none is read as a negative test)
        return f"no {_alteration_words(a)} identified" + ("" if gene in case.tested else f" ({gene} not tested)")
    if value is False:
        return f"{gene} tested, no such change" if a.origin != "germline" else "germline testing found none"
    return UNKNOWN + atom.missing(case)


def names(key) -> LeafNames:
    """The gene read, the class the alteration must be acquired on, whether the pattern names
    particular changes (variants or codons) and the variants it names, by the atom's key."""
    return LeafNames(gene=key[1], acquired_on=key[9], specific=key[2] is not None or key[3] is not None,
                     variants=key[2] or frozenset())


def brief(key) -> str:
    """The pattern in ``check``'s findings, by the atom's key ("KRAS G12C", "NRAS codon 12/13")."""
    _, gene, labels, codons, _excl, kind, origin, acquired, _partner, on, deleterious, identified = key
    if labels:
        what = f"{gene} " + "/".join(sorted(labels))
    elif codons:
        what = f"{gene} codon " + "/".join(str(c) for c in sorted(codons))
    else:
        what = f"{gene} {kind or 'alteration'}"
    extra = [x for x in ((origin if origin == "germline" else None), ("deleterious" if deleterious else None),
                         ("acquired" if acquired else None), (f"acquired on {on}" if on else None),
                         ("identified" if identified else None)) if x]
    return what + (f" ({', '.join(extra)})" if extra else "")


def may_match(key, alt) -> bool:
    """Whether the pattern (by the atom's key) can match case alteration ``alt`` by gene, kind and
    change, or treats it as possibly one it names (an unspecified mutation of the gene)."""
    _, gene, labels, codons, exclude, kind, _origin, _acquired, _partner, _on, _deleterious, _identified = key
    if gene != alt.gene or (kind is not None and kind != alt.kind):
        return False
    if alt.kind == "mutation" and alt.codon is None and (labels is not None or codons is not None):
        return True  # an unspecified change the rules treat as possibly this one
    if labels is not None and alt.label not in labels:
        return False
    if codons is not None and not alt.at_codon(codons):
        return False
    return alt.label not in exclude


def found_only(cond) -> bool:
    """A pattern read as ``identified`` asks only whether the tests found such an alteration."""
    return bool(cond.alteration.identified)


def true_needs(key) -> str:
    """The gene (by the atom's key): a pattern is true only of a listed alteration of its gene."""
    return key[1]


KIND = register(ConditionKind("alteration", AlterationCond, build, label, check_terms, fields, "gene",
                              rule_terms, case_terms, depends, history, domain, negation="no", held=held,
                              names=names, brief=brief, may_match=may_match, true_needs=true_needs,
                              found_only=found_only))
