"""Reading the YAML files of a rule base (rules, catalogue, sources, verification records,
vocabulary): PyYAML's safe loader (its C parser where PyYAML has one), with a key written twice in
one mapping refused. PyYAML keeps the last value of a duplicated key without a word, so a second
``when:`` pasted into a rule would replace its biomarker gate and every check would still pass;
case JSON refuses duplicate keys for the same reason.

Imported only when a rule base is read from its files (not from the cache): yaml is imported
here, not by the modules that call :func:`load`.
"""
from __future__ import annotations

from typing import Any

import yaml

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # SafeLoader: PyYAML built without libyaml

YAMLError = yaml.YAMLError


class DuplicateKey(yaml.constructor.ConstructorError):
    """A key written twice in one mapping (a YAML error, with the second key's line)."""


def refuse_duplicate_keys(loader, node, error: type[yaml.MarkedYAMLError] | None = None) -> None:
    """Raise ``error`` (:class:`DuplicateKey` by default) at the second of a key written twice in
    the mapping ``node`` (a loader's ``construct_mapping`` calls it first)."""
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: SafeConstructor reports it
            continue
        if first is not None:
            raise (error or DuplicateKey)(
                None, None, f"duplicate key {_quoted(key)} (first at line {first.line + 1}): which value is meant? "
                "keep one of them", key_node.start_mark)
        seen[key] = key_node.start_mark


def _quoted(key: Any) -> str:
    text = str(key)
    return f"'{text}'" if len(text) <= 80 else f"'{text[:77]}...'"


class _Loader(_BASE):
    def construct_mapping(self, node, deep=False):
        refuse_duplicate_keys(self, node)
        return super().construct_mapping(node, deep=deep)


    def construct_yaml_timestamp(self, node):
        # an unquoted date the calendar does not have (2021-02-30) is PyYAML's ValueError, which
        # names neither the file nor the line: a YAML error at the value instead
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"no such day '{node.value}' ({exc}): a date is YYYY-MM-DD, a day the month has",
                node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def load(text: str) -> Any:
    """The value of one YAML document; :class:`yaml.YAMLError` (a :class:`DuplicateKey` for a key
    written twice in one mapping) when it cannot be read."""
    return yaml.load(text, Loader=_Loader)


def where(exc: BaseException) -> str:
    """" at line L, column C" of a YAML error, when it has a position."""
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def problem(exc: BaseException) -> str:
    """A YAML error's problem in a few words (its own message when it has none)."""
    return str(getattr(exc, "problem", None) or exc)


def hint(exc: BaseException) -> str:
    """What the error probably means where PyYAML's words do not say it ("" otherwise)."""
    if "mapping values are not allowed" in problem(exc):
        return " (a value holding ': ' must be quoted, or written as a folded block: key: >-)"
    return ""
