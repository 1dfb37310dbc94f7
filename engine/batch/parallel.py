"""Batch evaluation on every core, in input order, surviving crashed workers.

:class:`WorkerPool` forks ``jobs`` worker processes (the ``fork`` start method: each inherits the
loaded, compiled engine, nothing is re-loaded or pickled). The parent reads chunks of raw input
records, hands one chunk at a time to each idle worker, and yields each chunk's rendered output
in input order. At most ``window`` chunks are read ahead of the one being written, so memory
stays flat however long the input.

Each worker is given up to :data:`DEPTH` chunks, evaluated one after another in the order given: the
next one is already there when the current one is done, so a worker never waits for the parent
to read, write or wake up (a thread of the worker receives them, so neither side ever blocks
sending to the other). A worker answers a chunk with a small pickled message (counts, stderr
messages, summary, the size of its output) followed by the output bytes themselves, raw, which
the parent reads straight into one buffer (see :func:`_recv_data`). When a worker dies (the durable backend's C core can segfault) the parent
knows which records it held: the first chunk not yet answered is the one it was evaluating, the
others were not started and go back to the queue as they were. It starts a replacement and
retries the records of that chunk one at a time; a record whose own worker dies twice becomes an
error record naming the crash (e.g. ``worker process died (SIGSEGV)``). The other workers carry
on; the batch finishes.

Testing hook: when the environment variable ``KRAS_RULES_TEST_CRASH`` is set in the parent, a
worker kills itself with SIGSEGV on every raw input line containing its value (with
``KRAS_RULES_TEST_CRASH_ONCE=FILE`` only the first time, creating FILE). The variable is read once
when a worker starts; without it the workers run the plain loop.
"""
from __future__ import annotations

import gc
import multiprocessing as mp
import os
import queue as queues
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from engine.errors import EngineError
from engine.streams.inputs import case_id_of

CRASH_ENV = "KRAS_RULES_TEST_CRASH"
CRASH_ONCE_ENV = "KRAS_RULES_TEST_CRASH_ONCE"
MAX_CRASHES = 2  # a record whose own worker dies this many times is an error record
DEPTH = 2  # chunks given to a worker at once (the one it evaluates and the next)

_PROCESSOR = None  # the parent's Processor, inherited by forked workers


# --------------------------------------------------------------------------- worker side


def _crashing(run, marker: str, once_file: str | None):
    def chunk(items):
        for _, payload in items:
            if isinstance(payload, str) and marker in payload:
                if once_file is None or not os.path.exists(once_file):
                    if once_file is not None:
                        open(once_file, "w").close()
                    import faulthandler

                    faulthandler.disable()  # an injected crash needs no traceback dump
                    os.kill(os.getpid(), signal.SIGSEGV)
        return run(items)

    return chunk


def _worker_main(conn, parent_ends: list) -> None:
    # A forked child holds copies of the parent's ends of every worker pipe, its own included:
    # close them, so that when the parent dies (even by SIGKILL) recv() sees EOF and we exit.
    for c in parent_ends:
        c.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and stops the workers
    proc = _PROCESSOR
    assert proc is not None, "workers are forked inside WorkerPool, which sets the processor"
    proc.take_summary()  # start from zero: the parent's counts are not this worker's
    run = proc.chunk
    marker = os.environ.get(CRASH_ENV)
    if marker:
        run = _crashing(run, marker, os.environ.get(CRASH_ONCE_ENV))
    inbox: queues.SimpleQueue = queues.SimpleQueue()
    out = _socket_of(conn)  # the rendered output goes out on it, after each answer

    def receive() -> None:  # always reading: the parent never blocks sending the next chunk
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                msg = None
            inbox.put(msg)
            if msg is None:
                return

    threading.Thread(target=receive, daemon=True, name="kras-rules-receive").start()
    while True:
        msg = inbox.get()
        if msg is None:
            break
        task_id, items = msg
        try:
            block = run(items)
        except Exception as exc:  # never lose a chunk: each record gets its own error record
            block = proc.block([proc.internal_error(source, exc, payload) for source, payload in items])
        data = block.data
        block.data = b""
        try:  # the answer, then its output bytes as they are (no pickling, no framing: see _recv_data)
            conn.send((task_id, block, len(data), proc.take_summary()))
            if data:
                out.sendall(data)
        except OSError:  # the parent is gone (killed): nothing left to do
            break
    out.detach()
    conn.close()


# --------------------------------------------------------------------------- parent side


