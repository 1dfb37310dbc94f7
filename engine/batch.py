"""``kras-rules evaluate``: every input record yields exactly one output record, in input order.

Records stream through in constant memory: JSON Lines are read a line at a time and handed on as
raw text (decoding is part of the per-record work, so it runs in the worker processes too); output
is written a chunk at a time, in input order. With ``--jobs N`` other than 1 (default: every core)
the work runs in a pool of worker processes (:mod:`engine.parallel`); a worker that dies (the
durable backend can segfault) is replaced and its cases are retried, one at a time, and a case
whose worker dies twice becomes an error record that names the crash.

Re-runs are reproducible: the output depends only on the input, the rule base and the evaluation
date. A case without ``as_of`` is evaluated at today's date, so pin the date (``--as-of`` or each
case's ``as_of``) for byte-identical output on another day. With an output file
(``args.output``) and ``args.resume``, the complete records already in the file are kept and the
input records they answer are skipped: an interrupted run resumes where it stopped (``json`` and
``tsv`` formats, one line per record).
"""
from __future__ import annotations

import itertools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

from engine import formats
from engine.errors import CaseError, EngineError, Problem, UsageError
from engine.inputs import _open, expand_paths, iter_document, iter_text

CHUNK = 256  # records per unit of work (and per write)

# one rendered output record: (text for the output stream, message for stderr, is_error)
Rendered = tuple[str, str, bool]


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

    ``total_bytes`` is the size of the input when every file is a plain regular file (else None);
    ``pos`` counts the characters of JSON Lines read so far (for the progress line).
    """

    def __init__(self, files: list[str], stdin: TextIO | None = None):
        self.files: list[str] = []
        self.cohorts: dict[str, str] = {}  # file -> the command-line argument it came from
        for a in files:
            for f in expand_paths([a]):
                self.files.append(f)
                self.cohorts[f] = "<stdin>" if a == "-" else a
        self.stdin = stdin
        self.pos = 0
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
            if a == "-":
                yield from self._stdin()
                continue
            p = Path(a)
            if not (p.suffix == ".jsonl" or p.name.endswith(".jsonl.gz")) or not p.exists():
                yield from iter_document(a)
                continue
            try:
                with _open(p) as fh:
                    yield from self._lines(fh, a)
            except (OSError, UnicodeDecodeError) as exc:
                yield a, CaseError([Problem(f"cannot read: {exc}")])

    def _lines(self, lines: Iterable[str], name: str, first: int = 1) -> Iterator[tuple[str, str]]:
        pos = self.pos
        for n, line in enumerate(lines, first):
            pos += len(line)
            if not line.strip():
                continue
            self.pos = pos
            yield f"{name}:{n}", line
        self.pos = pos

    def _stdin(self) -> Iterator[tuple[str, Any]]:
        stream = self.stdin or sys.stdin
        first = stream.readline()
        if first.strip():
            try:
                json.loads(first)
            except json.JSONDecodeError:
                pass
            else:  # a complete JSON value on the first line: JSON Lines
                yield from self._lines(itertools.chain((first,), stream), "<stdin>")
                return
        yield from iter_text(first + stream.read(), "<stdin>")


# --------------------------------------------------------------------------- one record


class Processor:
    """Turns one input record into its rendered output; the same code runs in-process and in the
    worker processes. With ``summary`` it also counts each record into :attr:`summary`."""

    def __init__(self, engine, fmt: str = "json", as_of=None, backend: str = "default", summary: bool = False):
        self.engine = engine
        self.fmt = fmt
        self.as_of = as_of
        self.backend = backend
        self.want_summary = summary
        self.summary = self._new_summary()
        self.cohorts: dict[str, str] = {}  # input file -> cohort name (the argument it came from)
        self.encoding = "utf-8"  # of the output stream (set by run_evaluate)
        self.text_style: dict = {}  # brief / detail for the text format (set by run_evaluate)

    def cohort(self, source: str) -> str:
        from engine.summary import cohort_of

        f = cohort_of(source)
        return self.cohorts.get(f, f)

    def _new_summary(self):
        if not self.want_summary:
            return None
        from engine.summary import Summary

        return Summary(self.engine)

    def take_summary(self):
        """The counts so far, and start afresh (workers send one per chunk)."""
        s = self.summary
        self.summary = self._new_summary()
        return s

    def __call__(self, source: str, payload: Any) -> Rendered:
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except json.JSONDecodeError as exc:
                return self.error(source, CaseError([Problem(f"invalid JSON at column {exc.colno}: {exc.msg}")]))
        if isinstance(payload, CaseError):
            return self.error(source, payload)
        case_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(case_id, str):
            case_id = None
        try:
            norm = self.engine.normalise(payload, default_id=case_id or source)
            res = self.engine.evaluate(norm, as_of=self.as_of, backend=self.backend)
        except EngineError as exc:
            return self.error(source, exc, case_id)
        except Exception as exc:  # a bug must not end the batch: one error record, named
            return self.error(source, EngineError(f"internal error: {type(exc).__name__}: {exc}"), case_id)
        if self.summary is not None:
            self.summary.add(res, None, case=norm, cohort=self.cohort(source))
        fmt = self.fmt
        if fmt == "json":
            return res.model_dump_json() + "\n", "", False
        if fmt == "tsv":
            return formats.tsv_row(res) + "\n", "", False
        return "\n" + formats.text(res, **self.text_style) + "\n", "", False  # a blank line before each (the Writer drops the first)

    def error(self, source: str, exc: EngineError, case_id: str | None = None) -> Rendered:
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
        """Render consecutive records into one :class:`Block`."""
        return self.block([self(s, p) for s, p in items])

    def block(self, rendered: list[Rendered]) -> Block:
        text = "".join(r[0] for r in rendered)
        try:
            data = text.encode(self.encoding)
        except UnicodeEncodeError:  # an output stream that cannot show every character
            data = text.encode(self.encoding, "backslashreplace")
        bad = [r[1] for r in rendered if r[2]]
        return Block(data, "".join(bad), len(rendered), len(bad))


def chunks(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while True:
        block = list(itertools.islice(it, size))
        if not block:
            return
        yield block


# --------------------------------------------------------------------------- writing


class Writer:
    """Writes blocks in order: output to ``out`` (to its byte buffer when it has one), messages
    to ``err``. For the text format it drops the blank line before the very first record."""

    def __init__(self, out: TextIO, err: TextIO, fmt: str):
        self.out, self.err, self.fmt = out, err, fmt
        self.raw = getattr(out, "buffer", None)
        self.encoding = (getattr(out, "encoding", None) or "utf-8") if self.raw is not None else "utf-8"
        self.records = 0
        self.errors = 0
        self._first_text = fmt == "text"
        if self.raw is not None:
            out.flush()  # anything written as text before goes first

    def write_bytes(self, data: bytes) -> None:
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
        self.out.flush()
        if self.raw is not None:
            self.raw.flush()


# --------------------------------------------------------------------------- resume


def complete_records(path: Path, fmt: str) -> int:
    """How many complete output records ``path`` holds; a partial last line is cut off."""
    if fmt not in ("json", "tsv"):
        raise UsageError(f"resume needs a line-per-record format (json or tsv), not '{fmt}'")
    if not path.exists():
        return 0
    n = 0
    good = 0  # bytes up to the end of the last complete line
    with path.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            n += 1
            good += len(line)
    if path.stat().st_size != good:
        with path.open("r+b") as fh:
            fh.truncate(good)
    if fmt == "tsv" and n:
        n -= 1  # the header
    return n


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- the command


def run_evaluate(args, engine, *, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``evaluate``: 0 every case evaluated, 1 some record was an error."""
    fmt = args.format
    err = err or sys.stderr
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    output = getattr(args, "output", None)
    resume = bool(getattr(args, "resume", False))
    if resume and not output:
        raise UsageError("resume needs an output file")
    skip = complete_records(Path(output), fmt) if resume else 0
    close = None
    if output:
        close = out = open(output, "a" if resume else "w", encoding="utf-8", newline="\n")
    out = out or sys.stdout
    try:
        return _run(args, engine, fmt, jobs, skip, stdin, out, err)
    finally:
        if close is not None:
            close.close()


