"""``kras-rules evaluate``: every input record yields exactly one output record, in input order.

Records stream through in constant memory: JSON Lines are read a line at a time and handed on as
raw text (decoding is part of the per-record work, so it runs in the worker processes too); output
is written a chunk at a time, in input order. With ``--jobs N`` other than 1 (default: every core)
the work runs in a pool of worker processes (:mod:`engine.batch.parallel`); a worker that dies (the
durable backend can segfault) is replaced and its cases are retried, one at a time, and a case
whose worker dies twice becomes an error record that names the crash.

Re-runs are reproducible: the output depends only on the input, the rule base and the evaluation
date. A case without ``as_of`` is evaluated at today's date, so pin the date (``--as-of`` or each
case's ``as_of``) for byte-identical output on another day. With an output file
(``args.output``) and ``args.resume``, the complete records already in the file are kept and the
input records they answer are skipped: an interrupted run resumes where it stopped (``json`` and
``tsv`` formats, one line per record). An output file of the other format, or holding more records
than the input has, is a usage error before anything is written (:func:`resume_point`).
"""
from __future__ import annotations

import codecs
import functools
import io
import itertools
import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from collections.abc import Callable, Iterable, Iterator

from engine import formats
from engine.case import NormalCase, parse_case_text
from engine.streams.codec import decode as fast_decode, encode_json, json_head
from engine.errors import ERROR_CODES, CaseError, EngineError, Problem, UsageError, quote
from engine.streams.output import OutputFailed, close_quietly, drop_stdout, reason, writing
from engine.streams.inputs import (
    MAX_DOCUMENT_BYTES, MAX_RECORD_BYTES, case_id_of, decode_document, open_binary, rejected_id, usable_id,
    FolderEntry, case_file, decode_json, expand_paths, iter_document, iter_text, read_lines, read_text_lines, shown_name, split_lines,
)

CHUNK = 256  # records per unit of work (and per write)
CHUNK_CHARS = 4 << 20  # at most about this many characters of raw lines per unit of work
# within a unit of work, the cases read (validated, normalised) ahead of their evaluation: so
# many records, or fewer once their raw lines reach so many characters (the read cases of a
# group are held at once: a few megabytes at most)
READ_AHEAD = 64
READ_AHEAD_CHARS = 256 << 10

# one rendered output record: (text for the output stream, message for stderr, is_error)
Rendered = tuple[str, str, bool]
# the same inside a batch, where a JSON record stays the UTF-8 bytes the encoder wrote (decoding it
# to text, joining a chunk of them and encoding it again cost a seventh to a quarter of a JSON
# batch's time: a chunk with one non-ASCII character anywhere is widened to two bytes a character)
_Record = tuple[str | bytes, str, bool]
# the first half of a record (Processor._read): (normalised case, case id, error, the error is a bug)
_Read = tuple[Any, str | None, Exception | None, bool]


@dataclass(slots=True)
class Block:
    """Consecutive rendered records, ready to write: the output already encoded (one bytes object
    crosses the process boundary, not hundreds of strings), the stderr messages, the counts."""

    data: bytes
    messages: str
    records: int
    errors: int


# --------------------------------------------------------------------------- reading


