"""Output formats: text for people, JSON for machines, TSV in the spirit of the OncoKB annotator."""
from __future__ import annotations

import json
import textwrap

from engine.result import Decided, Decisions, Result
from engine.semantics import EVIDENCE_WORDS, LISTED, POSITIVE, VERDICT_HEADINGS
from engine.tutoring.short import whole_line



def _one_line(o) -> bool:
    """An exclusion drawn from the literature (a failed approach, a resistance finding), not from
    a label: shown on one line in the text output unless details are asked for."""
    return o.verdict == "excluded" and o.status == "literature"


def sources(citations, as_of: str) -> str:
    """An option's sources for people: each source once, in the order first cited, with the
    sections cited of it ("Title (section A; section B)"), and a note when it is dated after the
    evaluation date."""
    groups: dict[tuple[str, str], list[str]] = {}
    for c in citations:
        late = f" [dated {c.date}, after the evaluation date]" if c.date and c.date > as_of else ""  # (ISO dates compare as texts)
        sections = groups.setdefault((c.title or c.source, late), [])
        if c.section and c.section not in sections:
            sections.append(c.section)
    return "; ".join(title + (f" ({'; '.join(secs)})" if secs else "") + late for (title, late), secs in groups.items())


def text(result: Result, width: int = 100, *, brief: bool = False, detail: bool = False, readings=None) -> str:
    """The result for people. ``brief``: one line per option (its summary). Otherwise each option
    in full, except literature exclusions (historical failed approaches, shown in every
    KRAS-mutant case), which get one line each unless ``detail``. With ``readings``
    (``Engine.readings()``), a reading of a criterion that several options share is printed in
    full under the first and named under the others."""
    out: list[str] = []
    shown: dict[str, str] = {}  # reading sentence -> the option it was printed under
    out.append(
        f"Case {result.case_id}: {result.cancer_type}, evaluated as of {result.evaluated_as_of} "
        f"({result.jurisdiction}; knowledge current to {result.knowledge_version})"
    )
    if not result.options:
        out.append("  No therapy option in the rule base applies to this profile.")
    short_count = 0
    for verdict, heading in VERDICT_HEADINGS:
        opts = [o for o in result.options if o.verdict == verdict]
        if not opts:
            continue
        out.append(f"  {heading}")
        for o in opts:
            if brief or (not detail and _one_line(o)):
                short_count += not brief
                line = whole_line(o) if brief and o.summary else o.summary or o.name
                out.append(textwrap.fill(f"* {line} [{o.rules[0] if o.rules else ''}]", width,
                                         initial_indent="    ", subsequent_indent="        ", break_on_hyphens=False))
                continue
            # an OncoKB level belongs to a biomarker the tumour has: shown as the TSV row levels it
            # (not while the deciding rule's gate is unknown, not for an option the case fails)
            leveled = o.oncokb_level and o.verdict != "not_eligible" and not Decided.of(o).gate_unknown
            level = f" (OncoKB {o.oncokb_level})" if leveled else ""
            # the evidence in words ("preclinical resistance evidence"; the result keeps its token)
            words = EVIDENCE_WORDS.get(o.evidence, o.evidence)
            if o.verdict == "not_eligible":
                words = f"{words}, but not for this case"
            elif o.verdict == "conditional":  # (read under its heading, "approved" alone reads as the verdict)
                words = f"{words}, once what is missing is known"
            out.append(f"    * {o.name}: {words}{level} [{', '.join(o.rules)}]")
            # (what is missing is named in the explanation: "Cannot decide without: ...")
            explanation = o.explanation
            for head, sentence in readings.get(o.rules[0], ()) if readings and o.rules else ():
                if sentence in explanation:
                    if sentence in shown:
                        explanation = explanation.replace(sentence, f"{head}: as under {shown[sentence]} above.")
                    else:
                        shown[sentence] = o.name
            out.append(textwrap.fill(explanation, width, initial_indent="        ", subsequent_indent="        "))
            out.append(textwrap.fill("Sources: " + sources(o.citations, result.evaluated_as_of), width,
                                     initial_indent="        ", subsequent_indent="          "))
    if short_count:
        out.append(textwrap.fill(
            f"({short_count} exclusion(s) from the literature shown on one line each; `evaluate --detail` "
            "shows them in full, `kras-rules why CASE THERAPY` explains one.)", width,
            initial_indent="  ", subsequent_indent="  "))
    if result.notes and not brief:
        out.append("  Notes:")
        for n in result.notes:
            out.append(textwrap.fill(n, width, initial_indent="    - ", subsequent_indent="      "))
    out.append(f"  {result.disclaimer}" if not brief else "  Educational decision support only: not medical advice.")
    return "\n".join(out)


def error_record(source: str, exc, case_id: str | None = None) -> dict:
    return {"case_id": case_id, "source": source, "error": exc.to_dict()["errors"], "code": getattr(exc, "code", "error")}


