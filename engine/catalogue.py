"""The public catalogue of a rule base: what a picker in a tutoring tool offers.

Therapies (id, display name, drugs, drug classes, the rules that conclude about each), genes,
variants the rules name, cancer types (every OncoTree node, with those the rules name marked),
regimens, drugs with their classes and sources. :meth:`Catalogue.therapy` finds a therapy by its
id, its name or its drugs written in any order and by any of their names (``Krazati + Erbitux``,
``cetuximab+adagrasib``), with a "did you mean" when nothing matches.

Built once per rule base (``Engine.catalogue()``); read through the vocabulary's public functions.
"""
from __future__ import annotations

import difflib

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import Problem, TermError, UsageError, quote


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DrugEntry(_M):
    name: str = Field(description="lowercase generic (or code) name, as results write it")
    label: str = Field(description="how to show the drug (e.g. RM-018)")
    classes: list[str] = Field(description="drug classes, implied classes included (e.g. platinum for oxaliplatin)")


class TherapyEntry(_M):
    id: str = Field(description="therapy id: the sorted generic drug names joined by '+'")
    name: str = Field(description="display name, e.g. 'adagrasib + cetuximab'")
    drugs: list[str] = Field(description="lowercase generic names of every drug, sorted")
    classes: list[str] = Field(description="drug classes of its drugs, sorted")
    rules: list[str] = Field(description="ids of the conclusion rules that can decide this therapy")


class VariantEntry(_M):
    gene: str = Field(description="HGNC gene symbol")
    variant: str = Field(description="the variant in canonical short form (G12C, exon 19 deletion, amplification)")
    rules: list[str] = Field(description="ids of the rules that name this variant")


class CancerTypeEntry(_M):
    code: str = Field(description="OncoTree code")
    name: str = Field(description="OncoTree name")
    main_type: str | None = Field(description="OncoTree main type")
    lineage: list[str] = Field(description="the code and its ancestors, most specific first")
    in_rules: bool = Field(description="true if some rule names this code (cases of its subtypes match too)")


class RegimenEntry(_M):
    name: str = Field(description="regimen name as written in prior therapies (FOLFOX, CAPOX, ...)")
    drugs: list[str] = Field(description="the drugs it expands to, sorted")


class SourceEntry(_M):
    id: str = Field(description="source id, as citations name it")
    title: str = Field(description="the source's title, for people")
    kind: str = Field(description="label, guideline, trial, publication, knowledge base or document")
    date: str | None = Field(description="date of the source (ISO), if known")
    url: str | None = Field(description="where to read it, if known")


class Catalogue(_M):
    """Everything a case may name and every therapy a result may list."""

    knowledge_version: str = Field(description="the date the knowledge is current to")
    therapies: list[TherapyEntry] = Field(description="every therapy a result may list")
    genes: list[str] = Field(description="every gene symbol the vocabulary knows")
    variants: list[VariantEntry] = Field(description="the variants the rules name (any HGVS change of a known gene is accepted in a case)")
    cancer_types: list[CancerTypeEntry] = Field(description="every OncoTree node")
    regimens: list[RegimenEntry] = Field(description="named regimens accepted in prior therapies")
    drugs: list[DrugEntry] = Field(description="every drug the vocabulary knows")
    drug_classes: dict[str, str] = Field(description="drug class id -> label")
    sources: list[SourceEntry] = Field(description="every source rules cite")
    jurisdictions: list[str] = Field(description="regulators the rules know (FDA, EMA)")