class RawInput:
    """Input records as ``(source, payload)``: ``payload`` is a raw JSON Lines line (``str``), a
    decoded value (from a JSON document or array) or a :class:`CaseError`.

    Reading never raises: a file that cannot be opened, a damaged gzip stream, a line that is not
    UTF-8 or is too long each become an error record (see :mod:`engine.streams.inputs`) and reading goes
    on with the next line or file. ``total_bytes`` is the size of the input when every file is a
    plain regular file (else None); ``pos`` counts the bytes of JSON Lines read so far (for the
    progress line).
    """

    def __init__(self, files: list[str], stdin: TextIO | None = None):
        self.files: list[str] = []
        self.cohorts: dict[str, str] = {}  # file -> the command-line argument it came from (as shown)
        for a in files:
            for f in expand_paths([a]):
                self.files.append(f)
                self.cohorts[shown_name(f)] = "<stdin>" if a == "-" else shown_name(a)  # (as records name them)
        self.stdin = stdin
        self.pos = 0
        self.empty: list[str] = []  # inputs that held no record at all (said on stderr, not an error)
        total = 0
        for f in self.files:
            p = Path(f)
            if f == "-" or f.endswith(".gz") or not p.is_file():
                total = 0
                break
            total += p.stat().st_size
        self.total_bytes = total or None

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for a in self.files:
            name = "<stdin>" if a == "-" else shown_name(a)
            line = 0
            if isinstance(a, FolderEntry):
                yield name, CaseError([Problem(a.why)], code="unreadable")
                continue
            try:
                if a == "-":
                    it = self._stdin()
                else:
                    p = Path(a)
                    if not (p.name.endswith((".jsonl", ".jsonl.gz"))) or not p.exists():
                        it = iter_document(a)
                    else:
                        it = self._file_lines(p, a)
                shown = name == a
                for source, payload in it:
                    line += 1
                    yield source if shown else shown_name(source), payload
                if not line:
                    self.empty.append(name)
            except Exception as exc:  # the rest of the file cannot be read (damaged gzip, I/O, ...)
                after = f" after {line:,} record(s)" if line else ""
                yield name, CaseError([Problem(f"cannot read the rest of the file{after}: {quote(str(exc))}")], code="unreadable")

    def _file_lines(self, p: Path, name: str) -> Iterator[tuple[str, Any]]:
        with open_binary(p) as fh:
            yield from self._numbered(read_lines(fh, name), name)

    def _numbered(self, lines, name: str) -> Iterator[tuple[str, Any]]:
        for n, text in lines:
            if isinstance(text, str):
                self.pos += len(text)
            yield f"{name}:{n}", text

    def _stdin(self) -> Iterator[tuple[str, Any]]:
        stream = self.stdin or sys.stdin
        raw = getattr(stream, "buffer", None)
        if raw is not None:  # bytes, decoded line by line
            first, blank = raw.readline(MAX_RECORD_BYTES + 2), 0
            while first and not first.strip():  # leading blank lines
                first, blank = raw.readline(MAX_RECORD_BYTES + 2), blank + 1
            head = first[3:] if first.startswith(codecs.BOM_UTF8) else first
            if not first or self._jsonl_head(head):
                yield from self._numbered(read_lines(raw, "<stdin>", first_line=first, first_no=blank + 1), "<stdin>")
                return
            data = b"\n" * blank + first + raw.read(MAX_DOCUMENT_BYTES)
            if head.strip()[:1] == b"{" and head.strip() != b"{" and not self._document(data):
                # a first line that starts an object but is not one whole: a broken first record
                # of JSON Lines, unless the whole input is one document (a line holding "{" alone
                # opens a pretty-printed document: broken, it is one error, as a file is)
                yield from self._numbered(read_lines(io.BytesIO(data), "<stdin>"), "<stdin>")
                return
            text = decode_document(data, "<stdin>")
            if isinstance(text, CaseError):
                yield "<stdin>", text
                return
            yield from iter_text(text, "<stdin>")
            return
        first = stream.readline()
        head = first.lstrip("\ufeff")
        if self._jsonl_head(head.encode("utf-8", "surrogatepass")):
            yield from self._numbered(read_text_lines(itertools.chain((first,), stream)), "<stdin>")
            return
        text = head + stream.read()
        if head.strip()[:1] == "{" and head.strip() != "{" and not self._document(text.encode("utf-8", "surrogatepass")):
            yield from self._numbered(read_text_lines(split_lines(text)), "<stdin>")
            return
        yield from iter_text(text, "<stdin>")

    @staticmethod
    def _document(data: bytes) -> bool:
        """Is ``data`` one JSON document (not several lines of records)?"""
        text = decode_document(data, "<stdin>")
        if isinstance(text, CaseError):
            return True
        try:
            decode_json(text) if len(data) <= MAX_RECORD_BYTES else json.loads(text)
        except CaseError as exc:
            return exc.code != "invalid_json"
        except ValueError:
            return False
        except Exception:  # too deep to decode: one document that is an error as a whole
            return True
        return True

    @staticmethod
    def _jsonl_head(line: bytes) -> bool:
        """Is the input JSON Lines, judged by its first line? Yes unless that line starts an array
        (``[``) or starts an object without being one whole (``{`` of a pretty-printed document:
        then the whole input decides, see :meth:`_stdin`). So a bad first record is only that
        record's error."""
        t = line.strip()
        if t[:1] == b"[":
            return False
        if t[:1] == b"{":
            return t[-1:] == b"}"
        return True


