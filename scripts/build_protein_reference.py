"""Build ``rules/vocabulary/protein_residues.json`` from the real MAF files.

Reads the gene settings in ``rules/vocabulary/protein_reference.yaml`` (lengths, the Ensembl
transcripts whose numbering matches the clinical reference) and the public mutation files
(cBioPortal, TCGA) of the folder ``--data`` names, and writes, for each configured gene, the reference residue at every
position the files report (``p.G12C`` -> residue 12 is G), plus the missense changes seen in at
least ``--min-samples`` samples (used to suggest the gene a misplaced change belongs to).

Usage (from the repository root)::

    python scripts/build_protein_reference.py [--data DIR] [--check]

``--check`` rebuilds in memory and exits 1 if the committed file differs.
"""
from __future__ import annotations

import argparse
import collections
import csv
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
CONFIG = ROOT / "rules" / "vocabulary" / "protein_reference.yaml"
OUTPUT = ROOT / "rules" / "vocabulary" / "protein_residues.json"

# (path under the data folder, protein change column, transcript column or None, pipeline)
# Files of one pipeline are annotated the same way; "ensembl" rows are filtered by transcript.
SOURCES: tuple[tuple[str, str, str | None, str], ...] = (
    ("cbioportal/paad_utsw_2015/maf_cleaned.txt", "HGVSp_Short", "Transcript_ID", "ensembl"),
    ("tcga_mutations/MC3_PAAD.nonsilent.maf.tsv.gz", "HGVSp_Short", "Transcript_ID", "ensembl"),
    ("tcga_mutations/MC3_READ.nonsilent.maf.tsv.gz", "HGVSp_Short", "Transcript_ID", "ensembl"),
    ("cbioportal/paad_cptac_2021/data_mutations.maf", "HGVSp_Short", None, "cptac"),
    ("tcga_mutations/Firehose_COAD.nonsilent.maf.tsv.gz", "Protein_Change", None, "firehose"),
    ("tcga_mutations/Firehose_LUAD.nonsilent.maf.tsv.gz", "Protein_Change", None, "firehose"),
    ("tcga_mutations/Firehose_PAAD.nonsilent.maf.tsv.gz", "Protein_Change", None, "firehose"),
    ("tcga_mutations/Firehose_READ.nonsilent.maf.tsv.gz", "Protein_Change", None, "firehose"),
    ("cbioportal/nsclc_unito_2016/data_mutations_extended.txt", "Amino_Acid_Change", None, "unito"),
    ("oncokb_annotator_examples/example_maf.txt", "HGVSp_Short", None, "oncokb_example"),
)

_AA = "ACDEFGHIKLMNPQRSTVWY"
# the residue and position a change starts at: p.G12C, p.E746_A750del, p.S1982Rfs*22, p.G12=
_FIRST = re.compile(rf"^p\.([{_AA}])(\d+)(?=[{_AA}*=_]|fs|del|ins|dup|ext|$)")
# the second residue of a range: p.E746_A750del
_SECOND = re.compile(rf"^p\.[{_AA}]\d+_([{_AA}])(\d+)")
_MISSENSE = re.compile(rf"^p\.([{_AA}])(\d+)([{_AA}*])$")


