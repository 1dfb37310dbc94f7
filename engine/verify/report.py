"""The findings of :func:`engine.verify.verify`: codes, severities, witnesses and the report."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from engine.errors import Problem
from engine.semantics import CHECK_CODES

CODES: dict[str, tuple[str, str]] = {code: (name, sev) for code, (name, sev, _) in CHECK_CODES.items()}


# --------------------------------------------------------------------------- report


@dataclass
class Finding:
    """One thing found: its code, the rules concerned, a message and a witness case."""

    code: str
    rules: tuple[str, ...]
    message: str
    witness: dict | None = None
    therapy: str | None = None

    @property
    def name(self) -> str:
        return CODES[self.code][0]

    @property
    def severity(self) -> str:
        return CODES[self.code][1]

    def text(self) -> str:
        out = f"{self.code} {self.name}: {self.message}"
        if self.witness is not None:
            out += " Witness: " + json.dumps(self.witness, separators=(",", ":"))
        return out


@dataclass
class VerifyReport:
    """What :func:`verify` found. ``problems`` (the errors) fail ``check``; ``warnings`` do not.
    ``summary`` is shown by ``check --verbose``."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    profiles: int = 0
    seconds: float = 0.0
    per_therapy: dict[str, int] = field(default_factory=dict)

    def codes(self, severity: str | None = None) -> set[str]:
        return {f.code for f in self.findings if severity is None or f.severity == severity}

    def find(self, code: str, rule: str | None = None) -> list[Finding]:
        return [f for f in self.findings if f.code == code and (rule is None or rule in f.rules)]


# --------------------------------------------------------------------------- entry point


SEARCH_CODES = ("V001", "V002", "V003", "V004", "V005", "V006", "V010")  # found only by the search
