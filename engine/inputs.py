"""Reading cases from files and standard input, streaming, with nothing lost.

A file may hold one JSON object, a JSON array of objects, or JSON Lines (one object a line; ``.jsonl``
files, and any input whose first line is a complete JSON value followed by more lines). Every record
comes out as ``(source, value)`` where ``value`` is the decoded object or a :class:`CaseError`
naming what is wrong; ``source`` is ``file``, ``file[i]`` (array element) or ``file:line`` (JSONL).
JSON Lines files and standard input are streamed line by line by :mod:`engine.batch`; this module
reads whole documents.
"""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any, Iterator, TextIO

from engine.errors import CaseError, Problem

Record = tuple[str, Any]  # (source, decoded object | CaseError)


def _err(msg: str) -> CaseError:
    return CaseError([Problem(msg)])


def _json_error(exc: json.JSONDecodeError, line_offset: int = 0) -> CaseError:
    return _err(f"invalid JSON at line {exc.lineno + line_offset}, column {exc.colno}: {exc.msg}")


def iter_jsonl(stream: TextIO, name: str) -> Iterator[Record]:
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        src = f"{name}:{n}"
        try:
            yield src, json.loads(line)
        except json.JSONDecodeError as exc:
            yield src, _err(f"invalid JSON at column {exc.colno}: {exc.msg}")


def iter_text(text: str, name: str) -> Iterator[Record]:
    """Records of a whole JSON document (object or array), or of JSON Lines text."""
    if not text.strip():
        yield name, _err("empty input: expected a JSON object, a JSON array or JSON Lines")
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip()[:1] == "{":
            yield from iter_jsonl(io.StringIO(text), name)
            return
        yield name, _json_error(exc)
        return
    if isinstance(value, list):
        if not value:
            yield name, _err("empty JSON array: no cases")
        for i, item in enumerate(value):
            yield f"{name}[{i}]", item
    else:
        yield name, value


def _open(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open("r", encoding="utf-8")


def expand_paths(args: list[str]) -> list[str]:
    """Directories expand to their ``*.json`` and ``*.jsonl`` files, sorted."""
    out: list[str] = []
    for a in args:
        p = Path(a)
        if a != "-" and p.is_dir():
            out.extend(str(f) for f in sorted(p.iterdir()) if f.is_file() and f.suffix in (".json", ".jsonl"))
        else:
            out.append(a)
    return out


def iter_document(path: str) -> Iterator[Record]:
    """Records of one file holding a JSON object or array (or, if it turns out so, JSON Lines)."""
    p = Path(path)
    if not p.exists():
        yield path, _err("no such file")
        return
    try:
        with _open(p) as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        yield path, _err(f"cannot read: {exc}")
        return
    yield from iter_text(text, path)
