"""The mutation-file format: which columns mean what, and which rows are alterations.

MAF (GDC, TCGA MC3, Firehose/Oncotator, vcf2maf) and cBioPortal ``data_mutations*.txt`` files share
the column names below. Annovar-style ``Variant_Classification`` values (``nonsynonymous``,
``stopgain``, ...) as found in some cBioPortal studies are read too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields

from engine.errors import UsageError
from engine.importers.tabular import Table

SAMPLE_COLUMNS = ("Tumor_Sample_Barcode", "SAMPLE_ID")
GENE_COLUMNS = ("Hugo_Symbol",)
PROTEIN_COLUMNS = ("HGVSp_Short", "Protein_Change", "Amino_Acid_Change", "HGVSp")


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# Variant_Classification values that count as an alteration: they change the protein.
COUNTED = (
    "Missense_Mutation",
    "Nonsense_Mutation",
    "Nonstop_Mutation",
    "Frame_Shift_Del",
    "Frame_Shift_Ins",
    "In_Frame_Del",
    "In_Frame_Ins",
    "Splice_Site",
    "Translation_Start_Site",
    # older MAF spellings of the same classes
    "Start_Codon_SNP",
    "Start_Codon_Del",
    "Start_Codon_Ins",
    "Stop_Codon_Del",
    "Stop_Codon_Ins",
    # Annovar ExonicFunc / Func spellings
    "nonsynonymous",
    "nonsynonymous_SNV",
    "stopgain",
    "stopgain_SNV",
    "stoploss",
    "stoploss_SNV",
    "frameshift_deletion",
    "frameshift_insertion",
    "frameshift_substitution",
    "frameshift_block_substitution",
    "nonframeshift_deletion",
    "nonframeshift_insertion",
    "nonframeshift_substitution",
    "nonframeshift_block_substitution",
    "splicing",
)

# Values that do not: no change to the protein sequence, or outside the coding sequence.
NOT_COUNTED = (
    "Silent",
    "Intron",
    "3'UTR",
    "5'UTR",
    "3'Flank",
    "5'Flank",
    "IGR",
    "RNA",
    "lincRNA",
    "Splice_Region",
    "Targeted_Region",
    "De_novo_Start_InFrame",
    "De_novo_Start_OutOfFrame",
    "synonymous",
    "synonymous_SNV",
)

COUNT, SKIP = "count", "skip"
_POLICY = {_key(v): COUNT for v in COUNTED} | {_key(v): SKIP for v in NOT_COUNTED}


class KeyCache(dict):
    """Normalised classification keys by raw cell text (``Splice_Site`` -> ``splicesite``)."""

    def __missing__(self, text: str) -> str:
        key = self[text] = _key(text)
        return key


def closest_classification(value: str) -> str | None:
    """The Variant_Classification value probably meant (``Missense_Mutaton``), or None."""
    import difflib

    close = difflib.get_close_matches(value.strip(), COUNTED + NOT_COUNTED, n=1, cutoff=0.8)
    return close[0] if close else None


def classify(value: str) -> str | None:
    """``count``, ``skip``, or None for a value this importer does not know (an error record)."""
    return _POLICY.get(_key(value))


@dataclass(frozen=True)
class MutationColumns:
    """Column indices of one mutation file (None: the file has no such column)."""

    sample: int
    gene: int
    classification: int | None
    protein: tuple[int, ...]
    protein_names: tuple[str, ...]
    status: int | None
    build: int | None
    chromosome: int | None
    start: int | None
    end: int | None
    ref: int | None
    alt2: int | None
    alt1: int | None
    filter: int | None = None  # FILTER (MC3): read as a call whatever it says; flagged rows are counted
    # the tumour's reads of the change: t_alt_count (MC3, cBioPortal), or t_depth and t_vaf (Firehose);
    # read only to tell one change written as two rows from two changes (Importer._merge_split_codons)
    alt_count: int | None = None
    depth: int | None = None
    vaf: int | None = None
    transcript: int | None = None  # Transcript_ID: which numbering a protein change is on

    @classmethod
    def of(cls, table: Table) -> MutationColumns:
        """The columns of ``table``; a usage error where a column read is named twice in the header
        (which one is meant would be a guess). Columns not read may repeat (TCGA MC3 has two IMPACT)."""
        found = [(table.col(n), n) for n in PROTEIN_COLUMNS]
        protein = [(i, n) for i, n in found if i is not None]
        cols = cls(
            sample=table.require(*SAMPLE_COLUMNS),
            gene=table.require(*GENE_COLUMNS),
            classification=table.col("Variant_Classification"),
            protein=tuple(i for i, _ in protein),
            protein_names=tuple(n for _, n in protein),
            status=table.col("Mutation_Status"),
            build=table.col("NCBI_Build"),
            chromosome=table.col("Chromosome"),
            start=table.col("Start_Position"),
            end=table.col("End_Position"),
            ref=table.col("Reference_Allele"),
            alt2=table.col("Tumor_Seq_Allele2"),
            alt1=table.col("Tumor_Seq_Allele1"),
            filter=table.col("FILTER"),
            alt_count=table.col("t_alt_count"),
            depth=table.col("t_depth"),
            vaf=table.col("t_vaf"),
            transcript=table.col("Transcript_ID"),
        )
        for i in cols.read:
            same = table.same_name(i)
            if len(same) > 1:
                raise UsageError(
                    f"{table.path}: the column {table.header[i]!r} is named {len(same)} times in the header (line "
                    f"{table.header_line}, columns {', '.join(str(j + 1) for j in same)}): which one to read would be "
                    "a guess; rename or remove the others"
                )
        return cols

    @property
    def read(self) -> tuple[int, ...]:
        """Every column the importer reads (0-based, sorted): a row lacking one cannot be read whole."""
        out: set[int] = set(self.protein)
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, int):
                out.add(v)
        return tuple(sorted(out))

    def alt_reads(self, f: list[str]) -> int | None:
        """The row's count of tumour reads with the change (None where the file does not say)."""
        try:
            if self.alt_count is not None and f[self.alt_count].strip():
                return int(float(f[self.alt_count]))
            if self.depth is not None and self.vaf is not None and f[self.depth].strip() and f[self.vaf].strip():
                return round(int(float(f[self.depth])) * float(f[self.vaf]))
        except ValueError:
            return None
        return None

    @property
    def has_coordinates(self) -> bool:
        return None not in (self.chromosome, self.start, self.ref) and (self.alt2 is not None or self.alt1 is not None)


