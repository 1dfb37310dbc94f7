"""Reading tab-separated files as they come: plain or gzip, ``#`` comment lines, a header row.

Lines are decoded as UTF-8, falling back to Latin-1 for a line that is not (TCGA clinical tables
carry a few such bytes). Every row keeps its 1-based line number so that a problem can be reported
as ``file:line``.
"""
from __future__ import annotations

import difflib
import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from engine.errors import UsageError

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "."})


def is_missing(value: str) -> bool:
    """Empty, ``NA``-like, or a TCGA bracketed marker such as ``[Not Available]``."""
    v = value.strip()
    return v.lower() in MISSING or (v.startswith("[") and v.endswith("]"))


def open_binary(path: Path) -> BinaryIO:
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
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads as a binary file
    return fh


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_CHUNK = 1 << 20


def _check_text(path: Path, head: bytes) -> None:
    """A usage error for a file that is not text: UTF-16, or binary (NUL or many control bytes)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 8 and head[1:8:2] == b"\x00" * 4) \
            or (len(head) >= 8 and head[0:8:2] == b"\x00" * 4):
        raise UsageError(f"{path}: the file is UTF-16 (or UTF-32) encoded: save it as UTF-8")
    sample = head[:4096]
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if b"\x00" in sample or control > len(sample) // 20:
        raise UsageError(f"{path}: not a text file (it holds binary data): expected tab-separated text")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text without the line ending)`` for every line of the file.

    Read in 1 MiB blocks, each decoded at once (line by line only when a block is not UTF-8).
    Lines end with LF, CRLF or, in a file with no LF at all, CR (old Mac exports). A UTF-8
    byte-order mark is dropped; a binary or UTF-16 file is a usage error.
    """
    n = 0
    first = True
    cr_only = False
    with open_binary(path) as fh:
        rest = b""
        while True:
            try:
                block = fh.read(_CHUNK)
            except (OSError, EOFError) as exc:  # truncated or corrupt gzip
                raise UsageError(f"cannot read {path}: {exc}") from None
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


def read_table(path: Path) -> Table:
    """Open ``path`` as a table: leading ``#`` lines are comments, the next line the header.

    Blank lines and ``#`` lines after the header are skipped. Header names are stripped of
    surrounding spaces; a repeated name keeps its first position. A row that repeats the header
    (two files joined end to end) is a header, not data: it is skipped and counted in
    ``header_rows`` (never a sample named ``Tumor_Sample_Barcode``).
    """
    lines = iter_lines(path)
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
                fields = t.split("\t")
                if fields[0].strip() == first and [f.strip() for f in fields] == header:
                    table.header_rows += 1  # noqa: B023 - as above
                    continue
                yield m, fields

        table = Table(path, header, n, comments, rows(), index)
        return table
    raise UsageError(f"{path}: no header row (the file is empty or only comments)")
