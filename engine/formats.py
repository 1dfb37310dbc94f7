"""Output formats: text for people, JSON for machines, TSV in the spirit of the OncoKB annotator."""
from __future__ import annotations

import json
import textwrap

from engine.result import Result

VERDICT_HEADINGS = [
    ("eligible", "ELIGIBLE (approved, every label criterion met)"),
    ("conditional", "CONDITIONAL (would be eligible or worth considering; data missing)"),
    ("consider", "CONSIDER (investigational: trial, expanded access, evidence short of approval)"),
    ("not_eligible", "NOT ELIGIBLE (a criterion of the approval is not met)"),
    ("excluded", "EXCLUDED (the biomarkers predict no benefit or resistance)"),
]


def text(result: Result, width: int = 100) -> str:
    out: list[str] = []
    out.append(
        f"Case {result.case_id}: {result.cancer_type}, evaluated as of {result.evaluated_as_of} "
        f"({result.jurisdiction}; knowledge current to {result.knowledge_version})"
    )
    if not result.options:
        out.append("  No therapy option in the rule base applies to this profile.")
    for verdict, heading in VERDICT_HEADINGS:
        opts = [o for o in result.options if o.verdict == verdict]
        if not opts:
            continue
        out.append(f"  {heading}")
        for o in opts:
            out.append(f"    * {o.name}: {o.evidence} (OncoKB {o.oncokb_level}) [{', '.join(o.rules)}]")
            out.append(textwrap.fill(o.explanation, width, initial_indent="        ", subsequent_indent="        "))
            if o.missing:
                out.append(f"        Missing: {', '.join(o.missing)}")
            srcs = []
            for c in o.citations:
                s = c.source + (f" ({c.section})" if c.section else "")
                if s not in srcs:
                    srcs.append(s)
            out.append(textwrap.fill("Sources: " + "; ".join(srcs), width, initial_indent="        ", subsequent_indent="          "))
    if result.notes:
        out.append("  Notes:")
        for n in result.notes:
            out.append(textwrap.fill(n, width, initial_indent="    - ", subsequent_indent="      "))
    out.append(f"  {result.disclaimer}")
    return "\n".join(out)


def json_line(result: Result) -> str:
    return result.model_dump_json()


def error_record(source: str, exc, case_id: str | None = None) -> dict:
    return {"case_id": case_id, "source": source, "error": exc.to_dict()["errors"]}


TSV_COLUMNS = [
    "case_id",
    "cancer_type",
    "evaluated_as_of",
    "highest_level",
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
    "error",
]
_LEVEL_ORDER = ["1", "2", "3A", "3B", "4"]


def tsv_header() -> str:
    return "\t".join(TSV_COLUMNS)


def tsv_row(result: Result | None, *, error: dict | None = None) -> str:
    if result is None:
        err = error or {}
        msgs = "; ".join(f"{e['path']}: {e['message']}" if e.get("path") else e["message"] for e in err.get("error", []))
        row = {"case_id": err.get("case_id") or err.get("source", ""), "error": msgs}
        return "\t".join(_clean(row.get(c, "")) for c in TSV_COLUMNS)
    levels: dict[str, list[str]] = {}
    verdicts: dict[str, list[str]] = {}
    missing: list[str] = []
    for o in result.options:
        verdicts.setdefault(o.verdict, []).append(o.therapy)
        if o.verdict in ("eligible", "consider", "conditional"):
            levels.setdefault(o.oncokb_level, []).append(o.therapy)
        elif o.verdict == "excluded":
            levels.setdefault(o.oncokb_level, []).append(o.therapy)
        for m in o.missing:
            if m not in missing:
                missing.append(m)
    highest = next((lv for lv in _LEVEL_ORDER if lv in levels), "")
    row = {
        "case_id": result.case_id,
        "cancer_type": result.cancer_type,
        "evaluated_as_of": result.evaluated_as_of,
        "highest_level": f"LEVEL_{highest}" if highest else "",
        "missing": ",".join(missing),
    }
    for lv in _LEVEL_ORDER + ["R1", "R2"]:
        row[f"level_{lv}"] = ",".join(levels.get(lv, []))
    for v in ("eligible", "conditional", "consider", "not_eligible", "excluded"):
        row[v] = ",".join(verdicts.get(v, []))
    return "\t".join(_clean(row.get(c, "")) for c in TSV_COLUMNS)


def _clean(v: str) -> str:
    return str(v).replace("\t", " ").replace("\n", " ")


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
