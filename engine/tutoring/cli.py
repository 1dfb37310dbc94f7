"""The tutoring commands of ``kras-rules``: ``why``, ``compare``, ``catalogue``, ``schema``, ``serve``.

JSON output is exactly what the Python API returns (``model_dump_json()``) and what the HTTP
service sends, byte for byte.
"""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

from engine.errors import CaseError, Problem, UsageError, quote
from engine.tutoring.short import caution_mark

COMMANDS = ("why", "compare", "catalogue", "schema", "serve")


def add_parsers(sub) -> None:
    w = sub.add_parser("why", help="why (not) a therapy for a case: every therapy of the catalogue has an answer")
    w.add_argument("case", metavar="CASE", help="a case file (one JSON object) or - for stdin")
    w.add_argument("therapy", nargs="?", metavar="THERAPY", help="therapy id, name or drugs in any order (e.g. 'cetuximab + adagrasib')")
    w.add_argument("--all", action="store_true", help="answer for every therapy of the catalogue")
    w.add_argument("--format", choices=["text", "json"], default="text")
    w.add_argument("--as-of", metavar="DATE", help="evaluate at this date")
    w.add_argument("--jurisdiction", metavar="NAME", help="evaluate under this regulator's approvals, FDA or EMA (overrides the case's)")

    c = sub.add_parser("compare", help="what changes from case A to case B (facts, options, criteria)")
    c.add_argument("before", metavar="A")
    c.add_argument("after", metavar="B")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--as-of", metavar="DATE", help="evaluate both at this date")
    c.add_argument("--jurisdiction", metavar="NAME", help="evaluate both under this regulator's approvals, FDA or EMA (overrides the cases')")

    k = sub.add_parser("catalogue", help="therapies, genes, variants, cancer types, regimens, drugs, sources")
    k.add_argument("--format", choices=["text", "json"], default="text")
    k.add_argument("--therapy", metavar="TEXT", help="look one therapy up by id, name or drugs in any order")

    s = sub.add_parser("schema", help="print the JSON Schema of the case or the result format")
    s.add_argument("which", choices=["case", "result"])

    v = sub.add_parser("serve", help="run the HTTP service (JSON API, CDS Hooks, tutoring page)")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    v.add_argument("--port", type=_port, default=8000, help="port to listen on, 1 to 65535 (default 8000)")
    v.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="a web origin whose pages may call the API from a browser (e.g. https://tutor.example.org, "
                        "or * for any); repeatable; default: none (only the service's own page)")


def _port(text: str) -> int:
    """A TCP port number (argparse type): 1 to 65535."""
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (1 to 65535)") from None
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a port number (1 to 65535)")
    return n


