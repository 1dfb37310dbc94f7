"""The engine's own error types.

Every problem a user can cause (a bad case, a bad rule file, a bad command line) is raised as a
subclass of :class:`EngineError`, carrying the file, the field path and, where one is close, the
value probably meant. Nothing else is allowed to reach a user as a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QUOTE_LIMIT = 80  # characters of a value shown in a message
MESSAGE_LIMIT = 2_000  # characters of one message

_ALLOWED = frozenset("\n\t")


def escape(text: str) -> str:
    """Control, invisible and unencodable characters (escape, bidi overrides, lone surrogates)
    written as Python escapes, so that no value can act on a terminal; newlines and tabs kept."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in _ALLOWED else repr(c)[1:-1] for c in text)


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut in the middle when longer than ``limit``, saying how long it was."""
    if len(text) <= limit:
        return text
    head = max(1, limit * 2 // 3)
    tail = max(1, limit - head - 1)
    return f"{text[:head]}\u2026{text[-tail:]} ({len(text):,} characters)"


# what an identifier shown in every output format may not hold: control characters (ESC, the C0
# and C1 controls, DEL), line and paragraph separators, lone surrogates, and the bidi embeddings,
# overrides and isolates that reorder the text shown after them. Other invisible formatting
# characters belong to ordinary writing and stay: the zero-width joiner and non-joiner (Persian,
# Devanagari, emoji sequences), the directional marks (Hebrew, Arabic), the soft hyphen, the tag
# characters of subdivision flags.
_UNSHOWABLE = frozenset(("Cc", "Zl", "Zp", "Cs"))
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def showable(text: str) -> str:
    """``text`` without the characters an identifier may not hold (see above)."""
    if text.isprintable():
        return text
    import unicodedata

    return "".join(c for c in text if c not in _BIDI_CONTROLS and unicodedata.category(c) not in _UNSHOWABLE)


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value as a message shows it: text in single quotes, shortened and escaped; anything else
    by its kind and size where printing it would cost (a 5,000-digit integer, a deep list)."""
    if isinstance(value, str):
        return "'" + escape(shorten(value, limit)).replace("\n", "\\n").replace("\t", "\\t") + "'"
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, int):
        if value.bit_length() > 200:
            return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    return f"a {type(value).__name__}"


def clean(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """A whole message made safe to print: escaped, at most ``limit`` characters."""
    return escape(shorten(text, limit))


def format_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """``("alterations", 0, "variant")`` -> ``alterations[0].variant``."""
    out = ""
    path = list(path)
    file: str | None = None
    if path and isinstance(path[0], str) and path[0].endswith((".yaml", ".yml", ".json", ".jsonl")):
        file = str(path.pop(0))
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + escape(shorten(str(part)))
    if file:
        return f"{file}: {out}" if out else file
    return out


@dataclass
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    message: str
    path: tuple[str | int, ...] = ()
    suggestion: str | None = None

    def __post_init__(self) -> None:
        # whatever the input held, a message never carries a megabyte or a terminal control code
        if type(self.message) is str and (len(self.message) > MESSAGE_LIMIT or not self.message.isprintable()):
            self.message = clean(self.message)
        if type(self.suggestion) is str and (len(self.suggestion) > QUOTE_LIMIT or not self.suggestion.isprintable()):
            self.suggestion = escape(shorten(self.suggestion))

    def render(self) -> str:
        where = format_path(self.path)
        text = f"{where}: {self.message}" if where else self.message
        if self.suggestion and "did you mean" not in self.message:
            text += f" (did you mean {self.suggestion!r}?)"
        return text

    def to_dict(self) -> dict:
        return {"path": format_path(self.path), "message": self.message, "suggestion": self.suggestion}


class EngineError(Exception):
    """Base class of every error the engine raises on purpose.

    ``code`` is a stable word for what went wrong, written into batch error records (see
    :data:`ERROR_CODES`); each subclass has its default."""

    code = "error"

    def __init__(self, problems: list[Problem] | str, source: str | None = None, *, code: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems = problems
        self.source = source
        if code is not None:
            self.code = code
        super().__init__(self.render())

    def render(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(prefix + p.render() for p in self.problems)

    def to_dict(self) -> dict:
        return {"source": self.source, "errors": [p.to_dict() for p in self.problems]}

    def at(self, *path: str | int) -> EngineError:
        """The same error, every problem's field path prefixed with ``path`` (the member of a
        request or the side of a comparison it is in: ``after.stage``)."""
        for p in self.problems:
            p.path = tuple(path) + tuple(p.path)
        self.args = (self.render(),)
        return self


class TermError(EngineError):
    """A word the vocabulary does not know: an unknown gene, drug, cancer type or variant."""

    code = "invalid_case"

    def __init__(self, message: str, suggestion: str | None = None, path: tuple = ()):
        super().__init__([Problem(message, tuple(path), suggestion)])


class CaseError(EngineError):
    """A case that cannot be evaluated: bad JSON, wrong type, unknown field or term."""

    code = "invalid_case"


class RuleError(EngineError):
    """A rule base that cannot be loaded or fails ``check``."""

    code = "invalid_rules"


class UsageError(EngineError):
    """A command line or API call that makes no sense."""

    code = "usage"


# The ``code`` of a batch error record: one per way a record can fail. Stable: callers may rely on them.
ERROR_CODES = {
    "invalid_case": "the case does not follow the case format (wrong type, unknown field or term, value out of range)",
    "invalid_json": "the record is not valid JSON",
    "duplicate_key": "a JSON object names the same key twice",
    "too_large": "the record, or a number or text in it, is over a size limit",
    "too_deep": "JSON nested deeper than the limit",
    "not_utf8": "the line is not valid UTF-8 (or the file is UTF-16)",
    "unreadable": "the file cannot be read (missing, unreadable, damaged gzip)",
    "not_serialisable": "the result could not be written",
    "internal_error": "a bug: the engine failed on this record (the batch goes on)",
    "worker_crashed": "the worker process died twice evaluating this record",
}
