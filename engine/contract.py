"""JSON Schemas of the case and result formats (``kras-rules schema case|result``).

Generated from the pydantic models the engine itself validates with, so the schema cannot drift
from the code; every field gets a description (from the model, or from :data:`DESCRIPTIONS`), and
a field without one is a test failure. Results carry the contract version they follow
(``contract_version``, :data:`engine.result.CONTRACT_VERSION`).
"""
from __future__ import annotations

import copy
from functools import cache

from engine.result import CONTRACT_VERSION

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# model name -> field -> description (for models whose fields carry none of their own)
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "CaseIn": {
        "": "One case: a tumour profile to evaluate. Unknown fields are errors.",
        "id": "the case's id (default: the file name and position)",
        "cancer_type": "an OncoTree code (LUAD, NSCLC, COADREAD, PAAD, ...) or a common name (colorectal cancer, PDAC)",
        "stage": "early, locally_advanced or metastatic; absent means unknown",
        "alterations": "the alterations found; a gene not listed here and not in tested_genes is untested, never wild-type",
        "tested_genes": "genes the assay covered: a tested gene with no listed alteration is wild-type; absent: nothing known to be wild-type",
        "germline_tested": "whether germline testing was done (absent: unknown)",
        "multiagent_candidate": "whether the patient is a candidate for multiagent (combination) systemic therapy, in the treating team's judgement: false where a label admits a patient unfit for it (absent: unknown)",
        "prior_therapies": "prior systemic therapies, oldest first; absent or null: history unknown; []: treatment-naive",
        "tested_after_prior_therapy": "whether the alterations and tested genes are from testing after the last prior therapy listed (a new biopsy or a liquid biopsy at progression): only such a profile shows that no resistance alteration was acquired on a drug; false: from earlier testing; absent: not stated (an alteration flagged acquired implies true)",
        "as_of": "the date to evaluate the knowledge at (YYYY-MM-DD; default: today)",
        "jurisdiction": "the regulator whose approvals apply: FDA (default) or EMA",
    },
    "AlterationIn": {
        "": "One alteration of the tumour (or germline).",
        "gene": "HGNC symbol, previous symbol or alias (KRAS, LKB1)",
        "variant": "HGVS protein change (G12C, p.Gly12Cys), a hotspot cDNA change (c.34G>T) or a kind word: amplification, fusion, loss, mutation",
        "origin": "somatic (default) or germline",
        "acquired": "true: found at progression on targeted therapy; false: present at diagnosis; absent: not stated",
        "partner": "the fusion partner gene, for a fusion",
        "classification": "the variant's classification, as a germline report gives it: pathogenic, likely_pathogenic, uncertain_significance, likely_benign or benign (absent: not stated; a rule asking for a deleterious change then reads a truncating change or a loss as one, a missense or in-frame change as unknown)",
        "cna": "informational: the discrete copy-number call from a copy-number file, -2 (deep deletion) to 2 (amplification)",
        "copy_number": "informational: total copies, where a copy-number file gives them",
        "detail": "informational: the source file's own words for the alteration (e.g. EML4--ALK, a segment)",
    },
    "PriorTherapyIn": {
        "": "One prior line of systemic therapy: drugs or a named regimen (neither: a line whose drugs are not known).",
        "drugs": "drugs by generic, brand or code name",
        "regimen": "a named regimen that expands to drugs (FOLFOX, FOLFIRI, CAPOX, gemcitabine/nab-paclitaxel, ...)",
        "setting": "adjuvant, neoadjuvant, metastatic or maintenance",
        "outcome": "progression, response, stable or intolerance",
        "weeks": "how long it was given, in weeks",
    },
    "Result": {
        "": "The evaluation of one case: every relevant therapy option with its verdict and why.",
        "case_id": "the case's id",
        "evaluated_as_of": "the date the knowledge was applied at",
        "knowledge_version": "the date the knowledge base is current to",
        "jurisdiction": "the regulator whose approvals applied",
        "cancer_type": "the resolved OncoTree code",
        "options": "one option per therapy some rule concluded about, best first",
        "notes": "context that is not a verdict, in words (each note's rule and citations: note_details)",
        "note_details": "the notes with their rule and citations",
        "facts": "the derived facts the case's rules use: true, false or null (unknown)",
        "trace": "every rule that spoke, every derived fact, every rule not in effect and why",
        "disclaimer": "educational decision support only: not medical advice",
        "contract_version": "the version of this format (README, \"Schemas and versions\"; a minor version only adds fields)",
    },
    "Option": {
        "": "One therapy option: verdict, evidence, the rules that decided it, and why.",
        "therapy": "therapy id from the catalogue (sorted generic drug names joined by '+')",
        "name": "display name, e.g. 'adagrasib + cetuximab'",
        "drugs": "lowercase generic names, sorted",
        "verdict": "eligible, conditional (see missing), consider, not_eligible (see failed_criteria) or excluded",
        "evidence": "approved, phase3, clinical, preclinical or resistance_standard/clinical/preclinical",
        "oncokb_level": "the OncoKB therapeutic level of the evidence (1, 2, 3A, 3B, 4, R1, R2)",
        "rules": "the deciding rule first, then the derived-fact rules it rests on",
        "explanation": "why, in words a student understands (rules by title; their ids are in rules)",
        "citations": "the passages the rules cite",
        "missing": "what to find out before the verdict can be decided (conditional; also a consider or an exclusion whose own criteria, or an exclusion it waits on, are unknown)",
        "failed_criteria": "the label criteria the case does not meet (for not_eligible)",
        "status": "status of the deciding rule: regular, accelerated, investigational, literature, guideline, ...",
        "jurisdiction": "the regulator of the deciding rule, if regulatory",
        "effective_from": "the date the deciding rule holds from",
        "considered": "other rules that concluded about this therapy and why they did not decide",
        "criteria": "the deciding rule's checklist: its gate and label criteria, each met, not_met or unknown",
        "cautions": "caution rules about this therapy that hold for the case (they never change the verdict)",
        "summary": "the option in at most 140 characters",
    },
    "Criterion": {
        "": "One line of an option's checklist.",
        "id": "stable id: '<rule>/gate/<n>', '<rule>/requires/<n>', '<rule>/exclusion' or '<rule>/verdict'",
        "text": "the criterion in plain words",
        "kind": "gate: which tumours the rule is about (cancer type, biomarker); label: a criterion of the approval or evidence",
        "status": "met, not_met or unknown for this case",
        "facts": "the case fields and derived facts it rests on (structured names)",
    },
    "CautionOut": {
        "": "A caution attached to an option: evidence that does not change the verdict but matters.",
        "rule": "the caution's rule id",
        "text": "the caution",
    },
    "CitationOut": {
        "": "A cited passage.",
        "source": "source id (see the catalogue's sources)",
        "title": "the title of the source, as a reader is shown it",
        "section": "the section of the source, if any",
        "quote": "the passage quoted",
        "rule": "the rule that cites it",
        "date": "the source's date (YYYY-MM-DD), if known; a source dated after the evaluation date was not known then",
    },
    "Considered": {
        "": "A rule that also concluded about the therapy but did not decide it.",
        "rule": "rule id",
        "verdict": "what it concluded",
        "evidence": "its evidence level",
        "set_aside_by": "the rule whose explicit precedence set it aside, if any",
        "reason": "why it did not decide",
    },
    "NoteOut": {
        "": "A note: context shown with the result, not a verdict.",
        "rule": "the note's rule id",
        "text": "the note",
        "citations": "the passages it cites",
    },
}


