"""The audit trail of the rule base: where each regulatory fact was verified.

``rules/verification.yaml`` holds one record per regulatory fact: the rules that encode it, the
fact in plain words, the source it is cited from, the public record it was checked against and
the date of the check. A rule whose status is ``regular``, ``accelerated`` or ``withdrawn`` states
a regulatory fact, so ``check`` reports it as V013 when no record lists it.

``rules/ids.yaml`` (optional) is the ledger of every rule id ever issued, with the kind of rule it
was issued for (and ``(retired)`` after it once the rule is retired): results, traces and
verification records name rules by id, so an id is never renamed, deleted or given to another
rule. ``check`` reports V015 when the rules and the ledger disagree.

Results name rules by their titles and facts in words, never by id: ``check`` reports V016 for a
text a result shows (explanations, readings, criteria, missing facts, override reasons, notes,
cautions) that names a rule id or a derived fact's name.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field, ValidationError

from engine.errors import Problem
from engine.schema import StrictModel, problems_from_validation

if TYPE_CHECKING:  # pragma: no cover
    from engine.rulebase import RuleBase

FILE = "verification.yaml"
LEDGER = "ids.yaml"
RETIRED_MARK = "(retired)"  # after the kind, in the ledger: the id of a retired rule
REGULATORY = frozenset({"regular", "accelerated", "withdrawn"})


class Verification(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built when a file is read

    id: str = Field(pattern=r"^VER-[0-9]{3}$")
    rules: tuple[str, ...] = Field(min_length=1)
    fact: str = Field(min_length=10)
    source: str
    record: str = Field(min_length=10)  # the public record checked, and where it was found
    checked_on: dt.date
    note: str | None = None  # what the record does not settle, or how a difference was resolved


class VerificationFile(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    verifications: tuple[Verification, ...] = ()


def load(directory: Path, rule_ids: set[str], source_ids: set[str], problems: list[Problem]) -> tuple[Verification, ...]:
    """Read and check ``verification.yaml`` (absent: no records). Unknown rules and sources,
    duplicate record ids and schema errors are added to ``problems``."""
    path = directory / FILE
    if not path.is_file():
        return ()
    from engine import ruleyaml  # only when the rule base is read from its files (not from the cache)

    try:
        data = ruleyaml.load(path.read_text(encoding="utf-8")) or {}
        vf = VerificationFile.model_validate(data)
    except ruleyaml.YAMLError as exc:
        problems.append(Problem(f"not valid YAML{ruleyaml.where(exc)}: {ruleyaml.problem(exc)}", (FILE,)))
        return ()
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, (FILE,), VerificationFile))
        return ()
    seen: set[str] = set()
    for i, v in enumerate(vf.verifications):
        where = (FILE, "verifications", i)
        if v.id in seen:
            problems.append(Problem(f"duplicate verification id '{v.id}'", where + ("id",)))
        seen.add(v.id)
        for j, rid in enumerate(v.rules):
            if rid not in rule_ids:
                close = difflib.get_close_matches(rid, sorted(rule_ids), n=1)
                problems.append(Problem(f"unknown rule '{rid}'", where + ("rules", j), close[0] if close else None))
        if v.source not in source_ids:
            close = difflib.get_close_matches(v.source, sorted(source_ids), n=1)
            problems.append(Problem(f"unknown source '{v.source}' (not in sources.yaml)", where + ("source",), close[0] if close else None))
    return vf.verifications


def records_by_rule(rb: RuleBase) -> dict[str, list[Verification]]:
    out: dict[str, list[Verification]] = {}
    for v in getattr(rb, "verifications", ()):
        for rid in v.rules:
            out.setdefault(rid, []).append(v)
    return out


def unverified(rb: RuleBase) -> list[Problem]:
    """V013: every regulatory rule (status regular, accelerated or withdrawn) needs a record."""
    have = records_by_rule(rb)
    return [
        Problem(f"V013 regulatory rule without a verification record: status '{r.status}', no entry of "
                f"{FILE} lists {r.id}", (rb.rule_files[r.id], r.id))
        for r in rb.rules if r.status in REGULATORY and r.id not in have
    ]


def markdown(rb: RuleBase) -> list[str]:
    """The verification records as a Markdown table (for RULES.md)."""
    lines = ["", "## Verification records", "",
             "Where each regulatory fact was checked (`rules/verification.yaml`).", "",
             "| record | rules | fact | source | checked against | checked on |",
             "| --- | --- | --- | --- | --- | --- |"]
    def cell(s: object) -> str:
        return " ".join(str(s).split()).replace("|", "/")

    for v in getattr(rb, "verifications", ()):
        rec = v.record + (f" Note: {v.note}" if v.note else "")
        lines.append(f"| {v.id} | {', '.join(v.rules)} | {cell(v.fact)} | {v.source} | {cell(rec)} | {v.checked_on} |")
    return lines


def id_ledger(rb: RuleBase) -> list[Problem]:
    """V015: the rules against the ledger of issued ids (``ids.yaml``; none: nothing to check)."""
    path = Path(rb.directory) / LEDGER
    if not path.is_file():
        return []
    from engine import ruleyaml  # only when check reads the rule base's files

    try:
        data = ruleyaml.load(path.read_text(encoding="utf-8")) or {}
    except (OSError, ruleyaml.YAMLError) as exc:
        return [Problem(f"V015 cannot read the ledger of rule ids: {ruleyaml.problem(exc)}{ruleyaml.where(exc)}", (LEDGER,))]
    issued = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(issued, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in issued.items()):
        return [Problem("V015 the ledger of rule ids must be a mapping 'ids: {RULE-ID: kind}'", (LEDGER, "ids"))]
    out: list[Problem] = []
    have = {r.id: r for r in rb.rules}
    retired_ids = set()
    for rid, entry in list(issued.items()):
        kind, _, mark = entry.partition(" ")
        if mark == RETIRED_MARK:
            retired_ids.add(rid)
        elif mark:
            out.append(Problem(f"V015 ledger entry '{rid}: {entry}' is not 'KIND' or 'KIND {RETIRED_MARK}'", (LEDGER, "ids", rid)))
        issued[rid] = kind
    for rid, kind in issued.items():
        rule = have.get(rid)
        if rule is not None and kind == rule.kind and (rid in retired_ids) != (rule.status == "retired"):
            if rid in retired_ids:  # a retired id now names a live rule: the retired one was deleted and its id reused
                out.append(Problem(
                    f"V015 rule id {rid} was retired ({LEDGER}) and now names a rule that is not: a retired rule "
                    f"stays in the rule base, retired, and a new rule takes a new id", (rb.rule_files[rid], rid)))
            else:
                out.append(Problem(
                    f"V015 rule {rid} is retired: mark its id retired in the ledger ('{rid}: {kind} {RETIRED_MARK}'), "
                    f"so that it can never be given to another rule", (LEDGER, "ids", rid)))
        if rule is None:
            close = difflib.get_close_matches(rid, [r for r in have if r not in issued], n=1)
            out.append(Problem(
                f"V015 rule id {rid} was issued ({LEDGER}) but no rule has it: ids are permanent, so a rule "
                f"that no longer applies gets status 'retired' (and replaced_by), never deleted or renamed"
                + (f" (was it renamed to {close[0]}?)" if close else ""), (LEDGER, "ids", rid)))
        elif rule.kind != kind:
            out.append(Problem(
                f"V015 rule id {rid} was issued for a {kind} rule ({LEDGER}) and now names a {rule.kind} rule: "
                f"a new rule takes a new id", (rb.rule_files[rid], rid)))
    for rid, rule in have.items():
        if rid not in issued:
            out.append(Problem(
                f"V015 rule id {rid} is not in the ledger of issued ids: add '{rid}: {rule.kind}' to {LEDGER} "
                f"(once issued, an id is never renamed, deleted or reused)", (rb.rule_files[rid], rid)))
    return out


def inconsistent_records(rb: RuleBase) -> list[Problem]:
    """V013 too: a record that cannot verify what its rules state: its source is cited by none of
    them (it verified something else), or it was checked before the earliest of them holds; and a
    regulatory rule holding from a date neither its records' facts nor its rationale names."""
    by_id = {r.id: r for r in rb.rules}
    out: list[Problem] = []
    for v in getattr(rb, "verifications", ()):
        rules = [by_id[rid] for rid in v.rules if rid in by_id]
        if not rules:
            continue
        where = (FILE, v.id)
        if not any(c.source == v.source for r in rules for c in r.citations):
            out.append(Problem(f"V013 {v.id} names source {v.source}, which none of its rules "
                               f"({', '.join(v.rules)}) cites: a record verifies what a rule cites", where + ("source",)))
        first = min(r.effective_from for r in rules)
        if v.checked_on < first:
            out.append(Problem(f"V013 {v.id} was checked on {v.checked_on}, before its rules hold (from {first}): "
                               f"a check cannot verify a fact before it began", where + ("checked_on",)))
    # a regulatory rule holds from the day its record gives: a date its records' facts and its own
    # rationale never name is a slip (2025-10-15 written for 2026-10-15 makes a drug eligible a
    # year before its approval, and no example need catch it)
    facts: dict[str, list[str]] = {}
    for v in getattr(rb, "verifications", ()):
        for rid in v.rules:
            facts.setdefault(rid, []).append(v.fact)
    for r in rb.rules:
        if r.status not in REGULATORY or r.id not in facts:
            continue
        day = r.effective_from.isoformat()
        if day not in r.rationale and not any(day in f for f in facts[r.id]):
            named = sorted(set(_DAY.findall(" ".join(facts[r.id]))))
            out.append(Problem(f"V013 {r.id} holds from {day}, a date neither its verification record nor its rationale "
                               f"names" + (f" (the record names {', '.join(named)})" if named else "")
                               + ": an approval holds from the day its record gives; correct the date, or say in the "
                               "rationale why the rule starts then", (rb.rule_files[r.id], r.id, "effective_from"),
                               named[0] if len(named) == 1 else None))
    return out


