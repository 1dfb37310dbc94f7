"""Clinical tables: per-sample values, the cancer type, and the ``--map`` column mapping.

A clinical file is a table keyed by ``SAMPLE_ID`` or ``Tumor_Sample_Barcode`` (a sample file:
cBioPortal ``data_clinical_sample.txt``, TCGA Firehose and MC3 clinical tables) or only by
``PATIENT_ID`` (a patient file: cBioPortal ``data_clinical_patient.txt``, joined to samples through
the sample files' ``PATIENT_ID``). A mutation-file barcode that is a patient id with exactly one
sample row (TCGA Firehose barcodes against cBioPortal's ``TCGA-XX-XXXX-01``) finds that row.

Nothing here guesses: the cancer type is read from the columns named in :data:`CANCER_COLUMNS` and
must be resolved by the vocabulary; stage, prior therapy and germline testing come only from a
``--map`` file that says which column and which values mean what.
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import TermError, UsageError, quote
from engine.importers.limits import DocumentError, Refused, load_json, load_yaml, yaml_message
from engine.importers.tabular import is_missing, read_table

# Columns holding the cancer type, most specific first.
CANCER_COLUMNS = (
    "ONCOTREE_CODE",  # cBioPortal
    "CANCER_TYPE_DETAILED",
    "CANCER_TYPE",
    "acronym",  # TCGA MC3 clinical (study code: PAAD, READ, ...)
    "histological_type",  # TCGA Firehose / MC3 (Colon_Adenocarcinoma, ...)
)
# Read only after --cancer-type: an organ, not a cancer type (TCGA: Colon, Rectum, Pancreas).
SITE_COLUMNS = ("tumor_tissue_site",)
# A histology text that names no organ (TCGA LUAD: Mucinous_(Colloid)_Carcinoma) is also read with
# the sample's site before it ("Lung Mucinous (Colloid) Carcinoma"), as the vocabulary may name it.
HISTOLOGY_COLUMNS = ("histological_type",)
SAMPLE_KEYS = ("SAMPLE_ID", "Tumor_Sample_Barcode")
PATIENT_KEYS = ("PATIENT_ID",)

ErrorFn = Callable[..., None]


@dataclass
class ClinicalIndex:
    """Values of every clinical file, looked up by mutation-file barcode."""

    by_sample: dict[str, dict[str, str]] = field(default_factory=dict)
    by_patient: dict[str, dict[str, str]] = field(default_factory=dict)
    sample_patient: dict[str, str] = field(default_factory=dict)
    patient_samples: dict[str, list[str]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # column -> first file that has it
    files: list[str] = field(default_factory=list)

    def add_file(self, path: Path, error: ErrorFn) -> None:
        table = read_table(path)
        skey = table.col(*SAMPLE_KEYS)
        pkey = table.col(*PATIENT_KEYS)
        key = skey if skey is not None else pkey
        if key is None:
            raise UsageError(
                f"{path}: a clinical file needs a SAMPLE_ID, Tumor_Sample_Barcode or PATIENT_ID column "
                f"(header at line {table.header_line})"
            )
        self.files.append(str(path))
        for h in table.header:
            self.columns.setdefault(h, str(path))
        width = len(table.header)
        target = self.by_sample if skey is not None else self.by_patient
        seen: set[str] = set()
        for line, fields in table.rows:
            src = f"{path}:{line}"
            if len(fields) > width and any(x.strip() for x in fields[width:]):
                error("row", f"{len(fields)} fields, the header has {width}", src)
                continue
            if line == table.unterminated and len(fields) < width:
                # the file ends here without a line end: it was probably truncated, and the row's
                # last field may be cut ("IV" read as "I"); it is not read (unknown, never a value)
                last = len(fields) - 1
                why = (f"line cut short: {len(fields)} of {width} fields, and the file ends here without a line "
                       "end: it was probably truncated")
                if last <= key:
                    state = "may be cut" if last == key else "is missing"
                    error("row", f"{why}; its {table.header[key]} {state}, so the row is not read", src,
                          field=table.header[key])
                    continue
                error("row", f"{why}; its last field ({table.header[last]}) may be cut and is not read (unknown, "
                      "like the columns after it)", src, field=table.header[last], value=fields[last].strip())
                fields = fields[:last]
            ident = fields[key].strip() if key < len(fields) else ""
            if not ident:
                error("row", f"no {table.header[key]} on this row", src)
                continue
            if ident in seen:
                error("row", f"{table.header[key]} '{ident}' appears twice in this file; the first row is used", src)
                continue
            seen.add(ident)
            values = {
                table.header[i]: v.strip()
                for i, v in enumerate(fields[:width])
                if i != key and not is_missing(v)
            }
            row = target.setdefault(ident, {})
            for k, v in values.items():
                row.setdefault(k, v)
            if skey is not None and pkey is not None and pkey < len(fields) and fields[pkey].strip():
                patient = fields[pkey].strip()
                if ident not in self.sample_patient:
                    self.sample_patient[ident] = patient
                    self.patient_samples.setdefault(patient, []).append(ident)

    def values(self, barcode: str) -> dict[str, str] | None:
        """Every clinical value of this sample (sample files first, then its patient), or None."""
        out: dict[str, str] = {}
        found = False
        patient = None
        row = self.by_sample.get(barcode)
        if row is not None:
            out.update(row)
            found = True
            patient = self.sample_patient.get(barcode)
        # the barcode may also name a patient whose one sample another file lists (a TCGA file keyed
        # by patient barcode beside a cBioPortal file keyed by sample): that sample's values too,
        # each column from the first file that gives it
        samples = self.patient_samples.get(barcode)
        if samples is not None and len(samples) == 1 and samples[0] != barcode:
            for k, v in self.by_sample[samples[0]].items():
                out.setdefault(k, v)
            found = True
        if patient is None:
            patient = barcode
        elif patient != barcode and patient in self.by_sample:
            # a file keyed by the patient's barcode in its sample column (TCGA Firehose) beside one
            # that maps this sample to that patient (cBioPortal)
            for k, v in self.by_sample[patient].items():
                out.setdefault(k, v)
            found = True
        prow = self.by_patient.get(patient) if patient is not None else None
        if prow is not None:
            for k, v in prow.items():
                out.setdefault(k, v)
            found = True
        return out if found else None


class CancerResolver:
    """The cancer type of a sample from its clinical values, resolved and cached by the vocabulary."""

    def __init__(self, vocab: Any, fallback: str | None):
        self._vocab = vocab
        self._cache: dict[str, tuple[str | None, str | None]] = {}
        self.fallback = fallback

    def resolve_text(self, text: str) -> tuple[str | None, str | None]:
        """``(cancer_type to write, None)`` or ``(None, why not)``."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        result: tuple[str | None, str | None]
        try:
            result = (_cancer_out(self._vocab.cancer(text), text), None)
        except TermError as exc:
            result = (None, exc.problems[0].render())
            if "_" in text:
                spaced = text.replace("_", " ")
                try:
                    result = (_cancer_out(self._vocab.cancer(spaced), spaced), None)
                except TermError:
                    pass
        self._cache[text] = result
        return result

    def for_sample(self, values: dict[str, str] | None) -> tuple[str | None, str, list[str]]:
        """``(cancer_type, where it came from, texts tried that the vocabulary did not know)``."""
        tried: list[str] = []
        for col in CANCER_COLUMNS + ("--cancer-type",) + SITE_COLUMNS:
            if col == "--cancer-type":
                if self.fallback is not None:
                    return self.fallback, col, tried
                continue
            text = values.get(col) if values else None
            if text is None:
                continue
            out, why = self.resolve_text(text)
            if out is not None:
                return out, col, tried
            if col in HISTOLOGY_COLUMNS:
                site = next((values[c] for c in SITE_COLUMNS if values.get(c)), None) if values else None
                if site is not None:
                    out, _ = self.resolve_text(f"{site} {text}")
                    if out is not None:
                        return out, f"{col} with {'/'.join(SITE_COLUMNS)}", tried
            tried.append(f"{col}: {why}")
        return None, "", tried


