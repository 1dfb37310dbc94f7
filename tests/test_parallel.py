"""The worker pool (engine/batch/parallel.py) on its own: records out in input order, crashed workers
retried and recorded with the messages they give, what a worker inherits from the parent, and the
small helpers (exit descriptions, merged summaries). Crashes come from the KRAS_RULES_TEST_CRASH hook."""
from __future__ import annotations

import io
import json
import os
import signal
import contextlib
import time
from collections import deque
from pathlib import Path

import pytest

from engine.batch import parallel
from engine.batch.run import Processor
from engine.batch.parallel import CRASH_ENV, WorkerPool, describe_exit

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "cases").glob("*.json"))
LINE = CASES[0].read_text().replace("\n", " ")
CASE_ID = json.loads(LINE)["id"]
BAD = LINE.replace('"id": "', '"id": "boom-', 1)


@contextlib.contextmanager
def _one_dead_worker(engine, err):
    """A pool of one worker, killed (its death not yet seen by the pool); its chunk table."""
    with WorkerPool(Processor(engine, "json"), 1, messages=err) as pool:
        w = pool.workers[0]
        w.proc.kill()
        w.proc.join()
        yield pool, w, {0: parallel._Chunk(1), 1: parallel._Chunk(1)}


def _records(blocks) -> list[dict]:
    return [json.loads(l) for b in blocks for l in b.data.decode("utf-8").splitlines()]


def _ids(out) -> list[str]:
    return [r["case_id"] for r in _records(b for blocks, _ in out for b in blocks)]


def _said(err: io.StringIO) -> list[str]:
    return err.getvalue().splitlines()


def test_a_chunk_of_two_with_a_crashing_record_is_split_and_the_record_becomes_an_error(engine, monkeypatch):
    assert BAD != LINE
    monkeypatch.setenv(CRASH_ENV, '"boom-')
    err = io.StringIO()
    with WorkerPool(Processor(engine, "json"), 1, messages=err) as pool:
        out = list(pool.map(iter([[("a:1", LINE), ("a:2", BAD)], [("b:1", LINE)]])))
        assert pool.crashes == 3  # the chunk, then the record alone twice
    assert [[b.records for b in blocks] for blocks, _ in out] == [[1, 1], [1]]
    recs = _records(b for blocks, _ in out for b in blocks)
    assert [r["case_id"] for r in recs] == [CASE_ID, "boom-" + CASE_ID, CASE_ID]
    assert "options" in recs[0] and "options" in recs[2]
    assert recs[1]["code"] == "worker_crashed" and recs[1]["source"] == "a:2"
    assert recs[1]["error"][0]["message"] == "worker process died (SIGSEGV) evaluating this case, 2 times: not evaluated"
    assert _said(err) == [
        "kras-rules: a worker process died (SIGSEGV) evaluating a:1 .. a:2: retrying those 2 records one at a time",
        "kras-rules: a worker process died (SIGSEGV) evaluating a:2: retrying it",
        "kras-rules: a worker process died (SIGSEGV) evaluating a:2 2 times: recorded as an error",
    ]
    assert [(b.records, b.errors) for b in out[0][0]] == [(1, 0), (1, 1)]


@pytest.mark.parametrize(("code", "text"), [
    (-11, "SIGSEGV"), (-9, "SIGKILL"), (-1, "SIGHUP"), (-200, "signal 200"),
    (0, "exit status 0"), (1, "exit status 1"), (3, "exit status 3"), (None, "unknown exit"),
])
def test_describe_exit_names_the_signal_or_the_status(code, text):
    assert describe_exit(code) == text


class _Part:
    def __init__(self, name: str):
        self.names = [name]

    def merge(self, other: _Part) -> _Part:
        self.names += other.names
        return self


def test_merged_summaries_fold_into_the_first_in_order():
    assert parallel._merged([]) is None
    one = _Part("a")
    assert parallel._merged([one]) is one and one.names == ["a"]
    parts = [_Part("a"), _Part("b"), _Part("c")]
    merged = parallel._merged(parts)
    assert merged is parts[0] and merged.names == ["a", "b", "c"]


