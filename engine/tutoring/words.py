"""Prose for people: an option's explanation with the internal names put into words.

The engine's explanation names the derived facts and rules it rests on by their internal names
("Derived: kras_g12c=true (DER-003); so LNG-001 applies."; "Also considered: LNG-007 (...)").
Those names stay in the structured fields (``rules``, ``facts``, ``criteria[].facts``); the answers
a tutoring tool shows say the same in words: each derived fact by the title of the rule that
derives it, each rule by its title.
"""
from __future__ import annotations

import re

from engine.tutoring.criteria import fact_words


class Plain:
    def __init__(self, program):
        rb = program.rb
        self.titles = {r.id: r.title for r in rb.rules}
        self.facts = {k: v.split(" means ", 1)[0] for k, v in fact_words(program).items()}
        ids = sorted(self.titles, key=len, reverse=True)
        self._rule = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])") if ids else None
        self._derived = re.compile(r"Derived: ([^;]*); so ([\w-]+) applies\.")
        self._fact = re.compile(r"([a-z][a-z0-9_]*)=(true|false) \([\w-]+\)")
        self._titled = re.compile(r"(?<![\w-])([\w-]+) \(([^()]*(?:\([^()]*\)[^()]*)*)\)")

    def __call__(self, text: str) -> str:
        def derived(m: re.Match) -> str:
            facts = self._fact.sub(lambda f: f"{self.facts.get(f.group(1), f.group(1).replace('_', ' '))}: "
                                             f"{'yes' if f.group(2) == 'true' else 'no'}", m.group(1))
            return f"From the case: {facts}; so \u201c{self.titles.get(m.group(2), m.group(2))}\u201d applies."

        text = self._derived.sub(derived, text)
        # "CRC-002 (its title)" -> "its title" in quotes; a bare id -> its title in quotes
        text = self._titled.sub(lambda m: f"\u201c{m.group(2)}\u201d" if self.titles.get(m.group(1)) == m.group(2)
                                else m.group(0), text)
        if self._rule is not None:
            text = self._rule.sub(lambda m: f"\u201c{self.titles[m.group(1)]}\u201d", text)
        return text
