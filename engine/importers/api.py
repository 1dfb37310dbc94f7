"""Importers: real mutation files (MAF, cBioPortal, TCGA) -> cases in the case format.

The Python API mirrors ``kras-rules import``::

    from engine.importers import make_importer

    imp = make_importer(
        clinical=["data_clinical_sample.txt"],
        assay="panel",
        panels=["data_gene_matrix.txt"],
        on_error=print,                        # each error record, a dict
    )
    for case in imp.run(Path("data_mutations_extended.txt")):
        ...                                    # one dict per sample, ready for evaluation
    imp.summary.lines("data_mutations_extended.txt")

See the README ("Importing real mutation files") for what is read, what counts as an alteration and how rows that
cannot be read are reported.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine.errors import TermError, UsageError
from engine.importers import hotspots as hs
from engine.importers.calls import ExtrasMixin
from engine.importers.clinical import ClinicalIndex, FieldMap
from engine.importers.documents import paths_of  # (a file given alone, or a list of them)
from engine.importers.coding import CodingExons
from engine.importers.hotspots import HotspotTable
from engine.importers.importer import ASSAYS, Importer, ImportOptions, Summary
from engine.importers.maf import alt_allele
from engine.importers.oncotree import OncoTreeIndex, OncoTreeResolver
from engine.importers.panels import PanelSet
from engine.importers.tabular import is_missing, iter_lines
from engine.importers.vcf import VcfImporter

HOTSPOT_FILE = "genomic_hotspots.yaml"

__all__ = ["make_importer", "make_document_reader", "load_vocabulary", "read_sample_list", "Importer", "ImportOptions", "Summary", "HotspotTable"]


def load_vocabulary(rules_dir: Path | str | None = None) -> Any:
    """The vocabulary of a rules directory (default: the shipped ``rules/``)."""
    from engine.vocabulary import Vocabulary

    return Vocabulary.load(_rules_dir(rules_dir) / "vocabulary")


def _rules_dir(rules_dir: Path | str | None) -> Path:
    if rules_dir is not None:
        return Path(rules_dir)
    from engine.rulebase import default_rules_dir

    return default_rules_dir()


_ONCOTREE: dict[Path, OncoTreeIndex] = {}


def oncotree_index(rules_dir: Path) -> OncoTreeIndex:
    """Revocations and NCIt references of the rules directory's OncoTree file (read once)."""
    key = rules_dir.resolve()
    hit = _ONCOTREE.get(key)
    if hit is None:
        hit = _ONCOTREE[key] = OncoTreeIndex.load(rules_dir / "vocabulary")
    return hit


def read_sample_list(path: Path) -> list[str]:
    """Sample ids, one a line (TCGA ``*.all_samples.txt``) or a cBioPortal case list's ``case_list_ids:``."""
    out: list[str] = []
    for _, text in iter_lines(path):
        t = text.strip()
        if not t or t.startswith("#"):
            continue
        if ":" in t:
            key, _, rest = t.partition(":")
            if key.strip() == "case_list_ids":
                out.extend(rest.split())
            continue
        out.append(t.split("\t")[0].strip())
    return out