@dataclass
class _Task:
    chunk: int
    start: int  # index of the first item within its chunk
    items: list
    crashes: int = 0


@dataclass
class _Chunk:
    left: int  # records not yet back
    blocks: dict = field(default_factory=dict)  # index of the first record -> Block
    summaries: list = field(default_factory=list)


class _Worker:
    def __init__(self, ctx, others: list):
        self.conn, child = ctx.Pipe(duplex=True)
        for end in (self.conn, child):
            _widen(end)
        ends = [self.conn] + [w.conn for w in others]
        self.proc = ctx.Process(target=_worker_main, args=(child, ends), daemon=True, name="kras-rules-worker")
        self.proc.start()
        child.close()
        self.tasks: deque[_Task] = deque()  # given, not yet answered, in the order given

    def stop(self, kill: bool = False) -> None:
        if kill or self.tasks:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.proc.kill()
        self.proc.join(timeout=5)
        if self.proc.is_alive():  # pragma: no cover - a worker stuck in C code
            self.proc.kill()
            self.proc.join()
        self.conn.close()


#: socket buffer asked for each end of a worker's connection: a chunk's rendered output (256
#: JSON results, about 1.5 MB) then crosses in a few reads instead of dozens, without the worker
#: and the parent waking each other for every 200 KB (the system caps it: net.core.wmem_max)
PIPE_BUFFER = 4 << 20


def _widen(conn) -> None:
    """Ask for :data:`PIPE_BUFFER` on a connection's socket, where it is one (a hint: failures
    are ignored)."""
    import socket

    try:
        s = socket.socket(fileno=os.dup(conn.fileno()))
    except OSError:
        return
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIPE_BUFFER)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, PIPE_BUFFER)
    except OSError:
        pass
    finally:
        s.close()


def _socket_of(conn):
    """A socket object on ``conn``'s own descriptor (a ``Pipe(duplex=True)`` end is a Unix
    socket), to send or receive raw bytes beside the connection's pickled messages. It shares the
    descriptor: let go of it with ``detach()``, never ``close()`` (the connection closes it)."""
    import socket

    return socket.socket(fileno=conn.fileno())


def _recv_data(conn, size: int) -> bytearray:
    """The ``size`` bytes of output a worker sends right after its answer, read straight into one
    buffer: ``Connection.recv`` would read them in pieces, join the pieces and copy the bytes out
    of the pickle once more, and the worker would pickle them first (on 500 MB of JSON output,
    about 1.4 CPU-s against 0.15). A worker gone before they all arrive is an ``EOFError``, as
    at any death."""
    buf = bytearray(size)
    view = memoryview(buf)
    sock = _socket_of(conn)
    got = 0
    try:
        while got < size:
            n = sock.recv_into(view[got:])
            if not n:
                raise EOFError
            got += n
    finally:
        sock.detach()
        view.release()
    return buf


def describe_exit(code: int | None) -> str:
    """``-11`` -> ``SIGSEGV``; ``3`` -> ``exit status 3``."""
    if code is None:
        return "unknown exit"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


