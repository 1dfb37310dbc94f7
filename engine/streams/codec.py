"""Fast JSON for the batch path, byte for byte what the plain path gives (``pip install
'kras-rules[fast]'`` brings orjson; without it every call takes the plain path).

* :func:`decode` - one JSON Lines record. orjson decodes it, and its value is kept only where the
  plain (strict) decoder would give exactly the same value (see :func:`decode` for the checks).
  Anything else, and everything orjson rejects, goes to the plain decoder, which gives the value
  or the error message it always gave.
* :func:`encode_json` - a result model as ``model_dump_json()`` writes it, as UTF-8 bytes
  (:func:`result_json`: the text). orjson writes each model's fields as pydantic does: those
  present in the instance, in the instance's order (a result built without validation may hold
  them in another order than declared); a model that is not plain data (a computed field, a
  custom serialiser, an alias, extra fields) or a value orjson refuses (a lone surrogate) goes to
  ``model_dump_json()``.

pydantic stays the only schema: nothing here validates or describes a field. ``tests/test_codec.py``
compares both paths on every example case and on generated cases.
"""
from __future__ import annotations

import json
import types
import typing
from typing import Any
from collections.abc import Callable

try:
    import orjson
except ImportError:  # pragma: no cover - the plain path
    orjson = None  # type: ignore[assignment]  # optional (the `fast` extra): None means not installed

FAST = orjson is not None

try:  # the strict decoder's limits, where it has them
    from engine.streams.inputs import MAX_DEPTH
except ImportError:
    MAX_DEPTH = 256  # orjson's own limit is 1024; deeper values take the plain path
try:
    from engine.streams.inputs import MAX_RECORD_BYTES as _MAX_BYTES
except ImportError:
    _MAX_BYTES = 1 << 20
MAX_TEXT = _MAX_BYTES // 4  # characters: a longer text (maybe too long in UTF-8) goes the plain way


class _Fallback(Exception):
    pass


# --------------------------------------------------------------------------- decoding


def _table() -> bytes:
    """A byte map that keeps what the checks of :func:`decode` look at: digits become ``0``; ``.``,
    ``e`` and ``E`` become ``.``; ``:``, ``{``, ``[``, ``\\`` and ``u`` stay; every other byte
    becomes ``_``."""
    t = bytearray(b"_" * 256)
    for c in b"0123456789":
        t[c] = ord("0")
    for c in b".eE":
        t[c] = ord(".")
    for c in b":{[\\u":
        t[c] = c
    return bytes(t)


_TABLE = _table()


def _needs_plain(value: Any) -> bool:
    """Whether a decoded value is nested deeper than :data:`MAX_DEPTH` or holds a float: one
    walk, level by level (the value itself is level 1)."""
    if type(value) is not dict and type(value) is not list:
        return type(value) is float
    level = [value]
    depth = 1
    while level:
        if depth > MAX_DEPTH:
            return True
        inner = []
        for v in level:
            for item in (v.values() if type(v) is dict else v):
                t = type(item)
                if t is dict or t is list:
                    inner.append(item)
                elif t is float:
                    return True
        level = inner
        depth += 1
    return False


def decode(text: str, plain: Callable[[str], Any] = json.loads) -> Any:
    """One JSON text, decoded as ``plain(text)`` decodes it: the same value, or the very same
    error (``plain`` is the strict decoder of the batch path).

    orjson's value is kept only where it cannot differ from the plain decoder's: the text is valid
    UTF-8 and holds no ``\\u`` escape; no number in it is a float (it has no run of 19 digits:
    orjson makes a float of an integer past 64 bits; and where a digit is followed by ``.``, ``e``
    or ``E``, as in a float or a text such as ``p.V600E``, orjson's value holds no float); it is
    nested no deeper than :data:`MAX_DEPTH`; and it holds no duplicate key (orjson keeps the last
    value silently): the value written back has as many ``:`` as the text (each key has one, and
    with no escapes a string has the same colons in both), which a dropped duplicate would make
    fewer.
    A string that merely looks like one of these sends the text the plain way, which is correct."""
    if orjson is None or len(text) > MAX_TEXT:
        return plain(text)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return plain(text)
    marks = data.translate(_TABLE)
    if b"\\u" in marks or b"0000000000000000000" in marks:
        return plain(text)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return plain(text)
    # a digit before ".", "e" or "E" (a float, or a text such as "p.V600E"), or more brackets than
    # MAX_DEPTH: the value tells
    if (b"0." in marks or marks.count(b"{") + marks.count(b"[") > MAX_DEPTH) and _needs_plain(value):
        return plain(text)
    if (type(value) is dict or type(value) is list) and orjson.dumps(value).count(b":") != marks.count(b":"):
        return plain(text)
    return value


