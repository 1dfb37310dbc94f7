"""The durable-rules host layer (``engine/durable/safe_host.py``) against durable-rules' hazards.

Each hazard has a control test showing what bare durable-rules 2.0.28 does, and tests showing
that the layer avoids it. Anything that can crash the interpreter runs in a subprocess, so a
segmentation fault fails one test instead of killing pytest.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections import Counter
from itertools import permutations
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

pytest.importorskip("durable", reason="durable-rules is not installed (pip install '.[durable]')")

from durable import engine as durable_engine  # noqa: E402

from engine.durable import safe_host as backend  # noqa: E402
from engine.durable.safe_host import (  # noqa: E402
    DurableActionError,
    DurableBackendError,
    match,
    one_of,
    register_ruleset,
    run_session,
)
from engine.errors import RuleError, UsageError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEGFAULT = -signal.SIGSEGV


def run_python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def assert_clean_exit(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (
        f"exit code {proc.returncode} (SIGSEGV is {SEGFAULT})\n{proc.stdout}\n{proc.stderr}"
    )


# A bare durable host for the control experiments (timers off so they stay deterministic).
BARE_DURABLE = """
    import threading
    from durable import engine
    class Bare(engine.Host):
        def _run(self):
            pass
    fired = []
    def record(name):
        def action(c):
            fired.append(name)
        return action
"""

PAIR_RULES = {
    "pair": {"all": [{"a": match(kind="atom", name="a1", value="T")},
                     {"b": match(kind="atom", name="a2", value="T")}]},
}


def atom(name: str, value: str = "T") -> dict:
    return {"kind": "atom", "name": name, "value": value}


# --- delete_state on a session where no action fired -------------------------------------------
def test_bare_durable_segfaults_deleting_a_session_where_nothing_fired():
    proc = run_python(BARE_DURABLE + """
    h = Bare()
    h.register_rulesets({"rs": {"pair": {"all": [{"m": {"t": "a"}}, {"n": {"t": "b"}}],
                                         "run": record("pair")}}})
    h.assert_facts("rs", [{"sid": "1", "t": "a"}])   # half a match: nothing fires
    h.delete_state("rs", "1")
    print("survived")
    """)
    if proc.returncode == 0 and sys.version_info[:2] != (3, 11):
        pytest.skip(f"this durable-rules build survives on Python {sys.version_info[:2]}; "
                    "the crash is seen on 3.11")
    assert proc.returncode == SEGFAULT, (proc.returncode, proc.stdout, proc.stderr)
    assert "survived" not in proc.stdout


def test_sessions_where_no_rule_fires_close_without_crashing():
    proc = run_python("""
    from engine.durable.safe_host import register_ruleset, run_session, match
    rs = register_ruleset({"pair": {"all": [{"a": match(t="a")}, {"b": match(t="b")}]}},
                          label="nofire")
    for i in range(1500):
        assert run_session(rs, [{"t": "a", "i": i}]).firings == ()   # half a match
        assert run_session(rs, []).firings == ()                        # no facts at all
        assert run_session(rs, [{"unrelated": i}]).firings == ()        # matches no rule
    print("ok")
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "ok"


def test_state_is_deleted_only_after_the_catch_all_rule_fired(monkeypatch):
    rs = register_ruleset(PAIR_RULES, label="pair")
    h = backend.host()
    seen = []
    real_delete = h.delete_state

    def checked_delete(ruleset_name, sid=None):
        seen.append((ruleset_name, sid, backend._current.ended))
        return real_delete(ruleset_name, sid)

    monkeypatch.setattr(h, "delete_state", checked_delete)
    run_session(rs, [atom("a1")])
    run_session(rs, [])
    assert [(name, ended) for name, _, ended in seen] == [(rs.name, True), (rs.name, True)]
    assert seen[0][1] != seen[1][1]  # a fresh session id each time


