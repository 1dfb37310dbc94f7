"""Shared pydantic plumbing: strict models and error messages people can act on."""
from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from engine.errors import Problem, quote


class StrictModel(BaseModel):
    """A model whose unknown keys are errors that suggest the key probably meant."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set()
            for name, f in cls.model_fields.items():
                known.add(f.alias or name)
            unknown = [k for k in data if k not in known]
            if unknown:
                key = str(unknown[0])
                close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise PydanticCustomError(
                    "unknown_field",
                    "unknown field '{key}'{hint}; allowed: {allowed}",
                    {"key": key, "hint": hint, "allowed": ", ".join(sorted(known))},
                )
        return data


class PlainStrictModel(BaseModel):
    """A model that forbids unknown keys with no Python-level pre-check (for the hot path): the
    "did you mean" is worked out only when validation fails (``problems_from_validation(root=...)``)."""

    model_config = ConfigDict(extra="forbid")


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (walking lists and optional fields)."""
    cls: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or part not in cls.model_fields:
            return None
        cls = _inner_model(cls.model_fields[part].annotation)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _inner_model(tp: Any) -> Any:
    import typing

    for arg in (tp,) + typing.get_args(tp):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        for sub in typing.get_args(arg):
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                return sub
    return None


def _suggest(word: str, choices) -> str | None:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


_NOISE = {"too_short"}


def field_at(root: type[BaseModel] | None, loc: tuple) -> Any:
    """The field (pydantic ``FieldInfo``) that ``loc`` names in ``root``, or None where ``loc``
    names no field of the model (an unknown key)."""
    holder = _model_at(root, tuple(loc[:-1])) if root is not None and loc else None
    return holder.model_fields.get(str(loc[-1])) if holder is not None else None


def _holds_texts(root: type[BaseModel] | None, loc: tuple) -> bool:
    """Is the field at ``loc`` a list of texts (``list[str]``, optional or not), read from the
    model: a text given alone there is offered as a list, where a list of objects is not."""
    import typing

    field = field_at(root, loc)
    if field is None:
        return False
    for tp in (field.annotation,) + typing.get_args(field.annotation):
        if typing.get_origin(tp) in (list, tuple) and typing.get_args(tp)[:1] == (str,):
            return True
    return False


def _shape_hint(e: Any, msg: str, suggestion: str | None, root: type[BaseModel] | None = None) -> tuple[str, str | None]:
    """A value of the wrong shape, in plain words and with the value probably meant: one text
    where a list is asked for (``"tested_genes": "KRAS"`` -> ``["KRAS"]``), a list of one text
    where a text is (``"cancer_type": ["LUAD"]``), an object where a list is, a list where an object
    is (pydantic says "a valid dictionary or instance of AlterationIn")."""
    import json

    kind, given = e["type"], e.get("input")
    if kind == "too_short" and isinstance(given, (list, tuple)) and not given:
        return f"at least {e.get('ctx', {}).get('min_length', 1)} needed, got none (an empty list)", suggestion
    if kind.startswith(("date_", "datetime_")) and isinstance(given, (int, float)) and not isinstance(given, bool):
        digits = str(given) if isinstance(given, int) else ""
        meant = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}" if len(digits) == 8 else None
        return f"a date is written YYYY-MM-DD, got the number {given}", meant
    if kind in ("model_type", "dict_type"):
        what = ("a list" if isinstance(given, list) else "a text" if isinstance(given, str)
                else quote(given) if not isinstance(given, dict) else "another value")
        return f"an object is expected here ({{\"key\": value, ...}}), got {what}", suggestion
    if kind == "list_type" and isinstance(given, dict):
        return f"{msg} (got an object: a list holds even one, [{{...}}])", suggestion
    if kind == "list_type" and isinstance(given, str) and not given.strip() and _holds_texts(root, tuple(e["loc"])):
        return f"{msg} (got {quote(given)}: list the values, [\"...\"], or leave the field out where none is known)", suggestion
    if kind == "list_type" and isinstance(given, str) and len(given) <= 200 and _holds_texts(root, tuple(e["loc"])):
        # (a list of texts: "KRAS, NRAS" is two; a list of objects, such as alterations, gets no guess)
        meant = json.dumps([t.strip() for t in given.split(",") if t.strip()] or [given])
        return f"{msg}, even of one (got {quote(given)}; did you mean {meant}?)", meant
    if kind == "list_type" and isinstance(given, str):
        return f"{msg} (got {quote(given)})", suggestion
    if kind == "string_type" and isinstance(given, list):
        if len(given) == 1 and isinstance(given[0], str) and len(given[0]) <= 200:
            return f"{msg}, not a list (got {quote(given)}; did you mean {quote(given[0])}?)", given[0]
        return f"{msg} (got a list)", suggestion
    if kind == "string_type" and isinstance(given, dict):
        return f"{msg} (got an object)", suggestion
    return msg, suggestion


def problems_from_validation(err: ValidationError, prefix: tuple = (), root: type[BaseModel] | None = None) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems with clean field paths.

    Union tags that pydantic puts into the location are dropped, and errors that only echo a
    deeper one (a list found too short because its bad item was removed) are left out.
    """
    raw = err.errors(include_url=False)
    locs = [tuple(e["loc"]) for e in raw]
    out: list[Problem] = []
    seen: set[tuple] = set()
    for e, loc in zip(raw, locs, strict=True):
        if e["type"] in _NOISE and any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs):
            continue
        path: list = []
        for part in loc:
            if isinstance(part, str) and path and path[-1] == part:
                continue  # "when.all.all" -> "when.all" (tagged union echo)
            if isinstance(part, str) and part.startswith("function-"):
                continue
            path.append(part)
        msg = e["msg"]
        suggestion = None
        if e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field"
            holder = _model_at(root, tuple(loc[:-1])) if root is not None else None
            if holder is not None:
                known = sorted(f.alias or n for n, f in holder.model_fields.items())
                suggestion = _suggest(str(loc[-1]), known)
                hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
                msg = f"unknown field '{loc[-1]}'{hint}; allowed: {', '.join(known)}"
        elif e["type"] == "literal_error" and isinstance(e.get("input"), str):
            import re

            allowed = re.findall(r"'([^']*)'", str(e.get("ctx", {}).get("expected", "")))
            suggestion = _suggest(e["input"], allowed)
            if suggestion:
                msg += f" (did you mean '{suggestion}'?)"
        else:
            msg, suggestion = _shape_hint(e, msg, suggestion, root)
        key = (tuple(path), msg)
        if key in seen:
            continue
        seen.add(key)
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] not in ("missing",) and "input" in e and not isinstance(e["input"], (dict, list)):
            if quote(e["input"]) not in msg and e["type"] not in ("unknown_field", "condition_unknown", "extra_forbidden"):
                msg = msg.replace(" (did you mean", f" (got {quote(e['input'])}; did you mean") if suggestion else msg + f" (got {quote(e['input'])})"
        out.append(Problem(msg, tuple(prefix) + tuple(path), suggestion))
    return out
