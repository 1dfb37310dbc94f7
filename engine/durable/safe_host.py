"""The safe host layer over durable-rules 2.0.28 (the ``durable`` backend's lower half).

This package (:mod:`engine.durable`) is the only code of the project that imports :mod:`durable`,
and this module the only one of the package that does. durable-rules is
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

    from engine.durable import register_ruleset, run_session, match

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
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from engine.errors import EngineError, Problem, RuleError, UsageError, format_path



class DurableMissing(UsageError, ImportError):
    """durable-rules is not installed: a usage error for the command line, an ImportError for
    code (and tests) that treat an optional dependency as absent."""


try:
    from durable import engine as _durable
except ImportError as exc:
    raise DurableMissing(
        "the durable backend needs durable-rules 2.0.28 (pip install 'kras-rules[durable]')"
    ) from exc

__all__ = [
    "DurableActionError",
    "DurableMissing",
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
    "RawRuleset",
]

# --- durable's wall clock ---------------------------------------------------------------------
# ``durable.engine._unix_now`` builds ``datetime.utcfromtimestamp(0)`` on every firing, which
# warns on Python 3.12. durable only subtracts its results (action leases, timeouts), so the
# plain epoch clock is an exact substitute and also cheaper.
_durable._unix_now = time.time

# --- durable's JSON ---------------------------------------------------------------------------
# durable passes every fact posted, every state and every result through ``json`` (about 250
# times a session of the shipped rules). orjson (the ``fast`` extra) writes and reads the same
# JSON several times faster; what it refuses (an integer beyond 64 bits, a key that is not a
# string, text that is not strict JSON) goes to ``json`` as before.
try:
    import orjson as _orjson
except ImportError:  # (not installed: durable keeps ``json``)
    _orjson = None  # type: ignore[assignment]


class _FastJson:
    @staticmethod
    def dumps(obj: Any, **kw: Any) -> str:
        try:
            return _orjson.dumps(obj).decode()
        except TypeError:
            return json.dumps(obj, **kw)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        try:
            return _orjson.loads(text)
        except ValueError:  # (orjson.JSONDecodeError is one)
            return json.loads(text)


if _orjson is not None:
    _durable.json = _FastJson

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
        assert session is not None  # actions run only inside run_session, which sets it
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
    assert _current is not None  # actions run only inside run_session
    _current.ended = True


def _never(c: Any) -> None:  # the sink rule cannot fire (no fact has _NEVER_FIELD)
    assert _current is not None  # actions run only inside run_session
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
                on_fire: Callable[[str, Mapping], None] | None = None,
                *, matches: bool = True) -> SessionResult:
    """Run one session: assert ``facts``, post ``events``, fire rules to quiescence, clean up.

    Facts and events are flat objects of string/number values; identical ones collapse. A fact no
    rule mentions is inert. ``on_fire(rule, matched)`` is called inside each firing (matched maps
    alias to fact). Sessions are serialised process-wide and the session's state is always deleted
    before this returns. Raises :class:`UsageError` for bad input (nothing is run),
    :class:`DurableActionError` if an action or ``on_fire`` raised and
    :class:`DurableBackendError` if durable-rules itself failed. ``matches=False`` leaves the
    matched facts out of each :class:`Firing` (empty ``facts``: for a caller that reads only which
    rules fired, it saves a copy of every matched fact).
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
    if not matches:
        return SessionResult(tuple(Firing(rule, _NO_MATCH) for rule, _ in session.firings), tuple(session.derived))
    return SessionResult(
        tuple(Firing(rule, _strip(matched)) for rule, matched in session.firings),
        tuple(session.derived),
    )


_NO_MATCH: Mapping[str, Mapping[str, Any]] = {}


class RawRuleset:
    """The same rules run as a plain durable-rules program would run them: the yardstick of
    ``bench/bench.py`` for this layer's cost (not for use by the engine).

    ``rules`` is what :func:`register_ruleset` takes. Each rule's action asserts its ``assert``
    facts with ``c.assert_fact`` (a fact already present raises durable's
    ``MessageObservedException``, caught); a session posts its facts, stamped with the session id,
    in one ``assert_facts`` call, then deletes its state. What this layer adds is left out:
    checking and de-duplicating facts, the fact ids, recording firings, the action wrappers.
    The one thing kept is what durable needs not to crash: the sentinel fact and the catch-all
    rule that fires on it before ``delete_state``, and one session at a time on the private host.
    """

    def __init__(self, rules: Mapping[str, Mapping], label: str = "raw") -> None:
        definition, asserts, check = _compile_rules(rules)
        if check.problems:
            raise RuleError(check.problems, "raw ruleset")
        self.name = f"{label}-{next(_names)}"
        self.fired = 0
        durable_def: dict[str, dict] = {}
        for rule_name, entry in definition.items():
            durable_def[rule_name] = dict(json.loads(json.dumps(entry)),
                                          run=self._action([t[0] for t in asserts[rule_name]]))
        durable_def[_SINK_RULE] = {"all": [{"m": {"$ex": {"sid": 1}}}, {"n": {_NEVER_FIELD: 1}}], "run": _nothing}
        durable_def[_END_RULE] = {"all": [{"m": {"$ex": {_END_FIELD: 1}}}], "run": _nothing}
        with _SESSION_LOCK:
            host().register_rulesets({self.name: durable_def})

    def _action(self, templates: list[dict]) -> Callable:
        def action(c: Any) -> None:
            self.fired += 1
            for template in templates:
                try:
                    c.assert_fact(dict(template))
                except _durable.MessageObservedException:
                    pass
        return action

    def run(self, facts: Iterable[Mapping[str, Any]]) -> None:
        """One session: post ``facts`` (flat objects, as given to :func:`run_session`), fire to
        quiescence, delete the state."""
        with _SESSION_LOCK:
            sid = str(next(_sids))
            batch = [dict(f, sid=sid) for f in facts]
            batch.append({_END_FIELD: 1, "sid": sid})
            h = host()
            h.assert_facts(self.name, batch)
            h.delete_state(self.name, sid)


def _nothing(c: Any) -> None:
    return None


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