# --- several live sessions ---------------------------------------------------------------------
def test_bare_durable_refuses_the_1025th_live_session():
    proc = run_python(BARE_DURABLE + """
    h = Bare()
    h.register_rulesets({"rs": {"r": {"all": [{"m": {"t": "a"}}], "run": record("r")}}})
    live = 0
    try:
        while live < 5000:
            h.assert_facts("rs", [{"sid": str(live), "t": "a"}])
            live += 1
    except MemoryError:
        print("MemoryError after", live)
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "MemoryError after 1024"


def test_at_most_one_session_is_live_even_across_threads(monkeypatch):
    rulesets = [register_ruleset(PAIR_RULES, label="pair"),
                register_ruleset({"solo": {"all": [{"m": match(kind="atom", value="T")}]}},
                                 label="solo")]
    h = backend.host()
    live: set[tuple[str, str]] = set()
    peak = [0]
    calls = Counter()
    guard = threading.Lock()

    def tracking(method_name):
        real = getattr(h, method_name)

        def wrapper(ruleset_name, payload, *rest):
            items = payload if isinstance(payload, list) else [payload]
            with guard:
                for item in items:
                    live.add((ruleset_name, item["sid"]))
                peak[0] = max(peak[0], len(live))
                calls[method_name] += 1
            return real(ruleset_name, payload, *rest)
        return wrapper

    real_delete = h.delete_state

    def tracking_delete(ruleset_name, sid=None):
        with guard:
            live.discard((ruleset_name, sid))
            calls["delete_state"] += 1
        return real_delete(ruleset_name, sid)

    for name in ("assert_facts", "post_batch", "post"):
        monkeypatch.setattr(h, name, tracking(name))
    monkeypatch.setattr(h, "delete_state", tracking_delete)

    failures = []
    per_thread = 150

    def worker(k: int) -> None:
        try:
            for i in range(per_thread):
                mine = f"t{k}-{i}"
                pair = run_session(rulesets[0], [atom("a1"), atom("a2"), atom(mine)])
                solo = run_session(rulesets[1], [atom(mine), atom(mine, "F")],
                                   events=[{"kind": "tick", "n": i}])
                # no cross-talk: each session sees exactly its own facts
                assert pair.fired_rules == {"pair"} and len(pair.firings) == 1
                assert [f.facts["m"]["name"] for f in solo.firings] == [mine]
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert peak[0] == 1
    assert live == set()
    assert calls["delete_state"] == 4 * per_thread * 2


def test_many_threads_and_thousands_of_sessions_do_not_crash():
    proc = run_python("""
    import threading
    from engine.durable.safe_host import register_ruleset, run_session, match
    a = register_ruleset({"pair": {"all": [{"a": match(t="a")}, {"b": match(t="b")}],
                                   "assert": [{"t": "c"}]},
                          "chain": {"all": [{"c": match(t="c")}]}}, label="a")
    b = register_ruleset({"solo": {"all": [{"m": match(t="a")}]}}, label="b")
    errors = []
    def worker(k):
        try:
            for i in range(1500):
                r = run_session(a, [{"t": "a", "k": k}, {"t": "b", "i": i}])
                assert r.fired_rules == {"pair", "chain"}, r
                assert run_session(b, [{"t": "b"}]).firings == ()
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("errors", errors)
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "errors []"


def test_a_session_cannot_start_inside_another():
    rs = register_ruleset(PAIR_RULES, label="pair")

    def nested(rule, matched):
        run_session(rs, [atom("a1")])

    with pytest.raises(DurableActionError) as info:
        run_session(rs, [atom("a1"), atom("a2")], on_fire=nested)
    assert info.value.rule == "pair"
    assert isinstance(info.value.error, UsageError)
    assert "inside a running session" in str(info.value.error)
    assert run_session(rs, [atom("a1"), atom("a2")]).fired_rules == {"pair"}  # still usable


# --- timer threads -----------------------------------------------------------------------------
def test_bare_durable_host_starts_timer_threads_that_run_actions_on_their_own_thread():
    proc = run_python("""
    import threading, time
    from durable import engine
    fired_on = []
    h = engine.Host()
    h.register_rulesets({"rs": {"r": {"all": [{"m": {"t": "a"}}],
                                      "run": lambda c: fired_on.append(threading.current_thread().name)}}})
    timers = sum(isinstance(t, threading.Timer) for t in threading.enumerate())
    try:   # one fact matches, one does not: durable raises and leaves the action queued
        h.assert_facts("rs", [{"sid": "1", "t": "a"}, {"sid": "1", "t": "zzz"}])
    except engine.MessageNotHandledException:
        pass
    before = list(fired_on)
    time.sleep(1.0)
    print(timers, before, fired_on, threading.current_thread().name)
    """)
    assert_clean_exit(proc)
    timers, before, after, main = proc.stdout.strip().split(" ", 3)
    assert int(timers) >= 1
    assert before == "[]"
    assert "Thread-" in after and main not in after  # the timer thread ran the action


def test_private_host_starts_no_threads_and_is_not_durables_global_host():
    proc = run_python("""
    import sys, threading, time
    baseline = {t.ident for t in threading.enumerate()}
    from engine.durable import safe_host as b
    h = b.host()
    assert h is b.host()
    rs = b.register_ruleset({"r": {"all": [{"m": {"t": "a"}}]}}, label="quiet")
    for _ in range(50):
        b.run_session(rs, [{"t": "a"}], events=[{"t": "a"}])
    time.sleep(0.6)   # durable's timers would have fired at 0.1 s and rescheduled
    extra = [t for t in threading.enumerate() if t.ident not in baseline]
    print(extra, hasattr(h, "_d_timer"), hasattr(h, "_t_timer"), "durable.lang" in sys.modules)
    """)
    assert_clean_exit(proc)
    assert proc.stdout.split() == ["[]", "False", "False", "False"]


def test_actions_run_on_the_thread_that_runs_the_session():
    rs = register_ruleset(PAIR_RULES, label="pair")
    seen = {}

    def worker():
        run_session(rs, [atom("a1"), atom("a2")],
                    on_fire=lambda rule, m: seen.setdefault(rule, threading.get_ident()))
        seen["caller"] = threading.get_ident()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["pair"] == seen["caller"] != threading.get_ident()


def test_host_is_created_once_even_when_many_threads_ask_at_once(monkeypatch):
    monkeypatch.setattr(backend, "_HOST", None)
    made = []
    barrier = threading.Barrier(8)

    def ask():
        barrier.wait()
        made.append(backend.host())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(h) for h in made}) == 1
    assert isinstance(made[0], durable_engine.Host)