# One row per case, in the spirit of the OncoKB annotator: its LEVEL_* columns (therapies per level,
# combinations joined by "+", several therapies by ","), HIGHEST_LEVEL over all of them in its
# order (R1 first, then 1, 2, 3A, 3B, 4, R2), and the sensitive and resistance maxima apart. Only
# options that hold for the case are leveled: eligible, conditional and consider at their
# sensitive level (1 to 4), excluded at its resistance level (R1, R2). A not_eligible option (an approval whose
# criteria the case fails) is listed in its own column, not under a level.
TSV_COLUMNS = [
    "case_id",
    "cancer_type",
    "evaluated_as_of",
    "knowledge_version",
    "highest_level",
    "highest_sensitive_level",
    "highest_resistance_level",
    "level_1",
    "level_2",
    "level_3A",
    "level_3B",
    "level_4",
    "level_R1",
    "level_R2",
    "eligible",
    "conditional",
    "consider",
    "not_eligible",
    "excluded",
    "missing",
    "rules",
    "error",
    "jurisdiction",  # (last: added after the others, so a reader by position reads them as before)
]
_SENSITIVE = ["1", "2", "3A", "3B", "4"]
_RESISTANCE = ["R1", "R2"]
_HIGHEST_ORDER = ["R1", "1", "2", "3A", "3B", "4", "R2"]  # the OncoKB annotator's HIGHEST_LEVEL order
_SENSITIVE_SET, _RESISTANCE_SET = frozenset(_SENSITIVE), frozenset(_RESISTANCE)
_SENSITIVE_VERDICTS = frozenset(POSITIVE)
_VERDICTS = LISTED


def tsv_header() -> str:
    return "\t".join(TSV_COLUMNS)


def tsv_row(result: Result | Decisions | None, *, error: dict | None = None) -> str:
    """One TSV row for a result (or its decided fields, which are all the row reads), or for an
    error record (``error``: its dict, ``result`` None)."""
    if result is None:
        err = error or {}
        msgs = "; ".join(f"{e['path']}: {e['message']}" if e.get("path") else e["message"] for e in err.get("error", []))
        row = {"case_id": err.get("case_id") or err.get("source", ""), "error": msgs}
        return "\t".join(_clean(row.get(c, "")) for c in TSV_COLUMNS)
    if not isinstance(result, Decisions):
        result = Decisions.of(result)
    cells = [""] * _WIDTH  # built cell by cell: most of a row is empty
    cells[_CASE_ID] = _clean(result.case_id)
    cells[_CANCER_TYPE] = _clean(result.cancer_type)
    cells[_AS_OF] = _clean(result.evaluated_as_of)
    cells[_KNOWLEDGE] = _clean(result.knowledge_version)
    cells[_JURISDICTION] = _clean(result.jurisdiction)
    options = result.options
    if not options:
        return "\t".join(cells)
    levels: dict[str, list[str]] = {}
    verdicts: dict[str, list[str]] = {}
    missing: list[str] = []
    rules: list[str] = []
    for o in options:
        verdicts.setdefault(o.verdict, []).append(o.therapy)
        lv = o.oncokb_level
        if o.gate_unknown:
            lv = None  # a level belongs to a biomarker: none while the deciding rule's gate is unknown
        if lv is not None and ((lv in _RESISTANCE_SET) if o.verdict == "excluded" else (o.verdict in _SENSITIVE_VERDICTS and lv in _SENSITIVE_SET)):
            levels.setdefault(lv, []).append(o.therapy)
        for m in o.missing:
            if m not in missing:
                missing.append(m)
        if o.rule is not None and o.rule not in rules:
            rules.append(o.rule)
    if levels:
        cells[_HIGHEST] = _highest(levels, _HIGHEST_ORDER)
        cells[_HIGHEST_SENSITIVE] = _highest(levels, _SENSITIVE)
        cells[_HIGHEST_RESISTANCE] = _highest(levels, _RESISTANCE)
        for lv, i in _LEVEL_CELLS:
            got = levels.get(lv)
            if got:
                cells[i] = _clean(",".join(got))
    if missing:
        cells[_MISSING] = _clean(",".join(missing))
    if rules:
        cells[_RULES] = _clean(",".join(sorted(rules)))
    for v, i in _VERDICT_CELLS:
        got = verdicts.get(v)
        if got:
            cells[i] = _clean(",".join(got))
    return "\t".join(cells)


_COLUMN = {c: i for i, c in enumerate(TSV_COLUMNS)}
_WIDTH = len(TSV_COLUMNS)
_CASE_ID, _CANCER_TYPE, _AS_OF, _KNOWLEDGE = (_COLUMN[c] for c in ("case_id", "cancer_type", "evaluated_as_of", "knowledge_version"))
_HIGHEST, _HIGHEST_SENSITIVE, _HIGHEST_RESISTANCE = (
    _COLUMN[c] for c in ("highest_level", "highest_sensitive_level", "highest_resistance_level"))
_MISSING, _RULES, _JURISDICTION = _COLUMN["missing"], _COLUMN["rules"], _COLUMN["jurisdiction"]
_LEVEL_CELLS = tuple((lv, _COLUMN[f"level_{lv}"]) for lv in _SENSITIVE + _RESISTANCE)
_VERDICT_CELLS = tuple((v, _COLUMN[v]) for v in _VERDICTS if v in _COLUMN)


def _highest(levels: dict[str, list[str]], order: list[str]) -> str:
    lv = next((lv for lv in order if lv in levels), None)
    return f"LEVEL_{lv}" if lv else ""


def tsv_cell(v) -> str:
    """A value as one TSV cell (tabs and line breaks become spaces)."""
    return _clean(v)


def tsv_head(case_id: str, cancer_type: str, evaluated_as_of: str) -> str:
    """The start of :func:`tsv_row`'s row for a result with these fields: its first three cells
    and the tab after them (the rest of the row names neither the id nor the date)."""
    return f"{_clean(case_id)}\t{_clean(cancer_type)}\t{_clean(evaluated_as_of)}\t"


def _clean(v: str) -> str:
    v = str(v)
    if "\t" in v or "\n" in v or "\r" in v:
        v = v.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return v


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
