"""Reading cases from files and standard input, streaming, with nothing lost.

A file may hold one JSON object, a JSON array of objects, or JSON Lines (one object a line; ``.jsonl``
files, and any input whose first line is a complete JSON value followed by more lines). Every record
comes out as ``(source, value)`` where ``value`` is the decoded object (or, for JSON Lines, the raw
line, decoded later by :func:`decode_json` in whichever process evaluates it) or a
:class:`CaseError` naming what is wrong; ``source`` is ``file``, ``file[i]`` (array element) or
``file:line`` (JSONL).

Input is read as bytes and decoded one line at a time: a UTF-8 byte-order mark is accepted, a line
that is not UTF-8 is that line's error record (the next line is read as usual), a UTF-16 file is
one clear error. JSON is decoded strictly (:func:`decode_json`): duplicate keys, ``NaN``, integer
literals of more than :data:`MAX_INT_DIGITS` digits, nesting deeper than :data:`MAX_DEPTH`, lone
surrogates and lines over :data:`MAX_RECORD_BYTES` are errors with a stable code. Nothing here
raises on any input: whatever a file holds becomes records or error records.
"""
from __future__ import annotations

import codecs
import gzip
import json
import math
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import CaseError, Problem, UsageError, quote, showable

Record = tuple[str, Any]  # (source, raw line | decoded object | CaseError)

MAX_RECORD_BYTES = 1 << 20  # one JSON Lines line (one case): 1 MiB
MAX_DOCUMENT_BYTES = 256 << 20  # a file holding one JSON document or array: 256 MiB
MAX_DEPTH = 16  # JSON nesting (a case needs 3)
MAX_INT_DIGITS = 30  # digits of one integer literal
MAX_NUMBER_CHARS = 64  # characters of one number literal

_READ = 1 << 16


def _err(msg: str, code: str = "invalid_case", path: tuple = ()) -> CaseError:
    return CaseError([Problem(msg, path)], code=code)


# --------------------------------------------------------------------------- strict JSON


class _Reject(Exception):
    """Raised from inside the JSON decoder's hooks: carries the CaseError."""

    def __init__(self, error: CaseError):
        super().__init__(error.render())
        self.error = error


def _object(pairs: list[tuple[str, Any]]) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]  # set.add's None keeps the scan going
        raise _Reject(_err(f"duplicate key {quote(dup)} in one JSON object: which value is meant?",
                           "duplicate_key", (dup,)))
    return d


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Reject(_err(f"an integer of {digits:,} digits (at most {MAX_INT_DIGITS})", "too_large"))
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Reject(_err(f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})", "too_large"))
    value = float(text)
    if not math.isfinite(value):
        raise _Reject(_err(f"the number {quote(text)} is too large", "too_large"))
    return value


def _constant(text: str) -> Any:
    raise _Reject(_err(f"{text} is not a JSON value (not a number)", "invalid_json"))


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_int=_int, parse_float=_float, parse_constant=_constant)


class _Pairs(list):
    """An object's pairs, duplicates kept (:func:`_located`)."""


_BAD = object()  # a number or constant the strict decoder rejects, kept in its place (:func:`_located`)
_LOCATOR = json.JSONDecoder(
    object_pairs_hook=_Pairs,
    parse_int=lambda t: _BAD if len(t.lstrip("-")) > MAX_INT_DIGITS else 0,
    parse_float=lambda t: _BAD if len(t) > MAX_NUMBER_CHARS or not math.isfinite(float(t)) else 0.0,
    parse_constant=lambda t: _BAD,
)