# --- ruleset names -----------------------------------------------------------------------------
def test_bare_durable_refuses_a_ruleset_name_twice():
    h = durable_engine.Host.__new__(durable_engine.Host)  # no __init__: no timers
    h._ruleset_directory, h._ruleset_list = {}, []
    for attr in ("store_message_callback", "delete_message_callback", "queue_message_callback",
                 "get_stored_messages_callback", "get_queued_messages_callback",
                 "get_idle_state_callback"):
        setattr(h, attr, None)
    rules = lambda: {"same": {"r": {"all": [{"m": {"t": "a"}}], "run": lambda c: None}}}  # noqa: E731
    h.register_rulesets(rules())
    with pytest.raises(Exception, match="already registered"):
        h.register_rulesets(rules())


def test_registering_again_is_safe_and_reuses_identical_definitions():
    first = register_ruleset(PAIR_RULES, label="pair")
    again = register_ruleset(PAIR_RULES, label="reload")
    other = register_ruleset({"pair": {"all": [{"a": match(kind="atom", name="a1", value="F")}]}},
                             label="pair")
    assert again is first
    assert other.name != first.name
    assert first.name.startswith("pair-") and other.name.startswith("pair-")
    assert run_session(other, [atom("a1", "F")]).fired_rules == {"pair"}
    assert run_session(first, [atom("a1", "F")]).firings == ()


# --- exceptions in actions ---------------------------------------------------------------------
def test_bare_durable_swallows_an_exception_raised_in_an_action():
    proc = run_python(BARE_DURABLE + """
    h = Bare()
    def boom(c):
        raise ValueError("boom")
    h.register_rulesets({"rs": {"r": {"all": [{"m": {"t": "a"}}], "run": boom}}})
    state = h.assert_facts("rs", [{"sid": "1", "t": "a"}])   # no exception reaches the caller
    print("exception" in h.get_state("rs", "1"), "boom" in h.get_state("rs", "1")["exception"])
    h.delete_state("rs", "1")
    """)
    assert_clean_exit(proc)
    assert proc.stdout.split() == ["True", "True"]


def test_an_exception_in_a_firing_is_raised_with_the_rule_name():
    rs = register_ruleset(PAIR_RULES, label="pair")

    def boom(rule, matched):
        raise ValueError(f"bad {matched['a']['name']}")

    with pytest.raises(DurableActionError) as info:
        run_session(rs, [atom("a1"), atom("a2")], on_fire=boom)
    assert info.value.rule == "pair"
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value) == "pair: action raised ValueError: bad a1"
    assert run_session(rs, [atom("a1"), atom("a2")]).fired_rules == {"pair"}


