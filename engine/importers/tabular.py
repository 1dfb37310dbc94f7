"""Reading tab-separated files as they come: plain or gzip, ``#`` comment lines, a header row.

Lines are decoded as UTF-8, falling back to Latin-1 for a line that is not (TCGA clinical tables
carry a few such bytes). Every row keeps its 1-based line number so that a problem can be reported
as ``file:line``. A file whose reading fails part way (a truncated gzip) raises :class:`DamagedFile`
after its last whole line, so that a reader can keep what came before.
"""
from __future__ import annotations

import difflib
import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UsageError
from engine.streams.inputs import utf16_text

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "."})


def is_missing(value: str) -> bool:
    """Empty, ``NA``-like, or a TCGA bracketed marker such as ``[Not Available]``."""
    v = value.strip()
    return v.lower() in MISSING or (v.startswith("[") and v.endswith("]"))


#: the largest position a VCF or MAF coordinate may have (the VCF specification's 2^31 - 1)
MAX_POSITION = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def position(text: str, lowest: int = 1) -> int | None:
    """A chromosome position written in a cell, or None where it is not one: not a whole number
    in ASCII digits (``int`` would also take ``1_000`` and other scripts' digits), below ``lowest``
    (a VCF may write 0 for a telomere) or above :data:`MAX_POSITION`."""
    t = text.strip()
    if not _DIGITS.fullmatch(t):
        return None
    n = int(t)
    return n if lowest <= n <= MAX_POSITION else None


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a file for reading, transparently gunzipping it (detected by content, not name)."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise UsageError(f"file not found: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    magic = fh.peek(2)[:2]
    if magic == b"\x1f\x8b":
        fh.close()
        return gzip.GzipFile(path, "rb")
    return fh


class DamagedFile(UsageError):
    """A file whose reading failed part way (a truncated or corrupt gzip stream, an I/O error)
    after ``lines`` whole lines. Where nothing could be kept it is the usage error it is; a reader
    of rows (a mutation file, a VCF) catches it, keeps the cases of the lines before and writes an
    error record (see :meth:`engine.importers.importer.Importer.damaged`)."""

    def __init__(self, path: Path, lines: int, reason: str):
        self.path, self.lines, self.reason = path, lines, reason
        after = f"after line {lines:,}" if lines else "before its first line"
        super().__init__(f"cannot read {path}: the file is damaged or truncated {after} ({reason})")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_CHUNK = 1 << 20


def not_text(head: bytes) -> str | None:
    """Why a file whose first bytes are ``head`` is not text (None: it may be): UTF-16 or UTF-32
    (a byte-order mark, or a NUL beside every other byte, as in ASCII written in UTF-16), gzip data
    inside the gzip stream (compressed twice), or other binary data (many control bytes, NULs among
    them: one in twenty of the first 4 KiB). A NUL alone is not taken for UTF-16 (random bytes and
    compressed data hold NULs too), nor for binary data: a text file with a stray NUL in a row is
    read, and that row is its error record, wherever it is in the file."""
    if utf16_text(head):
        return "the file is UTF-16 (or UTF-32) encoded: save it as UTF-8"
    if head.startswith(b"\x1f\x8b"):
        return "the file is gzip data compressed twice: decompress it once (gunzip)"
    sample = head[:4096]
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if control > len(sample) // 20:
        return "not a text file (it holds binary data)"
    return None


def _check_text(path: Path, head: bytes) -> None:
    """A usage error for a file that is not text (see :func:`not_text`)."""
    why = not_text(head)
    if why is not None:
        raise UsageError(f"{path}: {why}" + (": expected tab-separated text" if why.startswith("not a text") else ""))


