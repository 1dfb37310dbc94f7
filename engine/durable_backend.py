"""The optional ``durable`` backend: the rule base run as a durable-rules 2.0.28 ruleset.

Two parts. :class:`DurableBackend` (at the end of this module) compiles a rule base's
:class:`~engine.evaluator.Program` into one durable ruleset and evaluates cases with it, giving
the same :class:`~engine.result.Result` as the default backend; ``Engine.evaluate(case,
backend="durable")`` and ``kras-rules evaluate --backend durable`` use it. Below it, a safe host
layer over durable-rules.

This is the only module of the project that imports :mod:`durable`. durable-rules is
unmaintained (last release 2020) and its C core has sharp edges; the layer wraps it so that the
rest of the engine sees plain data in and plain data out:

* one private :class:`durable.engine.Host` per process (never the module-global host of
  ``durable.lang``), built with the timer threads that ``Host.__init__`` starts switched off, so
  every action runs on the thread that asked for the session;
* rulesets given as JSON-like data (durable's JSON ruleset format, restricted and checked at
  registration, with ``assert`` actions instead of Python code) and registered under a unique
  name derived from their content;
* :func:`run_session`: post one batch of facts (and events), collect which rules fired, delete
  the session's state; one session at a time per host, and something always fires before the
  state is deleted.

Hazards of durable-rules 2.0.28 and how this layer handles them (each one has a test in
``tests/test_durable_hazards.py``):

======================================================  =============================================
hazard                                                  handling
======================================================  =============================================
``delete_state`` of a session in which no action fired  a catch-all rule fires on a sentinel fact
segfaults                                               posted last in every session; state is only
                                                        deleted after it fired
several live sessions at once can crash; more than      one session at a time (a process-wide lock),
1024 live sessions raise ``MemoryError``                its state deleted before the next starts
``Host.__init__`` starts two ``threading.Timer`` loops  the private host class replaces ``_run``, so
that reschedule forever and can run pending actions on  no timer is ever created
their own thread
a ruleset name cannot be registered twice               names are ``<label>-<content hash>-<n>``;
                                                        identical definitions share one ruleset
exceptions raised in actions are swallowed into the     actions catch and record them; the session
session state                                           raises :class:`DurableActionError`
a fact that matches no rule raises                      a never-firing "sink" rule accepts every fact
``MessageNotHandledException`` (and leaves the rest of  (such a fact is inert)
the batch half-asserted)
an identical fact asserted twice raises                 facts are a set: identical input facts
``MessageObservedException``; identity is a content     collapse, a fact already present is not
hash in which ``"1"`` and ``1`` collide, or the fact's  derived again; every fact gets a unique
``id`` field when present                               ``id`` (``id`` and ``sid`` are reserved)
no ``$in`` operator; an unknown operator fails with     operators are checked at registration
"error code: 202"                                       (:class:`RuleError` with a suggestion);
                                                        :func:`one_of` builds the ``$or``
a condition object with several fields tests only one   several fields become an explicit ``$and``
of them
``any`` rules fire once per combination of matches      rejected: write one rule per alternative
equality coerces across types (``"1"`` matches ``1``,   booleans and nested values are rejected;
``"true"`` matches ``true``)                            a field is a string or a number throughout
                                                        the rules (else :class:`RuleError`) and a
                                                        fact of the other type is a
                                                        :class:`UsageError`
Python 3.12: every firing warns (``utcfromtimestamp``)  ``durable.engine._unix_now`` (used only for
                                                        time differences) becomes ``time.time``
======================================================  =============================================

Python 3.13 needs ``CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject`` to build durable-rules.

Semantics kept from durable: a rule fires once for every tuple of *distinct* facts matching its
aliases (one fact never fills two aliases of a rule); facts stay for the whole session, while an
event is consumed by the first rule that fires on it; firing order is durable's agenda order
(lower ``pri`` first) and carries no meaning beyond that.

Example::

    from engine.durable_backend import register_ruleset, run_session, match

    rs = register_ruleset({
        "r1": {"all": [{"m": match(kind="atom", name="a1", value="T")}],
               "assert": [{"kind": "node", "name": "n1", "value": "T"}]},
        "r2": {"all": [{"m": match(kind="node", name="n1", value="T")}]},
    }, label="demo")
    result = run_session(rs, [{"kind": "atom", "name": "a1", "value": "T"}])
    result.fired_rules    # frozenset({'r1', 'r2'})
    result.derived        # ({'kind': 'node', 'name': 'n1', 'value': 'T'},)
"""
from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from engine.errors import EngineError, Problem, RuleError, UsageError, format_path

try:
    from durable import engine as _durable
except ImportError as exc:
    raise UsageError(
        "the durable backend needs durable-rules 2.0.28 (pip install 'kras-rules[durable]')"
    ) from exc

__all__ = [
    "DurableBackend",
    "DurableActionError",
    "DurableBackendError",
    "DurableRuleset",
    "Firing",
    "SessionResult",
    "host",
    "match",
    "one_of",
    "register_ruleset",
    "run_session",
    "benchmark_sessions",
]

# --- durable's wall clock ---------------------------------------------------------------------
# ``durable.engine._unix_now`` builds ``datetime.utcfromtimestamp(0)`` on every firing, which
# warns on Python 3.12. durable only subtracts its results (action leases, timeouts), so the
# plain epoch clock is an exact substitute and also cheaper.
_durable._unix_now = time.time

# --- reserved names ---------------------------------------------------------------------------
_PREFIX = "_kr"                 # rule names and fact fields starting with this are the layer's
_END_FIELD = "_kr_end"          # sentinel fact field, matched by the catch-all rule
_END_RULE = "_kr_end"           # catch-all rule: fires once per session
_SINK_RULE = "_kr_sink"         # accepts every fact, never fires
_NEVER_FIELD = "_kr_never"      # no fact ever has it
_RESERVED_FIELDS = frozenset({"sid", "id"})  # durable's session key and fact identity
_SCALARS = (str, int, float)
_BAD_FIELD_PREFIXES = ("$", _PREFIX)