_DEL_WITH_RESIDUES = re.compile(r"^(p\.)?([A-Z])(\d+)(?:_([A-Z])(\d+))?del([A-Z]+)$")
_DEL_RESIDUES_FIRST = re.compile(r"^(p\.)?([A-Z]{2,})(\d+)del$")


def clean_protein(text: str) -> str:
    """The protein change as HGVS reads it.

    Strips a transcript prefix (``ENSP...:p.G12C`` -> ``p.G12C``) and drops the deleted residues
    older annotations repeat after ``del`` when they match the span exactly
    (``p.E746_A750delELREA`` -> ``p.E746_A750del``), and writes Oncotator's in-frame deletions
    (residues, then the first one's position: ``p.VKSR600del``) as a range (``p.V600_R603del``);
    the vocabulary checks the residues against the protein. Anything else is left as written.
    """
    t = text.strip()
    if ":p." in t:
        t = t[t.index(":p.") + 1 :]
    if "del" in t and "delins" not in t:
        m = _DEL_WITH_RESIDUES.match(t)
        if m:
            first, last = int(m.group(3)), int(m.group(5) or m.group(3))
            deleted = m.group(6)
            if len(deleted) == last - first + 1 and deleted[0] == m.group(2) and (m.group(4) is None or deleted[-1] == m.group(4)):
                return t[: m.start(6) - 3] + "del"
        m = _DEL_RESIDUES_FIRST.match(t)
        if m:
            res, first = m.group(2), int(m.group(3))
            return f"{m.group(1) or ''}{res[0]}{first}_{res[-1]}{first + len(res) - 1}del"
    return t


_SAME_RESIDUE = re.compile(r"^(p\.)?([A-Z])(\d+)\2$")
SPLICE_SITE = _key("Splice_Site")
#: classifications of changes that cut the protein short or lose it: never an activating hotspot
#: change, whatever their protein change (which may not be readable)
TRUNCATING = frozenset(_key(v) for v in (
    "Nonsense_Mutation", "Frame_Shift_Del", "Frame_Shift_Ins", "Splice_Site", "Translation_Start_Site",
    "Start_Codon_SNP", "Start_Codon_Del", "Start_Codon_Ins", "stopgain", "stopgain_SNV", "frameshift_deletion",
    "frameshift_insertion", "frameshift_substitution", "frameshift_block_substitution", "splicing"))
#: classifications of changes that surely cut the protein short (a stop gained, a frameshift; not
#: a splice-site or start-codon change, which may keep the protein or, as MET exon 14 skipping,
#: activate it): a row of one whose protein change is not given is read as a truncating mutation
CUT_SHORT = frozenset(_key(v) for v in (
    "Nonsense_Mutation", "Frame_Shift_Del", "Frame_Shift_Ins", "stopgain", "stopgain_SNV", "frameshift_deletion",
    "frameshift_insertion", "frameshift_substitution", "frameshift_block_substitution"))
#: what such a row is written as: the vocabulary's kind word for it (a loss of function)
CUT_SHORT_VARIANT = "truncating mutation"
#: classifications that say the change gains a stop: their older ``p.W424X`` is ``p.W424*``
STOP_GAINED = frozenset(_key(v) for v in ("Nonsense_Mutation", "stopgain", "stopgain_SNV"))
_OLD_STOP = re.compile(r"^((?:p\.)?[A-Za-z]{1,3}[0-9]+)X$")


def stop_change(text: str) -> str:
    """A stop-gained row's protein change with its stop written ``*`` (older files write ``X``,
    which in a protein change alone is ambiguous: any residue in some reports)."""
    m = _OLD_STOP.match(text)
    return m.group(1) + "*" if m else text


def splice_change(text: str) -> str:
    """A Splice_Site row's protein change in the form VEP writes it (``p.X263_splice``).

    Oncotator (TCGA Firehose) writes the codon next to the splice site as if unchanged
    (``p.G263G``), which reads as a synonymous change; other texts are returned as they are.
    """
    m = _SAME_RESIDUE.match(text)
    return f"p.X{m.group(3)}_splice" if m else text


def alt_allele(ref: str, a2: str, a1: str) -> str:
    """The tumour allele: Tumor_Seq_Allele2, or Allele1 where Allele2 is empty or the reference."""
    a2, a1 = a2.strip(), a1.strip()
    if a2 and a2 != ref:
        return a2
    if a1 and a1 != ref:
        return a1
    return a2 or a1