def test_a_worker_ignores_sigint_and_the_batch_goes_on(engine):
    err = io.StringIO()
    with WorkerPool(Processor(engine, "json"), 2, messages=err) as pool:
        list(pool.map(iter([[("a:1", LINE)], [("a:2", LINE)]])))  # both workers up and idle
        for w in pool.workers:
            os.kill(w.proc.pid, signal.SIGINT)  # ^C reaches the whole process group
        time.sleep(0.2)
        assert all(w.proc.is_alive() for w in pool.workers)
        out = list(pool.map(iter([[("b:1", LINE)], [("b:2", LINE)], [("b:3", BAD)]])))
        assert pool.crashes == 0
    assert _ids(out) == [CASE_ID, CASE_ID, "boom-" + CASE_ID]
    assert err.getvalue() == ""


def test_a_worker_exits_when_the_parent_end_of_its_connection_closes(engine):
    """No process but the parent holds a worker's parent end (not the worker, not a worker forked
    after it): when the parent goes away (closed here), the worker sees the end of its input and exits."""
    with WorkerPool(Processor(engine, "json"), 2, messages=io.StringIO()) as pool:
        first, second = pool.workers
        first.conn.close()
        first.proc.join(timeout=3)
        assert first.proc.exitcode == 0
        assert second.proc.is_alive()


def test_a_chunk_that_fails_as_a_whole_gives_one_internal_error_record_per_record(engine):
    processor = Processor(engine, "json")

    def broken(items):
        raise ZeroDivisionError("boom")

    processor.chunk = broken  # what the forked workers run
    err = io.StringIO()
    with WorkerPool(processor, 1, messages=err) as pool:
        out = list(pool.map(iter([[("a:1", LINE), ("a:2", "{}")], [("b:1", LINE)]])))
        assert pool.crashes == 0
    assert [[(b.records, b.errors) for b in blocks] for blocks, _ in out] == [[(2, 2)], [(1, 1)]]
    recs = _records(b for blocks, _ in out for b in blocks)
    assert [(r["source"], r["case_id"], r["code"]) for r in recs] == [
        ("a:1", CASE_ID, "internal_error"), ("a:2", None, "internal_error"), ("b:1", CASE_ID, "internal_error")]
    assert {r["error"][0]["message"] for r in recs} == {"internal error: ZeroDivisionError: boom"}
    assert [blocks[0].messages for blocks, _ in out] == ["a:1: internal error: ZeroDivisionError: boom\n"
                                                         "a:2: internal error: ZeroDivisionError: boom\n",
                                                         "b:1: internal error: ZeroDivisionError: boom\n"]
    assert err.getvalue() == ""


def test_a_workers_summary_counts_only_its_own_records(engine):
    processor = Processor(engine, "json", summary=True)
    processor.chunk([("p:1", LINE), ("p:2", LINE)])  # counted in the parent before the pool starts
    assert processor.summary.cohorts["p"].cases == 2
    with WorkerPool(processor, 1, messages=io.StringIO()) as pool:
        out = list(pool.map(iter([[("a:1", LINE), ("a:2", BAD)], [("b:1", LINE)]])))
    assert [{k: c.cases for k, c in part.cohorts.items()} for _, part in out] == [{"a": 2}, {"b": 1}]
    assert processor.summary.cohorts["p"].cases == 2  # the parent's own counts are untouched


def test_a_worker_holds_at_most_depth_chunks_at_once(engine):
    with WorkerPool(Processor(engine, "json"), 1, messages=io.StringIO()) as pool:
        held = []
        for blocks, _ in pool.map(iter([[(f"a:{i}", LINE)] for i in range(6)])):
            assert [b.records for b in blocks] == [1]
            held.append(len(pool.workers[0].tasks))
    # when the first chunk is written the next ones were given straight away: DEPTH of them
    assert held[0] == parallel.DEPTH and max(held) == parallel.DEPTH and held[-1] == 0