def test_a_failure_inside_durable_during_an_action_is_raised(monkeypatch):
    rs = register_ruleset({"derive": {"all": [{"m": match(kind="atom", name="a1")}],
                                      "assert": [{"kind": "node", "name": "n1"}]}}, label="derive")

    def broken(self, fact):
        raise RuntimeError("engine failure")

    monkeypatch.setattr(durable_engine.Closure, "assert_fact", broken)
    with pytest.raises(DurableActionError, match="RuntimeError: engine failure"):
        run_session(rs, [atom("a1")])
    monkeypatch.undo()
    assert run_session(rs, [atom("a1")]).derived == ({"kind": "node", "name": "n1"},)


def test_durable_failing_before_anything_fired_still_closes_the_session(monkeypatch):
    rs = register_ruleset(PAIR_RULES, label="pair")
    h = backend.host()
    deleted = []
    real_delete = h.delete_state

    def failing_assert(ruleset_name, facts, complete=None):
        raise RuntimeError("could not assert")

    def delete(ruleset_name, sid=None):
        deleted.append(backend._current.ended)
        return real_delete(ruleset_name, sid)

    monkeypatch.setattr(h, "assert_facts", failing_assert)
    monkeypatch.setattr(h, "delete_state", delete)
    with pytest.raises(DurableBackendError, match="could not assert"):
        run_session(rs, [atom("a1"), atom("a2")])
    assert deleted == [True]   # the recovery sentinel fired, then the state was deleted
    monkeypatch.undo()
    assert run_session(rs, [atom("a1"), atom("a2")]).fired_rules == {"pair"}


# --- no $in operator, multi-field objects, 'any' rules ----------------------------------------
def test_bare_durable_has_no_in_operator():
    proc = run_python(BARE_DURABLE + """
    try:
        Bare().register_rulesets({"rs": {"r": {"all": [{"m": {"$in": {"v": ["a", "b"]}}}],
                                                "run": record("r")}}})
        print("registered")
    except Exception as exc:
        print(exc)
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "Could not create ruleset, error code: 202"


def test_in_operator_is_a_rule_error_pointing_at_one_of():
    with pytest.raises(RuleError) as info:
        register_ruleset({"r1": {"all": [{"m": {"$in": {"v": ["a", "b"]}}}]}}, source="demo.json")
    assert str(info.value) == (
        "demo.json: r1.all[0].m.$in: unknown operator '$in' "
        "(durable-rules has none: use one_of(), an $or of equalities)"
    )


def test_one_of_matches_any_listed_value_and_nothing_else():
    rs = register_ruleset({"r": {"all": [{"m": {"$and": [{"kind": "atom"},
                                                        one_of("value", ["T", "U"])]}}]}},
                          label="oneof")
    result = run_session(rs, [atom("x", "T"), atom("y", "U"), atom("z", "F")])
    assert sorted(f.facts["m"]["name"] for f in result.firings) == ["x", "y"]


def test_bare_durable_tests_only_one_field_of_a_multi_field_object():
    proc = run_python(BARE_DURABLE + """
    h = Bare()
    h.register_rulesets({"rs": {"r": {"all": [{"m": {"t": "a", "v": "T"}}], "run": record("r")}}})
    h.assert_facts("rs", [{"sid": "1", "t": "a", "v": "F"}])
    print(fired)
    h.delete_state("rs", "1")
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "['r']"   # v == "F" matched v == "T"


def test_multi_field_objects_test_every_field():
    rs = register_ruleset({"r": {"all": [{"m": {"kind": "atom", "value": "T"}}]}}, label="multi")
    assert rs.definition["r"]["all"][0]["m"] == {"$and": [{"kind": "atom"}, {"value": "T"}]}
    assert run_session(rs, [atom("a", "F")]).firings == ()
    assert run_session(rs, [atom("a", "T")]).fired_rules == {"r"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"r": {"all": [{"m": {"$gtee": {"v": 1}}}]}},
         "r.all[0].m.$gtee: unknown operator '$gtee' (did you mean '$gte'?)"),
        ({"r": {"all": [{"m": {"t": "a"}}], "asert": [{"t": "b"}]}},
         "r.asert: unknown key 'asert' (did you mean 'assert'?)"),
        ({"r": {"any": [{"m": {"t": "a"}}]}},
         "r.any: unknown key 'any' (durable fires 'any' once per combination: write one rule per "
         "alternative)\nr.all: 'all' must be a non-empty list of {alias: condition}"),
        ({"r": {"all": [{"m": {"t": True}}]}},
         "r.all[0].m.t: an equality test takes a string or a number, got True"),
        ({"r": {"all": [{"m": {"id": "x"}}]}},
         "r.all[0].m.id: field name 'id' is reserved by durable-rules"),
        ({"r": {"all": [{"first": {"t": "a"}}, {"m": {"k": {"frist": "k"}}}]}},
         "r.all[1].m.k.frist: reference to unknown alias 'frist' (only earlier aliases of the same "
         "rule can be referenced) (did you mean 'first'?)"),
        ({"r": {"all": [{"m": {"t": "a"}}], "assert": [{"t": ["nested"]}]}},
         "r.assert[0].t: a fact's field takes a string or a number, got ['nested']"),
        ({"r": {"all": [{"m": {"v": 1}}]}, "q": {"all": [{"m": {"$lt": {"v": "2"}}}]}},
         "q.all[0].m.$lt.v: field 'v' is a number at r.all[0].m.v but a string here "
         "(durable-rules would compare them loosely)"),
        ({"_kr_end": {"all": [{"m": {"t": "a"}}]}},
         "_kr_end: rule names are non-empty strings not starting with '_kr' or '$'"),
    ],
    ids=["operator-typo", "key-typo", "any-rule", "bool-literal", "reserved-field",
         "alias-typo", "nested-assert", "mixed-types", "reserved-rule-name"],
)
def test_bad_rules_fail_at_registration_with_their_path(rules, message):
    with pytest.raises(RuleError) as info:
        register_ruleset(rules)
    assert str(info.value) == message


