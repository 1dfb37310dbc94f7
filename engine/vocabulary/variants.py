"""The variant reader: HGVS protein changes, cDNA hotspots and kind words, checked against
the protein reference.

It depends on no other part of the vocabulary: ``VariantReader()`` reads the grammar alone
(no kind words, no hotspot table, no reference check), ``VariantReader.load(directory, genes)``
reads ``variants.yaml``, ``protein_reference.yaml`` and ``protein_residues.json``.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from engine.errors import Problem, RuleError, TermError, quote
from engine.vocabulary.common import _LOOKALIKES, MAX_TERM, Cached, _closest, _name_key, _symbol_key, fail, read_yaml

_SPACES = re.compile(r"\s+")
#: a change followed by the same change in another notation, in brackets: 'c.34G>T (p.G12C)'
_PAIRED = re.compile(r"^(.*\S)\s*\(([^()]+)\)$")
#: a coding substitution of one base ('c.34G>T'): it changes codon (position + 2) // 3
_CDNA_SUBSTITUTION = re.compile(r"^(?:[A-Za-z]{2}_\d+(?:\.\d+)?:)?c\.([1-9]\d{0,5})[ACGTacgt]>[ACGTacgt]$")


@dataclass(frozen=True, slots=True)
class Variant:
    """One alteration of a gene, in canonical form.

    ``kind`` is ``mutation``, ``amplification``, ``fusion`` or ``loss``. ``label`` is the short
    canonical form: ``G12C``, ``E1953*``, ``S1982Rfs*22``, ``E746_A750del``, ``X125_splice``,
    ``exon 19 deletion``, or the kind word itself for an alteration given only by kind
    (``mutation`` then means an unspecified activating change). ``codon`` is the protein position
    (the first one for a range), ``ref`` the reference amino acid, ``alt`` the new one (``*`` for
    a stop; ``None`` for indels, frameshifts and kind words), ``hgvs`` the HGVS protein form.

    ``span`` is what a rule's ``codons`` reads: the codons whose residues the change alters in
    place, keeping the reading frame. ``None`` is the one codon ``codon`` (a substitution); a pair
    ``(first, last)`` the codons an in-frame deletion, duplication, insertion (both neighbours) or
    deletion-insertion touches; ``()`` none, for a change that cuts the protein short or loses it
    (a stop gained, a frameshift, a splice-site change, a start lost): it alters no codon in the
    sense of a hotspot (``KRAS G12*`` is not a codon-12 mutation that activates KRAS).
    """

    kind: str
    label: str
    codon: int | None
    ref: str | None
    alt: str | None
    hgvs: str | None
    span: tuple[int, ...] | None = None

# --------------------------------------------------------------------------- HGVS grammar

_AA3 = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "TER": "*",
}
_AA_NAME = {one: three.title() for three, one in _AA3.items() if one != "*"}
_AA3_RX = re.compile("|".join(_AA3), re.IGNORECASE)
_AA = "ACDEFGHIKLMNPQRSTVWY"
_ACCESSION = re.compile(r"^((?:N[MPRC]|X[MP])_[0-9]+|ENS[TP][0-9]+)(?:\.[0-9]+)?(?:\(([^)]*)\))?:", re.IGNORECASE)
_SYNONYMOUS = re.compile(rf"^([{_AA}])([0-9]+)=$")
_MISSENSE = re.compile(rf"^([{_AA}])([0-9]+)([{_AA}*X])$")
_START_LOSS = re.compile(r"^M1\?$")
_FRAMESHIFT = re.compile(rf"^([{_AA}])([0-9]+)([{_AA}])?FS(?:[*X]([0-9]+|\?))?$")
_RANGE = re.compile(rf"^([{_AA}])([0-9]+)(?:_([{_AA}])([0-9]+))?(DELINS|DEL|DUP|INS)([{_AA}*X]*)$")
_INSERTED_AA3 = re.compile(r"(?:delins|ins)((?:[A-Z][a-z]{2})+)$")
_INDEL_LABEL = re.compile(r"^([A-Z*])([0-9]+)(?:_([A-Z*])([0-9]+))?(delins|del|dup|ins)([A-Z*]*)$")
_SPLICE = re.compile(rf"^([{_AA}X])([0-9]+)_?SPLICE$")
_STOP_LOSS = re.compile(rf"^\*([0-9]+)([{_AA}])(?:EXT[*X]?([0-9]+|\?))?$")
_EXON = re.compile(
    r"^ex(?:on)? ?([0-9]+) ?(deletion|deletions|del|insertion|insertions|ins|skipping|skip|"
    r"duplication|dup|mutation|mutations|mut)$"
)
_EXON_WORD = {
    "deletion": "deletion", "deletions": "deletion", "del": "deletion",
    "insertion": "insertion", "insertions": "insertion", "ins": "insertion",
    "skipping": "skipping", "skip": "skipping", "duplication": "duplication", "dup": "duplication",
    "mutation": "mutation", "mutations": "mutation", "mut": "mutation",
}
_POSITION_ONLY = re.compile(rf"^[{_AA}][0-9]+$")
_SECOND_RESIDUE = re.compile(rf"^[{_AA}][0-9]+_([{_AA}])([0-9]+)")
_CDNA = re.compile(r"^c\.([0-9]+(?:_[0-9]+)?)([ACGT]*)(>|DELINS|DEL|DUP|INS)([ACGT]*)$", re.IGNORECASE)
_VARIANT_FORMS = (
    "expected a protein change (G12C, p.Gly12Cys, E1953*, S1982Rfs*22, E746_A750del, "
    "X125_splice, exon 19 deletion), a hotspot cDNA change (c.34G>T) or one of: "
    "amplification, fusion, loss, mutation"
)


MAX_POSITION_DIGITS = 6  # a protein or cDNA position (the longest human protein has 34,350 residues)


def _pos(digits: str) -> int:
    """A position as written (ASCII digits; leading zeros are dropped: ``012`` is 12)."""
    core = digits.lstrip("0") or "0"
    if len(core) > MAX_POSITION_DIGITS:
        raise TermError(f"position {quote(digits)} is not a position in a protein (at most {MAX_POSITION_DIGITS} digits)")
    return int(core)


def _count(text: str) -> str:
    """The length after ``fs*`` or ``ext*``: a number (leading zeros dropped) or ``?``."""
    return text if text == "?" else str(_pos(text))


def _ascii_digits(text: str) -> None:
    """Positions are written with 0-9: other digits (Arabic-Indic, full-width, superscript) are
    an error suggesting the same change in ASCII digits, never read as another change."""
    if any(c.isdigit() or unicodedata.digit(c, None) is not None for c in text if not c.isascii()):
        meant = "".join(str(unicodedata.digit(c)) if not c.isascii() and unicodedata.digit(c, None) is not None else c
                        for c in text)
        plain = unicodedata.normalize("NFKC", meant).translate(_LOOKALIKES)  # (full-width letters too: 'Ｇ１２Ｃ')
        meant = plain if plain.isascii() else meant
        raise TermError(f"{quote(text)} writes a position with digits other than 0-9", meant)


@dataclass(frozen=True, slots=True)
class _Protein:
    """A gene's reference data: highest valid residue and known residues by position."""

    length: int | None
    residues: Mapping[int, str]



