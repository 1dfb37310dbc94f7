"""The worker side of the Dask integration: the rule base loaded once per process, and the tasks.

A Dask worker process keeps one :class:`~engine.api.Engine` per rule base, in a per-process cache
keyed by :class:`RuleSource`. On a distributed cluster, :class:`RuleBasePlugin` (registered by the
client) fills that cache when a worker starts, from the client's already validated rule base
(pickled, so the rules directory need not exist on the workers; the ``engine`` package must be
installed there, at the same version). Without the plugin (a local Dask scheduler, or a worker that
somehow missed it) the first task in a process loads the rule base from ``RuleSource.rules_dir``
(``None``: the rules shipped with the package).

The tasks render records with the local batch's own per-record code
(:class:`engine.batch.run.Processor`), so a record evaluated here is byte for byte the record the local
batch writes for it, result or error record.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import threading
from dataclasses import dataclass
from typing import Any

from distributed import WorkerPlugin

_ENGINES: dict[str, Any] = {}  # RuleSource.key -> Engine, in this process
_LOCK = threading.Lock()  # loading, and the durable backend (one session at a time per process)
_THREAD = threading.local()  # per worker thread: the store of reused records (see processor)
LOADS: list[str] = []  # keys loaded in this process, in order (the tests read it: once per worker)


@dataclass(frozen=True)
class RuleSource:
    """Which rule base to evaluate with: ``key`` names it in the per-process cache; ``rules_dir``
    is where to load it from when no plugin has put it there (None: the shipped rules)."""

    key: str
    rules_dir: str | None = None


@dataclass(frozen=True)
class Options:
    """How to render each record (the ``evaluate`` command's options)."""

    fmt: str = "json"
    as_of: Any = None  # datetime.date or None
    backend: str = "default"
    summary: bool = False
    encoding: str = "utf-8"
    reuse: bool = True  # records reused across cases that read the same (engine.batch.reuse)
    jurisdiction: str | None = None  # every case under this regulator's approvals (Engine.jurisdiction)


def engine_for(src: RuleSource):
    eng = _ENGINES.get(src.key)
    if eng is None:
        with _LOCK:
            eng = _ENGINES.get(src.key)
            if eng is None:
                from engine.api import Engine

                eng = _ENGINES[src.key] = Engine(src.rules_dir)
                LOADS.append(src.key)
                _freeze()
    return eng


def install(key: str, rulebase_pickle: bytes) -> None:
    """Put a pickled rule base into this process's cache under ``key`` (once)."""
    with _LOCK:
        if key in _ENGINES:
            return
        from engine.api import Engine

        _ENGINES[key] = Engine(rulebase=pickle.loads(rulebase_pickle))
        LOADS.append(key)
        _freeze()


def _freeze() -> None:
    """Keep the garbage collector out of the loaded engine (it is never garbage), as the local
    batch does before forking its workers: otherwise every full collection walks it again."""
    import gc

    gc.collect()
    gc.freeze()


class RuleBasePlugin(WorkerPlugin):
    """Loads the client's rule base into every worker process once, when the worker starts (or
    when the plugin is registered, for workers already running)."""

    idempotent = True

    def __init__(self, key: str, rulebase_pickle: bytes):
        self.key = key
        self.data = rulebase_pickle
        self.name = f"kras-rules-{key}"

    def setup(self, worker) -> None:
        install(self.key, self.data)


def loaded() -> list[str]:
    """The rule bases this process has loaded, in order (for tests and diagnostics)."""
    return list(LOADS)


# --------------------------------------------------------------------------- tasks


def processor(src: RuleSource, opts: Options, cohorts: dict[str, str] | None = None):
    """A fresh :class:`engine.batch.run.Processor` over the cached engine (cheap: the engine is the
    expensive part), so concurrent tasks in one worker share nothing mutable."""
    from engine.batch.run import Processor

    p = Processor(engine_for(src), opts.fmt, opts.as_of, opts.backend, opts.summary, reuse=opts.reuse,
                  jurisdiction=opts.jurisdiction)
    if p.reuse is not None:
        # one store per worker thread, kept from task to task (a task is a few hundred cases)
        stores = _THREAD.__dict__.setdefault("stores", {})
        key = (src.key, opts.fmt, opts.as_of, opts.jurisdiction)
        if key not in stores:
            stores.clear()
            stores[key] = p.reuse
        p.reuse = stores[key]
    p.encoding = opts.encoding
    if cohorts:
        p.cohorts = cohorts
    return p


def _one_session(p):
    """The durable backend's lock (one session at a time in a process); nothing for the default."""
    return contextlib.nullcontext() if p.backend == "default" else _LOCK


def _render(p, items) -> list:
    with _one_session(p):
        return [p(s, x) for s, x in items]


def _test_crash(items) -> None:
    """The local batch's crash-injection hook (``KRAS_RULES_TEST_CRASH``, see
    :mod:`engine.batch.parallel`), read in the worker's environment: the worker process kills itself on
    a raw line containing its value."""
    from engine.batch.parallel import CRASH_ENV

    marker = os.environ.get(CRASH_ENV)
    if marker and any(isinstance(x, str) and marker in x for _, x in items):
        import faulthandler
        import signal

        faulthandler.disable()
        os.kill(os.getpid(), signal.SIGSEGV)


def render_chunk(src: RuleSource, opts: Options, items: list, cohorts: dict[str, str] | None = None):
    """``(source, payload)`` records -> ``(Block, Summary | None)``, as a local batch worker
    returns them (:mod:`engine.batch.parallel`)."""
    _test_crash(items)
    p = processor(src, opts, cohorts)
    with _one_session(p):
        block = p.chunk(items)  # (as a local worker: the cases of a group read before evaluating each)
    return block, p.take_summary()


def render_records(src: RuleSource, opts: Options, items: list) -> list[str]:
    """``(source, payload)`` records -> their output lines (without the line break)."""
    p = processor(src, opts)
    return [text[:-1] if text.endswith("\n") else text for text, _, _ in _render(p, items)]


def read_part(path: str, name: str, start: int, end: int, first_line: int) -> list:
    """The JSON Lines records of bytes ``start:end`` of ``path`` (whole lines, the first of them
    line ``first_line`` of the file), read as the local batch reads that file
    (:func:`engine.streams.inputs.read_lines`) and named as it names them (``name:line``)."""
    from engine.streams.inputs import read_lines

    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    stream = io.BytesIO(data)
    if first_line > 1:
        # a blank stand-in for the line before: the checks read_lines makes on a file's first line
        # (a BOM, UTF-16) are made on it, not on this part's first line
        lines = read_lines(stream, name, first_line=b"\n", first_no=first_line - 1)
    else:
        lines = read_lines(stream, name)
    return [(f"{name}:{n}", text) for n, text in lines]


def read_whole(path: str, name: str | None = None) -> list:
    """Every record of one input file, read exactly as the local batch reads it, the sources
    named after ``name`` (the path as the user gave it) rather than ``path``."""
    from engine.batch.run import RawInput

    items = list(RawInput([path]))
    if name is None or name == path:
        return items
    n = len(path)
    return [(name + s[n:] if s.startswith(path) else s, x) for s, x in items]


def file_part(src: RuleSource, opts: Options, part: tuple) -> list[str]:
    """One partition of :func:`engine.distributed.evaluate_files`: read on the worker, rendered."""
    kind, path, name, *span = part
    if kind == "entry":  # a folder's entry that is not read (engine.streams.inputs.FolderEntry): its record
        from engine.errors import CaseError, Problem

        return render_records(src, opts, [(name, CaseError([Problem(span[0])], code="unreadable"))])
    items = read_part(path, name, *span) if kind == "lines" else read_whole(path, name)
    return render_records(src, opts, items)