# --- facts that match no rule, identical facts, fact identity ---------------------------------
def test_bare_durable_raises_for_a_fact_matching_no_rule_and_half_asserts_the_batch():
    proc = run_python(BARE_DURABLE + """
    h = Bare()
    h.register_rulesets({"rs": {"r": {"all": [{"m": {"t": "a"}}], "run": record("r")}}})
    try:
        h.assert_facts("rs", [{"sid": "1", "t": "zzz"}, {"sid": "1", "t": "a"}])
    except engine.MessageNotHandledException:
        print("not handled", fired, h.get_facts("rs", "1"))
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "not handled [] [{'sid': '1', 't': 'a'}]"


def test_a_fact_matching_no_rule_is_inert():
    rs = register_ruleset(PAIR_RULES, label="pair")
    result = run_session(rs, [{"unrelated": "x"}, atom("a1"), atom("a2"), atom("zzz")])
    assert [f.rule for f in result.firings] == ["pair"]


def test_bare_durable_raises_for_an_identical_fact_and_confuses_string_and_number():
    proc = run_python(BARE_DURABLE + """
    h = Bare()
    h.register_rulesets({"rs": {"r": {"all": [{"m": {"t": "a"}}], "run": record("r")}}})
    outcomes = []
    for batch in ([{"t": "a"}, {"t": "a"}], [{"t": "a", "v": "1"}, {"t": "a", "v": 1}],
                  [{"t": "a", "id": 7, "v": 1}, {"t": "a", "id": 7, "v": 2}]):
        sid = str(len(outcomes))
        try:
            h.assert_facts("rs", [dict(f, sid=sid) for f in batch])
            outcomes.append("ok")
        except engine.MessageObservedException:
            outcomes.append("observed")
        h.post("rs", {"sid": sid, "t": "a", "end": 1})   # fire something before deleting
        h.delete_state("rs", sid)
    print(outcomes)
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "['observed', 'observed', 'observed']"


def test_facts_are_a_set_and_string_and_number_values_stay_distinct_facts():
    rs = register_ruleset({"r": {"all": [{"m": {"kind": "atom"}}]}}, label="set")
    result = run_session(rs, [atom("a"), atom("a"), {"kind": "atom", "v": "1"},
                              {"kind": "atom", "v": 1}])
    assert len(result.firings) == 3


def test_reserved_fields_in_facts_are_usage_errors_with_paths():
    rs = register_ruleset(PAIR_RULES, label="pair")
    with pytest.raises(UsageError) as info:
        run_session(rs, [atom("a1"), {"id": "x", "kind": "atom"}, {"t": True}, {"_kr_end": 1}])
    assert str(info.value) == "\n".join([
        "facts[1].id: field name 'id' is reserved by durable-rules",
        "facts[2].t: a fact's field takes a string or a number, got True",
        "facts[3]._kr_end: field names starting with '_kr' are reserved",
    ])
    assert run_session(rs, [atom("a1"), atom("a2")]).fired_rules == {"pair"}


def test_bare_durable_equality_mixes_strings_and_numbers():
    proc = run_python(BARE_DURABLE + """
    h = Bare()
    h.register_rulesets({"rs": {"str": {"all": [{"m": {"v": "1"}}], "run": record("str")},
                                "true": {"all": [{"m": {"w": True}}], "run": record("true")}}})
    h.assert_facts("rs", [{"sid": "1", "v": 1}, {"sid": "1", "w": "true"}])
    print(sorted(fired))
    h.delete_state("rs", "1")
    """)
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "['str', 'true']"   # 1 == "1" and "true" == True


def test_a_fact_value_of_the_wrong_type_for_its_field_is_a_usage_error():
    rs = register_ruleset({"num": {"all": [{"m": {"v": 1}}]},
                           "str": {"all": [{"m": {"w": "1"}}]}}, label="types")
    with pytest.raises(UsageError) as info:
        run_session(rs, [{"v": "1"}, {"w": 1}])
    assert str(info.value) == "\n".join([
        "facts[0].v: field 'v' is a number at num.all[0].m.v but a string here "
        "(durable-rules would compare them loosely)",
        "facts[1].w: field 'w' is a string at str.all[0].m.w but a number here "
        "(durable-rules would compare them loosely)",
    ])
    # numbers of either Python type, and fields no rule mentions, are free
    assert run_session(rs, [{"v": 1.0}, {"w": "1", "other": 3}, {"other": "x"}]).fired_rules == {
        "num", "str"}


# --- chaining ---------------------------------------------------------------------------------
def test_derived_facts_chain_and_are_derived_once():
    rs = register_ruleset({
        "a1": {"all": [{"m": match(kind="atom", name="a1", value="T")}],
               "assert": [{"kind": "node", "name": "n1", "value": "T"}]},
        "a2": {"all": [{"m": match(kind="atom", name="a2", value="T")}],
               "assert": [{"kind": "node", "name": "n1", "value": "T"}]},   # same fact again
        "n1": {"all": [{"m": match(kind="node", name="n1", value="T")}],
               "assert": [{"kind": "node", "name": "n2", "value": "T"}]},
        "n2": {"all": [{"m": match(kind="node", name="n2", value="T")},
                       {"x": match(kind="atom", name="a2", value="T")}]},
    }, label="chain")
    result = run_session(rs, [atom("a1"), atom("a2")])
    assert Counter(f.rule for f in result.firings) == {"a1": 1, "a2": 1, "n1": 1, "n2": 1}
    assert result.derived == ({"kind": "node", "name": "n1", "value": "T"},
                              {"kind": "node", "name": "n2", "value": "T"})
    # an input fact equal to a derivable one is not derived a second time
    again = run_session(rs, [atom("a1"), {"kind": "node", "name": "n1", "value": "T"}])
    assert Counter(f.rule for f in again.firings) == {"a1": 1, "n1": 1}


def test_events_are_consumed_by_the_first_rule_that_fires_on_them():
    rs = register_ruleset({"r1": {"all": [{"m": {"t": "a"}}]},
                           "r2": {"all": [{"m": {"t": "a"}}]}}, label="events")
    assert len(run_session(rs, events=[{"t": "a"}]).firings) == 1
    assert run_session(rs, facts=[{"t": "a"}]).fired_rules == {"r1", "r2"}


# --- Python 3.12 deprecation warnings ---------------------------------------------------------
def test_firing_emits_no_deprecation_warning():
    assert durable_engine._unix_now is time.time   # the utcfromtimestamp clock is replaced
    rs = register_ruleset(PAIR_RULES, label="pair")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_session(rs, [atom("a1"), atom("a2")]).fired_rules == {"pair"}
    proc = run_python("""
    from engine.durable.safe_host import register_ruleset, run_session
    rs = register_ruleset({"r": {"all": [{"m": {"t": "a"}}]}})
    print(len(run_session(rs, [{"t": "a"}]).firings))
    """, "-W", "error::DeprecationWarning")
    assert_clean_exit(proc)
    assert proc.stdout.strip() == "1"


# --- a reference model: firings are the tuples of distinct matching facts ---------------------
FIELDS = {"k": ["a", "b"], "v": ["T", "F", "U"], "n": [1, 2]}

conditions = st.dictionaries(
    st.sampled_from(sorted(FIELDS)),
    st.sampled_from(["a", "b", "T", "F", "U"]),
    min_size=1, max_size=3,
).map(lambda d: {k: (v if k != "n" else (1 if v in ("a", "T") else 2)) for k, v in d.items()})
facts_st = st.lists(
    st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in FIELDS.items()})
    .filter(bool), max_size=6)