def _located(exc: _Reject, text: str) -> CaseError:
    """The error of a value the strict decoder's hooks rejected, with the field path that holds it
    (``alterations[0].variant``): the hooks see a value, not where it is, so the text is decoded
    once more keeping every pair and number, and walked in the order the decoder meets them (an
    object's values before its keys are compared). The error as it was where that fails."""
    try:
        tree = _LOCATOR.decode(text)
    except (ValueError, RecursionError, MemoryError):
        return exc.error
    stack: list[tuple[Any, tuple, bool]] = [(tree, (), False)]
    while stack:
        v, path, done = stack.pop()
        if v is _BAD:
            break
        if isinstance(v, _Pairs):
            if done:
                seen: set[str] = set()
                dup = next((k for k, _ in v if k in seen or seen.add(k)), None)  # type: ignore[func-returns-value]
                if dup is not None:
                    path = (*path, dup)
                    break
                continue
            stack.append((v, path, True))
            stack.extend((item, (*path, k), False) for k, item in reversed(v))
        elif isinstance(v, list):
            stack.extend((item, (*path, i), False) for i, item in reversed(list(enumerate(v))))
    else:
        return exc.error
    (problem,) = exc.error.problems
    return CaseError([Problem(problem.message, path, problem.suggestion)], code=exc.error.code)


def _suspect(v: Any, depth: int = 1) -> bool:
    """A quick look for what :func:`_check_tree` reports (nesting, surrogates): False for almost
    every record, at a fraction of the cost of the walk that names the field."""
    t = type(v)
    if t is dict:
        if depth > MAX_DEPTH:
            return True
        for k, item in v.items():
            if not k.isascii():
                return True
            ti = type(item)
            if ti is str:
                if not item.isascii():
                    return True
            elif (ti is dict or ti is list) and _suspect(item, depth + 1):
                return True
        return False
    if t is list:
        if depth > MAX_DEPTH:
            return True
        for item in v:
            ti = type(item)
            if ti is str:
                if not item.isascii():
                    return True
            elif (ti is dict or ti is list) and _suspect(item, depth + 1):
                return True
        return False
    return t is str and not v.isascii()


def _check_tree(value: Any) -> None:
    """Nesting depth and lone surrogates, walked without recursion (the value is bounded in size)."""
    if not _suspect(value):
        return
    stack: list[tuple[Any, int, tuple]] = [(value, 1, ())]
    while stack:
        v, depth, path = stack.pop()
        if isinstance(v, dict):
            if depth > MAX_DEPTH:
                raise _err(f"JSON nested deeper than {MAX_DEPTH} levels", "too_deep", path)
            for k, item in v.items():
                if not k.isascii():
                    _check_text(k, path + (k,))
                stack.append((item, depth + 1, path + (k,)))
        elif isinstance(v, list):
            if depth > MAX_DEPTH:
                raise _err(f"JSON nested deeper than {MAX_DEPTH} levels", "too_deep", path)
            for i, item in enumerate(v):
                stack.append((item, depth + 1, path + (i,)))
        elif isinstance(v, str) and not v.isascii():
            _check_text(v, path)


def _check_text(text: str, path: tuple) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        if "\udc80" <= bad <= "\udcff":  # a byte that was not UTF-8 (surrogateescape)
            raise _err(f"not valid UTF-8 (byte 0x{ord(bad) - 0xDC00:02x})", "not_utf8", path) from None
        raise _err(f"a lone surrogate ({quote(bad)[1:-1]}) is not a character", "invalid_json", path) from None


def _json_problem(exc: json.JSONDecodeError, text: str, first_line: int = 1, document: bool = False) -> str:
    """A JSON syntax error in words: where (``text`` starting on line ``first_line`` of its file;
    the line named even when it is the first where ``text`` is a whole ``document``, not one line
    of JSON Lines), and what is there when the decoder's words do not say it (a control character
    inside a text, a NUL byte, a byte-order mark in the middle)."""
    body = text.rstrip()
    if exc.pos >= len(body) and "\n" not in body and not document:  # (a line cut short: its end, not a next line)
        return (f"invalid JSON: the text ends early, after column {len(body)}: a closing '}}' or ']', "
                f"or a value, is missing ({_decoder_words(exc.msg)})")
    line = exc.lineno + first_line - 1
    where = f"line {line}, column {exc.colno}" if line > 1 or document else f"column {exc.colno}"
    at = text[exc.pos:exc.pos + 1]
    if exc.msg.startswith("Invalid control character"):
        what = f"a control character ({quote(at)}) inside a text: write it escaped (a tab as \\t, a line break as \\n)"
    elif at == "\x00":
        what = "a NUL byte: binary data, not JSON text"
    elif at == "\ufeff":
        what = "a byte-order mark (U+FEFF) in the middle of the text (files joined?): remove it"
    else:
        what = _decoder_words(exc.msg)
    return f"invalid JSON at {where}: {what}"