def read_case(path: str) -> dict:
    """One case from a file (a JSON object, or an array holding one) or - for stdin."""
    from engine.streams.inputs import MAX_DOCUMENT_BYTES, READ_ERRORS, decode_document, decode_json, open_binary

    shown = _shown(path)
    if not path:
        raise UsageError("a case file is named: got an empty name")
    try:  # (bytes, decoded as evaluate decodes a file: a byte that is not UTF-8 is named, not a crash)
        if path == "-":
            data = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8", "surrogatepass")
        else:
            with open_binary(Path(path)) as fh:  # (a .gz name is read through gzip, as evaluate reads it)
                data = fh.read(MAX_DOCUMENT_BYTES + 1)
    except READ_ERRORS as exc:
        raise UsageError(f"{shown}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CaseError([Problem(f"a case file over {MAX_DOCUMENT_BYTES >> 20} MiB")], code="too_large", source=shown)
    text = decode_document(data, shown)
    if isinstance(text, CaseError):
        text.source = shown
        raise text
    path = shown
    try:
        data = decode_json(text)  # (as evaluate reads a case: strictly)
    except CaseError as exc:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if exc.code == "invalid_json" and len(lines) > 1 and all(ln.lstrip().startswith("{") for ln in lines[:2]):
            raise CaseError([Problem("the file holds several cases (JSON Lines): this command takes one; "
                                     "give it one of them, or evaluate them all with 'kras-rules evaluate'")],
                            source=path) from None
        exc.source = path
        raise
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise CaseError([Problem("expected one case (a JSON object)")], source=path)
    return data


def _shown(path: str) -> str:
    from engine.streams.inputs import shown_name

    return "<stdin>" if path == "-" else shown_name(path)


def _with_source(exc: CaseError, path: str) -> CaseError:
    if exc.source is None:
        exc.source = path
    return exc


def run(args, engine) -> int:
    if args.command == "schema":
        from engine.contract import json_schema

        print(json.dumps(json_schema(args.which), indent=2))
        return 0
    if args.command == "serve":
        try:
            from engine.service.app import serve
        except ImportError as exc:  # (an extra not installed is a usage error, not a failure of the program)
            raise UsageError(f"serve needs FastAPI and uvicorn ({exc.name or exc}): pip install 'kras-rules[serve]'") from None

        return serve(engine, host=args.host, port=args.port, cors_origins=args.cors_origin)
    if args.command == "catalogue":
        if args.therapy:
            t = engine.therapy(args.therapy)
            print(t.model_dump_json() if args.format == "json" else f"{t.id}\t{t.name}\t{', '.join(t.drugs)}")
            return 0
        cat = engine.catalogue()
        if args.format == "json":
            print(cat.model_dump_json())
            return 0
        print(f"Knowledge current to {cat.knowledge_version}. Therapies ({len(cat.therapies)}):")
        for t in cat.therapies:
            print(f"  {t.id:58} {t.name}")
        print(f"Genes: {len(cat.genes)}; variants named by the rules: "
              + ", ".join(f"{v.gene} {v.variant}" for v in cat.variants))
        print("Cancer types named by the rules: " + ", ".join(c.code for c in cat.cancer_types if c.in_rules)
              + f" (and their subtypes; {len(cat.cancer_types)} OncoTree nodes accepted)")
        print("Regimens: " + ", ".join(r.name for r in cat.regimens))
        print(f"Drugs: {len(cat.drugs)}; sources: {len(cat.sources)}; jurisdictions: {', '.join(cat.jurisdictions)}")
        return 0
    if args.command == "why":
        case = read_case(args.case)
        if not args.therapy and not args.all:
            raise UsageError("why: name a THERAPY or give --all")
        if args.therapy and args.all:
            raise UsageError(f"why: name a THERAPY ({quote(args.therapy)}) or give --all, not both")
        try:
            ans = engine.explain(case, None if args.all else args.therapy, include_all=args.all, as_of=args.as_of,
                                 jurisdiction=args.jurisdiction, default_id=_shown(args.case))
        except CaseError as exc:
            raise _with_source(exc, _shown(args.case)) from None
        answers = ans if isinstance(ans, list) else [ans]
        if args.format == "json":
            if isinstance(ans, list):
                print("[" + ",".join(a.model_dump_json() for a in answers) + "]")
            else:
                print(ans.model_dump_json())
            return 0
        for a in answers:
            print(render_answer(a, brief=args.all))
        return 0
    if args.command == "compare":
        if args.before == "-" and args.after == "-":
            raise UsageError("compare: standard input ('-') holds one case and is read once: give the other case as a file")
        before, after = read_case(args.before), read_case(args.after)
        for path, c in ((args.before, before), (args.after, after)):
            try:
                engine.normalise(c, default_id=_shown(path))
            except CaseError as exc:
                raise _with_source(exc, _shown(path)) from None
        cmp = engine.compare(before, after, as_of=args.as_of, jurisdiction=args.jurisdiction)
        if args.format == "json":
            print(cmp.model_dump_json())
            return 0
        print(render_comparison(cmp))
        return 0
    raise UsageError(f"unknown command {args.command}")  # pragma: no cover


_MARK = {"met": "[x]", "not_met": "[ ]", "unknown": "[?]"}


def render_answer(a, width: int = 100, brief: bool = False) -> str:
    mark = caution_mark(len(a.option.cautions)) if a.option is not None else ""  # as the option's summary says
    out = [f"{a.name}: {a.verdict.replace('_', ' ') if a.verdict else 'no option for this case'}{mark}"]
    if brief:
        return textwrap.fill(a.summary, width, subsequent_indent="    ")
    out.append(textwrap.fill(a.explanation, width, initial_indent="  ", subsequent_indent="  "))
    if a.criteria:
        out.append("  Criteria:")
        # the criteria of a rule other than an approval are those of the population its evidence
        # comes from (a trial's, a laboratory study's), not of a label: say so
        approval = not a.rules or a.rules[0].evidence == "approved"
        for c in a.criteria:
            kind = c.kind if c.kind == "gate" or approval else "population"
            line = f"    {_MARK[c.status]} {kind}: {c.text}" + (f" (the case: {c.case})" if c.case else "")
            out.append(textwrap.fill(line, width, subsequent_indent="          "))
    if a.rules:  # every rule about the therapy, and what it made of this case (the explanation names the first few)
        out.append("  Rules about it:")
        for r in a.rules:
            out.append(textwrap.fill(f"    - \u201c{r.title}\u201d: {r.reason}", width, subsequent_indent="      "))
    return "\n".join(out)


def render_comparison(cmp, width: int = 100) -> str:
    if cmp.empty:
        return "No difference: the two evaluations agree."
    out = []
    def value(v) -> str:  # (null in the JSON: the field is absent, its default or unknown)
        return "absent" if v is None else json.dumps(v)

    for c in cmp.changes:
        out.append(f"Case field {c.field}: {value(c.before)} -> {value(c.after)}"
                   + (" (the same to the engine, written differently)" if c.same else ""))
    for f in cmp.facts:
        def word(v: bool | None) -> str:
            return "unknown" if v is None else str(v).lower()

        out.append(f"Fact: {f.text}: {word(f.before)} -> {word(f.after)}")
    for o in cmp.options:
        out.append(textwrap.fill("* " + o.why, width, subsequent_indent="    "))
    if not cmp.options:
        out.append("No option changed.")
    for head, notes in (("Note now", cmp.notes_gained), ("Note no longer", cmp.notes_lost)):
        for n in notes:
            out.append(textwrap.fill(f"{head}: {n.text}", width, subsequent_indent="    "))
    return "\n".join(out)
