"""The command line: ``kras-rules`` / ``python -m engine``.

Exit codes: 0 every case evaluated (or the rule base passed ``check``); 1 some case was invalid (the
valid ones are still evaluated and printed) or ``check`` found a problem; 2 usage error or invalid
rules; 3 the program itself failed (a bug, not a bad case: no record can cause it). Results go to
stdout, messages for people to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import gc
import json
import os
import sys
import textwrap
from collections.abc import Sequence

from engine.errors import EngineError, RuleError, UsageError, clean, quote

EXIT_CRASH = 3  # the program failed (a bug): distinct from 1, "some case was invalid"

DISCLAIMER = "Educational decision support only: not medical advice."


def _date(text: str) -> dt.date:
    """``--as-of``: a date written YYYY-MM-DD, as every date of the case format is (Python's
    ISO reader would also take 20250601 and a week date, 2025-W23-1)."""
    try:
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        from engine.case import date_problems  # (only for the message: the case model is not loaded to read a date)

        problems: list = []
        date_problems(text, (), problems)
        meant = f"; did you mean {problems[0].suggestion}?" if problems and problems[0].suggestion else ""
        raise argparse.ArgumentTypeError(f"not a date: '{text}' (use YYYY-MM-DD{meant})") from None


def _positive_int(text: str) -> int:
    """``evaluate --jobs`` and ``check --jobs``: a whole number of processes, at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"not a number of processes: '{text}' (use a whole number, 1 or more)")
    return n


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with a one-line message
        self.print_usage(sys.stderr)
        raise UsageError(message)


CORE_COMMANDS = ("evaluate", "explain", "check", "rules")  # defined here; the others in their subpackages