def _fill(schema: dict) -> list[str]:
    """Add descriptions from DESCRIPTIONS; return the fields still without one ("Model.field")."""
    missing: list[str] = []
    defs = schema.get("$defs", {})
    models = [(schema.get("title", ""), schema)] + list(defs.items())
    for name, model in models:
        table = DESCRIPTIONS.get(name, {})
        if "description" not in model and "" in table:
            model["description"] = table[""]
        for field, prop in model.get("properties", {}).items():
            if not prop.get("description"):
                if field in table:
                    prop["description"] = table[field]
                else:
                    missing.append(f"{name}.{field}")
    return missing


def fields_without_description(which: str) -> list[str]:
    s = _raw(which)
    return _fill(s)


def _raw(which: str) -> dict:
    if which == "case":
        from engine.case import CaseIn

        return CaseIn.model_json_schema()
    if which == "result":
        from engine.result import Result

        return Result.model_json_schema(mode="serialization")
    from engine.errors import UsageError

    raise UsageError(f"unknown schema '{which}' (use 'case' or 'result')")


@cache
def _schema(which: str) -> dict:
    s = _raw(which)
    _fill(s)
    out = {"$schema": SCHEMA_DIALECT, "$id": f"urn:kras-rules:{which}:{CONTRACT_VERSION}", **s}
    out["x-contract-version"] = CONTRACT_VERSION
    if which == "result":
        # every result states its version; a reader checks the major part
        out.setdefault("required", [])
        if "contract_version" not in out["required"]:
            out["required"].append("contract_version")
    return out


def json_schema(which: str) -> dict:
    """The JSON Schema of ``case`` or ``result`` (a fresh copy)."""
    return copy.deepcopy(_schema(which))