def build_catalogue(rb, jurisdictions) -> CatalogueIndex:
    from engine.rulebase import rule_conditions
    from engine.conditions import BY_MODEL

    vocab = rb.vocab
    by_therapy: dict[str, list[str]] = {}
    for rid, ts in rb.targets.items():
        for t in ts:
            by_therapy.setdefault(t, []).append(rid)
    therapies = []
    for t in rb.therapies.values():
        drugs = sorted(vocab.drug(d).name for d in t.drugs)
        classes = sorted({c for d in drugs for c in vocab.drug(d).classes})
        therapies.append(TherapyEntry(id=t.id, name=t.name, drugs=drugs, classes=classes, rules=sorted(by_therapy.get(t.id, ()))))
    variants: dict[tuple, set[str]] = {}
    codes: set[str] = set()
    for rule in rb.rules:
        for cond, _ in rule_conditions(rule):
            kind = BY_MODEL.get(type(cond))
            if kind is None:  # a combinator or a fact
                continue
            named = kind.named(kind.build(cond, vocab)[0])  # what the leaf names, as its kind reads its key
            for label in named.variants:
                variants.setdefault((named.gene, label), set()).add(rule.id)
            codes.update(named.cancers)
    cancers = [
        CancerTypeEntry(code=c.code, name=c.name, main_type=c.main_type, lineage=list(c.lineage), in_rules=c.code in codes)
        for c in sorted(vocab.cancer_types.values(), key=lambda c: c.code)
    ]
    drugs = [DrugEntry(name=d, label=vocab.drug_label(d), classes=sorted(vocab.drug(d).classes)) for d in sorted(vocab.drugs)]
    sources = []
    seen = set()
    for s in rb.sources.values():
        if s.id in seen:
            continue
        seen.add(s.id)
        sources.append(SourceEntry(id=s.id, title=s.title, kind=s.kind, date=s.date.isoformat() if s.date else None,
                                   url=getattr(s, "url", None)))
    cat = Catalogue(
        knowledge_version=rb.meta.knowledge_version.isoformat(),
        therapies=therapies,
        genes=sorted(vocab.genes),
        variants=[VariantEntry(gene=g, variant=v, rules=sorted(r)) for (g, v), r in sorted(variants.items())],
        cancer_types=cancers,
        regimens=[RegimenEntry(name=n, drugs=sorted(d)) for n, d in sorted(vocab.regimens.items())],
        drugs=drugs,
        drug_classes={c: vocab.class_label(c) for c in sorted(vocab.drug_classes)},
        sources=sources,
        jurisdictions=sorted(jurisdictions),
    )
    return CatalogueIndex(cat, vocab)


def rule_record(rb, rule) -> dict:
    """A rule as JSON data (``kras-rules explain --format json``, ``GET /rules/{id}``): its fields,
    the file it is in and the therapies it concludes about."""
    d = rule.model_dump(mode="json", by_alias=True, exclude_none=True)
    d["file"] = rb.rule_files[rule.id]
    d["therapies"] = list(rb.targets.get(rule.id, ()))
    return d


def _key(text: str) -> str:
    return " ".join(text.lower().replace("+", " + ").split())


class CatalogueIndex:
    """The catalogue with its lookups (``therapy``)."""

    def __init__(self, catalogue: Catalogue, vocab):
        self.catalogue = catalogue
        self.vocab = vocab
        self.by_id = {t.id: t for t in catalogue.therapies}
        self.by_drugs = {tuple(t.drugs): t for t in catalogue.therapies}
        self._names = {_key(t.name): t for t in catalogue.therapies}
        self._names.update({_key(t.id): t for t in catalogue.therapies})

    def therapy(self, text: str) -> TherapyEntry:
        """A therapy by id, display name, or its drugs in any order and by any of their names."""
        if not isinstance(text, str) or not text.strip():
            raise UsageError([Problem("a therapy is a non-empty text", ("therapy",))])
        hit = self.by_id.get(text.strip()) or self._names.get(_key(text))
        if hit is not None:
            return hit
        suggestion = None
        try:
            drugs = self.vocab.therapy_word(text)
        except TermError as exc:
            drugs = None
            p = exc.problems[0]
            bad = p.message.split("'")[1] if p.message.count("'") >= 2 else None
            if p.suggestion and bad:  # one misspelt drug: the therapy the corrected words name
                try:
                    fixed = self.by_drugs.get(tuple(sorted(self.vocab.therapy_word(text.replace(bad, p.suggestion)))))
                    suggestion = fixed.id if fixed else None
                except TermError:
                    pass
        if drugs is None and "+" not in text and len(text.split()) > 1:
            try:  # drug names separated by spaces ("cetuximab adagrasib")
                drugs = self.vocab.therapy_word(" + ".join(text.split()))
                suggestion = None
            except TermError:
                pass
        if drugs is not None:
            hit = self.by_drugs.get(tuple(sorted(drugs)))
            if hit is not None:
                return hit
        if drugs:
            # drugs the vocabulary knows, that no therapy of the catalogue is: a therapy that holds
            # them all is what was probably meant ("dabrafenib" -> dabrafenib + trametinib), never
            # another drug whose name looks alike (pembrolizumab is not panitumumab)
            given = set(drugs)
            holding = sorted((t for key, t in self.by_drugs.items() if given <= set(key)), key=lambda t: len(t.drugs))
            suggestion = holding[0].id if holding else None
            named = " + ".join(drugs)
            said = "" if _key(text) == _key(named) else f" ('{text}')"
            raise UsageError([Problem(
                f"no therapy of the catalogue is {named}{said}: the catalogue holds the therapies the rules "
                "decide" + ("" if holding else f", and none of them gives {named}"), ("therapy",), suggestion)])
        if suggestion is None:
            close = difflib.get_close_matches(_key(text), list(self._names), n=1, cutoff=0.5)
            suggestion = self._names[close[0]].id if close else None
        raise UsageError([Problem(f"unknown therapy {quote(text)}", ("therapy",), suggestion)])