class WorkerPool:
    """``with WorkerPool(processor, jobs) as pool: for blocks, summary in pool.map(chunks): ...``

    ``processor`` is a :class:`engine.batch.run.Processor`; ``map`` takes an iterable of chunks (lists
    of ``(source, payload)``) and yields, per chunk and in order, its rendered
    :class:`~engine.batch.run.Block` s (one, or one per record after a crash) and the workers'
    summary of that chunk (None without ``--summary``).
    """

    def __init__(self, processor, jobs: int, *, window: int | None = None, messages=None):
        self.processor = processor
        self.jobs = max(1, jobs)
        self.window = window or 4 * self.jobs
        self.messages = messages or sys.stderr
        self.ctx = mp.get_context("fork")
        self.workers: list[_Worker] = []
        self.crashes = 0  # worker deaths seen

    def __enter__(self) -> WorkerPool:
        global _PROCESSOR
        _PROCESSOR = self.processor
        # what is loaded now (the engine) is never garbage: keep the collector out of it, so the
        # forked workers do not copy its pages by walking it
        gc.collect()
        gc.freeze()
        for _ in range(self.jobs):
            self.workers.append(self._spawn())
        return self

    def __exit__(self, *exc) -> None:
        global _PROCESSOR
        for w in self.workers:
            w.stop(kill=exc[0] is not None)
        self.workers = []
        _PROCESSOR = None
        gc.unfreeze()

    def _spawn(self) -> _Worker:
        # a forked child flushes the std streams it inherits: never give it unwritten output
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except (OSError, ValueError):
                pass
        return _Worker(self.ctx, [w for w in self.workers if not w.conn.closed])

    def map(self, blocks: Iterable[list]) -> Iterator[tuple[list, Any]]:
        src = iter(blocks)
        chunks: dict[int, _Chunk] = {}
        queue: deque[_Task] = deque()
        read = written = 0
        exhausted = False
        while True:
            while not exhausted and read - written < self.window:  # read ahead, bounded
                block = next(src, None)
                if block is None:
                    exhausted = True
                elif block:
                    chunks[read] = _Chunk(len(block))
                    queue.append(_Task(read, 0, block))
                    read += 1
            self._feed(chunks, queue)  # work first, so no worker waits while the parent writes
            if written in chunks and chunks[written].left == 0:  # the next chunk in order is done
                c = chunks.pop(written)
                written += 1
                yield [c.blocks[k] for k in sorted(c.blocks)], _merged(c.summaries)
                continue
            if exhausted and not chunks:
                return
            busy = [w for w in self.workers if w.tasks]
            if not busy:
                continue
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
            for w in busy:
                if w.conn not in ready and w.proc.sentinel not in ready:
                    continue
                try:
                    if not w.conn.poll():
                        raise EOFError
                    _, block, size, part = w.conn.recv()
                    if size:
                        block.data = _recv_data(w.conn, size)
                except (EOFError, OSError):
                    self._died(w, chunks, queue)
                    continue
                task = w.tasks.popleft()  # answers come in the order the chunks were given
                c = chunks[task.chunk]
                c.blocks[task.start] = block
                c.left -= block.records
                if part is not None:
                    c.summaries.append(part)
                if queue:  # straight back to work
                    self._feed(chunks, queue)

    def _feed(self, chunks: dict[int, _Chunk], queue: deque) -> None:
        """Give queued chunks to the workers holding fewer than :data:`DEPTH`, fewest first."""
        while queue:
            w = min(self.workers, key=lambda w: len(w.tasks))
            if len(w.tasks) >= DEPTH:
                return
            self._assign(w, queue.popleft(), chunks, queue)

    def _assign(self, w: _Worker, task: _Task, chunks: dict[int, _Chunk], queue: deque) -> None:
        try:
            w.conn.send((task.chunk, task.items))
        except OSError:  # the worker is already gone: not this task's fault
            queue.appendleft(task)
            if w.tasks:  # what it held is handled as at any death
                self._died(w, chunks, queue)
            else:
                self._replace(w)
            return
        w.tasks.append(task)

    def _replace(self, w: _Worker) -> None:
        w.proc.join(timeout=5)
        w.conn.close()
        i = self.workers.index(w)
        self.workers[i] = self._spawn()

    def _died(self, w: _Worker, chunks: dict[int, _Chunk], queue: deque) -> None:
        task = w.tasks.popleft()  # only a busy worker's death is reported: the chunk it was evaluating
        queue.extendleft(reversed(w.tasks))  # the others were not started: back to the queue as they were
        w.tasks.clear()
        w.proc.join(timeout=5)
        how = describe_exit(w.proc.exitcode)
        self.crashes += 1
        self._replace(w)
        first, last = task.items[0][0], task.items[-1][0]
        span = first if first == last else f"{first} .. {last}"
        if len(task.items) > 1:
            self._say(f"a worker process died ({how}) evaluating {span}: retrying those {len(task.items)} records one at a time")
            singles = [_Task(task.chunk, task.start + i, [item]) for i, item in enumerate(task.items)]
            queue.extendleft(reversed(singles))
            return
        crashes = task.crashes + 1
        if crashes < MAX_CRASHES:
            self._say(f"a worker process died ({how}) evaluating {span}: retrying it")
            queue.appendleft(_Task(task.chunk, task.start, task.items, crashes))
            return
        self._say(f"a worker process died ({how}) evaluating {span} {crashes} times: recorded as an error")
        source, payload = task.items[0]
        exc = EngineError(f"worker process died ({how}) evaluating this case, {crashes} times: not evaluated",
                          code="worker_crashed")
        block = self.processor.block([self.processor.error(source, exc, case_id_of(payload))])
        c = chunks[task.chunk]
        c.blocks[task.start] = block
        c.left -= 1

    def _say(self, text: str) -> None:
        self.messages.write(f"kras-rules: {text}\n")
        self.messages.flush()


def _merged(parts: list):
    if not parts:
        return None
    first = parts[0]
    for p in parts[1:]:
        first.merge(p)
    return first