# --------------------------------------------------------------------------- one record


def _json_head(case) -> bytes | None:
    return json_head(case.id, case.as_of.isoformat())


def _tsv_head(case) -> str:
    return formats.tsv_head(case.id, case.cancer.code, case.as_of.isoformat())


class Processor:
    """Turns one input record into its rendered output; the same code runs in-process and in the
    worker processes. With ``summary`` it also counts each record into :attr:`summary`."""

    def __init__(self, engine, fmt: str = "json", as_of=None, backend: str = "default", summary: bool = False,
                 reuse: bool = True, jurisdiction: str | None = None):
        self.engine = engine
        self.fmt = fmt
        self.as_of = as_of
        # every case evaluated under this regulator's approvals, whatever its own ``jurisdiction`` says
        self.jurisdiction = jurisdiction
        self.moved = None
        if jurisdiction is not None:
            from engine.api import with_jurisdiction

            self.jurisdiction = engine.jurisdiction(jurisdiction)  # (a UsageError for one the rules do not know)
            self.moved = functools.partial(with_jurisdiction, jurisdiction=self.jurisdiction)
        self.backend = backend
        self.want_summary = summary
        self.summary = self._new_summary()
        self.dated = None
        if as_of is not None:
            from engine.api import with_as_of

            self.dated = with_as_of
        # records reused across cases that read the same (engine.batch.reuse): JSON (with orjson) and TSV
        self.reuse = None
        if reuse and backend == "default" and (fmt == "tsv" or fmt == "json" and json_head("", "") is not None):
            from engine.batch.reuse import Reuse

            # a JSON record names the evaluation date in its notes and trace too; a TSV row in its
            # own cell only
            self.reuse = (Reuse(engine, _json_head, date_in_body=True) if fmt == "json"
                          else Reuse(engine, _tsv_head, date_in_body=False, decided_only=True))
        self.cohorts: dict[str, str] = {}  # input file -> cohort name (the argument it came from)
        self.encoding = "utf-8"  # of the output stream (set by run_evaluate)
        # the text format's style: the readings it prints once per case (here, so that every
        # process of a batch, local or on a cluster, writes the same text), brief / detail (set by run_evaluate)
        self.text_style: dict = {"readings": engine.readings()} if fmt == "text" else {}

    def cohort(self, source: str) -> str:
        from engine.batch.summary import cohort_of

        f = cohort_of(source)
        return self.cohorts.get(f, f)

    def _new_summary(self):
        if not self.want_summary:
            return None
        from engine.batch.summary import Summary

        return Summary(self.engine)

    def take_summary(self):
        """The counts so far, and start afresh (workers send one per chunk)."""
        s = self.summary
        self.summary = self._new_summary()
        return s

    def __call__(self, source: str, payload: Any) -> Rendered:
        """The one output record of one input record, whatever the record holds: a result, or an
        error record with a stable ``code``. Never raises (the per-record safety boundary)."""
        text, message, bad = self.record(source, payload)
        return (text.decode("utf-8") if isinstance(text, bytes) else text), message, bad

    def record(self, source: str, payload: Any) -> _Record:
        """:meth:`__call__`, a JSON record as its UTF-8 bytes (as :meth:`block` takes it)."""
        return self._finish(source, payload, self._read(source, payload))

    def _read(self, source: str, payload: Any) -> _Read:
        """The first half of a record: its case parsed, validated and normalised (dated and moved
        as the batch asks), ``(case, case id, None, False)``; or what stops it, ``(None, case id
        or None, error, is a bug)``, for :meth:`_finish` to write (error records are written in
        input order, so every count and message comes in the order it always did). Never raises."""
        try:
            case: Any = None
            if isinstance(payload, str):
                case = parse_case_text(payload)  # the model decode_json and parse_case give, in one step
                if case is None:
                    try:
                        payload = fast_decode(payload, decode_json)  # decode_json's value or error, faster
                    except CaseError as exc:  # (rejected for a value elsewhere in it, it still names its id)
                        return None, rejected_id(payload), exc, False
            if isinstance(payload, CaseError):
                return None, None, payload, False
            if case is not None:
                case_id = usable_id(case.id)
            else:
                case_id = case_id_of(payload)
                case = payload
            try:
                norm = self.engine.normalise(case, default_id=case_id or source)
                if self.dated is not None:
                    norm = self.dated(norm, self.as_of)
                if self.moved is not None and norm.jurisdiction != self.jurisdiction:
                    norm = self.moved(norm)
            except EngineError as exc:
                return None, case_id, exc, False
            except RecursionError:
                return None, case_id, CaseError("JSON nested too deeply to evaluate", code="too_deep"), False
            return norm, case_id, None, False
        except Exception as exc:  # a bug must not end the batch: one error record, named
            return None, None, exc, True

    def _finish(self, source: str, payload: Any, read: _Read) -> _Record:
        """The second half of a record (see :meth:`_read`): its case evaluated and written, or its
        error record. ``payload``: the record as given. Never raises."""
        norm, case_id, problem, bug = read
        try:
            if problem is not None:
                if bug or not isinstance(problem, EngineError):
                    return self.internal_error(source, problem, payload)
                return self.error(source, problem, case_id)
            return self._evaluate(source, norm, case_id)
        except Exception as exc:  # a bug must not end the batch: one error record, named
            return self.internal_error(source, exc, payload)

    def _evaluate(self, source: str, norm: NormalCase, case_id: str | None) -> _Record:
        found = None
        try:
            if self.reuse is not None:
                found = self.reuse.find(norm)
            if found is None:
                # a TSV row and the summary read only the decided fields
                res = (self.engine.decide(norm, backend=self.backend) if self.fmt == "tsv"
                       else self.engine.evaluate(norm, backend=self.backend))
            elif isinstance(found, tuple):  # a record written for an earlier case that read the same
                text, (cancer_type, verdicts) = found
                if type(text) is str:  # (JSON's are bytes: an id orjson could not write has no head)
                    try:
                        norm.id.encode("utf-8")  # the id is the only new text (the rest was written before)
                    except UnicodeEncodeError:
                        try:
                            text.encode("utf-8")
                        except UnicodeEncodeError as exc:  # (the message names the position in the record)
                            return self._unwritable(source, exc, case_id)
                if self.summary is not None:
                    self.summary.add_counts(cancer_type, verdicts, case=norm, cohort=self.cohort(source))
                return (text + b"\n" if isinstance(text, bytes) else text + "\n"), "", False
            else:
                res = found.result
        except EngineError as exc:
            return self.error(source, exc, case_id)
        except RecursionError:
            return self.error(source, CaseError("JSON nested too deeply to evaluate", code="too_deep"), case_id)
        out: str | bytes
        try:
            fmt = self.fmt
            if fmt == "json":
                # model_dump_json's text as UTF-8, faster (a lone surrogate fails to encode here)
                out = encode_json(res)
            else:
                if fmt == "tsv":
                    out = formats.tsv_row(res)
                else:
                    out = "\n" + formats.text(res, **self.text_style)  # a blank line before each (the Writer drops the first)
                out.encode("utf-8")  # a lone surrogate that got this far is caught here, not at write time
        except Exception as exc:
            return self._unwritable(source, exc, case_id)
        if found is not None:
            found.keep(out)
        if self.summary is not None:
            self.summary.add(res, None, case=norm, cohort=self.cohort(source))
        return (out + b"\n" if isinstance(out, bytes) else out + "\n"), "", False

    def _unwritable(self, source: str, exc: Exception, case_id: str | None) -> Rendered:
        return self.error(source, CaseError(f"the result cannot be written: {type(exc).__name__}: {exc}",
                                            code="not_serialisable"), case_id)

    def internal_error(self, source: str, exc: BaseException, payload: Any = None) -> Rendered:
        """The error record of a record the engine failed on (a bug); built so that it cannot fail."""
        message = f"internal error: {type(exc).__name__}: {exc}"
        try:
            return self.error(source, EngineError(message, code="internal_error"), case_id_of(payload))
        except Exception:
            err = {"case_id": None, "source": quote(source)[1:-1], "code": "internal_error",
                   "error": [{"path": "", "message": "internal error", "suggestion": None}]}
            out = formats.dumps(err) + "\n" if self.fmt == "json" else ""
            return out, f"{err['source']}: internal error\n", True

    def error(self, source: str, exc: EngineError, case_id: str | None = None) -> Rendered:
        if getattr(exc, "code", None) not in ERROR_CODES:  # an engine error no record should cause
            exc.code = "internal_error"
        err = formats.error_record(source, exc, case_id)
        if self.summary is not None:
            self.summary.add(None, err, cohort=self.cohort(source))
        msg = []
        for e in err["error"]:
            where = f"{e['path']}: " if e.get("path") else ""
            hint = f" (did you mean '{e['suggestion']}'?)" if e.get("suggestion") and "did you mean" not in e["message"] else ""
            msg.append(f"{source}: {where}{e['message']}{hint}\n")
        if self.fmt == "json":
            out = formats.dumps(err) + "\n"
        elif self.fmt == "tsv":
            out = formats.tsv_row(None, error=err) + "\n"
        else:
            out = ""
        return out, "".join(msg), True

    def chunk(self, items: list[tuple[str, Any]]) -> Block:
        """Render consecutive records into one :class:`Block`: the cases of a few dozen records
        read first, then each evaluated and written in turn, in input order (the same records as
        one at a time, a tenth faster: ``bench/README.md``, "Plain case objects; cases read a group
        at a time")."""
        out: list[_Record] = []
        for group in chunks(items, READ_AHEAD, READ_AHEAD_CHARS):
            read = [self._read(s, p) for s, p in group]
            out.extend([self._finish(s, p, r) for (s, p), r in zip(group, read, strict=True)])
        return self.block(out)

    def block(self, rendered: list[_Record]) -> Block:
        """Records (texts, or a JSON record's UTF-8 bytes) as one :class:`Block` of bytes in the
        output stream's encoding."""
        texts = [r[0] for r in rendered]
        if _is_utf8(self.encoding) and any(isinstance(t, bytes) for t in texts):
            data = b"".join([t if isinstance(t, bytes) else self._encode(t) for t in texts])
        else:
            data = self._encode("".join([t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]))
        bad = [r[1] for r in rendered if r[2]]
        return Block(data, "".join(bad), len(rendered), len(bad))

    def _encode(self, text: str) -> bytes:
        try:
            return text.encode(self.encoding)
        except UnicodeEncodeError:  # an output stream that cannot show every character
            return text.encode(self.encoding, "backslashreplace")


