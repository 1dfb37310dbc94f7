"""``kras-rules evaluate --dask ADDRESS``: the local batch with its work on a Dask cluster.

:class:`DaskPool` has the interface of the local :class:`engine.batch.parallel.WorkerPool`, so the batch
(:mod:`engine.batch.run`) reads the input, writes the output, resumes and summarises exactly as it does
on one machine: only the chunks of records (:data:`engine.batch.run.CHUNK` each, read here, so neither
the input files nor the rules directory need to exist on the workers) are evaluated on the
cluster, by the local batch's own per-record code, and come back in input order, at most a few per
worker in flight, so memory stays flat. The client's rule base is shipped to each worker once
(:class:`~engine.distributed.worker.RuleBasePlugin`).

``ADDRESS`` is a scheduler address (``tcp://host:8786``) or ``local`` / ``local:N`` for a cluster
of N worker processes started on this machine for the run (default: one per core).

A chunk whose worker dies is retried one record at a time, each waited for before the next; a
record during which a worker dies twice (each time after Dask's own
``distributed.scheduler.allowed-failures`` retries) becomes an error record naming the crash.
"""
from __future__ import annotations

import sys
from collections import deque
from typing import Any
from collections.abc import Iterable, Iterator

from engine.errors import EngineError, UsageError


def connect(address: str):
    """A ``distributed.Client`` for ``address``, and the local cluster to close after (or None)."""
    try:
        import dask.bag  # noqa: F401  (what the cluster's work is written in)
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--dask needs Dask: pip install 'kras-rules[dask]'") from None
    if address == "local" or address.startswith("local:"):
        from engine.batch.run import default_jobs

        n = address.partition(":")[2]
        try:
            workers = int(n) if n else default_jobs()
        except ValueError:
            raise UsageError(f"--dask local:N needs a number of workers, not '{n}'") from None
        if workers < 1:
            raise UsageError(f"--dask local:N needs at least one worker, not {workers}")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40)
        return Client(cluster), cluster
    try:
        return Client(address, timeout=30), None
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at '{address}': {exc}") from None
    except ValueError as exc:  # an address Dask cannot parse (no port, no host)
        raise UsageError(f"--dask: '{address}' is not a scheduler address ({exc}); give tcp://HOST:PORT, "
                         "or local[:N] for a cluster on this machine") from None


class DaskPool:
    """``with DaskPool(processor, address) as pool: for blocks, summary in pool.map(chunks): ...``
    (the interface of :class:`engine.batch.parallel.WorkerPool`)."""

    def __init__(self, processor, address: str, *, window: int | None = None, messages=None):
        self.processor = processor
        self.address = address
        self.window = window
        self.messages = messages or sys.stderr
        self.client: Any = None  # a distributed.Client (and its LocalCluster, if any) while open
        self.cluster: Any = None
        self.crashes = 0

    def __enter__(self) -> DaskPool:
        p = self.processor
        self.client, self.cluster = connect(self.address)  # (first: Dask not installed is its usage error)
        from engine.distributed.bag import rule_source
        from engine.distributed.worker import Options

        try:
            self.source = rule_source(p.engine, None, self.client)
            self.options = Options(p.fmt, p.as_of, p.backend, p.want_summary, p.encoding, p.reuse is not None,
                                   p.jurisdiction)
            if self.window is None:
                workers = len(self.client.scheduler_info().get("workers", {}))
                self.window = 4 * max(1, workers)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def _submit(self, items: list):
        from engine.distributed.worker import render_chunk

        return self.client.submit(render_chunk, self.source, self.options, items, self.processor.cohorts, pure=False)

    def map(self, blocks: Iterable[list]) -> Iterator[tuple[list, Any]]:
        window = self.window
        assert window is not None  # set by __enter__
        pending: deque = deque()
        try:
            for chunk in blocks:
                if not chunk:
                    continue
                pending.append((chunk, self._submit(chunk)))
                while len(pending) >= window:
                    yield self._collect(*pending.popleft())
            while pending:
                yield self._collect(*pending.popleft())
        finally:
            for _, fut in pending:
                fut.cancel()

    def _collect(self, chunk: list, fut) -> tuple[list, Any]:
        """The blocks of one chunk and its summary. A chunk whose worker died is retried one record
        at a time, each waited for before the next, so a record that kills its worker takes no
        other single record with it."""
        from distributed.scheduler import KilledWorker

        try:
            block, part = fut.result()
            return [block], part
        except KilledWorker:
            pass
        from engine.batch.parallel import MAX_CRASHES

        self.crashes += 1
        first, last = chunk[0][0], chunk[-1][0]
        span = first if first == last else f"{first} .. {last}"
        if len(chunk) > 1:
            self._say(f"a Dask worker died evaluating {span}: retrying those {len(chunk)} records one at a time")
        blocks, parts = [], []
        for item in chunk:
            for crashes in range(1, MAX_CRASHES + 1):
                try:
                    block, part = self._submit([item]).result()
                    break
                except KilledWorker:
                    self.crashes += 1
                    if crashes < MAX_CRASHES:
                        self._say(f"a Dask worker died evaluating {item[0]}: retrying it")
            else:
                block, part = self._crashed(item)
            blocks.append(block)
            if part is not None:
                parts.append(part)
        summary = parts[0] if parts else None
        for s in parts[1:]:
            parts[0].merge(s)  # (the summary)
        return blocks, summary

    def _crashed(self, item) -> tuple:
        from engine.streams.inputs import case_id_of
        from engine.batch.parallel import MAX_CRASHES

        source, payload = item
        self._say(f"a Dask worker died evaluating {source} {MAX_CRASHES} times: recorded as an error")
        p = self.processor
        exc = EngineError(f"worker process died evaluating this case, {MAX_CRASHES} times: not evaluated",
                          code="worker_crashed")
        block = p.block([p.error(source, exc, case_id_of(payload))])  # counted into the run's summary
        return block, None

    def _say(self, text: str) -> None:
        self.messages.write(f"kras-rules: {text}\n")
        self.messages.flush()