class VariantReader(Cached):
    """Reads one alteration of a gene (see :meth:`variant`)."""

    _CACHED = ("_variant",)
    _cached_variant: Callable[[str, str], Variant]  # made by Cached._make_caches

    def __init__(self) -> None:  # use VariantReader.load, or this for the grammar alone
        self._kinds: dict[str, str] = {}
        self._not_alterations: dict[str, str] = {}
        self._ambiguous_variants: dict[str, tuple[str, str | None]] = {}
        self._cdna: dict[str, dict[str, str]] = {}
        self._cdna_transcripts: dict[str, frozenset[str]] = {}
        self._protein_conf: dict[str, dict] = {}
        self._residue_text: dict[str, str] = {}
        self._proteins: dict[str, _Protein] = {}
        self._recurrent: dict[str, tuple[str, ...]] = {}
        # the most residues a hotspot change deletes or replaces (variants.yaml,
        # max_hotspot_residues): a larger one alters no codon in place; None, the grammar alone: no bound
        self._max_span: int | None = None
        self._make_caches()

    @classmethod
    def load(cls, directory: Path, genes: Iterable[str]) -> VariantReader:
        """Read the variant files of ``directory``; ``genes`` are the symbols they may name."""
        part = cls()
        directory, known = Path(directory), frozenset(genes)
        part._load_variants(directory, known)
        part._load_proteins(directory, known)
        return part

    def _load_variants(self, directory: Path, genes: frozenset[str]) -> None:
        path = directory / "variants.yaml"
        conf = read_yaml(path)
        problems: list[Problem] = []
        bound = conf.get("max_hotspot_residues")
        if bound is not None and (type(bound) is not int or bound < 1):
            problems.append(Problem(f"max_hotspot_residues is a whole number of residues, got {bound!r}", ("max_hotspot_residues",)))
        else:
            self._max_span = bound
        for kind, words in (conf.get("kinds") or {}).items():
            if kind not in ("mutation", "amplification", "fusion", "loss"):
                problems.append(Problem(f"unknown alteration kind '{kind}'", ("kinds", kind)))
            for word in words or []:
                self._kinds[_name_key(str(word))] = str(kind)
        not_alt = conf.get("not_alterations") or {}
        for word in not_alt.get("words") or []:
            self._not_alterations[_name_key(str(word))] = " ".join(str(not_alt.get("reason", "")).split())
        for word, spec in (conf.get("ambiguous") or {}).items():
            self._ambiguous_variants[_name_key(str(word))] = (
                " ".join(str(spec.get("reason", "")).split()), spec.get("suggestion"))
        for gene, spec in (conf.get("cdna_hotspots") or {}).items():
            if gene not in genes:
                problems.append(Problem(f"unknown gene '{gene}'", ("cdna_hotspots", gene)))
                continue
            self._cdna_transcripts[gene] = frozenset(str(t).upper() for t in spec.get("transcripts") or [])
            table: dict[str, str] = {}
            for change, label in (spec.get("changes") or {}).items():
                key = self._cdna_key(str(change))
                if key is None:
                    problems.append(Problem(f"not a cDNA change: '{change}'", ("cdna_hotspots", gene, "changes", change)))
                    continue
                table[key] = str(label)
            self._cdna[gene] = table
        fail(path, problems)

    def _load_proteins(self, directory: Path, genes: frozenset[str]) -> None:
        path = directory / "protein_reference.yaml"
        conf = read_yaml(path)
        problems: list[Problem] = []
        for gene, spec in (conf.get("genes") or {}).items():
            if gene not in genes:
                problems.append(Problem(f"unknown gene '{gene}'", ("genes", gene)))
                continue
            self._protein_conf[gene] = dict(spec or {})
        fail(path, problems)
        generated = directory / "protein_residues.json"
        try:
            data = json.loads(generated.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuleError(f"cannot read generated residues ({exc}); run scripts/build_protein_reference.py",
                            source=str(generated)) from None
        self._residue_text = dict(data.get("residues") or {})
        self._recurrent = {k: tuple(v) for k, v in (data.get("recurrent") or {}).items()}
        # every label of the cDNA tables must be a change its gene can have
        for gene, table in self._cdna.items():
            for change, label in table.items():
                try:
                    self._variant(gene, label)
                except TermError as err:
                    problems.append(Problem(err.problems[0].message, ("cdna_hotspots", gene, "changes", change)))
        fail(directory / "variants.yaml", problems)

    def variant(self, gene: str, text: str) -> Variant:
        """Read one alteration of ``gene`` (a canonical symbol): HGVS protein notation in one- or
        three-letter form, with or without ``p.`` or parentheses; a cDNA change from the hotspot
        table (``c.34G>T``); or a kind word (``amplification``, ``fusion``, ``loss``,
        ``mutation`` and their synonyms). A change that cannot belong to the gene (past its
        last residue, or naming the wrong reference residue) is an error."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a variant is a non-empty text, got {text!r}")
        if type(gene) is not str:
            raise TermError(f"a gene is a text, got {gene!r}")
        if len(text) > MAX_TERM:
            raise TermError(f"a variant of {len(text):,} characters (at most {MAX_TERM}): {quote(text)}")
        if not text.isascii():
            _ascii_digits(text)
            try:
                return self._cached_variant(gene, text)
            except TermError:
                meant = self._plain(gene, text)
                if meant is None:
                    raise
                raise TermError(f"{quote(text)} has characters that only look like those of a variant: "
                                f"did you mean {quote(meant)}?", meant) from None
        return self._cached_variant(gene, text)

    def _plain(self, gene: str, text: str) -> str | None:
        """The change a text with look-alike characters (a full-width '＞', a Cyrillic 'С') means,
        where its plain form reads as one: offered, never read in its place."""
        plain = unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)
        if plain == text or not plain.isascii():
            return None
        try:
            self._cached_variant(gene, plain)
        except TermError:
            return None
        return plain

    def _variant(self, gene: str, text: str) -> Variant:
        s = text.strip()
        fast = _MISSENSE.match(s[2:] if s[:2] == "p." else s)  # the common case: p.G12C / G12C
        if fast and fast.group(3) not in (fast.group(1), "X"):
            ref, pos, alt = fast.group(1), _pos(fast.group(2)), fast.group(3)
            variant = self._point(ref, pos, alt, f"{ref}{pos}{alt}", () if alt == "*" else None)
            self._check_reference(gene, variant, text)
            return variant
        n = len(gene)
        if n and len(s) > n + 1 and s[:n].upper() == gene.upper() and (s[n] in " :_\t" or s[n:n + 2].lower() in ("p.", "c.")):
            s = s[n:].lstrip(" :_\t")
        key = _name_key(s)
        kind = self._kinds.get(key)
        if kind is not None:
            return Variant(kind, kind, None, None, None, None)
        if key in self._not_alterations:
            raise TermError(f"{quote(text)} {self._not_alterations[key]}")
        if key in self._ambiguous_variants:
            reason, suggestion = self._ambiguous_variants[key]
            raise TermError(f"{quote(text)} {reason}", suggestion)
        exon = _EXON.match(key)
        if exon:
            label = f"exon {_pos(exon.group(1))} {_EXON_WORD[exon.group(2)]}"
            return Variant("mutation", label, None, None, None, None)
        pair = _PAIRED.match(s)
        if pair and not pair.group(1).endswith("."):  # (not 'p.(G12C)': one change in HGVS's brackets)
            return self._paired(gene, text, pair.group(1), pair.group(2))
        words = s.rsplit(None, 1)
        word_kind = self._kinds.get(_name_key(words[1])) if len(words) == 2 else None
        if word_kind is not None:
            read: Variant | None
            try:  # 'G12C mutation': the change, with the kind word every change carries
                read = self._cached_variant(gene, words[0])
            except TermError:
                read = None
            if read is not None and read.kind == word_kind:
                return read
            if read is not None:  # 'G12C amplification': two findings
                raise TermError(f"{quote(text)} names a change and a second finding ({quote(word_kind)}): give them as two alterations of "
                                f"{gene}, one with variant {quote(read.label)}, one with variant {quote(word_kind)}")

        accession = None
        acc = _ACCESSION.match(s)
        if acc:
            accession = acc.group(1).upper()
            if acc.group(2) and _symbol_key(acc.group(2)) != _symbol_key(gene):
                raise TermError(f"{quote(text)} names gene {acc.group(2)}, not {gene}")
            s = s[acc.end():]
        s = _SPACES.sub("", s)
        if s[:2].lower() == "c.":
            return self._cdna_variant(gene, text, s, accession)
        if s[:2].lower() in ("g.", "m.", "n.", "r."):
            raise TermError(f"{quote(text)} is not a protein change: give the protein change (for example 'p.G12C')")
        variant = self._protein_variant(gene, text, s)
        self._check_reference(gene, variant, text)
        return self._changed_residues(gene, variant, text)

    def _paired(self, gene: str, text: str, first: str, second: str) -> Variant:
        """A change written twice, as lab reports do: 'c.34G>T (p.G12C)', 'p.G12C (c.34G>T)'. Both
        readings must agree; a cDNA change outside the hotspot table (most of a gene's changes)
        leaves the protein change to be read alone."""
        read: list[Variant] = []
        errors: list[TermError] = []
        for part in (first, second):
            try:
                read.append(self._cached_variant(gene, part))
            except TermError as e:
                if _SPACES.sub("", part)[:2].lower() != "c.":
                    raise TermError(f"{quote(text)}: {e.problems[0].message}") from None
                errors.append(e)
        if not read:
            raise TermError(f"{quote(text)}: {errors[0].problems[0].message}") from None
        for part in (first, second):  # a substitution outside the table still names its codon
            sub = _CDNA_SUBSTITUTION.match(_SPACES.sub("", part))
            if sub and read[0].codon is not None and (int(sub.group(1)) + 2) // 3 != read[0].codon:
                raise TermError(f"{quote(text)} names two different positions: {quote(part)} changes codon "
                                f"{(int(sub.group(1)) + 2) // 3}, {read[0].label} codon {read[0].codon}; give the one the report means")
        if len(read) == 2 and read[0] != read[1]:
            raise TermError(f"{quote(text)} names two different changes: {quote(first)} reads as {read[0].label} and "
                            f"{quote(second)} as {read[1].label}; give the one the report means")
        return read[0]

    @staticmethod
    def _cdna_key(change: str) -> str | None:
        m = _CDNA.match(_SPACES.sub("", change))
        if not m:
            return None
        op = m.group(3).lower()
        where = "_".join(str(_pos(n)) for n in m.group(1).split("_"))
        return f"c.{where}{m.group(2).upper()}{op}{m.group(4).upper()}"

    def _cdna_variant(self, gene: str, text: str, s: str, accession: str | None) -> Variant:
        table = self._cdna.get(gene)
        if not table:
            known = ", ".join(sorted(self._cdna))
            raise TermError(f"{quote(text)}: cDNA changes are read only for the hotspots of {known}; give the protein "
                            f"change the report gives with it (written alone, or after it: 'c.… (p.…)'), or the kind "
                            f"word 'mutation' with the report's classification")
        if accession and accession not in self._cdna_transcripts.get(gene, ()):
            listed = ", ".join(sorted(t for t in self._cdna_transcripts[gene] if t.startswith("NM_")))
            raise TermError(f"{quote(text)}: the {gene} hotspot table uses {listed} numbering, not {accession}")
        key = self._cdna_key(s)
        label = table.get(key) if key else None
        if label is None:
            raise TermError(f"{quote(text)} is not in the {gene} cDNA hotspot table: give the protein change "
                            f"(for example 'p.{next(iter(table.values()))}')")
        return self._protein_variant(gene, text, label)

    def _protein_variant(self, gene: str, text: str, s: str) -> Variant:
        if s[:2].lower() == "p.":
            s = s[2:]
        if s.startswith("(") and s.endswith(")"):
            s = s[1:-1]
        if s[:3].upper() in _AA3 and s[3:4].isdigit():
            s = _AA3_RX.sub(lambda m: _AA3[m.group(0).upper()], s)
        else:  # inserted residues written with three letters after a one-letter position (G12_G13delinsCysGly)
            tail = _INSERTED_AA3.search(s)
            if tail:
                s = s[:tail.start(1)] + _AA3_RX.sub(lambda m: _AA3[m.group(0).upper()], tail.group(1))
        u = s.upper()
        if _SYNONYMOUS.match(u):
            raise TermError(f"{quote(text)} is a synonymous change (the amino acid stays the same): not an alteration")
        m = _MISSENSE.match(u)
        if m:
            ref, pos, alt = m.group(1), _pos(m.group(2)), m.group(3)
            if alt == "X":
                raise TermError(f"{quote(text)}: 'X' is read two ways: a stop in older reports (write '{ref}{pos}*') or "
                                f"any amino acid (write the change found, or 'mutation' if it is not known)")
            if alt == ref:
                raise TermError(f"{quote(text)} is a synonymous change (the amino acid stays the same): not an alteration")
            return self._point(ref, pos, alt, f"{ref}{pos}{alt}", () if alt == "*" else None)
        if _START_LOSS.match(u):
            return Variant("mutation", "M1?", 1, "M", None, "p.M1?", ())
        m = _FRAMESHIFT.match(u)
        if m:
            ref, pos = m.group(1), _pos(m.group(2))
            label = f"{ref}{pos}{m.group(3) or ''}fs" + (f"*{_count(m.group(4))}" if m.group(4) else "")
            return self._point(ref, pos, None, label, ())
        m = _RANGE.match(u)
        if m:
            return self._range(text, m)
        m = _SPLICE.match(u)
        if m:
            ref = None if m.group(1) == "X" else m.group(1)
            label = f"{m.group(1)}{_pos(m.group(2))}_splice"
            return self._point(ref, _pos(m.group(2)), None, label, ())
        m = _STOP_LOSS.match(u)
        if m:
            pos, alt = _pos(m.group(1)), m.group(2)
            label = f"*{pos}{alt}" + (f"ext*{_count(m.group(3))}" if m.group(3) else "")
            return self._point("*", pos, alt, label)
        if _POSITION_ONLY.match(u):
            raise TermError(f"{quote(text)} names a position, not a change: give the new amino acid "
                            f"(for example '{u}C') or write 'mutation'")
        kind_word = _closest(_name_key(s), {**{k: k for k in self._kinds}})
        raise TermError(f"cannot read variant {quote(text)} of {gene}: {_VARIANT_FORMS}", kind_word)

    @staticmethod
    def _point(ref: str | None, pos: int, alt: str | None, label: str, span: tuple[int, ...] | None = None) -> Variant:
        if pos < 1:
            raise TermError(f"protein positions start at 1, got {quote(label)}")
        return Variant("mutation", label, pos, ref, alt, f"p.{label}", span)

    def _range(self, text: str, m: re.Match) -> Variant:
        ref1, pos1 = m.group(1), _pos(m.group(2))
        ref2, pos2 = m.group(3), _pos(m.group(4)) if m.group(4) else None
        op, inserted = m.group(5), m.group(6)
        if "X" in inserted:
            raise TermError(f"{quote(text)}: 'X' is read two ways: a stop in older reports (write '*') or any amino acid "
                            f"(write the residues found, or 'mutation' if they are not known)")
        if pos2 is not None and pos2 <= pos1:
            raise TermError(f"{quote(text)}: the range must run from the lower to the higher position")
        if op in ("DEL", "DUP") and inserted:
            raise TermError(f"{quote(text)}: '{op.lower()}' takes no residues after it")
        if op == "INS" and (pos2 is None or pos2 != pos1 + 1 or not inserted):
            raise TermError(f"{quote(text)}: an insertion names the two neighbouring residues and what is "
                            f"inserted (for example 'G12_G13insA')")
        if op == "DELINS" and not inserted:
            raise TermError(f"{quote(text)}: 'delins' needs the inserted residues")
        if op == "DELINS" and pos2 is None and len(inserted) == 1:
            if inserted == ref1:
                raise TermError(f"{quote(text)} is a synonymous change (the amino acid stays the same): not an alteration")
            return self._point(ref1, pos1, inserted, f"{ref1}{pos1}{inserted}", () if inserted == "*" else None)
        where = f"{ref1}{pos1}" + (f"_{ref2}{pos2}" if pos2 is not None else "")
        last = pos2 if pos2 is not None else pos1
        # the codons it alters in place: an insertion, both neighbours; a duplication, those of the
        # copy (it sits after the residues it repeats: A11dup is A11_G12insA, A11_G12dup is
        # G12_G13insAG); none when a stop is inserted, or when more residues are deleted than any
        # hotspot change deletes (a deletion-insertion: once narrowed, see _changed_residues)
        if "*" in inserted or (op == "DEL" and self._too_long(last - pos1 + 1)):
            span: tuple[int, ...] = ()
        elif op == "DUP":
            span = (last, last + 1)
        else:
            span = (pos1, last)
        return self._point(ref1, pos1, None, f"{where}{op.lower()}{inserted}", span)

    def _protein(self, gene: str) -> _Protein | None:
        hit = self._proteins.get(gene)
        if hit is None:
            conf = self._protein_conf.get(gene)
            text = self._residue_text.get(gene)
            if conf is None and text is None:
                return None
            residues = {int(tok[:-1]): tok[-1] for tok in (text or "").split()}
            hit = _Protein((conf or {}).get("length"), residues)
            self._proteins[gene] = hit
        return hit

    def _changed_residues(self, gene: str, v: Variant, text: str) -> Variant:
        """An in-frame indel's codons as every equivalent spelling of the same protein reads them,
        where the reference knows the residues around it. A deletion-insertion is narrowed to the
        residues it changes: one that changes a single residue is that substitution
        (``V600_K601delinsEK`` is V600E, named so for the rules that list variants), one that
        changes none is synonymous, one that only adds or only removes residues is that insertion
        or deletion. An insertion or deletion in a run of repeated residues could be written at
        several places (``Q61_E62dup`` is ``Q61_E62insEQ`` and ``E62_E63insQE``): it touches
        every codon of every place. More residues changed than a hotspot change holds: no codon."""
        m = _INDEL_LABEL.match(v.label)
        if not m or not v.span:
            return v
        first, last, op, inserted = int(m.group(2)), int(m.group(4) or m.group(2)), m.group(5), m.group(6)
        protein = self._protein(gene)
        residues = protein.residues if protein else {}
        if op == "ins":
            return replace(v, span=self._insertion_window(residues, first, inserted))
        ref = "".join(residues.get(i, "?") for i in range(first, last + 1))
        if "?" in ref:  # the reference does not know these residues: as written (what it changes is unknown)
            return v
        if op == "dup":
            return replace(v, span=self._insertion_window(residues, last, ref))
        if op == "del":
            return replace(v, span=self._deletion_window(residues, first, last))
        if ref == inserted:
            raise TermError(f"{quote(text)} is a synonymous change (the residues stay the same): not an alteration")
        pre = 0
        while pre < min(len(ref), len(inserted)) and ref[pre] == inserted[pre]:
            pre += 1
        suf = 0
        while suf < min(len(ref), len(inserted)) - pre and ref[-1 - suf] == inserted[-1 - suf]:
            suf += 1
        old, new = ref[pre:len(ref) - suf], inserted[pre:len(inserted) - suf]
        start = first + pre
        if len(old) == 1 and len(new) == 1:
            return self._point(old, start, new, f"{old}{start}{new}")
        if not old:  # residues added between start - 1 and start
            return replace(v, span=self._insertion_window(residues, start - 1, new))
        if self._too_long(len(old)):
            return replace(v, span=())
        if not new:  # residues removed
            return replace(v, span=self._deletion_window(residues, start, start + len(old) - 1))
        return replace(v, span=(start, start + len(old) - 1))

    def _too_long(self, residues: int) -> bool:
        """More residues deleted or replaced than any hotspot change (variants.yaml)."""
        return self._max_span is not None and residues > self._max_span

    @staticmethod
    def _insertion_window(residues: Mapping[int, str], after: int, inserted: str) -> tuple[int, int]:
        """The codons an insertion of ``inserted`` after ``after`` touches at every place it could
        be written: slid left and right over the residues that repeat it, both neighbours of each."""
        lo, seq = after, inserted
        while lo >= 1 and residues.get(lo) == seq[-1]:
            seq = seq[-1] + seq[:-1]
            lo -= 1
        hi, seq = after, inserted
        while residues.get(hi + 1) == seq[0]:
            seq = seq[1:] + seq[0]
            hi += 1
        return (lo, hi + 1)

    @staticmethod
    def _deletion_window(residues: Mapping[int, str], first: int, last: int) -> tuple[int, int]:
        """The codons a deletion of ``first``..``last`` touches at every place it could be written
        (``G12del`` is ``G13del``: both G12 and G13)."""
        lo_f, lo_l = first, last
        while residues.get(lo_f - 1) is not None and residues.get(lo_f - 1) == residues.get(lo_l):
            lo_f, lo_l = lo_f - 1, lo_l - 1
        hi_f, hi_l = first, last
        while residues.get(hi_l + 1) is not None and residues.get(hi_l + 1) == residues.get(hi_f):
            hi_f, hi_l = hi_f + 1, hi_l + 1
        return (lo_f, hi_l)

    def _meant_elsewhere(self, gene: str, protein: _Protein, ref: str, pos: int, rest: str) -> str | None:
        """A known change of ``gene`` that ``{ref}{pos}{rest}`` may have meant: among its recurrent
        changes from ``ref`` to the same new residue(s) at another position where the residue is
        ``ref``, the one whose position has the digits of ``pos`` in another order (``KRAS G21C`` ->
        G12C), else the only one (``BRAF V640E``, V600E numbered on a longer transcript); None where
        none fits, or several do (``KRAS G22C``: G12C or G13C)."""
        found: list[tuple[int, str]] = []
        for label, genes in self._recurrent.items():
            at = label[len(ref):len(label) - len(rest)]
            if (gene in genes and label.startswith(ref) and label.endswith(rest) and at.isdigit()
                    and int(at) != pos and protein.residues.get(int(at)) == ref):
                found.append((int(at), label))
        digits = sorted(str(pos))
        swapped = [label for at, label in sorted(found) if sorted(str(at)) == digits]
        if swapped:
            return swapped[0]
        return found[0][1] if len(found) == 1 else None

    def _check_reference(self, gene: str, v: Variant, text: str) -> None:
        if v.codon is None:
            return
        protein = self._protein(gene)
        if protein is None:
            return
        checks: list[tuple[int, str | None]] = [(v.codon, v.ref)]
        second = _SECOND_RESIDUE.match(v.label)
        if second:
            checks.append((int(second.group(2)), second.group(1)))
        for pos, ref in checks:
            limit = protein.length + 1 if (protein.length and ref == "*") else protein.length
            if limit and pos > limit:
                others = [g for g in self._recurrent.get(v.label, ()) if g != gene]
                known = f"; {v.label} is a known change of {', '.join(others)}" if others else ""
                raise TermError(
                    f"{gene} has {protein.length} residues: '{text}' (position {pos}) is not a {gene} change{known}",
                    others[0] if others else None,
                )
            actual = protein.residues.get(pos)
            if ref == "*" and (pos != protein.length + 1 if protein.length else actual in _AA_NAME):
                # a stop-codon reference (a stop lost, an extension) can only stand at the stop codon,
                # never where a residue is known (a gene without a length: only there is it seen)
                here = f"residue {pos} is {actual} ({_AA_NAME[actual]})" if actual in _AA_NAME else f"position {pos} is inside the protein"
                meant = actual + v.label[1:] if actual in _AA_NAME and pos == v.codon and "ext" not in v.label else None
                stop = f", at position {protein.length + 1}" if protein.length else ""
                raise TermError(f"{gene} {here}, not * (the stop codon{stop})", meant)
            if ref and ref != "*" and actual and actual != ref:
                meant = None
                if pos == v.codon:
                    candidate = actual + v.label[len(ref):]
                    if v.alt != actual:
                        meant = candidate
                    # digits written in the wrong order ("G21C" for G12C): a known change of the
                    # gene at a position of the same digits, where the residue is the one written
                    elsewhere = self._meant_elsewhere(gene, protein, ref, pos, v.label[len(ref) + len(str(pos)):])
                    if elsewhere is not None:
                        meant = elsewhere
                else:
                    meant = v.label.replace(f"_{ref}{pos}", f"_{actual}{pos}")
                others = [g for g in self._recurrent.get(v.label, ()) if g != gene]
                known = f"; {v.label} is a known change of {', '.join(others)}" if others else ""
                raise TermError(f"{gene} residue {pos} is {actual} ({_AA_NAME[actual]}), not {ref}{known}", meant)