@functools.lru_cache(maxsize=16)
def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def chunks(items: Iterable, size: int, max_chars: int | None = None) -> Iterator[list]:
    """Lists of ``size`` items, cut earlier once the raw lines in a list reach ``max_chars``
    characters (so that a run of large records never holds hundreds of megabytes at once)."""
    limit = CHUNK_CHARS if max_chars is None else max_chars
    block: list = []
    chars = 0
    for item in items:
        block.append(item)
        payload = item[1]
        if type(payload) is str:
            chars += len(payload)
        if len(block) >= size or chars >= limit:
            yield block
            block, chars = [], 0
    if block:
        yield block


# --------------------------------------------------------------------------- writing


class Writer:
    """Writes blocks in order: output to ``out`` (to its byte buffer when it has one), messages
    to ``err``. For the text format it drops the blank line before the very first record. A
    failed write of the output raises :class:`OutputFailed`."""

    def __init__(self, out: TextIO, err: TextIO, fmt: str):
        self.out, self.err, self.fmt = out, err, fmt
        self.raw = getattr(out, "buffer", None)
        self.encoding = (getattr(out, "encoding", None) or "utf-8") if self.raw is not None else "utf-8"
        self.records = 0
        self.errors = 0
        self._first_text = fmt == "text"
        if self.raw is not None:
            with writing():
                out.flush()  # anything written as text before goes first

    def write_bytes(self, data: bytes) -> None:
        with writing():
            if self.raw is not None:
                self.raw.write(data)
            else:
                self.out.write(data.decode(self.encoding))

    def write(self, block: Block) -> None:
        self.records += block.records
        self.errors += block.errors
        if block.messages:
            self.flush()
            self.err.write(block.messages)
            self.err.flush()
        data = block.data
        if self._first_text and data:
            data = data[1:]
            self._first_text = False
        if data:
            self.write_bytes(data)

    def flush(self) -> None:
        with writing():
            self.out.flush()
            if self.raw is not None:
                self.raw.flush()