_COMPARISONS = ("$lt", "$lte", "$gt", "$gte", "$neq")
_EXISTENCE = ("$ex", "$nex")
_BOOLEANS = ("$and", "$or")
_OPERATORS = _COMPARISONS + _EXISTENCE + _BOOLEANS
_RULE_KEYS = ("all", "pri", "assert")


class DurableBackendError(EngineError):
    """durable-rules failed while running a session (the session's state has been cleaned up)."""


class DurableActionError(DurableBackendError):
    """An action (or an ``on_fire`` callback) raised during a session; ``rule`` names the rule."""

    def __init__(self, rule: str, error: BaseException, source: str | None = None):
        self.rule = rule
        self.error = error
        super().__init__(
            [Problem(f"action raised {type(error).__name__}: {error}", (rule,))], source
        )


# --- the private host -------------------------------------------------------------------------
class _QuietHost(_durable.Host):
    """``durable.engine.Host`` without its timer threads.

    ``Host.__init__`` ends with ``self._run()``, which starts two ``threading.Timer`` loops
    (``dispatch_ruleset`` and ``dispatch_timers``) that reschedule themselves every 0.2 s for
    the life of the process and may run queued actions on the timer thread. This engine uses no
    durable timers and runs every action synchronously inside :func:`run_session`, so the loops
    are never started.
    """

    def _run(self) -> None:
        return None


_HOST: _QuietHost | None = None
_HOST_LOCK = threading.Lock()


def host() -> _QuietHost:
    """The process's private durable host (created on first use, never the global one)."""
    global _HOST
    if _HOST is None:
        with _HOST_LOCK:
            if _HOST is None:
                created = _QuietHost()
                for attr in ("_d_timer", "_t_timer"):  # belt and braces: durable's timer handles
                    timer = getattr(created, attr, None)
                    if timer is not None:
                        timer.cancel()
                _HOST = created
    return _HOST


# --- condition builders ----------------------------------------------------------------------
def match(**fields: str | int | float) -> dict:
    """A condition testing every given field for equality: ``{"$and": [{f: v}, ...]}``."""
    if not fields:
        raise UsageError("match() needs at least one field")
    return {"$and": [{k: v} for k, v in fields.items()]}


def one_of(field_name: str, values: Iterable[str | int | float]) -> dict:
    """A condition that ``field_name`` equals one of ``values`` (durable has no ``$in``)."""
    values = list(values)
    if not values:
        raise UsageError("one_of() needs at least one value")
    if len(values) == 1:
        return {field_name: values[0]}
    return {"$or": [{field_name: v} for v in values]}


# --- registration -----------------------------------------------------------------------------
def _suggest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _is_scalar(value: Any) -> bool:
    return type(value) in _SCALARS  # excludes bool, None and containers


def _kind(value: Any) -> str:
    return "string" if type(value) is str else "number"


class _Checker:
    """Collects problems, and the value type (string or number) each field is used with."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.kinds: dict[str, tuple[str, tuple]] = {}   # field -> (kind, path of first use)

    def add(self, message: str, path: tuple, suggestion: str | None = None) -> None:
        self.problems.append(Problem(message, path, suggestion))

    def field_name(self, name: Any, path: tuple) -> bool:
        if not isinstance(name, str) or not name:
            self.add(f"field name must be a non-empty string, got {name!r}", path)
        elif name in _RESERVED_FIELDS:
            self.add(f"field name {name!r} is reserved by durable-rules", path)
        elif name.startswith(_PREFIX):
            self.add(f"field names starting with {_PREFIX!r} are reserved", path)
        elif name.startswith("$") or "." in name:
            self.add(f"field name {name!r} may not start with '$' or contain '.'", path)
        else:
            return True
        return False

    def value(self, name: str, value: Any, path: tuple, what: str) -> None:
        """Check a literal; durable's equality coerces across types, so one type per field."""
        if not _is_scalar(value):
            self.add(f"{what} takes a string or a number, got {value!r}", path)
            return
        kind = _kind(value)
        first = self.kinds.setdefault(name, (kind, path))
        if first[0] != kind:
            self.add(f"field {name!r} is a {first[0]} at {format_path(first[1])} but a {kind} "
                     "here (durable-rules would compare them loosely)", path)

    def condition(self, expr: Any, path: tuple, aliases: tuple[str, ...]) -> Any:
        """Check one condition; return it with multi-key objects made an explicit ``$and``."""
        if not isinstance(expr, dict) or not expr:
            self.add(f"a condition must be a non-empty object, got {expr!r}", path)
            return expr
        if len(expr) > 1:  # durable would silently test only one of the keys
            expr = {"$and": [{k: v} for k, v in expr.items()]}
        (key, value), = expr.items()
        if key in _BOOLEANS:
            if not isinstance(value, list) or not value:
                self.add(f"{key} needs a non-empty list of conditions", path + (key,))
                return expr
            return {key: [self.condition(e, path + (key, i), aliases) for i, e in enumerate(value)]}
        if key in _COMPARISONS or key in _EXISTENCE:
            if not isinstance(value, dict) or len(value) != 1:
                self.add(f"{key} needs an object with exactly one field", path + (key,))
                return expr
            (fname, operand), = value.items()
            if self.field_name(fname, path + (key, fname)):
                if key in _EXISTENCE:
                    if operand != 1:
                        self.add(f"{key} takes {{field: 1}}", path + (key, fname))
                else:
                    self.value(fname, operand, path + (key, fname), f"{key}")
            return expr
        if key.startswith("$"):
            if key in ("$in", "$nin"):
                self.add(f"unknown operator {key!r} (durable-rules has none: use one_of(), an $or "
                         "of equalities)", path + (key,))
            else:
                self.add(f"unknown operator {key!r}", path + (key,), _suggest(key, _OPERATORS))
            return expr
        if self.field_name(key, path + (key,)):
            if isinstance(value, dict):  # a join: {"field": {"alias": "other_field"}}
                if len(value) != 1 or not all(isinstance(x, str) for x in next(iter(value.items()))):
                    self.add("a reference must be {alias: field}", path + (key,))
                else:
                    (ref_alias, _), = value.items()
                    if ref_alias not in aliases:
                        self.add(f"reference to unknown alias {ref_alias!r} (only earlier aliases "
                                 "of the same rule can be referenced)", path + (key, ref_alias),
                                 _suggest(ref_alias, aliases))
            else:
                self.value(key, value, path + (key,), "an equality test")
        return expr

    def fact(self, fact: Any, path: tuple) -> None:
        if not isinstance(fact, Mapping) or not fact:
            self.add(f"a fact must be a non-empty flat object, got {fact!r}", path)
            return
        for key, value in fact.items():
            if self.field_name(key, path + (key,)):
                self.value(key, value, path + (key,), "a fact's field")


