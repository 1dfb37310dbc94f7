"""The engine's own error types.

Every problem a user can cause (a bad case, a bad rule file, a bad command line) is raised as a
subclass of :class:`EngineError`, carrying the file, the field path and, where one is close, the
value probably meant. Nothing else is allowed to reach a user as a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


def format_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """``("alterations", 0, "variant")`` -> ``alterations[0].variant``."""
    out = ""
    path = list(path)
    file = None
    if path and isinstance(path[0], str) and path[0].endswith((".yaml", ".yml", ".json", ".jsonl")):
        file = path.pop(0)
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    if file:
        return f"{file}: {out}" if out else file
    return out


@dataclass
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    message: str
    path: tuple[str | int, ...] = ()
    suggestion: str | None = None

    def render(self) -> str:
        where = format_path(self.path)
        text = f"{where}: {self.message}" if where else self.message
        if self.suggestion and "did you mean" not in self.message:
            text += f" (did you mean {self.suggestion!r}?)"
        return text

    def to_dict(self) -> dict:
        return {"path": format_path(self.path), "message": self.message, "suggestion": self.suggestion}


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, problems: list[Problem] | str, source: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(prefix + p.render() for p in self.problems)

    def to_dict(self) -> dict:
        return {"source": self.source, "errors": [p.to_dict() for p in self.problems]}


class TermError(EngineError):
    """A word the vocabulary does not know: an unknown gene, drug, cancer type or variant."""

    def __init__(self, message: str, suggestion: str | None = None, path: tuple = ()):
        super().__init__([Problem(message, tuple(path), suggestion)])

    def at(self, *path: str | int) -> "TermError":
        """Prefix the field path of every problem (used as the error travels up the case)."""
        for p in self.problems:
            p.path = tuple(path) + tuple(p.path)
        self.args = (self.render(),)
        return self


class CaseError(EngineError):
    """A case that cannot be evaluated: bad JSON, wrong type, unknown field or term."""


class RuleError(EngineError):
    """A rule base that cannot be loaded or fails ``check``."""


class UsageError(EngineError):
    """A command line or API call that makes no sense."""