# --------------------------------------------------------------------------- encoding

_ORDER: dict[type, frozenset | None] = {}
# dates, times and dataclasses go to _default (which sends them to the plain path): orjson's
# writing of them is its own, not necessarily pydantic's
_OPTS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS) if orjson is not None else 0


_UNSEEN = object()


#: immutable plain model classes (``frozen``, every field a text, number, None or tuple of these)
#: that say their instances are few and shared between results for as long as the rule base lives
#: (a class attribute ``WRITTEN_ONCE = True``: the citations): each instance is written once, and
#: its JSON text reused (``orjson.Fragment``) while the instance lives. (Criteria are immutable
#: and shared too, but made per plan and case profile: thousands in a long batch, whose texts
#: would hold memory for little gain.)
_SHARED: set[type] = set()
_FRAGMENTS: dict[int, tuple[Any, Any]] = {}
MAX_FRAGMENTS = 4096
_Fragment = getattr(orjson, "Fragment", None)


def _learn(cls) -> frozenset | None:
    """The field names of a plain pydantic model class, or None (not a plain model)."""
    order = None
    try:
        dec = cls.__pydantic_decorators__
        cfg = cls.model_config
        plain = (
            not cls.model_computed_fields
            and not dec.field_serializers
            and not dec.model_serializers
            and not any(f.alias or f.serialization_alias or f.exclude for f in cls.model_fields.values())
            and cfg.get("extra") != "allow"
            and not cfg.get("alias_generator")
            and cfg.get("ser_json_timedelta", "iso8601") == "iso8601"
            and cfg.get("ser_json_bytes", "utf8") == "utf8"
            and cfg.get("ser_json_inf_nan", "null") == "null"
            and not cfg.get("use_enum_values")
        )
        if plain:
            order = frozenset(cls.model_fields)
            if (_Fragment is not None and getattr(cls, "WRITTEN_ONCE", False) is True and cfg.get("frozen")
                    and all(_immutable(f.annotation) for f in cls.model_fields.values())):
                _SHARED.add(cls)
    except AttributeError:
        order = None
    _ORDER[cls] = order
    return order


def _immutable(annotation) -> bool:
    """Whether every value of a field of this type is immutable: texts, numbers, booleans, None,
    literals and tuples of these."""
    if annotation in (str, int, float, bool, type(None)):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True
    if origin in (typing.Union, types.UnionType, tuple):
        return all(a is Ellipsis or _immutable(a) for a in typing.get_args(annotation))
    return False


def _default(obj):
    cls = type(obj)
    order = _ORDER.get(cls, _UNSEEN)
    if order is _UNSEEN:
        order = _learn(cls)
    if order is None:
        raise _Fallback
    if cls in _SHARED:  # an immutable model many results hold: written once
        hit = _FRAGMENTS.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        frag = _Fragment(orjson.dumps(_fields(obj.__dict__, order), default=_default, option=_OPTS))
        if len(_FRAGMENTS) >= MAX_FRAGMENTS:
            _FRAGMENTS.clear()
        _FRAGMENTS[id(obj)] = (obj, frag)  # (the entry holds the object: its id is not reused meanwhile)
        return frag
    return _fields(obj.__dict__, order)


def _fields(d: dict, order: frozenset) -> dict:
    if d.keys() == order:
        return d
    return {k: v for k, v in d.items() if k in order}  # as pydantic: the fields present, in this order


def _settle(model) -> None:
    """Render a result's pending texts (see ``engine.result``) before its ``__dict__`` is written."""
    explain = getattr(type(model), "explain", None)
    if explain is not None:
        explain(model)


def result_json(model) -> str:
    """``model.model_dump_json()``, the same text (:func:`encode_json`'s, decoded)."""
    return encode_json(model).decode("utf-8")


def json_head(case_id: str, evaluated_as_of: str) -> bytes | None:
    """The start of :func:`encode_json`'s bytes for a result with this case id and evaluation date
    (ISO), up to the date (None without orjson, or for an id orjson refuses: then the text comes
    from pydantic)."""
    if orjson is None:
        return None
    try:
        return b'{"case_id":' + orjson.dumps(case_id) + b',"evaluated_as_of":"' + evaluated_as_of.encode("ascii") + b'"'
    except (TypeError, orjson.JSONEncodeError):
        return None


def encode_json(model) -> bytes:
    """``model.model_dump_json()`` as UTF-8 bytes (the batch writes these; pydantic refuses a lone
    surrogate as orjson does, so every text it writes can be encoded)."""
    _settle(model)
    if orjson is not None:
        try:
            return orjson.dumps(model, default=_default, option=_OPTS)
        except (_Fallback, TypeError, orjson.JSONEncodeError):
            pass
    return model.model_dump_json().encode("utf-8")