def make_importer(
    *,
    clinical: Iterable[Path | str] = (),
    cancer_type: str | None = None,
    assay: str = "none",
    panels: Iterable[Path | str] = (),
    field_map: Path | str | None = None,
    assembly: str | None = None,
    samples: Path | str | None = None,
    grouped: bool = False,
    rules_dir: Path | str | None = None,
    vocab: Any = None,
    on_error: Callable[[dict], None] | None = None,
    input_format: str = "maf",
    cna: Iterable[Path | str] = (),
    fusions: Iterable[Path | str] = (),
    gene_loci: Path | str | None = None,
) -> Importer:
    """Load everything an import needs and check it; bad arguments raise UsageError.

    ``input_format`` is ``maf`` (MAF, cBioPortal, TCGA mutation tables) or ``vcf``; ``cna`` and
    ``fusions`` name copy-number and fusion/structural-variant files whose alterations are added to
    the samples' cases (see :mod:`engine.importers.extras`)."""
    if vocab is None:
        vocab = load_vocabulary(rules_dir)
    table = HotspotTable.load(_rules_dir(rules_dir) / "vocabulary" / HOTSPOT_FILE)
    asm, ct = _checked_options(vocab, table, assay, assembly, cancer_type)
    panel_paths = paths_of(panels)
    if panel_paths and assay != "panel":
        raise UsageError(f"--panel is for --assay panel, not --assay {assay}")
    panel_set = PanelSet.load(panel_paths) if assay == "panel" else None

    opts = ImportOptions(
        cancer_type=ct,
        assay=assay,
        panels=panel_set,
        assembly=asm,
        grouped=grouped,
        samples=read_sample_list(Path(samples)) if samples is not None else [],
    )
    cls = _IMPORTERS.get(input_format)
    if cls is None:
        raise UsageError(f"unknown input format '{input_format}' (use {' or '.join(_IMPORTERS)})")
    imp = cls(vocab, table, opts, ClinicalIndex(), on_error)
    imp.coding = CodingExons.load(_rules_dir(rules_dir) / "vocabulary", table)
    imp.rules_vocabulary = _rules_dir(rules_dir) / "vocabulary"
    # revoked OncoTree codes (GBM -> GB) are read as their replacement, with a note in the summary
    imp._cancer = OncoTreeResolver(vocab, ct, oncotree_index(_rules_dir(rules_dir)), imp.summary.notes)
    cna_paths, fusion_paths = paths_of(cna), paths_of(fusions)
    if cna_paths or fusion_paths:
        from engine.importers.extras import load_extras

        imp.extras = load_extras(
            vocab, cna_paths, fusion_paths, imp.error, rules_dir=_rules_dir(rules_dir),
            assembly=asm, gene_loci=Path(gene_loci) if gene_loci is not None else None, past_end=table.past_end,
        )
    for c in paths_of(clinical):
        imp.clinical.add_file(c, imp.error)
    if field_map is not None:
        fm = FieldMap.load(Path(field_map), lambda f, v: _check_value(vocab, f, v))
        fm.check_columns(imp.clinical.columns)
        opts.field_map = fm
    return imp



def _checked_options(vocab, table, assay: str, assembly: str | None, cancer_type: str | None):
    """The options every reader shares, checked: the assay, the assembly (its record) and the cancer
    type given on the command line (its OncoTree code); bad ones raise UsageError."""
    if assay not in ASSAYS:
        raise UsageError(f"unknown assay '{assay}' (use exome, panel or none)")
    asm = None
    if assembly is not None:
        asm = table.assembly(assembly)
        if asm is None:
            raise UsageError(f"unknown assembly '{assembly}' (use {' or '.join(table.assemblies)})")
    ct = None
    if cancer_type is not None:
        try:
            found = vocab.cancer(cancer_type)
        except TermError as exc:
            raise UsageError(f"--cancer-type: {exc.problems[0].render()}") from None
        code = getattr(found, "code", None)
        ct = code if isinstance(code, str) and code else cancer_type
    return asm, ct

def make_document_reader(
    input_format: str,
    *,
    cancer_type: str | None = None,
    assay: str = "none",
    panels: Iterable[Path | str] = (),
    assembly: str | None = None,
    rules_dir: Path | str | None = None,
    vocab: Any = None,
    on_error: Callable[[dict], None] | None = None,
    field_map: Path | str | None = None,
) -> Any:
    """A reader of GA4GH Phenopackets (``phenopacket``) or FHIR bundles (``fhir``); its ``run(paths)``
    yields the case dicts and its ``summary`` holds the counts. ``field_map`` is a ``--map`` file whose
    columns are the format's ``MAP_FIELDS`` (phenopackets: diseaseStage, clinicalTnmFinding; FHIR:
    stage)."""
    if vocab is None:
        vocab = load_vocabulary(rules_dir)
    rdir = _rules_dir(rules_dir)
    table = HotspotTable.load(rdir / "vocabulary" / HOTSPOT_FILE)
    asm, ct = _checked_options(vocab, table, assay, assembly, cancer_type)
    panel_genes = None
    if assay == "panel":
        ps = PanelSet.load(paths_of(panels))
        if ps.matrix is not None or len(ps.panels) != 1:
            raise UsageError("--assay panel for documents takes one gene panel file (--panel data_gene_panel_X.txt)")
        panel = next(iter(ps.panels.values()))
        panel_genes = frozenset(g for g in (vocab.find_gene(x) for x in panel.genes) if g)
    if input_format == "phenopacket":
        from engine.importers.phenopackets import PhenopacketReader as cls
    elif input_format == "fhir":
        from engine.importers.fhir import FhirReader as cls  # type: ignore[assignment]  # same constructor as the other reader
    else:
        raise UsageError(f"unknown document format '{input_format}' (use phenopacket or fhir)")
    reader = cls(vocab, table, oncotree_index(rdir), assay=assay, panel_genes=panel_genes, cancer_type=ct,
                 assembly=asm, errors=on_error)
    reader.coding = CodingExons.load(rdir / "vocabulary", table)
    if field_map is not None:
        import importlib

        fields = importlib.import_module(cls.__module__).MAP_FIELDS
        fm = FieldMap.load(Path(field_map), lambda f, v: _check_value(vocab, f, v))
        for fname, specs in fm.fields.items():
            for spec in specs:
                if spec.column not in fields:
                    raise UsageError(
                        f"{field_map}: {fname}: column '{spec.column}': a {input_format} --map reads "
                        + " or ".join(fields)
                    )
        reader.field_map = fm
    return reader