def _decoder_words(msg: str) -> str:
    """The decoder's message without the words its position would follow ("Unterminated string
    starting at", "Invalid control character at": the position is said apart)."""
    for tail in (" starting at", " at"):
        if msg.endswith(tail):
            return msg[: -len(tail)]
    return msg


def decode_json(text: str) -> Any:
    """Decode one JSON text strictly; raise :class:`CaseError` (with its ``code``) on anything a
    person would not mean. Linear in the length of ``text``; never raises anything else."""
    if len(text) > MAX_RECORD_BYTES:  # (the record's own bytes: its line ending, LF or CRLF, is not counted)
        size = len(text.rstrip("\r\n").encode("utf-8", "surrogatepass"))
        if size > MAX_RECORD_BYTES:
            raise _err(f"a record of {size:,} bytes (at most {MAX_RECORD_BYTES:,})", "too_large")
    try:
        value = _DECODER.decode(text)
    except _Reject as exc:
        raise _located(exc, text) from None
    except json.JSONDecodeError as exc:
        raise _err(_json_problem(exc, text), "invalid_json") from None
    except RecursionError:
        raise _err(f"JSON nested deeper than {MAX_DEPTH} levels", "too_deep") from None
    except (ValueError, MemoryError) as exc:
        raise _err(f"cannot decode: {type(exc).__name__}: {exc}", "invalid_json") from None
    _check_tree(value)
    return value


def case_id_of(payload: Any) -> str | None:
    """The ``id`` of a raw or decoded record, if it is a usable text; never raises. A raw record
    that the strict decoder rejects for a value elsewhere in it (a duplicate key, NaN, a number out
    of range) still names its one ``id``."""
    try:
        if isinstance(payload, str):
            try:
                payload = decode_json(payload)
            except CaseError:
                return rejected_id(payload)
        return usable_id(payload.get("id") if isinstance(payload, dict) else None)
    except Exception:
        pass
    return None


def rejected_id(text: str) -> str | None:
    """The one ``id`` of a record text the strict decoder rejected for a value elsewhere in it (a
    duplicate key, NaN, a number out of range), read with every pair kept; None where the text is
    no JSON object, names two ids, or is over the size limit. Never raises."""
    if len(text) > MAX_RECORD_BYTES:
        return None
    try:
        tree = _LOCATOR.decode(text)
    except (ValueError, RecursionError, MemoryError):
        return None
    ids = [v for k, v in tree if k == "id"] if isinstance(tree, _Pairs) else []
    return usable_id(ids[0]) if len(ids) == 1 else None


def usable_id(cid: Any) -> str | None:
    """``cid`` if it can name a record in messages and error records: a short text that an id
    may be (:func:`engine.errors.showable`: a zero-width joiner or a soft hyphen, not a control)."""
    if isinstance(cid, str) and 0 < len(cid) <= 200 and (cid.isprintable() or showable(cid) == cid):
        return cid
    return None


# --------------------------------------------------------------------------- bytes to lines


def not_text_head(head: bytes) -> bool:
    """Do the first bytes show an input that is not UTF-8 text as a whole (:func:`_not_text` says
    which): UTF-16 or UTF-32, gzip data (whatever its header flags), a NUL near the start."""
    return (head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"\x1f\x8b"))
            or (len(head) >= 2 and b"\x00" in head[:4]))


