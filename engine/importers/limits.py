"""Reading a document file with limits: JSON and YAML that cannot hang, exhaust memory or crash.

A phenopacket, a FHIR bundle or a ``--map`` file is read whole: a few lines of nested YAML aliases
can stand for billions of values, a JSON text can nest thousands deep or hold an integer of a
million digits. The loaders here refuse those with an error naming the place (line and column, or
the path in the document) instead of running out of time, memory or stack. They also refuse what
would be read as something the author did not write: a key written twice in one object or mapping
(JSON and PyYAML keep the last value without a word; case JSON refuses it too) and bytes that are
not UTF-8 (which would otherwise become U+FFFD in an id or a drug name). Shared by the document
readers (:mod:`engine.importers.documents`) and the clinical column maps
(:mod:`engine.importers.clinical`).
"""
from __future__ import annotations

import codecs
import json
import re
import zlib
from pathlib import Path
from typing import Any

import yaml

from engine.errors import clean, quote
from engine.ruleyaml import refuse_duplicate_keys

MAX_DEPTH = 64  # nesting of a document (a phenopacket or a bundle needs about 15)
MAX_INT_DIGITS = 4300  # digits of one integer literal (what Python converts)


class DocumentError(Exception):
    """A file, or one document in it, that cannot be read: one error record (kind ``document``)
    naming the file and the place (``field``: the path in the document, or ``$`` with the line and
    column in the message), and the next file is read."""

    def __init__(self, message: str, field: str = "$"):
        super().__init__(message)
        self.message = message
        self.field = field


def read_document_text(path: Path) -> str:
    """The text of a document file (plain or gzip): a file that is empty, not text (UTF-16 or
    UTF-32, compressed twice, binary: :func:`~engine.importers.tabular.not_text`), not UTF-8 or
    damaged is a :class:`DocumentError`. A byte that is not UTF-8 (a Latin-1 ``é``) is refused, not
    replaced: it would turn into U+FFFD in an id or a name without a word. A missing file stays a
    usage error (``open_binary``)."""
    from engine.importers.tabular import not_text, open_binary

    with open_binary(path) as fh:
        try:
            raw = fh.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise DocumentError(f"cannot read the file: {clean(str(exc), 200)}") from None
    why = not_text(raw[:4096])
    if why is not None:
        raise DocumentError(why + (": expected a JSON or YAML document" if why.startswith("not a text") else ""))
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[:exc.start].decode("utf-8", errors="replace")  # (the text up to the byte, for its place)
        where = _line_column(before + "?", len(before))
        raise DocumentError(f"the file is not UTF-8: byte 0x{raw[exc.start]:02x} at {where} (Latin-1 or another "
                            "encoding?): save it as UTF-8") from None
    if not text.strip():
        raise DocumentError("the file is empty: expected a JSON document")
    return text


class _LongInteger(Exception):
    def __init__(self, digits: int):
        super().__init__(digits)
        self.digits = digits


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _LongInteger(digits)
    return int(text)


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object, refusing a key written twice in it (which value is meant?)."""
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return d


_DECODER = json.JSONDecoder(parse_int=_int, object_pairs_hook=_object)
# JSON tokens that matter for finding a place again: strings (skipped whole), brackets, integers
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[{]|[\]}]|-?\d+')
_KEY_END = re.compile(r"\s*:")


def _line_column(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    return f"line {line}, column {pos - (text.rfind(chr(10), 0, pos) + 1) + 1}"


def _place_of(text: str, *, depth: bool) -> str:
    """Where a JSON text first nests deeper than :data:`MAX_DEPTH` (``depth``) or holds an
    integer of more than :data:`MAX_INT_DIGITS` digits: ``line L, column C``. Linear; run only
    when decoding has already failed."""
    level = 0
    for m in _TOKEN.finditer(text):
        c = text[m.start()]
        if c in "[{":
            level += 1
            if depth and level > MAX_DEPTH:
                return _line_column(text, m.start())
        elif c in "]}":
            level -= 1
        elif c != '"' and not depth and len(m.group().lstrip("-")) > MAX_INT_DIGITS:
            return _line_column(text, m.start())
    return "an unknown place"


def _duplicate_place(text: str, key: str) -> str:
    """Where a JSON text first writes ``key`` a second time in one object: ``line L, column C
    (first at line L)``. Linear; run only when decoding has already refused the key."""
    objects: list[dict[str, int] | None] = []  # per open bracket: the keys of an object and where
    for m in _TOKEN.finditer(text):
        c = text[m.start()]
        if c in "[{":
            objects.append({} if c == "{" else None)
        elif c in "]}":
            if objects:
                objects.pop()
        elif c == '"' and objects and objects[-1] is not None and _KEY_END.match(text, m.end()):
            try:
                name = json.loads(m.group())
            except ValueError:
                continue
            keys = objects[-1]
            if name == key and name in keys:
                first = _line_column(text, keys[name]).split(",")[0]
                return f"{_line_column(text, m.start())} (first at {first})"
            keys.setdefault(name, m.start())
    return "an unknown place"


def load_json(text: str) -> Any:
    """Decode a JSON document; :class:`DocumentError` for text that is not JSON, a key written
    twice in one object, an integer literal of more than :data:`MAX_INT_DIGITS` digits or nesting
    deeper than :data:`MAX_DEPTH`, each with its line and column. ``json.JSONDecodeError`` is left
    to the caller only through :class:`DocumentError` too (its ``__cause__``)."""
    try:
        value = _DECODER.decode(text)
    except _DuplicateKey as exc:
        raise DocumentError(f"duplicate key {quote(exc.key)} in one JSON object at {_duplicate_place(text, exc.key)}: "
                            "which value is meant? keep one of them") from None
    except _LongInteger as exc:
        raise DocumentError(f"an integer of {exc.digits:,} digits (at most {MAX_INT_DIGITS:,}) at "
                            f"{_place_of(text, depth=False)}") from None
    except RecursionError:
        raise DocumentError(f"nested deeper than {MAX_DEPTH} levels at {_place_of(text, depth=True)}") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """:class:`DocumentError` naming the path where a decoded document nests deeper than
    :data:`MAX_DEPTH` (walked without recursion: every later step may recurse safely)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        v, level, path = stack.pop()
        if isinstance(v, dict):
            items: Any = ((f"{path}.{k}" if path else str(k), item) for k, item in v.items())
        elif isinstance(v, list):
            items = ((f"{path}[{i}]", item) for i, item in enumerate(v))
        else:
            continue
        if level > MAX_DEPTH:
            shown = clean(path, 120) if len(path) <= 120 else clean(path[:100], 120) + "..."
            raise DocumentError(f"nested deeper than {MAX_DEPTH} levels", shown or "$")
        stack.extend((item, level + 1, p) for p, item in items)