rules_st = st.dictionaries(st.sampled_from(["r1", "r2", "r3"]),
                           st.lists(conditions, min_size=1, max_size=2), min_size=1)


def reference_firings(rules: dict, facts: list[dict]) -> Counter:
    distinct = list({frozenset(f.items()): f for f in facts}.values())
    out = Counter()
    for name, conds in rules.items():
        for combo in permutations(distinct, len(conds)):
            if all(all(fact.get(k) == v for k, v in cond.items())
                   for cond, fact in zip(conds, combo, strict=True)):
                out[name] += 1
    return out


@settings(max_examples=150, deadline=None)
@given(rules=rules_st, facts=facts_st)
@example(rules={"r1": [{"k": "a", "v": "T"}]}, facts=[{"k": "a", "v": "F"}])
@example(rules={"r1": [{"k": "a"}, {"k": "a"}]}, facts=[{"k": "a"}])
@example(rules={"r1": [{"k": "a"}]}, facts=[{"k": "a"}, {"k": "a"}])
def test_firings_equal_the_distinct_fact_tuples_matching_each_rule(rules, facts):
    rs = register_ruleset(
        {name: {"all": [{f"m{i}": cond} for i, cond in enumerate(conds)]}
         for name, conds in rules.items()}, label="prop")
    result = run_session(rs, facts)
    assert Counter(f.rule for f in result.firings) == reference_firings(rules, facts)