def utf16_text(head: bytes) -> bool:
    """Do the first bytes (8 or more where the input has them) read as UTF-16 or UTF-32 text: a
    byte-order mark, or ASCII written in it (a NUL beside every other byte of the first eight,
    or, from a shorter head, beside a printable first byte). A NUL alone is not taken for it:
    random bytes and compressed data hold NULs too. (The importers' test of a file is this one.)"""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if len(head) >= 8:
        return head[1:8:2] == b"\x00" * 4 or head[0:8:2] == b"\x00" * 4
    return any(head[i:i + 1] == b"\x00" and 0x20 <= head[1 - i] < 0x7F for i in (0, 1)) if len(head) >= 2 else False


def _not_text(head: bytes, what: str) -> CaseError:
    """The error of an input whose first bytes (:func:`not_text_head` holds for them) show it is not
    UTF-8 text as a whole: gzip data without a ``.gz`` name, UTF-16 or UTF-32 text, other binary
    data."""
    if head.startswith(b"\x1f\x8b"):
        msg = (f"the {what} is gzip-compressed: decompress it, or give it a name ending .gz" if what == "file"
               else f"the {what} is gzip-compressed: decompress it first (gunzip)")
    elif utf16_text(head):
        msg = f"the {what} is UTF-16 (or UTF-32) encoded: save it as UTF-8"
    else:
        msg = f"the {what} holds binary data (NUL bytes), not JSON text"
    return _err(msg, "not_utf8")


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> CaseError:
    return _err(f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}", "not_utf8")


def read_lines(fh: BinaryIO, name: str, first_line: bytes | None = None, first_no: int = 1) -> Iterator[tuple[int, str | CaseError]]:
    """``(line number, text)`` for each non-blank line of a binary stream, decoded one line at a
    time: a BOM on the first line is dropped, an undecodable or oversize line is a
    :class:`CaseError` in its place, a UTF-16 stream is one error. Memory per line is bounded."""
    n = first_no - 1
    pending = first_line
    while True:
        if pending is not None:
            raw, pending = pending, None
        else:
            raw = fh.readline(MAX_RECORD_BYTES + 2)  # (a record of the most bytes, and its CRLF)
        if not raw:
            return
        n += 1
        if n == first_no:
            if not_text_head(raw[:4]):
                yield n, _not_text(raw[:8], "input" if name == "<stdin>" else "file")
                return
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
        if len(raw) > MAX_RECORD_BYTES and len(raw.rstrip(b"\r\n")) > MAX_RECORD_BYTES:  # (its line ending not counted)
            size, tail = len(raw), raw[-2:]
            while not tail.endswith(b"\n"):  # skip the rest of the line, a block at a time
                more = fh.readline(_READ)
                if not more:
                    break
                size, tail = size + len(more), (tail + more)[-2:]
            size -= len(tail) - len(tail.rstrip(b"\r\n"))
            yield n, _err(f"a line of {size:,} bytes (at most {MAX_RECORD_BYTES:,})", "too_large")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield n, _not_utf8(raw, exc)
            continue
        if n == first_no and not text.endswith("\n") and "\r" in text.rstrip("\r"):
            # a stream with no LF at all whose lines end by CR alone (old Mac): as a document's
            # text is read (a CR inside a line of JSON Lines is that line's error, not a break)
            pieces = text.rstrip("\n").split("\r")
            for i, piece in enumerate(pieces):
                if piece.strip():
                    yield n + i, piece
            n += len(pieces) - 1 - (pieces[-1] == "")
            continue
        if text.strip():
            yield n, text


def read_text_lines(lines: Iterable[str], first_no: int = 1) -> Iterator[tuple[int, str | CaseError]]:
    """The same for a stream that is already text (a caller's ``io.StringIO``)."""
    for n, text in enumerate(lines, first_no):
        if n == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if len(text) > MAX_RECORD_BYTES and len(body := text.rstrip("\r\n").encode("utf-8", "surrogatepass")) > MAX_RECORD_BYTES:
            yield n, _err(f"a line of {len(body):,} bytes (at most {MAX_RECORD_BYTES:,})", "too_large")
        elif text.strip():
            yield n, text


