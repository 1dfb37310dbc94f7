"""Short summaries: each option in at most :data:`LIMIT` characters, in plain words.

The summary names the therapy and its verdict, then the reason: the criteria not met, the facts to
find out, or the deciding rule's title (which states the criterion). Rule ids and fact names stay in
the structured fields; the summary is for a list or a card.
"""
from __future__ import annotations

from engine.semantics import EVIDENCE_WORDS, VERDICT_WORDS

LIMIT = 140



def fit(text: str, limit: int = LIMIT) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-(") + "\u2026"


def _title(title: str) -> str:
    # "X means Y" titles (derived facts) read as X; a trailing regulator in brackets stays
    return title.split(" means ", 1)[0]


def caution_mark(cautions: int) -> str:
    """What follows a verdict in one line when cautions come with it: a caution is often the
    lesson of the case, and a one-line list must not hide it."""
    return "" if not cautions else " (with a caution)" if cautions == 1 else f" (with {cautions} cautions)"


def option_summary(name: str, verdict: str, title: str, missing, failed, evidence: str, cautions: int = 0) -> str:
    if (verdict == "not_eligible" and failed) or (verdict == "conditional" and missing):
        return fit(_reason(name, verdict, missing, failed, evidence, cautions))
    head = _evidence_words(f"{name}: {VERDICT_WORDS.get(verdict, verdict)}{caution_mark(cautions)}", verdict, evidence)
    text = f"{head}. {_title(title)}"
    if missing:
        text += f"; to find out: {'; '.join(missing)}"
        if len(" ".join(text.split())) > LIMIT:  # what to find out matters more than the rule's title
            text = _reason(name, verdict, missing, failed, evidence, cautions)
    return fit(text)


def _evidence_words(head: str, verdict: str, evidence: str) -> str:
    if verdict == "consider":
        return head + f" ({EVIDENCE_WORDS.get(evidence, evidence + ' evidence')})"
    if verdict == "excluded" and evidence.startswith("resistance"):
        return head + " (predicted resistance)"
    return head


def _reason(name: str, verdict: str, missing, failed, evidence: str, cautions: int) -> str:
    """The verdict and what decides it (the criteria not met, what to find out), uncut; the
    verdict alone when neither is given."""
    head = f"{name}: {VERDICT_WORDS.get(verdict, verdict)}{caution_mark(cautions)}"
    if verdict == "not_eligible" and failed:
        return f"{head}, not met: {'; '.join(failed)}"
    if verdict == "conditional" and missing:
        return f"{head}, to find out: {'; '.join(missing)}"
    head = _evidence_words(head, verdict, evidence)
    return f"{head}; to find out: {'; '.join(missing)}" if missing else head


def whole_line(o) -> str:
    """An option's summary, or where the summary was cut to :data:`LIMIT` the uncut words of
    what the case fails or what to find out (the one-line view of a terminal may wrap: it must
    not hide the question that decides)."""
    if not o.summary.endswith("\u2026") or not (o.missing or o.failed_criteria):
        return o.summary
    failed = marked(o.failed_criteria, {c.text for c in o.criteria if c.kind == "population"}) if o.failed_criteria else ()
    return _reason(o.name, o.verdict, o.missing, failed, o.evidence, len(o.cautions))


def marked(failed, population) -> list[str]:
    """The failed criteria, each of the population a rule's evidence comes from (``population``:
    their texts) marked so: a one-line summary must not read a trial's eligibility as the label's."""
    return [f"{t} ({POPULATION_WORDS})" if t in population and "population" not in t else t for t in failed]


#: after a failed criterion of the population a rule's evidence comes from (a trial's eligibility),
#: in a one-line summary: the label does not state it
POPULATION_WORDS = "the trial population, not the label's words"

#: summaries kept per rule base: the missing facts and failed criteria of the key name the case's own
#: values, so a long batch of varied cases keeps finding new keys (about 1,600 per 100,000
#: generated cases, each with its summary about 600 bytes); a bound of 50,000 let one process grow
#: by some 30 MB before it was reached
MAX_SUMMARIES = 4096


class Summaries:
    """Fills ``summary`` on the options of results of one rule base (memoised per outcome)."""

    def __init__(self, rulebase):
        self.rb = rulebase
        self._memo: dict[tuple, str] = {}

    def fill(self, result) -> None:
        for o in result.options:
            o.__dict__["summary"] = self.of(o.__dict__)

    def of(self, d: dict) -> str:
        """The summary of an option, from its fields (``d``: the option's ``__dict__``; read
        directly, as this runs for every option of every result)."""
        memo = self._memo
        m, f, r, c = d["missing"], d["failed_criteria"], d["rules"], len(d["cautions"])
        key = (d["therapy"], d["verdict"], r[0] if r else "", c)
        if m or f:
            key = (*key, *m, None, *f)
        s = memo.get(key)
        if s is None:
            rule = self.rb.by_id.get(key[2])
            if f and rule is not None:
                f = marked(f, {req.criterion for req in rule.requires if req.kind == "population"})
            s = option_summary(d["name"], d["verdict"], rule.title if rule else "", m, f, d["evidence"], c)
            if len(memo) >= MAX_SUMMARIES:
                memo.clear()
            memo[key] = s
        return s