def _cancer_out(ct: Any, text: str) -> str:
    code = getattr(ct, "code", None)
    return code if isinstance(code, str) and code else text


# ---------------------------------------------------------------------------------- --map


MAPPABLE = ("stage", "prior_therapies", "germline_tested", "multiagent_candidate", "tested_after_prior_therapy")
_YAML_TRUE = ("yes", "true", "on")
_YAML_FALSE = ("no", "false", "off")


@dataclass
class _Spec:
    column: str
    values: dict[str, Any]  # lower-cased cell text -> JSON value


@dataclass
class FieldMap:
    """Case fields from clinical columns, by explicit value maps (``--map FILE``).

    The file (YAML or JSON)::

        stage:
          column: STAGE_AT_DIAGNOSIS
          values: {IV: metastatic, IIIB: locally_advanced, IA: early}
        prior_therapies:
          - column: LINES_OF_TX_PRIOR_IMPACT
            values: {"0": []}
        germline_tested:
          column: GERMLINE_TESTED
          values: {"yes": true, "no": false}
        tested_after_prior_therapy:      # the sample was taken after the lines the history lists
          column: SAMPLE_PRE_LUNG_THERAPY
          values: {"YES": false, "NO": true}

    A field may list several column specs: lists (``prior_therapies``) are joined, single values must
    agree. A cell whose text is not in the map leaves the field out (unknown), never guessed; it is
    counted in the summary.
    """

    fields: dict[str, list[_Spec]]
    source: str

    @classmethod
    def load(cls, path: Path, validate: Callable[[str, Any], str | None]) -> FieldMap:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read map file {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path}: the map file is not UTF-8 (byte 0x{exc.object[exc.start]:02x} at byte "
                             f"{exc.start + 1:,}): save it as UTF-8") from None
        # read with the document readers' limits: a few lines of nested YAML aliases can stand for
        # billions of values, a JSON text can nest thousands deep
        try:
            data = load_json(text) if path.suffix == ".json" else load_yaml(text)
        except DocumentError as exc:
            raise UsageError(f"{path}: not valid JSON: {exc.message}") from None
        except Refused as exc:
            raise UsageError(f"{path}: {yaml_message(exc)}") from None
        except (yaml.YAMLError, ValueError) as exc:  # (ValueError: a date such as 2020-13-45)
            raise UsageError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not data:
            raise UsageError(f"{path}: the map is a mapping of case fields ({', '.join(MAPPABLE)}) to column specs")
        fields: dict[str, list[_Spec]] = {}
        for fname, specs in data.items():
            fname = str(fname)
            if fname not in MAPPABLE:
                close = difflib.get_close_matches(fname, MAPPABLE, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise UsageError(f"{path}: {fname}: not a mappable case field{hint}; allowed: {', '.join(MAPPABLE)}")
            if isinstance(specs, dict):
                specs = [specs]
            if not isinstance(specs, list) or not specs:
                raise UsageError(f"{path}: {fname}: a column spec or a list of them")
            out = []
            for i, spec in enumerate(specs):
                where = f"{path}: {fname}[{i}]"
                if not isinstance(spec, dict) or set(spec) != {"column", "values"}:
                    raise UsageError(f"{where}: a spec has exactly 'column' and 'values'")
                if not isinstance(spec["values"], dict) or not spec["values"]:
                    raise UsageError(f"{where}.values: a mapping from cell text to the field's value")
                values: dict[str, Any] = {}
                keys: dict[str, Any] = {}  # cell text -> the key of the map that gave it
                for k, v in spec["values"].items():
                    problem = validate(fname, v)
                    if problem:
                        raise UsageError(f"{where}.values.{k}: {problem}")
                    for text in _spellings(k):
                        if text in values and values[text] != v:
                            # cell texts match in any case: two keys of one text would map a cell two ways
                            raise UsageError(f"{where}.values: {quote(str(keys[text]))} and {quote(str(k))} are one cell "
                                             f"text (cells match in any case) mapped to {json.dumps(values[text])} "
                                             f"and {json.dumps(v)}: keep one of them")
                        values[text] = v
                        keys[text] = k
                out.append(_Spec(str(spec["column"]), values))
            fields[fname] = out
        return cls(fields, str(path))

    def check_columns(self, columns: dict[str, str]) -> None:
        """Every mapped column must exist in some clinical file."""
        for fname, specs in self.fields.items():
            for spec in specs:
                if spec.column not in columns:
                    close = difflib.get_close_matches(spec.column, list(columns), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    where = "no clinical file was given" if not columns else "no clinical file has it"
                    raise UsageError(f"{self.source}: {fname}: column '{spec.column}': {where}{hint}")

    def apply(self, values: dict[str, str] | None) -> tuple[dict[str, Any], list[str], list[str]]:
        """``(fields, unmapped notes, conflicts)`` for one sample's clinical values."""
        out: dict[str, Any] = {}
        unmapped: list[str] = []
        conflicts: list[str] = []
        for fname, specs in self.fields.items():
            got: list[Any] = []
            for spec in specs:
                cell = values.get(spec.column) if values else None
                if cell is None:
                    got = []
                    break
                key = cell.strip().lower()
                if key not in spec.values:
                    unmapped.append(f"{fname}: {spec.column}='{cell}'")
                    got = []
                    break
                got.append(spec.values[key])
            if not got:
                continue
            if fname == "prior_therapies":
                out[fname] = [line for part in got for line in part]
            elif all(g == got[0] for g in got):
                out[fname] = got[0]
            else:
                conflicts.append(f"{fname}: columns disagree ({', '.join(repr(g) for g in got)})")
        return out, unmapped, conflicts


def _spellings(key: Any) -> list[str]:
    """Cell texts a YAML map key stands for (YAML reads an unquoted YES as true)."""
    if key is True:
        return list(_YAML_TRUE)
    if key is False:
        return list(_YAML_FALSE)
    return [str(key).strip().lower()]
