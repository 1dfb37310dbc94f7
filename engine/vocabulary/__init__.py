"""The vocabulary: turns what people type into the engine's canonical terms.

Everything it knows is data in ``rules/vocabulary/`` (see the README there): the OncoTree
cancer-type hierarchy and the names people use for its codes, gene symbols and aliases, the
words and cDNA hotspots the variant reader accepts, protein reference data, drugs with their
classes, and regimens. This package is only the reader and the normalisers, one module per
concern: :mod:`~engine.vocabulary.cancers`, :mod:`~engine.vocabulary.genes`,
:mod:`~engine.vocabulary.variants` (usable on its own) and :mod:`~engine.vocabulary.drugs`
(drugs, classes, regimens); :class:`Vocabulary` puts them together.

Typical use::

    vocab = Vocabulary.load(Path("rules/vocabulary"))
    vocab.cancer("PDAC").code                 # 'PAAD'
    "NSCLC" in vocab.cancer("LUAD").lineage   # True
    vocab.gene("LKB1")                        # 'STK11'
    vocab.variant("KRAS", "p.Gly12Cys").label # 'G12C'
    vocab.drug("AMG 510").name                # 'sotorasib'
    vocab.therapy_word("FOLFOX + bev")        # ('bevacizumab', 'fluorouracil', 'leucovorin', 'oxaliplatin')

Every unknown or malformed term raises :class:`~engine.errors.TermError` with the closest known
term as its suggestion; a broken vocabulary file raises :class:`~engine.errors.RuleError`
naming the file. Lookups are dictionary hits on a normalised key and are cached, since the
engine resolves the same strings many times.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.vocabulary.cancers import CancerType, CancerTypes
from engine.vocabulary.casewords import CaseWords
from engine.vocabulary.drugs import Drug, Drugs
from engine.vocabulary.genes import Genes
from engine.vocabulary.variants import Variant, VariantReader

__all__ = ["CancerType", "Drug", "Variant", "Vocabulary", "CancerTypes", "Genes", "VariantReader", "Drugs"]


class Vocabulary:
    """Cancer types, genes, variants, drugs and regimens, read from ``rules/vocabulary``."""

    def __init__(self, cancers: CancerTypes, genes: Genes, variants: VariantReader, drugs: Drugs,
                 case_words: CaseWords | None = None) -> None:
        self.cancers = cancers
        #: the words people write for the case format's fixed values ("stage IV": metastatic)
        self.case_words = case_words or CaseWords()
        self.gene_names = genes
        self.variants = variants
        self.drug_names = drugs
        # the lookups run per record, bound straight to the part that answers them (the methods
        # below document them); each has its method's signature, hence the method-assign ignores
        self.cancer = cancers.cancer  # type: ignore[method-assign]
        self.gene = genes.gene  # type: ignore[method-assign]
        self.find_gene = genes.find_gene  # type: ignore[method-assign]
        self.variant = variants.variant  # type: ignore[method-assign]
        self.drug = drugs.drug  # type: ignore[method-assign]
        self.therapy_word = drugs.therapy_word  # type: ignore[method-assign]

    @classmethod
    def load(cls, directory: Path) -> Vocabulary:
        """Read every vocabulary file in ``directory`` (``rules/vocabulary``).

        Raises :class:`RuleError` naming the file and key path when a file is missing or
        inconsistent (a regimen naming an unknown drug, an alias of an unknown gene, ...).
        """
        directory = Path(directory)
        cancers = CancerTypes.load(directory)
        genes = Genes.load(directory)
        variants = VariantReader.load(directory, genes.genes)
        drugs = Drugs.load(directory)
        return cls(cancers, genes, variants, drugs, CaseWords.load(directory))

    def __getattr__(self, name: str) -> Any:
        # The parts' tables (``_drug_keys``, ``_cdna``, ...) read by engine.testing to draw
        # spellings: looked up in the part that owns them.
        if name.startswith("__") or name in ("cancers", "gene_names", "variants", "drug_names", "case_words"):
            raise AttributeError(name)
        for part in (self.cancers, self.gene_names, self.variants, self.drug_names):
            try:
                return getattr(part, name)
            except AttributeError:
                continue
        raise AttributeError(name)

    # ------------------------------------------------------------------ cancer types

    @property
    def attribution(self) -> str:
        return self.cancers.attribution

    @property
    def oncotree_release(self) -> str:
        return self.cancers.oncotree_release

    def cancer(self, text: str) -> CancerType:
        """A cancer type from what people type (see :meth:`CancerTypes.cancer`)."""
        return self.cancers.cancer(text)

    def cancer_code(self, code: str) -> CancerType:
        """An exact OncoTree code (for rule files, where names are not allowed)."""
        return self.cancers.cancer_code(code)

    @property
    def cancer_types(self) -> Mapping[str, CancerType]:
        return self.cancers.cancer_types

    # ------------------------------------------------------------------ genes

    def gene(self, text: str) -> str:
        """The current HGNC symbol for a symbol, previous symbol or alias."""
        return self.gene_names.gene(text)

    def find_gene(self, text: str) -> str | None:
        """Like :meth:`gene`, but None for an unknown gene (no suggestion worked out)."""
        return self.gene_names.find_gene(text)

    @property
    def genes(self) -> frozenset[str]:
        return self.gene_names.genes

    def panel(self, name: str) -> frozenset[str]:
        return self.gene_names.panel(name)

    # ------------------------------------------------------------------ variants

    def variant(self, gene: str, text: str) -> Variant:
        """Read one alteration of ``gene`` (see :meth:`VariantReader.variant`)."""
        return self.variants.variant(gene, text)

    # ------------------------------------------------------------------ drugs and regimens

    def drug(self, text: str) -> Drug:
        return self.drug_names.drug(text)

    def drug_label(self, name: str) -> str:
        return self.drug_names.drug_label(name)

    def class_label(self, cls: str) -> str:
        return self.drug_names.class_label(cls)

    @property
    def drug_classes(self) -> frozenset[str]:
        return self.drug_names.drug_classes

    @property
    def drugs(self) -> frozenset[str]:
        return self.drug_names.drugs

    def drugs_in_class(self, cls: str) -> frozenset[str]:
        return self.drug_names.drugs_in_class(cls)

    def regimen(self, text: str) -> tuple[str, ...] | None:
        return self.drug_names.regimen(text)

    @property
    def regimens(self) -> Mapping[str, tuple[str, ...]]:
        return self.drug_names.regimens

    def therapy_word(self, text: str) -> tuple[str, ...]:
        return self.drug_names.therapy_word(text)