def split_lines(text: str) -> list[str]:
    """Lines split on LF only, as JSON Lines are (not on CR, NEL or U+2028 inside a record)."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def decode_document(data: bytes, name: str) -> str | CaseError:
    """A whole JSON document as text. Bytes that are not UTF-8 are kept as escapes, so that only
    the array element holding them becomes an error record (:func:`decode_json` names it)."""
    if not_text_head(data[:4]):
        return _not_text(data[:8], "file")
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    return data.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- documents


def iter_text(text: str, name: str) -> Iterator[Record]:
    """Records of a whole JSON document (object or array), or of JSON Lines text.

    What the strict decoder rejects is found while decoding the whole text, which says nothing of
    where the element (or line) holding it ends. So an array it rejects is read element by
    element, found by their brackets (:func:`_element_spans`), each bad one its own error record
    (``file[5]``); other text it rejects is decoded once more, leniently (:data:`_LENIENT`: only
    the syntax): text that is not one JSON value but whose first or second line is
    (:func:`_lines_of_records`) is JSON Lines with a bad first line, read line by line
    (``file:1``), as standard input is."""
    if not text.strip():
        yield name, _err("empty input: expected a JSON object, a JSON array or JSON Lines", "invalid_json")
        return
    if "\r" in text and "\n" not in text.strip():  # records on lines ended by CR alone (old Mac)
        text = text.replace("\r", "\n")
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip()[:1] == "{":
            # several JSON values one after another: pretty-printed cases joined (jq '.[]',
            # cat a.json b.json) are a record each; values a line each are JSON Lines
            yield from _sequence(text, name) or _lines(text, name)
            return
        value = _err(_json_problem(exc, text, document=True), "invalid_json")
    except _Reject as exc:
        value = _located(exc, text)
    except RecursionError:
        value = _err(f"JSON nested deeper than {MAX_DEPTH} levels", "too_deep")
    except (ValueError, MemoryError) as exc:
        value = _err(f"cannot decode: {type(exc).__name__}: {exc}", "invalid_json")
    if isinstance(value, CaseError) and text.lstrip()[:1] == "[":
        # an array: each element decoded on its own, found by its brackets (no recursion: an
        # element nested too deep for the decoders is still one element)
        spans = _element_spans(text)
        if spans is not None:
            if not spans:
                yield name, _err("empty JSON array: no cases")
            line, counted = 1, 0  # (the line each element starts on, counted as the elements go)
            for i, (start, end) in enumerate(spans):
                line += text.count("\n", counted, start)
                counted = start
                yield f"{name}[{i}]", _one_element(text[start:end], line)
            return
    if isinstance(value, CaseError) and value.code != "too_deep":
        try:
            _LENIENT.decode(text)
        except json.JSONDecodeError as exc:
            if _lines_of_records(text):
                yield from _lines(text, name)
                return
            if value.code != "invalid_json":  # (a value rejected first, then broken syntax)
                value = _err(_json_problem(exc, text, document=True), "invalid_json")
        except (RecursionError, ValueError, MemoryError):
            pass
    if isinstance(value, list):
        if not value:
            yield name, _err("empty JSON array: no cases")
        for i, item in enumerate(value):
            yield f"{name}[{i}]", _checked(item)
    else:
        yield name, _checked(value)


def _lenient(_value: Any) -> None:
    return None


# JSON syntax only: no value is built, nothing but broken syntax (or nesting too deep for the
# decoder's recursion) fails; where each value ends is what it is used for
_LENIENT = json.JSONDecoder(strict=False, object_pairs_hook=_lenient, parse_int=_lenient, parse_float=_lenient,
                            parse_constant=_lenient)
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, at: int) -> int:
    """Where the JSON whitespace from ``at`` on ends."""
    m = _SPACE.match(text, at)
    return m.end() if m is not None else at


def _lines(text: str, name: str) -> Iterator[Record]:
    for n, line in read_text_lines(split_lines(text)):
        yield f"{name}:{n}", line


def _sequence(text: str, name: str) -> list[Record] | None:
    """The records of a text holding several JSON values one after another, when one of them
    spans lines (pretty-printed cases joined: ``jq '.[]'``, ``cat a.json b.json``): each value
    its record, named by the line it starts on, decoded strictly on its own; text after the last
    whole value (a stray ``}``, a value cut short) one error record, the values before it kept.
    None when every value holds one line (those are JSON Lines, read line by line). A value that
    is not an object after a pretty-printed one is a document closed early by a stray ``}``: one
    error, as for any broken document."""
    out: list[Record] = []
    at, line, counted = _skip_space(text, 0), 1, 0
    multi = False
    while at < len(text):
        line += text.count("\n", counted, at)
        counted = at
        try:
            _, end = _LENIENT.raw_decode(text, at)
        except (ValueError, RecursionError):
            nxt = _next_value(text, at)
            if nxt is None:
                out.append((f"{name}:{line}", _err(f"invalid JSON from line {line} on: no whole JSON value follows the "
                                                  f"{len(out)} before it (they are read)", "invalid_json")))
                break
            last = line + text.count("\n", at, nxt) - 1
            out.append((f"{name}:{line}", _err(f"invalid JSON from line {line} to line {last}: not a whole JSON value "
                                              "(the values before and after it are read)", "invalid_json")))
            at = nxt
            continue
        piece = text[at:end]
        if piece[:1] != "{":  # (a text or a number between: a broken document, not cases joined)
            if not multi:
                return None
            return [(name, _err(f"invalid JSON at line {line}: the object before it ended early and more of it "
                                "follows (a '}' too many?)", "invalid_json"))]
        multi = multi or "\n" in piece
        out.append((f"{name}:{line}", _one_element(piece, line)))
        at = _skip_space(text, end)
    return out if multi else None


def _next_value(text: str, at: int, tries: int = 100) -> int | None:
    """Where the next whole JSON object after a broken one at ``at`` starts, or None: the first
    line after it that starts with ``{`` (a pretty-printed case joined to others starts at the
    line's start; the objects inside one are indented) and holds a whole value from there. At
    most ``tries`` such lines are tried (each is read to its end or its error)."""
    pos = at
    for _ in range(tries):
        pos = text.find("\n{", pos + 1)
        if pos < 0:
            return None
        try:
            _LENIENT.raw_decode(text, pos + 1)
        except (ValueError, RecursionError):
            continue
        return pos + 1
    return None


def _one_element(text: str, first_line: int = 1) -> Any:
    """One element of an array (or value of a sequence), decoded strictly on its own: its value
    or its error (a line named as the file's: the element starts on line ``first_line``)."""
    try:
        return _checked(_DECODER.decode(text))
    except _Reject as exc:
        return _located(exc, text)
    except json.JSONDecodeError as exc:
        return _err(_json_problem(exc, text, first_line).replace("invalid JSON", "invalid JSON in the element", 1),
                    "invalid_json")
    except RecursionError:
        return _err(f"JSON nested deeper than {MAX_DEPTH} levels", "too_deep")
    except (ValueError, MemoryError) as exc:
        return _err(f"cannot decode: {type(exc).__name__}: {exc}", "invalid_json")


_STRING_AT = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_STRUCTURE = re.compile(r'["\[\]{},]')


def _element_spans(text: str) -> list[tuple[int, int]] | None:
    """Where each element of the JSON array ``text`` starts and ends, found by counting brackets
    outside strings, without recursion (an element nested too deep for the decoders is still one
    element); None when the text is not an array of that shape (unbalanced brackets, an
    unterminated string, text after the array): then it stays one error."""
    n = len(text)
    at = _skip_space(text, 0)
    if at >= n or text[at] != "[":
        return None
    at = _skip_space(text, at + 1)
    spans: list[tuple[int, int]] = []
    if at < n and text[at] == "]":
        return spans if not text[at + 1:].strip() else None
    while at < n:
        start, depth, i = at, 0, at
        while True:
            m = _STRUCTURE.search(text, i)  # (the characters between are skipped in C)
            if m is None:
                return None
            i = m.start()
            c = text[i]
            if c == '"':
                m = _STRING_AT.match(text, i)
                if m is None:
                    return None
                i = m.end()
                continue
            if c in "[{":
                depth += 1
            elif c in "]}":
                if depth == 0:
                    if c == "}":
                        return None
                    break  # the array's own closing bracket
                depth -= 1
            elif c == "," and depth == 0:
                break
            i += 1
        if i == start:
            return None  # an empty element (",," or a comma before "]")
        spans.append((start, i))  # (whitespace after an element is the decoder's to skip)
        if text[i] == "]":
            return spans if not text[i + 1:].strip() else None
        at = _skip_space(text, i + 1)
    return None


#: how many lines of a text that is not one JSON value are looked at for records a line each
RECORD_LINES = 1000


def _lines_of_records(text: str) -> bool:
    """Is ``text``, which is not one JSON value, JSON Lines? Yes when it has more than one line and
    its first or second line holds one whole JSON value (the first one whole even if it is an
    array, ``[{...}]``), or two of its first :data:`RECORD_LINES` lines hold a whole object each,
    not indented: bad first records (a duplicate key, ``NaN``, a line cut short, a word; ten of
    them) then leave the other lines their records. A broken pretty-printed document, whose lines
    are pieces (``"id": "a",``; of an array's objects only the last lacks its comma), stays one
    error."""
    array = text.lstrip()[:1] == "["
    found: list[str] = []
    start = 0
    while len(found) < RECORD_LINES:
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip():
            found.append(line)
        if end < 0:
            break
        start = end + 1
    if len(found) < 2:
        return False
    objects = 0
    for i, line in enumerate(found):
        try:
            _LENIENT.decode(line)
        except (ValueError, RecursionError):
            continue
        if i < 2 and not (array and i):  # (an array's second line: an element of a broken array)
            return True
        # (a record of JSON Lines starts its line; an object inside a pretty-printed document is
        # indented, and two of those must not split one broken case into a record a line)
        objects += line[:1] == "{"
        if objects == 2 and not array:
            return True
    return False


def _checked(value: Any) -> Any:
    if isinstance(value, CaseError):
        return value
    if isinstance(value, str):  # (a record's text is a str too: a decoded string must not pass for one)
        return CaseError([Problem("a case is a JSON object, got str")])
    try:
        _check_tree(value)
    except CaseError as exc:
        return exc
    return value


def open_binary(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads as a binary file
    return path.open("rb")


# what reading a damaged or unreadable file raises
READ_ERRORS = (OSError, EOFError, zlib.error, gzip.BadGzipFile)


class FolderEntry(str):
    """An entry of a folder given as input that has a case file's name but is not read: a
    sub-folder, a named pipe, a device. It becomes one error record saying what it is (``why``),
    never a silent skip; nothing is opened (a pipe would wait for a writer)."""

    why: str

    def __new__(cls, name: str, why: str) -> FolderEntry:
        self = super().__new__(cls, name)
        self.why = why
        return self

    def __reduce__(self):  # (a name handed to another process keeps its reason)
        return FolderEntry, (str(self), self.why)


def _not_a_file(f: Path) -> str | None:
    """Why a folder's entry with a case file's name is not read, or None to read it: a file, or a
    link that leads nowhere (read, it gives the error record it gives when named)."""
    if f.is_file() or not f.exists():
        return None
    if f.is_dir():
        return "a folder with a case file's name, not a case file (sub-folders of an input folder are not searched)"
    kind = "a named pipe" if f.is_fifo() else "a device" if f.is_char_device() or f.is_block_device() else "not a regular file"
    return (f"{kind}, not a case file: an entry of an input folder is read only if it is a file "
            "(name it on the command line to read it)")


def expand_paths(args: list[str]) -> list[str]:
    """Directories expand to their ``*.json`` and ``*.jsonl`` files (also ``.gz``), sorted. A
    directory with none is a usage error.

    Only the folder's own entries are read: sub-folders are not searched, and names match in
    lower case only (``X.JSON`` is not a case file), as the README says. A link with a case
    file's name that leads nowhere is kept, not skipped, so that it becomes the error record it
    gives when named on the command line ("no such file"); what is neither a file nor such a link
    (a sub-folder, a pipe, a device, even one named ``x.json``) is kept as a :class:`FolderEntry`:
    one error record saying what it is, nothing opened."""
    out: list[str] = []
    for a in args:
        if not a:  # (Path("") is the current folder)
            raise UsageError("an input is named by its path: got an empty name")
        p = Path(a)
        if a != "-" and p.is_dir():
            found: list[str] = []
            for f in sorted(p.iterdir()):
                if case_file(f.name):
                    why = _not_a_file(f)
                    found.append(str(f) if why is None else FolderEntry(str(f), why))
            if not found:
                raise UsageError(f"no case files (*.json, *.jsonl) in the folder {quote(a)}")
            out.extend(found)
        else:
            out.append(a)
    return out


def shown_name(name: str) -> str:
    """A file name as records and messages show it (the source of a record, the id of a case that
    gives none): a byte that is not UTF-8, which the file system hands over as a surrogate escape,
    as ``\\xNN``; a control, line-breaking or invisible formatting character as its escape. So a
    record naming the file can be written as JSON, and its TSV cell or text line never moves the
    cursor or breaks a row."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff"
                   else c.encode("unicode_escape").decode("ascii") for c in name)


def case_file(name: str) -> bool:
    """Is ``name`` the name of a case file a folder given as input holds?"""
    return name.endswith((".json", ".jsonl", ".json.gz", ".jsonl.gz"))


def iter_document(path: str) -> Iterator[Record]:
    """Records of one file holding a JSON object or array (or, if it turns out so, JSON Lines)."""
    p = Path(path)
    if not p.exists():
        yield path, _err("a link that leads nowhere (to a missing file, or round in a loop)" if p.is_symlink()
                         else "no such file", "unreadable")
        return
    chunks: list[bytes] = []
    damaged = None
    size = 0
    try:
        with open_binary(p) as fh:
            read = getattr(fh, "read1", fh.read)  # (a block at a time: a damaged gzip keeps what came before)
            while size <= MAX_DOCUMENT_BYTES:
                block = read(1 << 16)
                if not block:
                    break
                chunks.append(block)
                size += len(block)
    except READ_ERRORS as exc:
        damaged = exc
    data = b"".join(chunks)
    if damaged is not None and not data.strip():
        yield path, _err(f"cannot read: {damaged}", "unreadable")
        return
    if damaged is not None:  # the records before the damage are read, one error record stands for the rest
        text = decode_document(data, path)
        if not isinstance(text, CaseError):
            yield from iter_text(text[: text.rfind("\n") + 1] or text, path)
        yield path, _err(f"cannot read the rest of the file after {len(data):,} bytes: {damaged}", "unreadable")
        return
    if len(data) > MAX_DOCUMENT_BYTES:
        yield path, _err(f"a JSON document over {MAX_DOCUMENT_BYTES >> 20} MiB: write the cases as JSON Lines (.jsonl)", "too_large")
        return
    text = decode_document(data, path)
    if isinstance(text, CaseError):
        yield path, text
        return
    yield from iter_text(text, path)
