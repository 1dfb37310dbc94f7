"""CDS Hooks (https://cds-hooks.org): discovery and one service that returns a card per option.

The case travels in the request's ``context.case`` (a case object, as for ``/evaluate``); the
hook is ``patient-view``. Cards follow the specification's rules: ``summary`` at most 140
characters, ``indicator`` one of ``info``, ``warning``, ``critical``, a ``source`` with ``label``
and ``url``, a Markdown ``detail``, and a ``uuid`` that is stable for the same option of the same
case (a UUID 5 of the case id, the therapy and the knowledge version).
"""
from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

SERVICE_ID = "kras-rules-options"
INDICATORS = ("info", "warning", "critical")
#: the CDS Hooks hook the service is registered for (a request for another is refused)
HOOK = "patient-view"
_NS = uuid.UUID("6f1c3f0e-5b7a-4f4e-9d57-2b9c1c7a4e10")  # the namespace of this service's card ids

_INDICATOR = {"eligible": "info", "conditional": "info", "consider": "info", "not_eligible": "warning",
              "excluded": "warning"}


class CardSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(description="the source's title, for people")
    url: str = Field(description="where to read it")
    topic: dict | None = Field(default=None, description="a coded topic (unused)")


class Card(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uuid: str = Field(description="stable id of the card: the same option of the same case gets the same uuid, "
                                  "and a card whose content changed (date, regulator, verdict, deciding rules) another")
    summary: str = Field(max_length=140, description="the option in at most 140 characters")
    detail: str = Field(description="the explanation, criteria and missing facts (GitHub Markdown)")
    indicator: str = Field(description="info, warning or critical")
    source: CardSource = Field(description="the primary source the option rests on")


class CardsResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cards: list[Card] = Field(description="one card per option of the evaluation")


class HookService(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hook: str
    id: str
    title: str
    description: str
    prefetch: dict = Field(default_factory=dict)


class Discovery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[HookService]


def discovery() -> Discovery:
    return Discovery(services=[HookService(
        hook=HOOK, id=SERVICE_ID, title="KRAS therapy options (educational)",
        description="Educational decision support, not medical advice: the therapy options for a tumour profile "
                    "given in context.case (the kras-rules case format), one card per option.",
    )])


def card_uuid(case_id: str, therapy: str, knowledge_version: str, content: str = "") -> str:
    """The card's id: the same for the same option of the same case (so a client can recognise
    a card it has shown), another where what the card says changed (its ``content``: the date,
    the regulator, the verdict and what decided it)."""
    return str(uuid.uuid5(_NS, f"{case_id}\x1f{therapy}\x1f{knowledge_version}\x1f{content}"))


def cards(result, rulebase, base_url: str, criteria_of=None, text_of=None) -> CardsResponse:
    """One card per option of ``result``. ``criteria_of(option)`` may give its criteria checklist,
    ``text_of(option)`` its explanation in words (default: the option's own)."""
    out = []
    for o in result.options:
        rule_id = o.rules[0] if o.rules else ""
        cit = o.citations[0] if o.citations else None
        src = rulebase.sources.get(cit.source) if cit else None
        label = src.title if src else (rulebase.by_id[rule_id].title if rule_id in rulebase.by_id else "kras-rules")
        url = getattr(src, "url", None) or f"{base_url.rstrip('/')}/rules/{rule_id}"
        lines = [text_of(o) if text_of else o.explanation]
        if o.missing:
            lines.append("\n**To find out:** " + "; ".join(o.missing))
        crit = criteria_of(o) if criteria_of else []
        if crit:
            mark = {"met": "met", "not_met": "NOT met", "unknown": "unknown"}
            lines.append("\n**Criteria:**\n" + "\n".join(f"- {c.text}: {mark[c.status]}" for c in crit))
        lines.append(f"\n*{result.disclaimer}*")
        out.append(Card(
            uuid=card_uuid(result.case_id, o.therapy, result.knowledge_version, "\x1f".join(
                [result.evaluated_as_of, result.jurisdiction, o.verdict, o.evidence, *o.rules, *o.missing, *o.failed_criteria,
                 *(c.rule for c in o.cautions)])),
            summary=o.summary[:140], detail="\n".join(lines), indicator=_INDICATOR.get(o.verdict, "info"),
            source=CardSource(label=label, url=url),
        ))
    return CardsResponse(cards=out)
