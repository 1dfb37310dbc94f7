"""The optional ``durable`` backend: the rule base run as a durable-rules 2.0.28 ruleset.

Two modules, by concern: :mod:`engine.durable.safe_host` is a safe host layer over durable-rules
(the only code of the project that imports :mod:`durable`; its docstring lists the library's
hazards and how each is handled), and :mod:`engine.durable.compiler` compiles a rule base's
:class:`~engine.evaluation.evaluator.Program` into durable rulesets (one per cancer type's set of
candidate rules) and evaluates cases with them (:class:`DurableBackend`), giving the same
:class:`~engine.result.Result` as the default backend.
Importing this package without durable-rules installed raises :class:`DurableMissing` (both a
``UsageError`` and an ``ImportError``).
"""
from engine.durable.safe_host import (  # noqa: F401
    DurableActionError,
    DurableBackendError,
    DurableMissing,
    DurableRuleset,
    Firing,
    RawRuleset,
    SessionResult,
    benchmark_sessions,
    host,
    match,
    one_of,
    register_ruleset,
    run_session,
)
from engine.durable.compiler import DurableBackend  # noqa: F401,E402