def test_a_worker_gone_while_idle_is_replaced_without_a_crash(engine):
    err = io.StringIO()
    with WorkerPool(Processor(engine, "json"), 1, messages=err) as pool:
        assert _ids(pool.map(iter([[("a:1", LINE)]]))) == [CASE_ID]
        old = pool.workers[0]
        old.proc.kill()
        old.proc.join()
        out = list(pool.map(iter([[("b:1", LINE)], [("b:2", BAD)], [("b:3", LINE)]])))
        assert pool.workers[0] is not old and pool.workers[0].proc.is_alive() and old.conn.closed
        assert pool.crashes == 0
    assert _ids(out) == [CASE_ID, "boom-" + CASE_ID, CASE_ID]
    assert err.getvalue() == ""


def test_a_send_to_a_dead_worker_that_held_a_chunk_is_its_death(engine):
    """The worker died holding a chunk, and the parent finds out by giving it the next one: the
    chunk it held is the suspect, retried first; the one not sent goes back to the queue after it."""
    err = io.StringIO()
    with _one_dead_worker(engine, err) as (pool, w, chunks):
        w.tasks.append(parallel._Task(0, 0, [("a:1", LINE)]))
        queue: deque = deque()
        pool._assign(w, parallel._Task(1, 0, [("b:1", LINE)]), chunks, queue)
        assert [(t.chunk, t.start, t.items, t.crashes) for t in queue] == [(0, 0, [("a:1", LINE)], 1),
                                                                          (1, 0, [("b:1", LINE)], 0)]
        assert pool.crashes == 1 and pool.workers[0] is not w and pool.workers[0].proc.is_alive()
        assert not w.tasks and w.conn.closed
    assert _said(err) == ["kras-rules: a worker process died (SIGKILL) evaluating a:1: retrying it"]


def test_the_pool_reads_exactly_window_chunks_ahead_of_the_one_written(engine):
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield [(f"x:{pulled}", LINE)]

    for jobs, window, expected in [(1, 3, 3), (2, None, 8)]:  # by default 4 chunks a worker
        pulled = 0
        ahead = []
        with WorkerPool(Processor(engine, "json"), jobs, window=window, messages=io.StringIO()) as pool:
            for done, (blocks, _) in enumerate(pool.map(endless()), 1):
                assert [b.records for b in blocks] == [1]
                ahead.append(pulled - (done - 1))  # read, counting the one written now, and not yet written
                if done == 8:
                    break
        assert ahead == [expected] * 8


def test_an_injected_crash_dumps_no_traceback_even_with_faulthandler_on(engine, monkeypatch, tmp_path):
    """The crash hook switches faulthandler off before it kills its worker: with faulthandler on
    (``python -X faulthandler``, or under pytest) a dump would be written to stderr for each crash."""
    dump = tmp_path / "dump.txt"
    monkeypatch.setenv(CRASH_ENV, '"boom-')
    pid = os.fork()
    if pid == 0:  # a child of our own, so that the faulthandler of this process is left alone
        code = 1
        try:
            import faulthandler

            with open(dump, "w") as fh:
                faulthandler.enable(file=fh)
                with WorkerPool(Processor(engine, "json"), 1, messages=io.StringIO()) as pool:
                    out = _ids(pool.map(iter([[("a:1", BAD)], [("a:2", LINE)]])))
                    code = 0 if out == ["boom-" + CASE_ID, CASE_ID] and pool.crashes == 2 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dump.read_text() == ""