def _run(args, engine, fmt, jobs, skip, stdin, out, err) -> int:
    from engine.progress import Progress, wanted

    reader = RawInput(args.files, stdin)
    items: Iterator = iter(reader)
    if skip:
        items = itertools.islice(items, skip, None)
    processor = Processor(engine, fmt, args.as_of, args.backend, args.summary)
    processor.cohorts = reader.cohorts
    processor.text_style = {"brief": bool(getattr(args, "brief", False)), "detail": bool(getattr(args, "detail", False))}
    writer = Writer(out, err, fmt)
    processor.encoding = writer.encoding
    progress = Progress(err, total_bytes=reader.total_bytes) if wanted(err, args.no_progress) else None
    summary = processor.summary
    if fmt == "tsv" and not skip:
        writer.write_bytes((formats.tsv_header() + "\n").encode(writer.encoding))

    blocks = chunks(items, CHUNK)
    first = next(blocks, [])
    # Few records and the in-process backend: no worker processes (a single case stays fast).
    # The durable backend always runs in workers, so that a crash of its C core ends no batch.
    isolate = args.backend != "default"
    parallel = isolate or (jobs > 1 and len(first) == CHUNK)
    try:
        if parallel:
            from engine.parallel import WorkerPool

            with WorkerPool(processor, jobs, messages=err) as pool:
                for done, part in pool.map(itertools.chain([first] if first else [], blocks)):
                    for block in done:
                        writer.write(block)
                    if summary is not None and part is not None:
                        summary.merge(part)
                    if progress is not None:
                        progress.update(writer.records, writer.errors, reader.pos)
        else:
            for items in itertools.chain([first] if first else [], blocks):
                writer.write(processor.chunk(items))
                if progress is not None:
                    progress.update(writer.records, writer.errors, reader.pos)
        writer.flush()
    finally:
        if progress is not None:
            progress.close()
    if summary is not None:
        if skip:
            err.write(f"(resumed: the {skip:,} records already in the output are not in this summary)\n")
        err.write(summary.render() + "\n")
    return 1 if writer.errors else 0
