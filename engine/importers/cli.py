"""``kras-rules import``: mutation files, VCFs, copy number, fusions, Phenopackets, FHIR -> case JSONL.

``add_parser(subparsers)`` registers the subcommand; ``run(args) -> int`` runs it. Cases go to stdout
(one JSON object a line, ready for ``kras-rules evaluate --format json -``); error records go to
stderr as JSON lines (or to ``--errors FILE``), then a summary for people, each line starting with
``kras-rules import:``. Exit codes: 0 every row read; 1 some rows or samples became error records
(every other case is still written); 2 usage error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import IO

from engine.errors import UsageError, quote
from engine.streams.output import OutputFailed, close_quietly, drop_stdout, reason, writing

PREFIX = "kras-rules import: "
PATH_LIMIT = 1000  # characters of a file name a message shows whole


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``import`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "import",
        help="turn mutation files, VCFs, copy-number/fusion files, Phenopackets or FHIR bundles into case JSONL on stdout",
        description=(
            "Read a mutation file (MAF or cBioPortal, plain or gzip) or a VCF, with copy-number and fusion files, "
            "and write one case per sample as JSON lines on stdout; or one case per GA4GH Phenopacket or FHIR "
            "Patient. Error records go to stderr as JSON lines (or --errors FILE), then a summary."
        ),
    )
    p.add_argument("--mutations", metavar="FILE", help="MAF or cBioPortal mutation file")
    p.add_argument("--vcf", metavar="FILE", help="VCF (plain or bgzipped; VEP CSQ or SnpEff ANN read where present)")
    p.add_argument("--phenopacket", nargs="+", action="extend", default=[], metavar="FILE",
                   help="GA4GH Phenopacket v2 files (JSON or YAML; one case each)")
    p.add_argument("--fhir", nargs="+", action="extend", default=[], metavar="FILE",
                   help="FHIR R4 bundles (Genomics Reporting / mCODE; one case per Patient)")
    p.add_argument("--cna", action="append", default=[], metavar="FILE",
                   help="copy-number file (cBioPortal data_CNA.txt, long CNA table, PCGR segments); repeatable")
    p.add_argument("--fusions", "--sv", action="append", default=[], metavar="FILE",
                   help="fusion or structural-variant file (cBioPortal, OncoKB annotator, PCGR); repeatable")
    p.add_argument("--gene-loci", metavar="BED", help="gene loci (BED: chromosome, start, end, symbol) for copy-number segments")
    p.add_argument(
        "--clinical",
        action="append",
        default=[],
        metavar="FILE",
        help="clinical sample or patient file (repeatable): cancer type and --map columns",
    )
    p.add_argument("--cancer-type", metavar="CODE", help="cancer type of samples whose clinical data give none")
    p.add_argument(
        "--assay",
        nargs="+",
        default=None,
        metavar="KIND",
        help="what was tested: exome (every gene), panel [FILE] or panel:FILE, none (default: nothing known wild-type)",
    )
    p.add_argument(
        "--panel",
        action="append",
        default=[],
        metavar="FILE",
        help="gene panel file (data_gene_panel_*.txt) or gene matrix (data_gene_matrix.txt); repeatable",
    )
    p.add_argument("--map", metavar="FILE", help="YAML/JSON mapping of clinical columns to stage, prior_therapies, germline_tested, multiagent_candidate, "
                   "tested_after_prior_therapy")
    p.add_argument("--assembly", metavar="BUILD", help="GRCh37 or GRCh38, for rows without NCBI_Build")
    p.add_argument("--samples", metavar="FILE", help="sequenced samples (one a line, or a cBioPortal case list): those without rows become cases with no alterations")
    p.add_argument("--grouped", action="store_true", help="the file is grouped by sample: write each case as soon as its rows end")
    p.add_argument("--errors", metavar="FILE", help="write error records (JSON lines) to FILE instead of stderr")
    return p


def _assay(args) -> tuple[str, list[str]]:
    panels = list(args.panel)
    words = args.assay or []
    if not words:
        return ("panel" if panels else "none"), panels
    kind, rest = words[0], words[1:]
    if kind.startswith("panel:"):
        kind, extra = "panel", kind[len("panel:") :]
        rest = [extra, *rest]
    if kind not in ("exome", "panel", "none"):
        raise UsageError(f"--assay: unknown assay '{kind}' (use exome, panel [FILE] or none)")
    if rest and kind != "panel":
        raise UsageError(f"--assay {kind} takes no file")
    return kind, panels + [r for r in rest if r]


def _run_documents(args, kind: str, files: list[str], out: IO[str], err: IO[str]) -> int:
    from engine.importers.api import make_document_reader

    for flag in ("cna", "fusions", "clinical", "samples"):
        if getattr(args, flag, None):
            raise UsageError(f"--{flag} is for mutation files and VCFs, not --{kind}")
    assay, panels = _assay(args)
    for f in files:  # a missing file is a usage error before any case is written (a bad one, a record)
        if not Path(f).is_file():
            raise UsageError(f"file not found: {f}" if not Path(f).exists() else f"not a file: {f}")

    def make(on_error):
        return make_document_reader(
            kind, cancer_type=args.cancer_type, assay=assay, panels=panels, assembly=args.assembly,
            rules_dir=getattr(args, "rules", None), on_error=on_error, field_map=args.map,
        )

    return _write_cases(args, make, lambda reader: reader.run([Path(f) for f in files]),
                        files[0] if len(files) == 1 else f"{len(files)} files", out, err)


def _inputs(args) -> list[tuple[str, str]]:
    """Every file the command reads, with the option that names it."""
    named: list[tuple[str, str]] = []
    for flag in ("mutations", "vcf", "phenopacket", "fhir", "cna", "fusions", "clinical", "map", "samples",
                 "gene_loci"):
        value = getattr(args, flag, None)
        for f in value if isinstance(value, list) else [value] if value else []:
            named.append(("--" + flag.replace("_", "-"), f))
    return named + [("--panel", f) for f in _assay(args)[1]]


def _check_errors_file_is_not_an_input(args) -> None:
    """A usage error, before anything is opened for writing, when ``--errors`` names one of the
    files the command reads: opening it for writing would empty the input before it is read.
    Compared by the file itself (also a link or another spelling of the path)."""
    target = Path(args.errors)
    try:
        out_stat: os.stat_result | None = target.stat()
    except OSError:
        out_stat = None
    for flag, f in _inputs(args):
        same = False
        try:
            same = out_stat is not None and os.path.samestat(os.stat(f), out_stat)
        except OSError:
            pass
        if same or Path(f).resolve() == target.resolve():
            raise UsageError(f"--errors: {quote(args.errors, PATH_LIMIT)} is also an input ({flag} {quote(f, PATH_LIMIT)}): "
                             "write the error records to another file")


def _write_cases(args, make, cases, source: str, out: IO[str], err: IO[str]) -> int:
    """Build a reader with ``make(on_error)``, write the case of each of ``cases(reader)`` as a JSON line
    on ``out``, error records to ``--errors`` or ``err``, then the reader's summary; the exit code.
    An output that cannot be written to the end (a full disk) is a usage error naming it, as for
    ``evaluate`` (:mod:`engine.streams.output`): the cases written before it stay whole lines."""
    errors_fh: IO[str] | None = None
    if args.errors:
        _check_errors_file_is_not_an_input(args)
        try:
            errors_fh = open(args.errors, "w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--errors: cannot write {args.errors}: {exc.strerror}") from None
    sink_fh = errors_fh or err
    sink_write = sink_fh.write
    errors_where = f"the error file {quote(args.errors)} (--errors)" if args.errors else None
    count = [0]

    def on_error(rec: dict) -> None:
        count[0] += 1
        with writing(errors_where):
            sink_write(json.dumps(rec, ensure_ascii=False) + "\n")

    out_write = out.write

    def write(text: str) -> None:
        with writing("standard output"):
            out_write(text)

    try:
        reader = make(on_error)
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
        for case in cases(reader):
            write(dumps(case) + "\n")
        with writing("standard output"):
            out.flush()
        if errors_fh is not None:
            fh, errors_fh = errors_fh, None
            with writing(errors_where):
                fh.close()
    except OutputFailed as exc:
        if exc.where == "standard output" and out is sys.stdout:
            drop_stdout(out)
        raise UsageError(f"cannot write {exc.where or 'standard error'}: {reason(exc.error)}") from None
    finally:
        if errors_fh is not None:
            close_quietly(errors_fh)
    for line in reader.summary.lines(source):
        err.write(PREFIX + line + "\n")
    if args.errors and count[0]:
        err.write(PREFIX + f"error records written to {args.errors}\n")
    return 1 if count[0] else 0


def run(args, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run ``import`` with parsed ``args``; return the exit code."""
    from engine.importers import make_importer

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    given = [(f, getattr(args, f)) for f in ("mutations", "vcf", "phenopacket", "fhir") if getattr(args, f, None)]
    if len(given) > 1:
        raise UsageError(f"give one kind of input: --{given[0][0]} or --{given[1][0]}, not both")
    if not given and not (args.cna or args.fusions):
        raise UsageError("nothing to import: give --mutations, --vcf, --phenopacket, --fhir, --cna or --fusions")
    if given and given[0][0] in ("phenopacket", "fhir"):
        return _run_documents(args, given[0][0], given[0][1], out, err)
    fmt = {"mutations": "maf", "vcf": "vcf"}[given[0][0]] if given else "maf"
    main = given[0][1] if given else None
    source = main or (args.cna + args.fusions)[0]
    assay, panels = _assay(args)

    def make(on_error):
        return make_importer(
            clinical=args.clinical,
            cancer_type=args.cancer_type,
            assay=assay,
            panels=panels,
            field_map=args.map,
            assembly=args.assembly,
            samples=args.samples,
            grouped=args.grouped,
            rules_dir=getattr(args, "rules", None),
            on_error=on_error,
            input_format=fmt,
            cna=args.cna,
            fusions=args.fusions,
            gene_loci=args.gene_loci,
        )

    path = Path(main) if main is not None else None
    return _write_cases(args, make, lambda imp: imp.run(path), source, out, err)
