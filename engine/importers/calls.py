"""Shared by the readers of formats that are not mutation tables (VCF, copy number, fusions).

:class:`CallImporter` is an :class:`~engine.importers.importer.Importer` whose input is not a MAF:
a subclass reads its own format and hands each call to :meth:`CallImporter.add_call`, which applies
the same checks, counts and merging as a MAF row (the vocabulary reads the protein change; an
unreadable one is an error record and the gene's status becomes unknown). Cases are written by the
same code as for a MAF (clinical files, ``--cancer-type``, ``--assay``, ``--map``).

:class:`Extras` holds alterations that come from other files of the same cohort (copy number,
fusions, structural variants) by sample; :class:`ExtrasMixin` adds them to each sample's case as it
is written, so that one ``kras-rules import`` reads mutations, copy number and fusions together.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UsageError
from engine.importers.importer import R_ERROR, Importer, _Sample


def needs(module: str, what: str) -> Any:
    """Import an optional reader library, or say how to install it (a usage error, not a traceback)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"reading {what} needs the Python package '{module}': pip install 'kras-rules[import]'"
        ) from None


class CallImporter(Importer):
    """An importer fed call by call rather than row by row."""

    def _open_samples(self) -> tuple[dict[str, _Sample], list[str]]:
        samples: dict[str, _Sample] = {}
        order: list[str] = []
        for sid in self.opt.samples:
            if sid not in samples:
                samples[sid] = _Sample(sid, 0)
                order.append(sid)
        return samples, order

    def add_call(
        self,
        st: _Sample,
        gene: str,
        text: str,
        origin: str,
        source: str,
        field_name: str,
        *,
        coords: bool = False,
        classification: str | None = None,
    ) -> bool:
        """Add the alteration ``gene`` ``text`` to the sample, or write an error record.
        ``classification``: the variant's clinical significance, written for a germline call (the
        case's ``classification`` is a germline report's)."""
        s = self.summary
        var, exc = self._variant(gene, text)
        if exc is not None:
            p = exc.problems[0]
            self._row_error(st, gene, "variant", p.message, source, field=field_name, value=text, suggestion=p.suggestion)
            return False
        s.alteration_rows += 1
        s.recognised[(gene, text)] += 1
        if coords:
            s.from_coordinates += 1
        if field_name == "coordinates (transcript)":
            s.from_transcript += 1
        label = getattr(var, "label", text)
        key = (gene, label, origin)
        if key in st.alts:
            s.merged += 1
            return True
        alt = {"gene": gene, "variant": text}
        if origin != "somatic":
            alt["origin"] = origin
        if classification is not None:
            if origin == "germline":
                alt["classification"] = classification
                s.significance[f"germline calls classified {classification}"] += 1
            else:
                s.significance["somatic calls, not written (the case's classification is a germline one)"] += 1
        st.alts[key] = alt
        return True

    def skip(self, reason: str, n: int = 1) -> None:
        self.summary.skipped[reason] += n

    def error_row(self, kind: str, message: str, source: str, **extra: Any) -> None:
        """An error record for a row or record that names no gene (counted as skipped)."""
        self.error(kind, message, source, **extra)
        self.summary.skipped[R_ERROR] += 1

    def finish_all(self, samples: dict[str, _Sample], order: list[str], name: str) -> Iterator[dict]:
        for sid in order:
            case = self._finish(samples[sid], name)
            if case is not None:
                yield case
        self.summary.samples = len(samples)
        if self.clinical.by_sample:
            self.summary.clinical_only = sum(
                1 for k in self.clinical.by_sample if k not in samples and not self._patient_seen(k, samples)
            )


# ------------------------------------------------------------------------------ extras


@dataclass
class ExtraCounts:
    """What one copy-number or fusion file held, for the summary: every cell or row counted once."""

    label: str
    source: str
    read: int = 0  # cells (CNA matrix) or rows (long tables, fusions, segments)
    written: Counter = field(default_factory=Counter)  # alteration kind -> alterations written
    skipped: Counter = field(default_factory=Counter)  # reason -> cells/rows
    errors: int = 0
    used: int = 0  # cells or rows that gave an alteration (segments: every segment read, genes in the notes)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{self.label} {self.source}: {self.read} {'cells' if self.label == 'copy number' else 'rows'}"
        got = ", ".join(f"{k} {v}" for k, v in sorted(self.written.items())) or "none"
        out = [head, f"  alterations written: {got}"]
        out.append(f"  {'cells' if self.label == 'copy number' else 'rows'} used: {self.used}")
        out.extend(self.notes)
        for reason, n in self.skipped.most_common():
            out.append(f"  not an alteration: {reason}: {n}")
        if self.errors:
            out.append(f"  error records: {self.errors}")
        return out