# --------------------------------------------------------------------------- resume


def resume_point(path: Path, fmt: str) -> tuple[int, int]:
    """``(records, bytes)``: how many complete output records ``path`` holds and the bytes up to
    the end of the last complete line (a partial last line, cut off by an interrupted run, lies
    beyond). Reads only: nothing is cut here. A file that holds output of another format (JSON
    Lines resumed as TSV, or the other way), or no records of this program at all, is a usage
    error naming what it holds: appending would mix two formats in one file."""
    if fmt not in ("json", "tsv"):
        raise UsageError(f"resume needs a line-per-record format (json or tsv), not '{fmt}'")
    if not path.exists():
        return 0, 0
    n = 0
    good = 0  # bytes up to the end of the last complete line
    with path.open("rb") as fh:
        first = fh.readline(1 << 16)
        fh.seek(0)
        held = _format_held(first)
        if held is not None and held != fmt:
            other = {"json": "JSON records (--format json)", "tsv": "TSV rows (--format tsv)",
                     "": "neither JSON records nor TSV rows of this program"}[held]
            again = f"resume with --format {held}, or " if held else ""
            raise UsageError(f"cannot resume the output file {quote(str(path))} with --format {fmt}: it holds "
                             f"{other}; {again}write to another file")
        width = formats.tsv_header().count("\t")
        for line in fh:
            if not line.endswith(b"\n"):
                break
            n += 1
            if not (_RECORD.match(line) if fmt == "json" else n == 1 or line.count(b"\t") == width):
                what = "a JSON record of this program" if fmt == "json" else f"a TSV row of {width + 1} columns"
                text = line.rstrip(b"\r\n").decode("utf-8", "replace")
                raise UsageError(f"cannot resume the output file {quote(str(path))}: its line {n:,} is not {what} "
                                 f"({quote(text)}); it was changed after "
                                 "it was written: write to another file, or remove that line and every line after it")
            good += len(line)
    if fmt == "tsv" and n:
        n -= 1  # the header
    return n, good