class MafImporter(ExtrasMixin, Importer):
    """MAF / cBioPortal / TCGA mutation tables, with copy-number and fusion files added.

    A substitution outside the hotspot table but inside a listed coding exon is read from the
    coordinates and the transcript (:mod:`engine.importers.coding`) before it would make the gene's
    status unknown."""

    coding: CodingExons | None = None
    rules_vocabulary: Path | None = None  # set by make_importer (read by the VCF importer only)

    def read(self, path):
        for _, first in iter_lines(Path(path)):
            if first.startswith("##fileformat=VCF"):
                raise UsageError(f"{path} is a VCF, not a mutation table: import it with --vcf")
            break
        return super().read(path)

    def _from_coordinates(self, f, cols, gene, st, name, line):
        coding = self.coding
        if coding is not None and gene in coding.genes and cols.has_coordinates:
            hit = self._coding_change(coding, f, cols, gene)
            if hit is not None:
                return hit
        return super()._from_coordinates(f, cols, gene, st, name, line)

    def _coding_change(self, coding: CodingExons, f, cols, gene: str) -> str | None:
        build = f[cols.build].strip() if cols.build is not None else ""
        asm = self._build(build) if build and not is_missing(build) else self.opt.assembly
        if asm is None or (self.opt.assembly is not None and asm != self.opt.assembly):
            return None  # the table path reports the assembly problem
        try:
            start = int(f[cols.start].strip())
        except ValueError:
            return None
        chrom, ref = f[cols.chromosome].strip(), f[cols.ref].strip()
        alt = alt_allele(ref, f[cols.alt2] if cols.alt2 is not None else "", f[cols.alt1] if cols.alt1 is not None else "")
        span = max(len(ref), 1) if ref not in ("-", "") else 1
        if self.table.covers(asm, chrom, start, start + span - 1):
            return None
        d = coding.decode(asm, chrom, start, ref, alt)
        if d.kind == hs.DECODED and d.gene == gene:
            self.summary.from_transcript += 1
            return d.protein
        return None


_IMPORTERS: dict[str, type[MafImporter] | type[VcfImporter]] = {"maf": MafImporter, "vcf": VcfImporter}


def _check_value(vocab: Any, fname: str, value: Any) -> str | None:
    """Why ``value`` cannot be the case field ``fname`` (None: it can)."""
    from pydantic import ValidationError

    from engine.case import CaseIn, strict_problems

    data = {"cancer_type": "-", fname: value}
    try:
        CaseIn.model_validate(data)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        where = ".".join(str(x) for x in e["loc"][1:])
        return f"not a valid {fname}{'.' + where if where else ''}: {e['msg']}"
    # (what the case reader refuses that the model alone would coerce: the text "no" for false)
    for p in strict_problems(data):
        where = ".".join(str(x) for x in p.path[1:])
        return f"not a valid {fname}{'.' + where if where else ''}: {p.message}"
    if fname == "prior_therapies" and hasattr(vocab, "therapy_word"):
        for i, line in enumerate(value):
            words = ([line["regimen"]] if line.get("regimen") else []) + list(line.get("drugs") or [])
            for w in words:
                try:
                    vocab.therapy_word(w)
                except TermError as exc:
                    return f"[{i}]: {exc.problems[0].render()}"
    return None