@dataclass
class Extras:
    """Alterations from copy-number, fusion and structural-variant files, by sample."""

    alts: dict[str, list[dict]] = field(default_factory=dict)
    unknown: dict[str, set[str]] = field(default_factory=dict)  # sample -> genes whose status is unknown
    counts: list[ExtraCounts] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # samples in order of first appearance

    def add(self, sample: str, alt: dict) -> bool:
        """Add one alteration; False when the sample already has it (the same fusion twice).

        ``sample`` "" holds the alterations of files without a sample column (see ExtrasMixin)."""
        if sample not in self.alts:
            self.alts[sample] = []
            if sample not in self.unknown and sample:
                self.order.append(sample)
        key = (alt["gene"], alt["variant"], alt.get("partner"))
        for a in self.alts[sample]:
            if (a["gene"], a["variant"], a.get("partner")) == key:
                return False
        self.alts[sample].append(alt)
        return True

    def mark_unknown(self, sample: str, gene: str) -> None:
        if sample not in self.unknown and sample not in self.alts:
            self.order.append(sample)
        self.unknown.setdefault(sample, set()).add(gene)

    @property
    def samples(self) -> list[str]:
        return list(self.order)


if TYPE_CHECKING:  # the mixin is only ever put before an Importer in the bases
    _MixinBase = Importer
else:
    _MixinBase = object


class ExtrasMixin(_MixinBase):
    """Adds :class:`Extras` to each case an Importer writes (put before the Importer in the bases).

    Samples that appear only in the copy-number or fusion files (not in the mutation file, its
    ``#sequenced_samples:`` header or ``--samples``) become cases too, after the others, but without
    ``tested_genes``: nobody said their genes were sequenced, so none is known to be wild-type.
    """

    extras: Extras | None = None

    def run(self, path) -> Iterator[dict]:
        path = Path(path) if isinstance(path, str) else path  # (a text too; None: copy number or fusions only)
        self._seen_ids: set[str] = set()
        self._no_tested = False
        yield from self._run(path)
        n = self.summary.from_transcript
        if n:
            self.summary.notes.append(
                f"protein changes read from coordinates and the coding exons of the transcript (outside the hotspot table): {n}"
            )

    def _run(self, path) -> Iterator[dict]:
        ex = self.extras
        unnamed = ex.alts.get("", []) if ex is not None else []
        if not unnamed:
            if path is not None:
                yield from self.read(path)
            yield from self.run_extras_only(str(path) if path is not None else "")
            return
        # files without a sample column: their alterations belong to the one case of the import
        assert ex is not None
        cases = list(self.read(path)) if path is not None else []
        cases.extend(self.run_extras_only(str(path) if path is not None else ""))
        src = _first_source(ex)
        if not cases and path is None and self.summary.cases == 0:
            st = _Sample(Path(src).name.split(".")[0], 0)
            self._no_tested = True
            case = self._finish(st, src)
            self._no_tested = False
            self.summary.samples += 1
            cases = [case] if case is not None else []
        if len(cases) == 1:
            case = cases[0]
            have = {(a["gene"], a["variant"], a.get("partner")) for a in case["alterations"]}
            for alt in unnamed:
                if (alt["gene"], alt["variant"], alt.get("partner")) not in have:
                    case["alterations"].append(dict(alt))
                    self.summary.alterations += 1
            case["alterations"].sort(key=lambda a: (a["gene"], a["variant"], a.get("origin", "")))
        else:
            self.error(
                "sample",
                f"{len(unnamed)} alterations from a file without a sample column cannot be given to one of "
                f"{len(cases)} cases: import that file with the one sample it belongs to",
                src,
            )
        yield from cases

    def read(self, path) -> Iterator[dict]:
        """The cases of the main input file (a MAF by default; format readers override this)."""
        return super().run(path)

    def run_extras_only(self, name: str) -> Iterator[dict]:
        ex = self.extras
        if ex is None:
            return
        s = self.summary
        self._no_tested = True
        extra_only = 0
        for sid in ex.order:
            if sid in self._seen_ids:
                continue
            extra_only += 1
            st = _Sample(sid, 0)
            case = self._finish(st, name or _first_source(ex))
            if case is not None:
                yield case
        self._no_tested = False
        s.samples += extra_only
        if extra_only:
            s.notes.append(
                f"samples only in the copy-number/fusion files: {extra_only} (written without tested_genes)"
            )
        for c in ex.counts:
            s.notes.extend(c.lines())

    def _finish(self, st: _Sample, name: str) -> dict | None:
        seen = getattr(self, "_seen_ids", None)
        if seen is not None:
            seen.add(st.id)
        ex = self.extras
        if ex is not None:
            for alt in ex.alts.get(st.id, ()):
                key = (alt["gene"], alt["variant"], alt.get("partner") or "")
                if key not in st.alts:
                    st.alts[key] = dict(alt)
            st.unresolved |= ex.unknown.get(st.id, set())
        case = super()._finish(st, name)
        if case is not None and getattr(self, "_no_tested", False):
            case.pop("tested_genes", None)
        return case


def _first_source(ex: Extras) -> str:
    return ex.counts[0].source if ex.counts else ""