_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _shown_texts(rule) -> list[tuple[str, tuple]]:
    """(text, path) of every field of ``rule`` that a result shows to people."""
    out: list[tuple[str, tuple]] = []
    for key in ("met", "unmet", "unknown"):
        text = getattr(rule.explain, key, None) if rule.explain is not None else None
        if text:
            out.append((text, ("explain", key)))
    for i, req in enumerate(rule.requires):
        for key in ("criterion", "missing", "reading"):
            text = getattr(req, key)
            if text:
                out.append((text, ("requires", i, key)))
    for i, ov in enumerate(rule.overrides):
        out.append((ov.because, ("overrides", i, "because")))
    for key in ("note", "caution"):
        text = getattr(rule, key, None)
        if text:
            out.append((text, (key,)))
    criterion = getattr(rule.conclude, "criterion", None) if rule.conclude is not None else None
    if criterion:
        out.append((criterion, ("conclude", "criterion")))
    return out


def internal_names(rb: RuleBase) -> list[Problem]:
    """V016: a text a result shows names a rule id or a derived fact (results show titles and
    plain words; the ids stay in the structured fields)."""
    import re

    names = sorted({r.id for r in rb.rules} | {r.derive for r in rb.rules if r.kind == "derivation" and r.derive},
                   key=len, reverse=True)
    if not names:
        return []
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    out = []
    for rule in rb.rules:
        for text, path in _shown_texts(rule):
            m = pattern.search(text)
            if m:
                out.append(Problem(
                    f"V016 a text results show names '{m.group(1)}', which a learner "
                    "reading the result would not know: name a rule by what it says (or leave it out) and "
                    "a fact in plain words", (rule.id, *path)))
    return out