def command_of(argv: Sequence[str]) -> str | None:
    """The command word of a command line (the first word that is neither an option nor the
    value of ``--rules``), or None."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--rules":
            skip = True
        elif word == "--" or not word.startswith("-"):
            return None if word == "--" else word
    return None


def build_parser(full: bool = True) -> argparse.ArgumentParser:
    """The argument parser. ``full=False`` leaves out the subcommands of the subpackages (``import``
    and the tutoring commands), so that a core command (:data:`CORE_COMMANDS`) does not import
    them."""
    p = _Parser(prog="kras-rules", description="Educational therapy-eligibility rules for KRAS-driven cancers. " + DISCLAIMER)
    p.add_argument("--rules", metavar="DIR", help="rules directory (default: the shipped rules/)")
    p.add_argument("--version", action="store_true", help="show the version, the knowledge version and attributions")
    sub = p.add_subparsers(dest="command", required=False, parser_class=_Parser)

    ev = sub.add_parser("evaluate", help="evaluate case files (JSON, JSON array, JSONL) or - for stdin")
    ev.add_argument("files", nargs="+", metavar="FILE")
    ev.add_argument("--format", choices=["text", "json", "tsv"], default="text")
    ev.add_argument("--as-of", type=_date, metavar="DATE", help="evaluate at this date (overrides each case's as_of)")
    ev.add_argument("--jurisdiction", metavar="NAME",
                    help="evaluate under this regulator's approvals, FDA or EMA (overrides each case's jurisdiction)")
    ev.add_argument("--backend", choices=["default", "durable"], default="default")
    ev.add_argument("--jobs", type=_positive_int, default=None, metavar="N", help="worker processes (default: all cores)")
    ev.add_argument("--summary", action="store_true", help="print a per-cohort summary table to stderr")
    ev.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    ev.add_argument("--no-reuse", action="store_true",
                    help="evaluate every case, even one that reads the same as an earlier case (whose "
                         "record json and tsv reuse, the same bytes)")
    ev.add_argument("--output", "-o", metavar="FILE", help="write the results to FILE instead of stdout")
    ev.add_argument(
        "--resume",
        action="store_true",
        help="with --output: keep the complete records already in FILE and evaluate only the rest",
    )
    ev.add_argument("--dask", metavar="ADDRESS", help="evaluate on a Dask cluster: a scheduler address, or local[:N]")
    ev.add_argument("--brief", action="store_true", help="text format: one line per option (its summary)")
    ev.add_argument("--detail", action="store_true", help="text format: every option in full, literature exclusions too")

    ex = sub.add_parser("explain", help="show a rule: metadata, rationale, citations, examples")
    ex.add_argument("rule_id", metavar="RULE_ID")
    ex.add_argument("--format", choices=["text", "json"], default="text")

    ck = sub.add_parser("check", help="validate the rule base and run every rule's examples")
    ck.add_argument("rules_dir", nargs="?", metavar="RULES_DIR")
    ck.add_argument("--verbose", "-v", action="store_true")
    ck.add_argument("--quick", action="store_true",
                    help="skip the exhaustive search of profiles (conflicts, leaks, dead, shadowed, duplicate "
                         "and subsumed rules, coverage): a check in seconds while editing; run without it before committing")
    ck.add_argument("--jobs", "-j", type=_positive_int, default=1, metavar="N",
                    help="search the profiles of the therapies in N processes (the same findings; about "
                         "1.5 GB of memory, shared by the processes)")

    ls = sub.add_parser("rules", help="list the rules (id, kind, status, from, title)")
    ls.add_argument("--format", choices=["text", "json", "markdown"], default="text")

    if not full:
        return _rules_everywhere(p, sub)
    try:
        from engine.importers.cli import add_parser as add_import
    except ImportError:  # pragma: no cover
        pass
    else:
        add_import(sub)
    from engine.tutoring.cli import add_parsers as add_tutoring

    add_tutoring(sub)
    return _rules_everywhere(p, sub)


def _rules_everywhere(p: argparse.ArgumentParser, sub) -> argparse.ArgumentParser:
    """``--rules DIR`` after the command too (``kras-rules check --rules DIR``), not only before it."""
    for cmd in sub.choices.values():
        if not any("--rules" in a.option_strings for a in cmd._actions):
            cmd.add_argument("--rules", metavar="DIR", default=argparse.SUPPRESS,
                             help="rules directory (default: the shipped rules/; also accepted before the command)")
    return p


@contextlib.contextmanager
def _starting():
    """Start-up: the imports and the loaded rule base make tens of thousands of objects that all
    live until the process ends, so collecting garbage while they are made finds none (and cost
    about a tenth of a one-case run). Collection is paused until they are made; then they are
    set aside (``gc.freeze``), so that the collections of a long batch do not walk them again.
    Only when the command is the whole process (``kras-rules``, ``python -m engine``): a program
    that calls :func:`main` keeps its own collection as it is."""
    if not _whole_process or not gc.isenabled():  # not ours to change, or an outer start-up is under way
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _engine(args):
    with _starting():
        from engine.api import Engine

        return Engine(args.rules)


def _no_plugin_loader() -> None:
    """With every pydantic plugin disabled, pydantic's plugin loader answers "no plugins" without
    reading an entry point; but importing the loader imports ``importlib.metadata`` (and with it
    email, zipfile and csv): about 10 ms, a sixteenth of a one-case run, for an answer known
    beforehand. So the loader pydantic imports is one giving that same answer. Left alone when
    only some plugins are disabled, or when the loader is already imported."""
    import types

    name = "pydantic.plugin._loader"
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in ("__all__", "1", "true") and name not in sys.modules:
        loader = types.ModuleType(name, "pydantic's plugin loader with every plugin disabled (see engine.cli)")
        loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
        sys.modules[name] = loader


_whole_process = False  # set by the entry points (run, python -m engine): see _starting


def main(argv: Sequence[str] | None = None, *, whole_process: bool = False) -> int:
    """Run the command line; the exit code. Whatever the input, no traceback reaches the user: a
    failure of the program itself prints one line and exits 3 (``KRAS_RULES_TRACEBACK=1`` prints
    the traceback too). ``whole_process``: the command is all this process does (the entry
    points), so start-up may pause garbage collection."""
    global _whole_process
    _whole_process = whole_process
    if whole_process:
        # pydantic looks for plugins (entry points of every installed package) when it builds its
        # first validator: a twentieth of a one-case run, for plugins the command never uses.
        # PYDANTIC_DISABLE_PLUGINS set to anything (an empty value too) is left as it is.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        _no_plugin_loader()
    for stream in (sys.stdout, sys.stderr):  # a value no terminal can show never ends the run
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]  # a TextIOWrapper, or caught below
        except (AttributeError, ValueError):
            pass
    try:
        return _main(argv)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("kras-rules: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # pragma: no cover - reached only through a bug
        if os.environ.get("KRAS_RULES_TRACEBACK"):
            import traceback

            traceback.print_exc()
        print(f"kras-rules: internal error (a bug, please report it): {type(exc).__name__}: {clean(str(exc), 300)}",
              file=sys.stderr)
        return EXIT_CRASH


def _main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(full=command_of(words) not in CORE_COMMANDS)
    try:
        args = parser.parse_args(words)
    except UsageError as exc:
        print(f"kras-rules: error: {exc.render()}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.version or args.command is None:
        if args.command is None and not args.version:
            parser.print_usage(sys.stderr)
            print("kras-rules: error: a command is required (evaluate, explain, check, rules, import, why, compare, catalogue, schema, serve)", file=sys.stderr)
            return 2
        return cmd_version(args)
    try:
        if args.command == "evaluate":
            with _starting():
                from engine.batch.run import run_evaluate

                engine = _engine(args)
            if getattr(args, "dask", None):  # the batch's chunks on a Dask cluster
                from engine.distributed.pool import DaskPool

                return run_evaluate(args, engine, remote=DaskPool)
            return run_evaluate(args, engine)
        if args.command == "explain":
            return cmd_explain(args, _engine(args))
        if args.command == "check":
            return cmd_check(args)
        if args.command == "rules":
            return cmd_rules(args, _engine(args))
        if args.command == "import":
            from engine.importers.cli import run as run_import

            return run_import(args)
        from engine.tutoring.cli import COMMANDS as TUTORING, run as run_tutoring

        if args.command in TUTORING:
            return run_tutoring(args, _engine(args) if args.command != "schema" else None)
    except RuleError as exc:
        print("kras-rules: the rule base is invalid:", file=sys.stderr)
        print(textwrap.indent(exc.render(), "  "), file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"kras-rules: error: {exc.render()}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"kras-rules: {exc.render()}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("kras-rules: interrupted", file=sys.stderr)
        return 130
    return 2


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main(whole_process=True))


def cmd_version(args) -> int:
    from engine import __version__

    try:
        engine = _engine(args)
    except RuleError as exc:
        print(f"kras-rules {__version__}; the rule base is invalid:\n{exc.render()}", file=sys.stderr)
        return 2
    rb = engine.rulebase
    print(f"kras-rules {__version__}")
    print(f"knowledge version {rb.meta.knowledge_version} ({len(rb.rules)} rules, {len(rb.therapies)} therapies)")
    print(f"default jurisdiction {rb.meta.default_jurisdiction}")
    print(rb.vocab.attribution)
    print(DISCLAIMER)
    return 0


# --------------------------------------------------------------------------- explain / rules


def rule_json(engine, rule) -> dict:
    from engine.catalogue import rule_record

    return rule_record(engine.rulebase, rule)


def cmd_explain(args, engine) -> int:
    rid = args.rule_id.strip().upper()
    if rid not in engine.rulebase.by_id:
        close = difflib.get_close_matches(rid, list(engine.rulebase.by_id), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else " (kras-rules rules lists them)"
        raise UsageError(f"unknown rule id {quote(args.rule_id)}{hint}")
    rule = engine.rulebase.rule(rid)
    if args.format == "json":
        print(json.dumps(rule_json(engine, rule), indent=2))
        return 0
    out = sys.stdout
    def w(s: str = "") -> None:
        print(s, file=out)

    w(f"{rule.id}: {rule.title}")
    w(f"  kind: {rule.kind}    status: {rule.status}" + (f"    jurisdiction: {rule.jurisdiction}" if rule.jurisdiction else ""))
    span = f"from {rule.effective_from}" + (f" until {rule.effective_to}" if rule.effective_to else "")
    w(f"  in effect: {span}" + (f"    evidence: {rule.evidence}" if rule.evidence else ""))
    if rule.conclude:
        targets = ", ".join(engine.rulebase.targets.get(rule.id, ()))
        w(f"  concludes: {rule.conclude.verdict} for {targets}")
    if rule.derive:
        w(f"  derives fact: {rule.derive}")
    rb = engine.rulebase
    if rule.when is not None:  # (the gate as the rule file writes it)
        gate = json.dumps(rule.model_dump(mode="json", by_alias=True, exclude_none=True)["when"], separators=(", ", ": "))
        w(textwrap.fill(f"applies when: {gate}", 96, initial_indent="  ", subsequent_indent="      "))
    for ov in rule.overrides:
        w(f"  takes precedence over {ov.rule}: {ov.because}")
    for other in rb.rules:  # (what sets this rule aside, as a rule author needs to know before changing it)
        if any(ov.rule == rule.id for ov in other.overrides):
            w(f"  set aside by {other.id} where both apply: {other.title}")
    from engine.audit import records_by_rule

    for rec in records_by_rule(rb).get(rule.id, ()):
        w(f"  verified: {rec.id}" + (f" (checked {rec.checked_on})" if getattr(rec, "checked_on", None) else ""))
    w(f"  file: {rb.rule_files[rule.id]}")
    w()
    w("Rationale:")
    w(textwrap.fill(rule.rationale, 96, initial_indent="  ", subsequent_indent="  "))
    if rule.note:
        w("Note shown:")
        w(textwrap.fill(rule.note, 96, initial_indent="  ", subsequent_indent="  "))
    if rule.requires:
        w("Criteria:")
        for r in rule.requires:
            w(f"  - {r.criterion}")
    w("Citations:")
    for c in rule.citations:
        src = engine.rulebase.sources.get(c.source)
        where = f"{src.title if src else c.source} [{c.source}]" + (f", section '{c.section}'" if c.section else "")
        w(f"  - {where}")
        w(textwrap.fill(f'"{c.quote}"', 92, initial_indent="      ", subsequent_indent="      "))
    w("Examples:")
    for e in rule.examples:
        exp = e.expect
        what = exp.verdict or (f"fact {'unknown' if exp.fact_unknown else exp.fact}" if rule.kind == "derivation" else f"note {'shown' if exp.note else 'not shown'}")
        w(f"  - {e.name}: {what}")
        w(f"      {json.dumps(e.case, default=str)}")
    w()
    w(DISCLAIMER)
    return 0


def cmd_rules(args, engine) -> int:
    rb = engine.rulebase
    rows = []
    for r in rb.rules:
        target = ", ".join(rb.targets.get(r.id, ())) or (f"fact {r.derive}" if r.derive else "note")
        rows.append((r.id, r.kind, r.status, str(r.effective_from), r.conclude.verdict if r.conclude else "-", target, r.title,
                     str(r.effective_to) if r.effective_to else "-", r.jurisdiction or "-"))
    if args.format == "json":
        print(json.dumps([rule_json(engine, r) for r in rb.rules], indent=2))
    elif args.format == "markdown":  # the whole of rules/RULES.md
        print("# Rule table\n")
        print("Generated from `rules/` by `kras-rules rules --format markdown > rules/RULES.md`; do not edit by "
              "hand (a test checks it is current).\n")
        print("| id | kind | status | from | to | verdict | about | title | verified |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        from engine.audit import markdown, records_by_rule

        recs = records_by_rule(rb)
        for r, row in zip(rb.rules, rows, strict=True):
            ver = ", ".join(v.id for v in recs.get(r.id, ())) or "-"
            cells = row[:4] + (row[7],) + row[4:7] + (ver,)
            print("| " + " | ".join(x.replace("|", "/") for x in cells) + " |")
        print("\n".join(markdown(rb)))
    else:
        print(f"{'id':9} {'kind':11} {'status':15} {'from':10}  {'to':10}  {'where':5} {'verdict':12} {'about':40} title")
        for row in rows:
            about = row[5] if len(row[5]) <= 40 else row[5][:39] + "…"
            print(f"{row[0]:9} {row[1]:11} {row[2]:15} {row[3]}  {row[7]:10}  {row[8]:5} {row[4]:12} {about:40} {row[6]}")
    return 0


# --------------------------------------------------------------------------- check


def cmd_check(args) -> int:
    from engine.api import Engine
    from engine.check import run_check

    rules_dir = args.rules_dir or args.rules
    try:
        engine = Engine(rules_dir)
    except RuleError as exc:
        print(f"check: FAILED: the rule base does not load ({len(exc.problems)} problem(s)):", file=sys.stderr)
        print(textwrap.indent(exc.render(), "  "), file=sys.stderr)
        return 1
    report = run_check(engine, search=not args.quick, jobs=args.jobs)
    bad = [e for e in report.examples if not e.ok]
    for p in report.problems:
        print(f"  {p.render()}", file=sys.stderr)
    rb = engine.rulebase
    for e in bad:  # (the file first, as a problem names it)
        print(f"  {rb.rule_files.get(e.rule_id, '?')}: {e.rule_id} example '{e.name}': {e.message}", file=sys.stderr)
    status = "passed" if report.ok else "FAILED"
    warnings = sum(1 for line in report.extra if line.startswith("warning: "))
    print(
        f"check: {status}: {report.rules} rules, {len(rb.therapies)} therapies, "
        f"{len(report.examples) - len(bad)}/{len(report.examples)} examples give their stated result, "
        f"{report.quotes_verified} quotes verified against the seed documents"
        + ("" if report.seeds_found else f" (seed documents not found in {report.seeds_looked}: quotes not verified; "
                                          "KRAS_SEEDS_DIR names the folder that holds them)")
        + (f", {len(report.problems)} problem(s)" if report.problems else "")
        + (f", {warnings} warning(s) (check -v lists them)" if warnings and not args.verbose else "")
        + ("" if report.searched else "; quick: the exhaustive search of profiles was skipped"),
        file=sys.stderr if not report.ok else sys.stdout,
    )
    if args.verbose:
        for line in report.extra:
            print(f"  {line}")
    return 0 if report.ok else 1
