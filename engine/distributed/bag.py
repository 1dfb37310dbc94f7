"""Partitioned cohorts as Dask bags: :func:`evaluate_bag` and :func:`evaluate_files`.

Both return a lazy ``dask.bag.Bag`` of output records (the lines ``kras-rules evaluate --format
json`` or ``tsv`` writes, without their line break), one per input record, partition for
partition and in input order, so ``"".join(r + "\\n" for r in bag.compute())`` is the local batch's
output (for TSV, less the header line: :func:`engine.formats.tsv_header`).
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from collections.abc import Iterable, Iterator

import dask
import dask.bag as db

from engine.distributed.worker import (
    Options,
    RuleBasePlugin,
    RuleSource,
    engine_for,
    file_part,
    render_records,
)
from engine.errors import UsageError

PART_LINES = 4096  # JSON Lines per partition of evaluate_files
FORMATS = ("json", "tsv")


def rule_source(engine=None, rules_dir: str | Path | None = None, client=None) -> RuleSource:
    """The :class:`RuleSource` for a rule base, shipping it to the cluster's workers when there is
    a distributed ``client`` (given, or the current one): each worker then holds it once, loaded
    from the client's copy, and the rules directory need not exist on the workers.

    ``engine`` is an already loaded :class:`~engine.api.Engine` (else one is loaded from
    ``rules_dir``, default the shipped rules)."""
    client = client if client is not None else _current_client()
    rdir = str(Path(rules_dir).resolve()) if rules_dir is not None else None
    if client is None:
        if engine is not None and rules_dir is None:
            rd = getattr(engine.rulebase, "directory", None)
            rdir = str(Path(rd).resolve()) if rd is not None else None
        return RuleSource(f"dir:{rdir}", rdir)
    if engine is None:
        from engine.api import Engine

        engine = Engine(rules_dir)
    data = pickle.dumps(engine.rulebase, protocol=pickle.HIGHEST_PROTOCOL)
    key = hashlib.sha256(data).hexdigest()[:16]
    client.register_plugin(RuleBasePlugin(key, data))
    return RuleSource(key, rdir)


def _current_client():
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _options(fmt: str, as_of, backend: str, jurisdiction: str | None = None, engine=None) -> Options:
    if fmt not in FORMATS:
        raise UsageError(f"a bag of records holds json or tsv lines, not '{fmt}'")
    if isinstance(as_of, str):
        import datetime as dt

        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError:
            raise UsageError(f"as_of: not a date '{as_of}' (use YYYY-MM-DD)") from None
    if jurisdiction is not None:
        jurisdiction = engine.jurisdiction(jurisdiction)  # one the rules do not know is refused here
    return Options(fmt, as_of, backend, jurisdiction=jurisdiction)


def _named(part: list, index: int, name: str) -> list:
    """Bag items -> ``(source, payload)``: a ``(source, case)`` pair is kept; a case dict or a raw
    JSON line becomes ``name:PARTITION:ITEM`` (1-based item within its partition)."""
    out = []
    for i, item in enumerate(part, 1):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append(item)
        else:
            out.append((f"{name}:{index}:{i}", item))
    return out


def evaluate_bag(bag: db.Bag, *, engine=None, rules_dir=None, fmt: str = "json", as_of=None,
                 backend: str = "default", client=None, name: str = "<bag>", jurisdiction: str | None = None) -> db.Bag:
    """Evaluate a bag of cases: each item a case dict, a raw JSON line, or a ``(source, case)``
    pair (``source`` names the record in error records and, for a case without ``id``, is its id).
    Returns a bag of output records, one per item, in the same partitions and order.
    ``jurisdiction`` (e.g. ``"EMA"``): every case under that regulator's approvals, as
    ``evaluate --jurisdiction``."""
    src = rule_source(engine, rules_dir, client)
    opts = _options(fmt, as_of, backend, jurisdiction, engine or engine_for(src) if jurisdiction else None)
    parts = bag.to_delayed()
    render = dask.delayed(render_records, pure=True)
    named = dask.delayed(_named, pure=True)
    out = [render(src, opts, named(p, i, name)) for i, p in enumerate(parts)]
    return db.from_delayed(out)


def partitions(files: Iterable[str], lines: int = PART_LINES) -> list[tuple]:
    """How :func:`evaluate_files` cuts its input: a plain ``.jsonl`` file into byte ranges of
    ``lines`` lines (``("lines", path, name, start, end, first_line)``, read on a worker), any other
    input (a JSON document or array, gzip, a UTF-16 file) whole (``("whole", path, name)``, read
    on a worker exactly as the local batch reads it), and a folder's entry that is not read
    (``("entry", path, name, why)``: its error record)."""
    from engine.streams.inputs import FolderEntry, expand_paths

    out: list[tuple] = []
    for f in expand_paths(list(files)):
        if f == "-":
            raise UsageError("evaluate_files reads files the workers can open; use evaluate_bag for other input")
        if isinstance(f, FolderEntry):  # (a sub-folder, a pipe, a device: its error record, nothing opened)
            out.append(("entry", str(f), str(f), f.why))
            continue
        p = Path(f)
        path = str(p.resolve()) if p.exists() else f
        if not p.name.endswith(".jsonl") or not p.is_file() or _not_text(p):
            out.append(("whole", path, f))
            continue
        out.extend(("lines", path, f, start, end, first) for start, end, first in _cut(p, lines))
    return out


def _not_text(p: Path) -> bool:
    from engine.streams.inputs import MAX_RECORD_BYTES, not_text_head

    with p.open("rb") as fh:
        return not_text_head(fh.readline(MAX_RECORD_BYTES + 1)[:4])


def _cut(p: Path, lines: int, block: int = 1 << 20) -> Iterator[tuple[int, int, int]]:
    """``(start, end, first line)`` of consecutive runs of ``lines`` lines (``\\n``-terminated, as
    the batch reads them), read a block at a time: memory does not grow with the file."""
    start = pos = 0
    first = 1
    count = 0  # line breaks since start
    with p.open("rb") as fh:
        while True:
            data = fh.read(block)
            if not data:
                break
            i = 0
            while True:
                need = lines - count
                j = i - 1
                for _ in range(need):
                    j = data.find(b"\n", j + 1)
                    if j < 0:
                        break
                if j < 0:
                    count += data.count(b"\n", i)
                    break
                end = pos + j + 1
                yield start, end, first
                first += lines
                start, count, i = end, 0, j + 1
            pos += len(data)
    if pos > start:
        yield start, pos, first


def evaluate_files(files: Iterable[str], *, engine=None, rules_dir=None, fmt: str = "json", as_of=None,
                   backend: str = "default", client=None, lines: int = PART_LINES,
                   jurisdiction: str | None = None) -> db.Bag:
    """Evaluate case files (JSON Lines, JSON documents or arrays; directories expand to their
    ``*.json``/``*.jsonl`` files) as a bag of output records in input order. JSON Lines files are
    cut into partitions of about ``lines`` lines, each read and evaluated on a worker: every path
    must be readable by every worker at the same location (a shared file system). ``jurisdiction``:
    as for :func:`evaluate_bag`."""
    src = rule_source(engine, rules_dir, client)
    opts = _options(fmt, as_of, backend, jurisdiction, engine or engine_for(src) if jurisdiction else None)
    task = dask.delayed(file_part, pure=True)
    return db.from_delayed([task(src, opts, part) for part in partitions(files, lines)])