MAX_ALIASED = 100_000  # values that YAML aliases may repeat in one file (a phenopacket, a --map file: hundreds)


class Refused(yaml.MarkedYAMLError):
    """YAML that is valid but over a limit of :class:`SafeYaml`."""


def yaml_message(exc: Exception) -> str:
    """A YAML error in one line: what is wrong and where (line and column, 1-based)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown place"
        what = f"{exc.context}: {exc.problem}" if exc.context else exc.problem
        text = (f"{what} (YAML, {where})" if isinstance(exc, Refused)
                else f"neither JSON nor YAML (YAML {where}: {what})")
    elif isinstance(exc, ValueError):
        text = f"a YAML value that cannot be read ({exc})"
    else:
        text = f"neither JSON nor YAML ({exc})"
    return clean(" ".join(text.split()), 300)


_INT_BOUND = 10 ** MAX_INT_DIGITS


class SafeYaml(yaml.SafeLoader):
    """PyYAML's safe loader with the limits of the JSON reader. Aliases (``*name``) are read, as
    PyYAML writes them for a value shared by two places, but what they repeat is counted: more than
    :data:`MAX_ALIASED` values in all (a few lines of nested aliases can stand for billions) is
    refused. Nesting goes up to :data:`MAX_DEPTH` levels (the composer recurses), integers up to
    :data:`MAX_INT_DIGITS` digits, and a key may be written once in a mapping. Each refusal is a
    YAML error with its line and column."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id of a node composed -> values in it, aliases expanded
        self._aliased = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                self._aliased += self._sizes.get(id(node), 1)
                if self._aliased > MAX_ALIASED:
                    raise Refused(None, None, f"aliases (*name) that repeat more than {MAX_ALIASED:,} values",
                                   event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise Refused(None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        sizes = self._sizes
        if isinstance(node, yaml.SequenceNode):
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            sizes[id(node)] = 1 + sum(sizes.get(id(k), 1) + sizes.get(id(v), 1) for k, v in node.value)
        return node

    def construct_yaml_int(self, node):
        # YAML writes integers in bases 2, 8, 10, 16 and 60: bound the text, then the value (a
        # hexadecimal text of 4,000 characters is an integer of 4,800 digits, which Python will not
        # write as text)
        size = sum(ch.isalnum() for ch in str(node.value))
        value = None if size > MAX_INT_DIGITS else super().construct_yaml_int(node)
        if value is None or abs(value) >= _INT_BOUND:
            raise Refused(None, None, f"an integer of more than {MAX_INT_DIGITS:,} digits", node.start_mark)
        return value

    def construct_mapping(self, node, deep=False):
        # a key written twice in one mapping: PyYAML keeps the last value without a word (as
        # engine.ruleyaml refuses it in rule files, and case JSON in cases)
        refuse_duplicate_keys(self, node, Refused)
        return super().construct_mapping(node, deep=deep)


SafeYaml.add_constructor("tag:yaml.org,2002:int", SafeYaml.construct_yaml_int)


def load_yaml(text: str) -> Any:
    """Load one YAML document with :class:`SafeYaml`'s limits: a :class:`Refused` (a
    ``yaml.YAMLError``) for what is over one, as for broken YAML."""
    loader = SafeYaml(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