def _fact_id(fact: Mapping) -> str:
    return "d" + json.dumps(fact, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _compile_rules(rules: Any) -> tuple[dict, dict, _Checker]:
    """Check ``rules``; return (durable JSON without actions, asserts per rule, the checker)."""
    check = _Checker()
    definition: dict[str, dict] = {}
    asserts: dict[str, tuple[tuple[dict, str, frozenset], ...]] = {}
    if not isinstance(rules, Mapping) or not rules:
        check.add("a ruleset must be a non-empty mapping of rules", ())
        return definition, asserts, check
    for name, rule in rules.items():
        path = (name,)
        if not isinstance(name, str) or not name or name.startswith(_PREFIX) or name.startswith("$"):
            check.add(f"rule names are non-empty strings not starting with {_PREFIX!r} or '$'", path)
            continue
        if not isinstance(rule, Mapping):
            check.add(f"a rule must be a mapping, got {rule!r}", path)
            continue
        for key in rule:
            if key == "any":
                check.add("unknown key 'any' (durable fires 'any' once per combination: write one "
                          "rule per alternative)", path + (key,))
            elif key == "run":
                check.add("unknown key 'run' (actions are data: use 'assert')", path + (key,))
            elif key not in _RULE_KEYS:
                check.add(f"unknown key {key!r}", path + (key,), _suggest(str(key), _RULE_KEYS))
        conditions = rule.get("all")
        if not isinstance(conditions, list) or not conditions:
            check.add("'all' must be a non-empty list of {alias: condition}", path + ("all",))
            continue
        compiled: list[dict] = []
        aliases: tuple[str, ...] = ()
        for i, cond in enumerate(conditions):
            cpath = path + ("all", i)
            if not isinstance(cond, Mapping) or len(cond) != 1:
                check.add("each entry of 'all' is {alias: condition}", cpath)
                continue
            (alias, expr), = cond.items()
            if not (isinstance(alias, str) and alias.isidentifier()) or alias in aliases or alias == "s":
                check.add(f"alias {alias!r} must be a new identifier other than 's'",
                          cpath + (str(alias),))
                continue
            compiled.append({alias: check.condition(expr, cpath + (alias,), aliases)})
            aliases += (alias,)
        entry: dict[str, Any] = {"all": compiled}
        if "pri" in rule:
            if type(rule["pri"]) is not int:
                check.add(f"'pri' must be an integer, got {rule['pri']!r}", path + ("pri",))
            else:
                entry["pri"] = rule["pri"]
        templates = rule.get("assert", [])
        if not isinstance(templates, list):
            check.add("'assert' must be a list of facts", path + ("assert",))
            templates = []
        for i, fact in enumerate(templates):
            check.fact(fact, path + ("assert", i))
        if not check.problems:
            asserts[name] = tuple((dict(f), _fact_id(f), frozenset(f.items())) for f in templates)
        definition[name] = entry
    return definition, asserts, check


@dataclass(frozen=True)
class Firing:
    """One rule firing: the rule's name and the facts it matched, by alias."""

    rule: str
    facts: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class SessionResult:
    """What one session did: rule firings in durable's agenda order and the facts derived."""

    firings: tuple[Firing, ...]
    derived: tuple[Mapping[str, Any], ...]

    @property
    def fired_rules(self) -> frozenset[str]:
        """The names of the rules that fired at least once."""
        return frozenset(f.rule for f in self.firings)


@dataclass(eq=False)
class DurableRuleset:
    """A ruleset registered on the private host. Build with :func:`register_ruleset`."""

    name: str
    definition: dict          # the checked durable JSON (conditions and priorities, no actions)
    rule_names: tuple[str, ...]
    field_kinds: dict[str, tuple[str, tuple]] = field(default_factory=dict, repr=False)
    broken: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # field -> the Python types its values may have in a session (fast path of _prepare)
        self._types = {f: ((str,) if kind == "string" else (int, float))
                       for f, (kind, _) in self.field_kinds.items()}

    def run(self, facts: Iterable[Mapping[str, Any]] = (),
            events: Iterable[Mapping[str, Any]] = (),
            on_fire: Callable[[str, Mapping], None] | None = None) -> SessionResult:
        """Shorthand for :func:`run_session` on this ruleset."""
        return run_session(self, facts, events, on_fire=on_fire)


class _Session:
    __slots__ = ("firings", "derived", "errors", "ended", "on_fire", "known")

    def __init__(self, on_fire: Callable[[str, Mapping], None] | None, known: set[frozenset]):
        self.known = known  # identities of the session's facts, input and derived
        self.firings: list[tuple[str, dict]] = []
        self.derived: list[dict] = []
        self.errors: list[tuple[str, BaseException]] = []
        self.ended = False
        self.on_fire = on_fire


_SESSION_LOCK = threading.Lock()
_session_owner: int | None = None
_current: _Session | None = None
_sids = itertools.count()
_names = itertools.count()
_REGISTRY: dict[str, DurableRuleset] = {}   # content hash -> ruleset


def _make_action(rule_name: str, templates: tuple[tuple[dict, str, frozenset], ...]) -> Callable:
    def action(c: Any) -> None:
        session = _current
        try:
            session.firings.append((rule_name, c._m))
            for template, fact_id, identity in templates:
                if identity in session.known:
                    continue  # facts are a set: an input or already derived fact is not re-added
                session.known.add(identity)
                fact = dict(template)
                fact["id"] = fact_id
                try:
                    c.assert_fact(fact)
                except _durable.MessageObservedException:
                    continue  # cannot happen with the check above; durable's own guard
                session.derived.append(dict(template))
            if session.on_fire is not None:
                session.on_fire(rule_name, _strip(c._m))
        except BaseException as error:  # durable would swallow it into the state
            session.errors.append((rule_name, error))
    return action


def _end_action(c: Any) -> None:
    _current.ended = True


def _never(c: Any) -> None:  # the sink rule cannot fire (no fact has _NEVER_FIELD)
    _current.errors.append((_SINK_RULE, AssertionError("the sink rule fired")))


def register_ruleset(rules: Mapping[str, Mapping], *, label: str = "rules",
                     source: str | None = None) -> DurableRuleset:
    """Check ``rules`` and register them on the private host.

    ``rules`` maps a rule name to ``{"all": [{alias: condition}, ...], "pri": int,
    "assert": [fact, ...]}``. A condition is durable's JSON condition language limited to flat
    facts: ``{field: value}`` (equality), ``{field: {alias: field}}`` (equal to a field of an
    earlier alias), ``$lt $lte $gt $gte $neq: {field: value}``, ``$ex $nex: {field: 1}``,
    ``$and $or: [condition, ...]``. Values are strings or numbers. When a rule fires, its
    ``assert`` facts are added to the session (chaining); re-deriving a fact is a no-op.

    Identical definitions (same rules, any label) return the same registered ruleset. Raises
    :class:`RuleError` listing every problem with its path, e.g. ``r1.all[0].m.$in``.
    """
    if not isinstance(label, str) or not label.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"label must be letters, digits, '-' or '_', got {label!r}")
    if _session_owner == threading.get_ident():
        raise UsageError("register_ruleset called from inside a running session")
    definition, asserts, check = _compile_rules(rules)
    if check.problems:
        raise RuleError(check.problems, source)
    canonical = json.dumps([definition, {k: [t[0] for t in v] for k, v in asserts.items()}],
                           sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    with _SESSION_LOCK:
        existing = _REGISTRY.get(digest)
        if existing is not None and existing.broken is None:
            return existing
        name = f"{label}-{digest}-{next(_names)}"
        durable_def: dict[str, dict] = {}
        for rule_name, entry in definition.items():
            durable_def[rule_name] = dict(json.loads(json.dumps(entry)),
                                          run=_make_action(rule_name, asserts[rule_name]))
        durable_def[_SINK_RULE] = {"all": [{"m": {"$ex": {"sid": 1}}}, {"n": {_NEVER_FIELD: 1}}],
                                   "run": _never}
        durable_def[_END_RULE] = {"all": [{"m": {"$ex": {_END_FIELD: 1}}}], "run": _end_action}
        try:
            host().register_rulesets({name: durable_def})
        except Exception as exc:
            raise RuleError(f"durable-rules rejected the ruleset: {exc}", source) from exc
        ruleset = DurableRuleset(name, definition, tuple(definition), dict(check.kinds))
        _REGISTRY[digest] = ruleset
        return ruleset


# --- sessions ---------------------------------------------------------------------------------
def _strip(matched: Mapping[str, Mapping]) -> dict[str, dict]:
    return {alias: {k: v for k, v in fact.items() if k != "sid" and k != "id"}
            for alias, fact in matched.items()}


def _prepare(ruleset: DurableRuleset, items: Iterable[Mapping[str, Any]], kind: str, sid: str,
             tag: str, seen: set[frozenset]) -> list[dict]:
    """Validate, de-duplicate (into ``seen``) and stamp items with the session id and an id."""
    out: list[dict] = []
    check = _Checker()
    types = ruleset._types
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not item:
            check.add(f"a {kind[:-1]} must be a non-empty flat object, got {item!r}", (kind, i))
            continue
        for key, value in item.items():  # fast path; the full check names the problem
            if (type(value) not in types.get(key, _SCALARS) or type(key) is not str or not key
                    or key in _RESERVED_FIELDS or key.startswith(_BAD_FIELD_PREFIXES) or "." in key):
                before = len(check.problems)
                check.kinds = dict(ruleset.field_kinds)
                check.fact(item, (kind, i))
                if len(check.problems) > before:
                    break
        else:
            identity = frozenset(item.items())
            if identity in seen:
                continue
            seen.add(identity)
            stamped = dict(item)
            stamped["sid"] = sid
            stamped["id"] = f"{tag}{i}"
            out.append(stamped)
    if check.problems:
        raise UsageError(check.problems)
    return out


def run_session(ruleset: DurableRuleset, facts: Iterable[Mapping[str, Any]] = (),
                events: Iterable[Mapping[str, Any]] = (),
                on_fire: Callable[[str, Mapping], None] | None = None) -> SessionResult:
    """Run one session: assert ``facts``, post ``events``, fire rules to quiescence, clean up.

    Facts and events are flat objects of string/number values; identical ones collapse. A fact no
    rule mentions is inert. ``on_fire(rule, matched)`` is called inside each firing (matched maps
    alias to fact). Sessions are serialised process-wide and the session's state is always deleted
    before this returns. Raises :class:`UsageError` for bad input (nothing is run),
    :class:`DurableActionError` if an action or ``on_fire`` raised and
    :class:`DurableBackendError` if durable-rules itself failed.
    """
    global _current, _session_owner
    if not isinstance(ruleset, DurableRuleset):
        raise UsageError(f"run_session needs a DurableRuleset, got {type(ruleset).__name__}")
    if _session_owner == threading.get_ident():
        raise UsageError("run_session called from inside a running session (one at a time)")
    with _SESSION_LOCK:
        if ruleset.broken:
            raise DurableBackendError(f"ruleset {ruleset.name} is unusable: {ruleset.broken}")
        sid = str(next(_sids))
        known: set[frozenset] = set()
        batch_facts = _prepare(ruleset, facts, "facts", sid, "f", known)
        batch_events = _prepare(ruleset, events, "events", sid, "e", set())
        end = {_END_FIELD: 1, "sid": sid, "id": _END_FIELD}
        session = _Session(on_fire, known)
        h = host()
        _current, _session_owner = session, threading.get_ident()
        failure: BaseException | None = None
        try:
            try:
                if batch_events:
                    if batch_facts:
                        h.assert_facts(ruleset.name, batch_facts)
                    batch_events.append(end)
                    h.post_batch(ruleset.name, batch_events)
                else:
                    batch_facts.append(end)
                    h.assert_facts(ruleset.name, batch_facts)
            except BaseException as exc:  # failed part-way or interrupted: something must fire
                failure = exc
            if not session.ended:
                try:  # a distinct sentinel, so durable cannot call it "already observed"
                    h.post(ruleset.name, {_END_FIELD: 2, "sid": sid, "id": _END_FIELD + "2"})
                except BaseException as exc:
                    failure = failure or exc
            if session.ended:
                h.delete_state(ruleset.name, sid)
            else:  # deleting now could crash the process: keep the state, retire the ruleset
                ruleset.broken = f"session {sid} could not be closed safely ({failure!r})"
        finally:
            _current, _session_owner = None, None
    if failure is not None and not isinstance(failure, Exception):
        raise failure  # KeyboardInterrupt, SystemExit: after cleaning up, let it through
    if session.errors:
        rule, error = session.errors[0]
        raise DurableActionError(rule, error) from error
    if failure is not None:
        raise DurableBackendError(
            f"durable-rules failed in ruleset {ruleset.name}: {failure!r}") from failure
    return SessionResult(
        tuple(Firing(rule, _strip(matched)) for rule, matched in session.firings),
        tuple(session.derived),
    )


def benchmark_sessions(n: int = 2000, facts_per_session: int = 4) -> float:
    """Sessions per second for a tiny ruleset (two rules, one chained), ``n`` sessions."""
    rs = register_ruleset({
        "bench-a": {"all": [{"m": match(kind="atom", name="a0", value="T")}],
                    "assert": [{"kind": "node", "name": "n0", "value": "T"}]},
        "bench-b": {"all": [{"m": match(kind="node", name="n0", value="T")}]},
    }, label="bench")
    facts = [{"kind": "atom", "name": f"a{i}", "value": "T"} for i in range(facts_per_session)]
    start = time.perf_counter()
    for _ in range(n):
        run_session(rs, facts)
    return n / (time.perf_counter() - start)



# ==============================================================================================
# The rule base as a durable ruleset: the ``durable`` backend of ``Engine.evaluate``
# ==============================================================================================
#
# The default backend (``engine.evaluator``) evaluates a compiled :class:`Program` in Python. This
# backend hands the same inference to durable-rules; presentation (precedence, explanations,
# missing labels, trace layout) is the shared ``engine.resolve.build_result``.
#
# Facts posted per case (leaf values from the shared atom code, ``Atom.fn``):
#
#   {"t": "ctx", "day": <as_of ordinal>, "jur": <jurisdiction>}
#   {"t": "atom", "a": "<atom index>", "v": "T" | "F" | "U"}
#
# Facts the ruleset derives, each with exactly one value per session:
#
#   {"t": "node", "n": "<k>", "v": ...}      a combinator (all, any, not, unmet), or a derivation
#                                            rule's contribution to its fact
#   {"t": "fact", "f": <name>, "v": ...}     a derived fact
#
# Whether a rule is in effect is a condition on the ctx fact (``$gte``/``$lt`` on the date
# ordinal, equality on the jurisdiction) inside every rule that needs it. A derivation rule
# contributes ``all(when, in effect)`` to its fact, which is Kleene ``any`` over the contributions
# (false when none is in effect). A conclusion rule has one durable rule per row of the outcome
# table in rules/README.md and one per requirement (failed, unknown); a note rule one; a rule out
# of effect one per reason (retired, jurisdiction, not yet, ended). Firings are read back by rule
# name (:class:`_Meaning`). Combinators are shared: equal sub-conditions are computed once.

from engine.evaluator import (  # noqa: E402  (the layer above needs nothing of the engine)
    AllNode,
    AnyNode,
    AtomNode,
    CompiledRule,
    Ctx,
    FactNode,
    Inference,
    Node,
    NotNode,
    Program,
    RuleOutcome,
    UnmetNode,
)

_T, _F, _U = "T", "F", "U"
_ALL_TV = frozenset((_T, _F, _U))
_TV_OF = {True: _T, False: _F, None: _U}
_VALUE_OF = {_T: True, _F: False, _U: None}

Ref = tuple[str, str]   # ("a", "<atom index>") | ("n", "<node>") | ("f", "<fact name>")
_REF_FIELDS = {"a": ("atom", "a"), "n": ("node", "n"), "f": ("fact", "f")}


def _value_fact(ref: Ref, value: str) -> dict:
    kind, field_name = _REF_FIELDS[ref[0]]
    return {"t": kind, field_name: ref[1], "v": value}


def _value_condition(ref: Ref, values: frozenset[str]) -> dict:
    kind, field_name = _REF_FIELDS[ref[0]]
    tests: list[dict] = [{"t": kind}, {field_name: ref[1]}]
    if values != _ALL_TV:
        tests.append(one_of("v", sorted(values)))
    return {"$and": tests}


@dataclass(frozen=True)
class _Meaning:
    """What a firing of one durable rule says.

    ``value``: ``ref`` has ``value``; ``out``: rule ``rule`` (index in ``program.rules``) gives
    ``verdict``, its ``when`` definitely true or not (``when_true``), with the data to find out
    listed (``missing``: some criterion, or the gate, is unknown); ``fail``/``unknown``: its
    requirement ``index`` failed / is unknown; ``note``: the note holds; ``off``: the rule is not
    in effect, ``value`` says why (retired, jurisdiction, before, ended).
    """

    kind: str
    ref: Ref | None = None
    value: str | None = None
    rule: int = -1
    verdict: str | None = None
    when_true: bool = False
    missing: bool = False
    index: int = -1
    pending: bool = False


class _ProgramRules:
    """Durable rules (data) computing the values of conditions, and what each firing means.

    ``ref(node)`` compiles a condition tree; :meth:`compile` a whole :class:`Program`.
    """

    def __init__(self) -> None:
        self.rules: dict[str, dict] = {}
        self.meaning: dict[str, _Meaning] = {}
        self._nodes: dict[tuple, Ref] = {}
        self.when: list[Ref] = []
        self.requires: list[tuple[Ref, ...]] = []

    def compile(self, program: Program) -> "_ProgramRules":
        for cr in program.rules:
            self.when.append(self.ref(cr.when))
            self.requires.append(tuple(self.ref(n) for n in cr.requires))
        for name, derivers in program.derivers.items():
            if len(derivers) == 1:   # the fact is the one contribution
                self._deriver_rules(derivers[0], ("f", name))
                continue
            parts = []
            for cr in derivers:
                part: Ref = ("n", f"d{len(self._nodes)}")
                self._nodes[("derive", cr.rule.id)] = part
                self._deriver_rules(cr, part)
                parts.append(part)
            self._emit_combinator("any", tuple(parts), ("f", name))
        for name in _facts_used(program) - set(program.derivers):   # the loader rejects these
            self._put(f"f/{name}/F", {"all": [{"c": {"t": "ctx"}}],
                                      "assert": [_value_fact(("f", name), _F)]},
                      _Meaning("value", ("f", name), _F))
        for cr in program.rules:
            if cr.rule.kind == "conclusion":
                self._conclusion_rules(cr)
            elif cr.rule.kind in ("note", "caution") and cr.rule.status != "retired":
                self._add(f"{cr.rule.id}/note", _in_effect(cr), [(self.when[cr.order], {_T})],
                          _Meaning("note", rule=cr.order))
        return self

    # -- conditions --------------------------------------------------------------------------
    def ref(self, node: Node) -> Ref:
        """The ref whose value fact carries ``node``'s value (emitting its rules once)."""
        kind = type(node)
        if kind is AtomNode:
            return ("a", str(node.i))
        if kind is FactNode:
            return ("f", node.name)
        if kind is UnmetNode or kind is NotNode:
            return self._combine("unmet" if kind is UnmetNode else "not", (self.ref(node.kid),))
        if kind is AllNode or kind is AnyNode:
            return self._combine("all" if kind is AllNode else "any", tuple(self.ref(k) for k in node.kids))
        raise RuleError(f"the durable backend cannot compile a {kind.__name__} condition")

    def _combine(self, op: str, kids: tuple[Ref, ...]) -> Ref:
        if op in ("all", "any"):
            kids = tuple(dict.fromkeys(kids))   # Kleene all/any are idempotent
            if len(kids) == 1:
                return kids[0]
            key: tuple = (op, frozenset(kids))
        else:
            key = (op, kids[0])
        ref = self._nodes.get(key)
        if ref is None:
            ref = self._nodes[key] = ("n", str(len(self._nodes)))
            self._emit_combinator(op, kids, ref)
        return ref

    def _emit_combinator(self, op: str, kids: tuple[Ref, ...], target: Ref) -> None:
        label = "/".join(target)

        def give(name: str, conds: list, value: str) -> None:
            self._add(f"{label}/{name}", None, conds, _Meaning("value", target, value))

        if op == "not":
            (kid,) = kids
            for have, value in ((_T, _F), (_F, _T), (_U, _U)):
                give(value, [(kid, {have})], value)
            return
        if op == "unmet":
            (kid,) = kids
            give(_F, [(kid, {_T})], _F)
            give(_T, [(kid, {_F, _U})], _T)
            return
        # Kleene all: false if a part is false, true if all are, else unknown; any is the dual.
        # The value is given by the first part that decides it, so exactly one rule fires.
        decisive, total = (_F, _T) if op == "all" else (_T, _F)
        for j, kid in enumerate(kids):
            before = [(k, {total, _U}) for k in kids[:j]]
            give(f"{decisive}/{j}", before + [(kid, {decisive})], decisive)
        give(total, [(kid, {total}) for kid in kids], total)
        for j, kid in enumerate(kids):
            before = [(k, {total}) for k in kids[:j]]
            after = [(k, {total, _U}) for k in kids[j + 1:]]
            give(f"U/{j}", before + [(kid, {_U})] + after, _U)

    # -- rules -------------------------------------------------------------------------------
    def _off_rules(self, cr: CompiledRule, give: Ref | None) -> None:
        """Rules firing when ``cr`` is not in effect, one per reason; each asserts ``give`` false."""
        rid = cr.rule.id
        for why, condition in _not_in_effect(cr):
            rule: dict[str, Any] = {"all": [{"c": condition}]}
            if give is not None:
                rule["assert"] = [_value_fact(give, _F)]
            self._put(f"{rid}/off/{why}", rule, _Meaning("off", give, why, rule=cr.order))

    def _deriver_rules(self, cr: CompiledRule, target: Ref) -> None:
        """``target`` = all(when, in effect): what the derivation rule ``cr`` contributes."""
        when = self.when[cr.order]
        rid = cr.rule.id
        self._off_rules(cr, target)
        self._add(f"{rid}/derive/F", None, [(when, {_F})], _Meaning("value", target, _F))
        on = _in_effect(cr)
        if on is not None:
            for v in (_T, _U):
                self._add(f"{rid}/derive/{v}", on, [(when, {v})], _Meaning("value", target, v))

    def _conclusion_rules(self, cr: CompiledRule) -> None:
        rid, concl, order = cr.rule.id, cr.rule.conclude, cr.order
        self._off_rules(cr, None)
        on = _in_effect(cr)
        if on is None:
            return
        when = self.when[order]
        reqs = self.requires[order]
        summary = self._combine("all", reqs) if reqs else None

        def met(values: set[str]) -> list:
            return [(summary, values)] if summary is not None else []

        def out(name: str, conds: list, verdict: str, when_true: bool, missing: bool = False,
                pending: bool = False) -> None:
            self._add(f"{rid}/{name}", on, conds, _Meaning("out", rule=order, verdict=verdict,
                                                            when_true=when_true, missing=missing,
                                                            pending=pending))

        if not cr.selector:   # the rule names its therapies: they are in scope when `when` is not false
            self._add(f"{rid}/scope", on, [(self.when[order], {_T, _U})], _Meaning("scope", rule=order))

        # the outcome table of rules/README.md, one durable rule per row
        eligible = concl.verdict == "eligible"
        out("verdict", [(when, {_T})] + met({_T}), concl.verdict, True)
        if summary is not None:
            if concl.unmet is not None:
                out("unmet/T", [(when, {_T}), (summary, {_F})], concl.unmet, True)
                out("unmet/U", [(when, {_U}), (summary, {_F})], concl.unmet, False)
            # "conditional" means "would be eligible"; any other verdict stands, listing the missing
            out("unknown/T", [(when, {_T}), (summary, {_U})],
                "conditional" if eligible else concl.verdict, True, True)
        if eligible:
            out("unknown/U", [(when, {_U})] + met({_T, _U}), "conditional", False, True)
        elif concl.verdict == "excluded":   # pending: makes what it would override conditional
            out("pending", [(when, {_U})] + met({_T, _U}), "excluded", False, True, True)
        for i, req in enumerate(reqs):
            self._add(f"{rid}/requires/{i}/F", on, [(when, {_T, _U}), (req, {_F})],
                      _Meaning("fail", rule=order, index=i))
            self._add(f"{rid}/requires/{i}/U", on, [(when, {_T, _U}), (summary, {_U}), (req, {_U})],
                      _Meaning("unknown", rule=order, index=i))

    # -- emitting ----------------------------------------------------------------------------
    def _add(self, name: str, ctx: dict | None, conds: list[tuple[Ref, set[str]]],
             meaning: _Meaning) -> None:
        """A rule over value facts (and the ctx fact). Conditions on one ref are merged: a fact
        never fills two aliases of a rule. A contradictory rule, which cannot fire, is left out."""
        merged: dict[Ref, frozenset[str]] = {}
        for ref, values in conds:
            merged[ref] = merged.get(ref, _ALL_TV) & frozenset(values)
        if not all(merged.values()):
            return
        aliases = [{"c": ctx}] if ctx is not None else []
        aliases += [{f"x{i}": _value_condition(ref, values)} for i, (ref, values) in enumerate(merged.items())]
        rule: dict[str, Any] = {"all": aliases}
        if meaning.kind == "value":
            rule["assert"] = [_value_fact(meaning.ref, meaning.value)]
        self._put(name, rule, meaning)

    def _put(self, name: str, rule: dict, meaning: _Meaning) -> None:
        if name in self.rules:
            raise RuleError(f"durable rule name {name!r} generated twice")
        self.rules[name] = rule
        self.meaning[name] = meaning


def _in_effect(cr: CompiledRule) -> dict | None:
    """The condition on the ctx fact under which ``cr`` is in effect (None: never, retired)."""
    if cr.rule.status == "retired":
        return None
    tests: list[dict] = [{"t": "ctx"}]
    if cr.jurisdiction is not None:
        tests.append({"jur": cr.jurisdiction})
    tests.append({"$gte": {"day": cr.start.toordinal()}})
    if cr.end is not None:
        tests.append({"$lt": {"day": cr.end.toordinal()}})
    return {"$and": tests}


def _not_in_effect(cr: CompiledRule) -> list[tuple[str, dict]]:
    """(reason, ctx condition) for each way ``cr`` can be out of effect; they exclude each other."""
    if cr.rule.status == "retired":
        return [("retired", {"t": "ctx"})]
    ctx: list[dict] = [{"t": "ctx"}]
    out = []
    if cr.jurisdiction is not None:
        out.append(("jurisdiction", {"$and": ctx + [{"$neq": {"jur": cr.jurisdiction}}]}))
        ctx = ctx + [{"jur": cr.jurisdiction}]
    out.append(("before", {"$and": ctx + [{"$lt": {"day": cr.start.toordinal()}}]}))
    if cr.end is not None:
        out.append(("ended", {"$and": ctx + [{"$gte": {"day": cr.end.toordinal()}}]}))
    return out


def _off_line(cr: CompiledRule, why: str, case) -> str:
    """The trace line of a rule out of effect (the wording of the default backend)."""
    rid = cr.rule.id
    if why == "retired":
        return f"{rid}: retired"
    if why == "jurisdiction":
        return f"{rid}: {cr.jurisdiction} rule, evaluating for {case.jurisdiction}"
    if why == "before":
        return f"{rid}: not yet in effect on {case.as_of} (from {cr.start})"
    return f"{rid}: no longer in effect on {case.as_of} (ended {cr.end})"


def _atoms_under(node: Node, out: set[int]) -> None:
    if type(node) is AtomNode:
        out.add(node.i)
    for kid in getattr(node, "kids", ()):
        _atoms_under(kid, out)
    kid = getattr(node, "kid", None)
    if kid is not None:
        _atoms_under(kid, out)


def _facts_under(node: Node, out: set[str]) -> None:
    if type(node) is FactNode:
        out.add(node.name)
    for kid in getattr(node, "kids", ()) + ((node.kid,) if hasattr(node, "kid") else ()):
        _facts_under(kid, out)


def _facts_used(program: Program) -> set[str]:
    names: set[str] = set()
    for cr in program.rules:
        for node in (cr.when, *cr.requires):
            _facts_under(node, names)
    return names


_COMPILED: "weakref.WeakKeyDictionary[Program, tuple[_ProgramRules, DurableRuleset]]" = weakref.WeakKeyDictionary()
_COMPILED_LOCK = threading.Lock()


def _compiled(program: Program) -> tuple[_ProgramRules, DurableRuleset]:
    """The durable rules of ``program``: compiled and registered once per Program (and once per
    rule base content: :func:`register_ruleset` shares identical definitions)."""
    with _COMPILED_LOCK:
        hit = _COMPILED.get(program)
        if hit is None:
            rules = _ProgramRules().compile(program)
            hit = _COMPILED[program] = (
                rules, register_ruleset(rules.rules, label="kras-rules", source="durable ruleset"))
        return hit


class DurableBackend:
    """Evaluates normalised cases of one compiled :class:`Program` with durable-rules.

    >>> from engine.api import Engine
    >>> engine = Engine()
    >>> result = engine.evaluate({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C"}]},
    ...                          backend="durable")                     # doctest: +SKIP

    ``Engine.evaluate(case, backend="durable")`` and ``kras-rules evaluate --backend durable`` use
    it. The leaf conditions (atoms) the case's rules need are computed by the shared atom code and
    posted as facts; durable decides which rules are in effect, every combinator, every derived
    fact and each rule's outcome; :func:`engine.resolve.build_result` turns the outcomes into the
    same :class:`~engine.result.Result` the default backend gives. The rule base is one durable
    ruleset per Program, registered once.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self._rules, self.ruleset = _compiled(program)
        base: set[int] = set()
        for derivers in program.derivers.values():
            for cr in derivers:
                _atoms_under(cr.when, base)
        self._base_atoms = frozenset(base)
        self._atoms_by_cancer: dict[str, tuple[tuple[int, str, Callable], ...]] = {}

    @property
    def rule_count(self) -> int:
        """How many durable rules the rule base compiled to."""
        return len(self._rules.rules)

    def _atoms_for(self, case) -> tuple[tuple[int, str, Callable], ...]:
        """The atoms of the case's candidate rules and of every derivation (cached per cancer)."""
        code = case.cancer.code
        hit = self._atoms_by_cancer.get(code)
        if hit is None:
            wanted = set(self._base_atoms)
            conclusions, notes = self.program.candidates(case)
            for cr in (*conclusions, *notes):
                for node in (cr.when, *cr.requires):
                    _atoms_under(node, wanted)
            atoms = self.program.atoms
            hit = self._atoms_by_cancer[code] = tuple((i, str(i), atoms[i].fn) for i in sorted(wanted))
        return hit

    def facts(self, ctx: Ctx) -> list[dict]:
        """The facts posted for a case: its context and the atom values its rules need (also
        stored in ``ctx``, which the shared explanations read)."""
        case = ctx.case
        values = ctx.atoms
        out: list[dict] = [{"t": "ctx", "day": case.as_of.toordinal(), "jur": case.jurisdiction}]
        for i, key, fn in self._atoms_for(case):
            v = values[i] = fn(case)
            out.append({"t": "atom", "a": key, "v": _TV_OF[v]})
        return out

    def infer(self, case) -> Inference:
        """One durable session for ``case``: the inference step that resolution consumes."""
        program = self.program
        ctx = Ctx(program, case)
        session = run_session(self.ruleset, self.facts(ctx))
        meaning = self._rules.meaning
        facts: dict[str, str] = {}
        off: dict[int, str] = {}
        outs: dict[int, list[_Meaning]] = {}
        failed: dict[int, list[int]] = {}
        unknown: dict[int, list[int]] = {}
        noted: set[int] = set()
        scoped: set[int] = set()
        for firing in session.firings:
            m = meaning[firing.rule]
            kind = m.kind
            if kind == "value":
                if m.ref[0] == "f" and facts.setdefault(m.ref[1], m.value) != m.value:
                    raise self._broken(case, f"fact {m.ref[1]} derived both {facts[m.ref[1]]} and {m.value}")
            elif kind == "out":
                outs.setdefault(m.rule, []).append(m)
            elif kind == "fail":
                failed.setdefault(m.rule, []).append(m.index)
            elif kind == "unknown":
                unknown.setdefault(m.rule, []).append(m.index)
            elif kind == "note":
                noted.add(m.rule)
            elif kind == "scope":
                scoped.add(m.rule)
            else:   # off: the rule is out of effect; a derivation rule then contributes false
                off[m.rule] = m.value
                if m.ref is not None and m.ref[0] == "f" and facts.setdefault(m.ref[1], _F) != _F:
                    raise self._broken(case, f"fact {m.ref[1]} derived both {facts[m.ref[1]]} and F")
        for name in program.derivers:
            v = facts.get(name)
            if v is None:
                raise self._broken(case, f"fact {name} was not derived")
            ctx.facts[name] = _VALUE_OF[v]
        conclusions, notes = program.candidates(case)
        outcomes: dict[str, list[tuple[CompiledRule, RuleOutcome]]] = {}
        skipped: list[str] = []
        in_scope: set[str] = set()
        for cr in conclusions:
            order = cr.order
            if order in scoped:
                in_scope.update(cr.targets)
            why = off.get(order)
            if why is not None:
                skipped.append(_off_line(cr, why, case))
                continue
            found = outs.get(order)
            if not found:
                continue   # silent
            if len(found) > 1:
                raise self._broken(case, f"rule {cr.rule.id} has {len(found)} outcomes")
            out = self._outcome(cr, ctx, found[0], failed.get(order, ()), unknown.get(order, ()))
            for t in cr.targets:
                outcomes.setdefault(t, []).append((cr, out))
        fired_notes = [cr for cr in notes if cr.order in noted]
        return Inference(ctx, outcomes, fired_notes, skipped, frozenset(in_scope))

    def evaluate(self, case):
        """The :class:`~engine.result.Result` for a normalised case (``engine.case.NormalCase``)."""
        from engine.resolve import build_result

        return build_result(self.infer(case))

    @staticmethod
    def _outcome(cr: CompiledRule, ctx: Ctx, m: _Meaning, failed: Iterable[int],
                 unknown: Iterable[int]) -> RuleOutcome:
        rule = cr.rule
        if m.missing:
            miss: set[str] = set()   # presentation: what to find out, in the shared words
            if not m.when_true:
                cr.when.missing(ctx, miss)
            for i in sorted(set(unknown)):
                req = rule.requires[i]
                if req.missing:
                    miss.add(req.missing)
                else:
                    cr.requires[i].missing(ctx, miss)
            return RuleOutcome(rule.id, m.verdict, m.when_true, tuple(sorted(miss)), (), m.pending)
        criteria = tuple(rule.requires[i].criterion for i in sorted(set(failed)))
        return RuleOutcome(rule.id, m.verdict, m.when_true, (), criteria)

    @staticmethod
    def _broken(case, what: str) -> DurableBackendError:
        return DurableBackendError(f"the durable ruleset gave an incomplete answer for case {case.id!r}: {what}")