def test_leaving_the_pool_stops_idle_workers_and_kills_busy_ones(engine):
    def endless():
        while True:
            yield [("x:1", LINE)]

    with WorkerPool(Processor(engine, "json"), 1, messages=io.StringIO()) as pool:
        assert _ids(pool.map(iter([[("a:1", LINE)]]))) == [CASE_ID]
        idle = pool.workers[0]
    assert idle.proc.exitcode == 0 and idle.conn.closed  # told to stop: it finished its loop
    with pool:  # and the pool can be entered again, with new workers
        assert _ids(pool.map(iter([[("a:2", LINE)]]))) == [CASE_ID] and pool.workers[0] is not idle
    with WorkerPool(Processor(engine, "json"), 1, messages=io.StringIO()) as pool:
        blocks, _ = next(pool.map(endless()))  # the next chunks are given, never read
        busy = pool.workers[0]
        assert busy.tasks
    assert busy.proc.exitcode == -signal.SIGKILL  # no waiting for chunks nobody will read
    with pytest.raises(ZeroDivisionError):
        with WorkerPool(Processor(engine, "json"), 1, messages=io.StringIO()) as pool:
            failing = pool.workers[0]
            raise ZeroDivisionError
    assert failing.proc.exitcode == -signal.SIGKILL and not pool.workers


def test_a_dead_worker_found_at_a_send_holding_a_record_that_crashed_before_makes_it_an_error(engine):
    """Handing out work, the parent finds a worker dead that held a record which had already
    crashed a worker once: that record is written as an error record into its chunk, and the work
    being handed out goes to the replacement."""
    err = io.StringIO()
    with _one_dead_worker(engine, err) as (pool, w, chunks):
        w.tasks.append(parallel._Task(0, 0, [("a:1", BAD)], crashes=1))
        queue = deque([parallel._Task(1, 0, [("b:1", LINE)])])
        pool._feed(chunks, queue)
        assert chunks[0].left == 0 and list(chunks[0].blocks) == [0]
        rec = json.loads(chunks[0].blocks[0].data)
        assert (rec["source"], rec["case_id"], rec["code"]) == ("a:1", "boom-" + CASE_ID, "worker_crashed")
        assert not queue and [t.chunk for t in pool.workers[0].tasks] == [1] and pool.crashes == 1
    assert _said(err) == ["kras-rules: a worker process died (SIGKILL) evaluating a:1 2 times: recorded as an error"]


def test_a_workers_output_arrives_whole_beside_its_answer():
    """The output bytes cross the connection raw, after the pickled answer: a block larger than
    the socket buffers arrives intact, and bytes cut short by a death are an EOFError (a death),
    never a short record."""
    import multiprocessing as mp
    import threading

    a, b = mp.get_context("fork").Pipe(duplex=True)
    data = os.urandom(9 << 20)

    def send(raw: bytes, answer=None) -> None:
        if answer is not None:
            b.send(answer)
        sock = parallel._socket_of(b)
        sock.sendall(raw)
        sock.detach()  # (it shares the connection's descriptor)

    sender = threading.Thread(target=send, args=(data, ("answer", len(data))))
    sender.start()
    assert a.recv() == ("answer", len(data))
    assert parallel._recv_data(a, len(data)) == data
    sender.join()
    b.send_bytes(b"")  # the connection still frames its messages after raw bytes
    assert a.recv_bytes() == b""
    send(b"half")
    b.close()
    with pytest.raises(EOFError):
        parallel._recv_data(a, 8)
    a.close()


def test_a_worker_dying_while_it_sends_its_output_is_a_death_and_its_records_are_retried(engine, monkeypatch, tmp_path):
    once = tmp_path / "died"
    real = parallel._socket_of

    class Dying:
        def __init__(self, conn):
            self.sock = real(conn)

        def sendall(self, data):  # half the output, then the worker dies (the first time only)
            if not once.exists():
                once.touch()
                self.sock.sendall(data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            self.sock.sendall(data)

        def __getattr__(self, name):
            return getattr(self.sock, name)

    monkeypatch.setattr(parallel, "_socket_of", Dying)
    err = io.StringIO()
    with WorkerPool(Processor(engine, "json"), 1, messages=err) as pool:
        out = list(pool.map(iter([[("a:1", LINE), ("a:2", BAD)], [("a:3", LINE)]])))
        assert pool.crashes == 1
    assert _ids(out) == [CASE_ID, "boom-" + CASE_ID, CASE_ID]
    assert "a worker process died (SIGKILL) evaluating a:1 .. a:2: retrying those 2 records one at a time" in err.getvalue()