# --- many sessions in a row ---------------------------------------------------------------------
# (How many sessions a second is measured by bench/bench.py, not asserted here: a timed assert
# fails on a loaded machine without any defect.)
def test_a_thousand_sessions_in_a_row_each_fire_the_chain_once_and_leave_no_thread():
    rs = register_ruleset({
        "row-a": {"all": [{"m": match(kind="atom", name="a0", value="T")}],
                  "assert": [{"kind": "node", "name": "n0", "value": "T"}]},
        "row-b": {"all": [{"m": match(kind="node", name="n0", value="T")}]},
    }, label="row")
    facts = [{"kind": "atom", "name": f"a{i}", "value": "T"} for i in range(4)]
    run_session(rs, facts)  # the host and its timer threads exist from the first session on
    threads = threading.active_count()
    for i in range(1000):
        fired = Counter(f.rule for f in run_session(rs, facts, matches=False).firings)
        assert fired == Counter({"row-a": 1, "row-b": 1}), f"session {i}: {fired}"
    assert threading.active_count() == threads
    # a session whose facts fire nothing (the delete_state hazard) in between changes nothing
    assert not run_session(rs, [{"kind": "atom", "name": "a0", "value": "F"}]).firings
    assert Counter(f.rule for f in run_session(rs, facts).firings) == Counter({"row-a": 1, "row-b": 1})


def test_durable_reads_and_writes_its_json_through_orjson_and_json_where_orjson_refuses():
    """durable-rules' JSON goes through orjson where installed (the ``fast`` extra), with the
    same values as ``json``; what orjson refuses (a key that is not a string, an integer beyond
    64 bits, text that is not strict JSON) goes to ``json``, as it did."""
    import json

    pytest.importorskip("orjson")
    shim = durable_engine.json
    assert shim is backend._FastJson
    for value in [{"sid": "0", "id": "f1", "name": "kras_g12c", "value": "T", "n": 1.5}, ["a", "é", None, True, 0]]:
        assert shim.loads(shim.dumps(value, ensure_ascii=False)) == value == json.loads(json.dumps(value))
    assert shim.dumps({1: "a"}, ensure_ascii=False) == json.dumps({1: "a"}, ensure_ascii=False)
    assert shim.dumps(2**70) == str(2**70)
    assert shim.loads("[NaN]")[0] != shim.loads("[NaN]")[0]  # (json reads NaN; orjson refuses it)