def iter_lines(path: Path, open_end: Callable[[int], None] | None = None) -> Iterator[tuple[int, str]]:
    """``(line number, text without the line ending)`` for every line of the file.

    Read in blocks of up to 1 MiB, each decoded at once (line by line only when a block is not
    UTF-8). Lines end with LF, CRLF or, in a file with no LF at all, CR (old Mac exports). A UTF-8
    byte-order mark is dropped; a binary or UTF-16 file is a usage error. A last line without a line
    end is given to ``open_end`` (its number) before it is yielded: it may be cut short. A read that
    fails part way (a truncated gzip) raises :class:`DamagedFile` after the last whole line: the
    part of a line read before the damage is never yielded. Each block is one read of the stream
    (``read1``), so a failing read loses no data decompressed before it.
    """
    n = 0
    first = True
    cr_only = False
    with open_binary(path) as fh:
        rest = b""
        while True:
            try:
                block = fh.read1(_CHUNK)
            except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip
                raise DamagedFile(path, n, str(exc) or type(exc).__name__) from None
            if first and block:
                first = False
                _check_text(path, block)
                if block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
                cr_only = b"\n" not in block and b"\r" in block
            if cr_only:
                block = block.replace(b"\r", b"\n")
            if not block:
                break
            block = rest + block
            cut = block.rfind(b"\n")
            if cut < 0:
                rest = block
                continue
            rest = block[cut + 1 :]
            try:
                lines = block[:cut].decode("utf-8").split("\n")
            except UnicodeDecodeError:
                lines = [_decode(raw) for raw in block[:cut].split(b"\n")]
            for text in lines:
                n += 1
                yield n, text[:-1] if text.endswith("\r") else text
        if rest:
            if open_end is not None:
                open_end(n + 1)
            yield n + 1, _decode(rest).rstrip("\r\n")


@dataclass
class Table:
    """A header and an iterator of ``(line number, fields)``; comments before the header kept."""

    path: Path
    header: list[str]
    header_line: int
    comments: list[str]
    rows: Iterator[tuple[int, list[str]]]
    index: dict[str, int] = field(default_factory=dict)
    comment_rows: int = 0  # '#' lines after the header, skipped (counted once the rows are read)
    header_rows: int = 0  # rows that repeat the header (files joined end to end), skipped likewise
    unterminated: int = 0  # the number of a last line with no line end (it may be cut short), once read

    def col(self, *names: str) -> int | None:
        """Index of the first of ``names`` present in the header (exact, then case-insensitive)."""
        for n in names:
            if n in self.index:
                return self.index[n]
        lower = {h.lower(): i for h, i in reversed(list(self.index.items()))}
        for n in names:
            if n.lower() in lower:
                return lower[n.lower()]
        return None

    def require(self, *names: str) -> int:
        i = self.col(*names)
        if i is None:
            close = difflib.get_close_matches(names[0], self.header, n=1, cutoff=0.6)
            raise UsageError(
                f"{self.path}: no {' or '.join(repr(n) for n in names)} column in the header "
                f"(line {self.header_line})",
            ) if not close else UsageError(
                f"{self.path}: no {names[0]!r} column in the header (line {self.header_line}); it has "
                f"{close[0]!r}: if that is the column, rename it {names[0]!r}"
            )
        return i

    def same_name(self, i: int) -> list[int]:
        """Every column (0-based) named as column ``i``, compared without case: more than one means
        that which of them a reader reads would be a guess."""
        name = self.header[i].lower()
        return [j for j, h in enumerate(self.header) if h.lower() == name]


def read_table(path: Path) -> Table:
    """Open ``path`` as a table: leading ``#`` lines are comments, the next line the header.

    Blank lines and ``#`` lines after the header are skipped. Header names are stripped of
    surrounding spaces; a repeated name keeps its first position (a reader that reads such a
    column must refuse it: :meth:`Table.same_name`). A last row with no line end sets
    ``unterminated`` as it is read (it may be cut short). A row that repeats the header
    (two files joined end to end) is a header, not data: it is skipped and counted in
    ``header_rows`` (never a sample named ``Tumor_Sample_Barcode``).
    """
    end: list[int] = []
    lines = iter_lines(path, end.append)
    comments: list[str] = []
    for n, text in lines:
        if text.startswith("#"):
            comments.append(text)
            continue
        if not text.strip():
            continue
        header = [h.strip() for h in text.split("\t")]
        index: dict[str, int] = {}
        for i, h in enumerate(header):
            index.setdefault(h, i)

        def rows(lines=lines, header=header, first=header[0]) -> Iterator[tuple[int, list[str]]]:
            for m, t in lines:
                if not t or t.isspace():
                    continue
                if t[0] == "#":
                    table.comment_rows += 1  # noqa: B023 - runs after `table` is bound; the loop returns with it
                    continue
                if end:
                    table.unterminated = end[0]  # noqa: B023 - as above
                fields = t.split("\t")
                if fields[0].strip() == first and [f.strip() for f in fields] == header:
                    table.header_rows += 1  # noqa: B023 - as above
                    continue
                yield m, fields

        table = Table(path, header, n, comments, rows(), index)
        return table
    raise UsageError(f"{path}: no header row (the file is empty or only comments)")