#: a whole line of JSON output: an object that starts with the case id and ends on the line
_RECORD = re.compile(rb'\{"case_id": ?(?:null|"(?:[^"\\]|\\.)*")[,}].*\}\r?\n\Z', re.S)


def _format_held(first: bytes) -> str | None:
    """The format of an output file by its first line: ``json``, ``tsv``, ``""`` (neither), or
    None (nothing written yet, or only the start of a line that could be either). A whole first
    line of JSON output is one whole JSON object (a pretty-printed document starts with ``{``
    too, and a blank line is no record of this program)."""
    if not first.strip():
        return "" if first.endswith(b"\n") else None
    if first.startswith(b"{"):
        if not first.endswith(b"\n"):
            return "json"  # the start of a record an interrupted run cut off
        try:
            return "json" if isinstance(json.loads(first), dict) else ""
        except ValueError:  # (UnicodeDecodeError too)
            return ""
    header = formats.tsv_header().encode("utf-8")
    line = first.rstrip(b"\r\n")
    if line == header or not first.endswith(b"\n") and header.startswith(line):
        return "tsv"
    return ""


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- the command


def run_evaluate(args, engine, *, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None,
                 remote: Callable[..., Any] | None = None) -> int:
    """Run ``evaluate``: 0 every case evaluated, 1 some record was an error. An output file that
    cannot be written (a missing folder, a folder, no permission, a full disk), or that is one of
    the inputs, is a usage error; so is standard output that cannot be written.

    ``remote`` is the pool that evaluates the chunks elsewhere when ``args.dask`` names a cluster
    (:class:`engine.distributed.pool.DaskPool`, given by the command line, which sits above both:
    the batch knows no cluster), called as the local pool is: ``remote(processor, args.dask,
    messages=err)``."""
    fmt = args.format
    if getattr(args, "dask", None) and remote is None:
        raise UsageError("--dask needs the pool of a cluster (kras-rules evaluate gives it)")
    err = err or sys.stderr
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    brief, detail = bool(getattr(args, "brief", False)), bool(getattr(args, "detail", False))
    if brief and detail:
        raise UsageError("--brief (a line an option) and --detail (every option in full): give one of them")
    if (brief or detail) and fmt != "text":
        raise UsageError(f"--{'brief' if brief else 'detail'} shapes the text format; --format {fmt} writes every "
                         "field: leave it out, or give --format text")
    if getattr(args, "jurisdiction", None) is not None:
        engine.jurisdiction(args.jurisdiction)  # one the rules do not know is refused before any output
    output = getattr(args, "output", None)
    resume = bool(getattr(args, "resume", False))
    if resume and not output:
        raise UsageError("resume needs an output file")
    _check_output_is_not_input(args.files, output, stdin, out)
    header = fmt == "tsv"
    close = None
    if output:
        try:
            if Path(output).is_dir():
                raise IsADirectoryError(21, "is a folder")
            skip, good = resume_point(Path(output), fmt) if resume else (0, 0)
            if resume and fmt == "tsv" and _has_header(Path(output)):
                header = False
            close = out = open(output, "a" if resume else "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise UsageError(f"cannot write the output file {quote(output)}: {exc.strerror or exc}") from None
    else:
        skip = 0
    out = out or sys.stdout
    where = f"the output file {quote(output)}" if output else "standard output"
    ready = None
    if resume and output:
        ready = functools.partial(_resume_ready, output, skip, good)
    try:
        code = _run(args, engine, fmt, jobs, skip, stdin, out, err, header, ready, remote)
    except OutputFailed as exc:
        if close is not None:
            close_quietly(close)
        elif out is sys.stdout:
            drop_stdout(out)
        raise UsageError(f"cannot write {where}: {reason(exc.error)}") from None
    except BaseException:
        if close is not None:
            close_quietly(close)
        raise
    if close is not None:
        try:
            close.close()
        except OSError as exc:  # what was still buffered did not fit
            raise UsageError(f"cannot write {where}: {reason(exc)}") from None
    return code


def _resume_ready(output: str, skip: int, good: int, seen: int) -> None:
    """Before anything is written on resuming: the input must have at least the ``skip`` records
    the output holds (else the output is not this input's), then a partial last line is cut."""
    if seen < skip:
        raise UsageError(f"cannot resume the output file {quote(output)}: it holds {skip:,} records, more than "
                         f"the input has ({seen:,}), so it is not this input's output; write to another file")
    try:
        if os.path.getsize(output) != good:
            os.truncate(output, good)
    except OSError as exc:
        raise UsageError(f"cannot write the output file {quote(output)}: {reason(exc)}") from None


def _stat_of(stream: Any) -> os.stat_result | None:
    """The status of the regular file a stream reads or writes, or None (a terminal, a pipe, a
    stream with no descriptor)."""
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _check_output_is_not_input(files: list[str], output: str | None, stdin: TextIO | None, out: TextIO | None) -> None:
    """A usage error, before anything is opened for writing, when the output is one of the inputs:
    writing it would empty the input before it is read (or, appending, read the records written
    back as input). Compared by the file itself (``os.path.samefile``: also a link or another
    spelling of the path), by the resolved path for an output file not made yet that a folder
    given as input would read as a case file, and for ``-`` and a redirected standard output by
    the file behind the stream."""
    if output:
        target = Path(output)
        try:
            out_stat: os.stat_result | None = target.stat()
        except OSError:
            out_stat = None
        if out_stat is not None and not stat.S_ISREG(out_stat.st_mode):
            out_stat = None  # a device (/dev/null) or a folder: not a file an input could be
        named = f"the output file {quote(output)}"
    else:
        target = None
        out_stat = _stat_of(out if out is not None else sys.stdout)
        named = "standard output"
    if out_stat is None and target is None:
        return
    resolved = target.resolve() if target is not None else None
    for a in files:
        if a == "-":
            in_stat = _stat_of(stdin if stdin is not None else sys.stdin)
            if in_stat is not None and out_stat is not None and os.path.samestat(in_stat, out_stat):
                raise UsageError(f"{named} is the file standard input reads ('-', one of the inputs): "
                                 "write the results to another file")
            continue
        p = Path(a)
        if p.is_dir():
            # the output's own name in the folder counts as well as where it leads: a link in the
            # folder (even one leading nowhere yet) is read as a case file of the folder
            folder = p.resolve()
            inside = target is not None and resolved is not None and any(
                where.parent == folder and case_file(where.name)
                for where in (resolved, target.absolute().parent.resolve() / target.name))
            try:
                found = expand_paths([a]) if out_stat is not None and not inside else []
            except UsageError:
                found = []
            hit = inside or any(_same(f, out_stat) for f in found)
            if hit:
                raise UsageError(f"{named} is a case file in the input folder {quote(a)}: "
                                 "write the results outside it")
        elif _same(a, out_stat) or (resolved is not None and p.resolve() == resolved):
            raise UsageError(f"{named} is also an input file ({quote(a)}): write the results to another file")


def _same(path: str, st: os.stat_result | None) -> bool:
    if st is None:
        return False
    try:
        return os.path.samestat(os.stat(path), st)
    except OSError:
        return False


def _has_header(path: Path) -> bool:
    """Does the TSV output file already start with its complete header line?"""
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError:
        return False
    return first.endswith(b"\n") and _format_held(first) == "tsv"


def _run(args, engine, fmt, jobs, skip, stdin, out, err, header: bool = True, ready=None, remote=None) -> int:
    """The batch; ``ready(records skipped)``, when given, runs once the ``skip`` records the
    output already answers are read past, before anything is written (it may refuse)."""
    from engine.batch.progress import Progress, wanted

    reader = RawInput(args.files, stdin)
    items: Iterator = iter(reader)
    if skip:
        seen = sum(1 for _ in itertools.islice(items, skip))
    else:
        seen = 0
    if ready is not None:
        ready(seen)
    processor = Processor(engine, fmt, args.as_of, args.backend, args.summary,
                          reuse=not getattr(args, "no_reuse", False),
                          jurisdiction=getattr(args, "jurisdiction", None))
    processor.cohorts = reader.cohorts
    processor.text_style.update(brief=bool(getattr(args, "brief", False)), detail=bool(getattr(args, "detail", False)))
    writer = Writer(out, err, fmt)
    processor.encoding = writer.encoding
    progress = Progress(err, total_bytes=reader.total_bytes) if wanted(err, args.no_progress) else None
    summary = processor.summary
    if fmt == "tsv" and header:
        writer.write_bytes((formats.tsv_header() + "\n").encode(writer.encoding))

    blocks = chunks(items, CHUNK)
    first = next(blocks, [])
    # Few records and the in-process backend: no worker processes (a single case stays fast).
    # The durable backend always runs in workers, so that a crash of its C core ends no batch.
    isolate = args.backend != "default"
    parallel = isolate or (jobs > 1 and (len(first) == CHUNK or sum(len(p) for _, p in first if type(p) is str) >= CHUNK_CHARS))
    dask = getattr(args, "dask", None)  # the same batch, its chunks evaluated on a Dask cluster
    try:
        if parallel or dask:
            if dask:
                pool_class: Callable[..., Any] = remote
                jobs = dask
            else:
                from engine.batch.parallel import WorkerPool

                pool_class = WorkerPool
            with pool_class(processor, jobs, messages=err) as pool:
                for done, part in pool.map(itertools.chain([first] if first else [], blocks)):
                    for block in done:
                        writer.write(block)
                    if summary is not None and part is not None:
                        summary.merge(part)
                    if progress is not None:
                        progress.update(writer.records, writer.errors, reader.pos)
        else:
            for block_items in itertools.chain([first] if first else [], blocks):
                writer.write(processor.chunk(block_items))
                if progress is not None:
                    progress.update(writer.records, writer.errors, reader.pos)
        writer.flush()
    finally:
        if progress is not None:
            progress.close()
    for name in reader.empty:  # nothing to evaluate is no error, but no silence either
        err.write(f"kras-rules: {name}: no records (the input is empty)\n")
    if summary is not None:
        if skip:
            err.write(f"(resumed: the {skip:,} records already in the output are not in this summary)\n")
        err.write(summary.render() + "\n")
    return 1 if writer.errors else 0
