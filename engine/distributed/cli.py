"""``kras-rules evaluate --dask ADDRESS``: the local batch's input and output, the work on a cluster.

The input is read here exactly as the local batch reads it (files, directories, standard input,
JSON documents, arrays and JSON Lines, gzip) and sent to the workers in chunks of
:data:`engine.batch.CHUNK` records; the workers render them with the local batch's per-record code
and the chunks come back and are written in input order, at most a few per worker in flight, so
memory stays flat. Neither the input files nor the rules directory need to exist on the workers:
the client's rule base is shipped to each worker once (:class:`RuleBasePlugin`).

``ADDRESS`` is a scheduler address (``tcp://host:8786``) or ``local`` / ``local:N`` for a cluster
of N worker processes started on this machine for the run (default: one per core).

A chunk whose worker dies is retried one record at a time; a record during which a worker dies
twice (each time after Dask's own ``distributed.scheduler.allowed-failures`` retries) becomes an
error record naming the crash.
"""
from __future__ import annotations

import itertools
import sys
from collections import deque
from pathlib import Path
from typing import TextIO

from engine import formats
from engine.batch import CHUNK, RawInput, Processor, Writer, chunks, complete_records, default_jobs
from engine.errors import EngineError, UsageError


def connect(address: str):
    """A ``distributed.Client`` for ``address``, and what to close when done (a local cluster)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--dask needs Dask: pip install 'kras-rules[dask]'") from None
    if address == "local" or address.startswith("local:"):
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


def run_evaluate(args, engine, *, stdin: TextIO | None = None, out: TextIO | None = None,
                 err: TextIO | None = None, client=None) -> int:
    """``evaluate`` on the cluster at ``args.dask`` (or on ``client``): 0 every case evaluated,
    1 some record was an error. The output is the local batch's, byte for byte."""
    fmt = args.format
    err = err or sys.stderr
    output = getattr(args, "output", None)
    resume = bool(getattr(args, "resume", False))
    if resume and not output:
        raise UsageError("resume needs an output file")
    skip = complete_records(Path(output), fmt) if resume else 0
    close = None
    if output:
        close = out = open(output, "a" if resume else "w", encoding="utf-8", newline="\n")
    out = out or sys.stdout
    cluster = None
    try:
        if client is None:
            client, cluster = connect(args.dask)
            own = client
        else:
            own = None
        try:
            return _run(args, engine, client, fmt, skip, stdin, out, err)
        finally:
            if own is not None:
                own.close()
            if cluster is not None:
                cluster.close()
    finally:
        if close is not None:
            close.close()


def _run(args, engine, client, fmt, skip, stdin, out, err) -> int:
    from engine.distributed.bag import rule_source
    from engine.distributed.worker import Options
    from engine.progress import Progress, wanted

    reader = RawInput(args.files, stdin)
    items = iter(reader)
    if skip:
        items = itertools.islice(items, skip, None)
    writer = Writer(out, err, fmt)
    local = Processor(engine, fmt, args.as_of, args.backend, args.summary)  # error records for crashes
    local.cohorts = reader.cohorts
    local.encoding = writer.encoding
    summary = local.take_summary()  # the run's totals; ``local`` counts only crash records
    opts = Options(fmt, args.as_of, args.backend, bool(args.summary), writer.encoding)
    src = rule_source(engine, getattr(args, "rules", None), client)
    progress = Progress(err, total_bytes=reader.total_bytes) if wanted(err, args.no_progress) else None
    if fmt == "tsv" and not skip:
        writer.write_bytes((formats.tsv_header() + "\n").encode(writer.encoding))
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = 4 * workers
    pending: deque = deque()

    def drain_one() -> None:
        chunk, fut = pending.popleft()
        for block, part in _collect(client, src, opts, reader.cohorts, local, chunk, fut):
            writer.write(block)
            if summary is not None and part is not None:
                summary.merge(part)
        if progress is not None:
            progress.update(writer.records, writer.errors, reader.pos)

    try:
        for chunk in chunks(items, CHUNK):
            pending.append((chunk, _submit(client, src, opts, chunk, reader.cohorts)))
            while len(pending) >= window:
                drain_one()
        while pending:
            drain_one()
        writer.flush()
    finally:
        for _, fut in pending:
            fut.cancel()
        if progress is not None:
            progress.close()
    if summary is not None:
        if skip:
            err.write(f"(resumed: the {skip:,} records already in the output are not in this summary)\n")
        err.write(summary.render() + "\n")
    return 1 if writer.errors else 0


def _submit(client, src, opts, chunk, cohorts):
    from engine.distributed.worker import render_chunk

    return client.submit(render_chunk, src, opts, chunk, cohorts, pure=False)


def _collect(client, src, opts, cohorts, local, chunk, fut):
    """The rendered blocks of one chunk, in order. A chunk whose worker died is retried one record
    at a time, each waited for before the next (so a record that kills its worker takes no other
    single record with it); a record during which a worker dies twice becomes an error record."""
    from distributed.scheduler import KilledWorker

    from engine.parallel import MAX_CRASHES, _case_id

    try:
        yield fut.result()
        return
    except KilledWorker:
        pass
    for item in chunk:
        for _ in range(MAX_CRASHES):
            try:
                yield _submit(client, src, opts, [item], cohorts).result()
                break
            except KilledWorker:
                continue
        else:
            source, payload = item
            exc = EngineError(f"worker process died evaluating this case, {MAX_CRASHES} times: not evaluated")
            yield local.block([local.error(source, exc, _case_id(payload))]), local.take_summary()