def read_rows(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        yield from csv.DictReader(lines, delimiter="\t")


def sample_key(barcode: str) -> str:
    """TCGA aliquot barcodes -> patient (MC3 and Firehose hold the same patients)."""
    return barcode[:12] if barcode.startswith("TCGA-") else barcode


def observations(data: Path, genes: dict):
    """Yield (gene, pipeline, position, residue, sample, change) for every usable row."""
    for rel, column, tx_column, pipeline in SOURCES:
        path = data / rel
        if not path.exists():
            raise SystemExit(f"missing data file: {rel} (under {data.name}/)")
        for row in read_rows(path):
            gene = row.get("Hugo_Symbol", "")
            conf = genes.get(gene)
            if not conf or not conf.get("data_transcripts"):
                continue
            if tx_column and row.get(tx_column) not in conf["data_transcripts"]:
                continue
            change = (row.get(column) or "").strip()
            if change and not change.startswith("p."):
                change = "p." + change
            sample = sample_key(row.get("Tumor_Sample_Barcode", ""))
            for rx in (_FIRST, _SECOND):
                m = rx.match(change)
                if m:
                    yield gene, pipeline, int(m.group(2)), m.group(1), sample, change


def reference_sequence(gene: str, conf: dict) -> str:
    """The gene's reference protein (``sequence``), checked against its length and the SHA-256 or
    MD5 its ``sequence_source`` names; "" where none is given."""
    seq = "".join(str(conf.get("sequence") or "").split()).upper()
    if not seq:
        return ""
    if set(seq) - set(_AA):
        raise SystemExit(f"{gene}: the sequence holds letters that are not amino acids: {sorted(set(seq) - set(_AA))}")
    if conf.get("length") and len(seq) != conf["length"]:
        raise SystemExit(f"{gene}: the sequence has {len(seq)} residues, the length says {conf['length']}")
    named = re.search(r"\b(SHA-256|MD5)\s+([0-9a-f]{64}|[0-9a-f]{32})\b", str(conf.get("sequence_source") or ""))
    if named is None:
        raise SystemExit(f"{gene}: a sequence needs a sequence_source naming its SHA-256 or MD5")
    digest = (hashlib.sha256 if named.group(1) == "SHA-256" else hashlib.md5)(seq.encode("ascii")).hexdigest()
    if digest != named.group(2):
        raise SystemExit(f"{gene}: the sequence does not match the {named.group(1)} of its source")
    return seq


def build(data: Path, config: dict, min_samples: int) -> tuple[dict, list[str]]:
    genes = config["genes"]
    seen: dict[str, dict[str, dict[int, set[str]]]] = collections.defaultdict(
        lambda: collections.defaultdict(lambda: collections.defaultdict(set))
    )
    samples: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for gene, pipeline, pos, residue, sample, change in observations(data, genes):
        seen[gene][pipeline][pos].add(residue)
        m = _MISSENSE.match(change)
        if m and m.group(1) != m.group(3):
            samples[(gene, change[2:])].add(sample)

    report: list[str] = []
    residues: dict[str, str] = {}
    for gene in sorted(seen):
        conf = genes[gene]
        limit = min(conf.get("residues_up_to") or 10**9, conf.get("length") or 10**9)
        base = seen[gene].get("ensembl", {})
        accepted: dict[int, set[str]] = collections.defaultdict(set)
        for pos, res in base.items():
            accepted[pos] |= res
        used = ["ensembl"] if base else []
        for pipeline, positions in sorted(seen[gene].items()):
            if pipeline == "ensembl":
                continue
            shared = [p for p in positions if p in base]
            conflicts = [p for p in shared if positions[p] != base[p] or len(base[p]) > 1]
            if not shared or conflicts:
                why = f"{len(conflicts)} conflicting positions" if conflicts else "no shared position"
                report.append(f"{gene}: {pipeline} not used ({why})")
                continue
            used.append(pipeline)
            for pos, res in positions.items():
                accepted[pos] |= res
        seq = reference_sequence(gene, conf)
        for pos, res in sorted(accepted.items()):
            if seq and len(res) == 1 and pos <= len(seq) and res != {seq[pos - 1]}:
                raise SystemExit(f"{gene}: the data give residue {pos} as {next(iter(res))}, the sequence as "
                                 f"{seq[pos - 1]}: a wrong sequence, or the data number on another isoform")
        table = {p: seq[p - 1] for p in range(1, min(limit, len(seq)) + 1)} if seq else {}
        for pos, res in sorted(accepted.items()) if not seq else ():  # (a sequence gives every residue)
            if len(res) != 1:
                report.append(f"{gene}: position {pos} left out (files disagree: {''.join(sorted(res))})")
                continue
            if pos > limit:
                if conf.get("length") and pos > conf["length"]:
                    raise SystemExit(f"{gene}: residue {pos} seen in the data, past length {conf['length']}")
                continue
            table[pos] = next(iter(res))
        if table:
            residues[gene] = " ".join(f"{p}{r}" for p, r in sorted(table.items()))
            what = "the sequence, checked against " if seq else ""
            report.append(f"{gene}: {len(table)} residues from {what}{', '.join(used)}")

    recurrent: dict[str, list[str]] = collections.defaultdict(list)
    for (gene, label), who in sorted(samples.items()):
        pos = int(re.match(r"[A-Z](\d+)", label).group(1))
        known = residues.get(gene, "")
        if len(who) >= min_samples and f"{pos}{label[0]}" in known.split():
            recurrent[label].append(gene)
    out = {
        "about": (
            "Generated by scripts/build_protein_reference.py from protein_reference.yaml and the "
            "MAF files listed in 'sources'; do not edit by hand."
        ),
        "sources": [rel for rel, *_ in SOURCES],
        "min_samples": min_samples,
        "residues": residues,
        "recurrent": {k: sorted(v) for k, v in sorted(recurrent.items())},
    }
    return out, report


def render(obj: dict) -> str:
    return json.dumps(obj, indent=1, sort_keys=False, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--min-samples", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    out, report = build(args.data, config, args.min_samples)
    text = render(out)
    if not args.quiet:
        print("\n".join(report), file=sys.stderr)
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: rerun the script", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(out['residues'])} genes, "
          f"{sum(len(v.split()) for v in out['residues'].values())} residues, "
          f"{len(out['recurrent'])} recurrent changes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
