"""``kras-rules evaluate``: every input record yields exactly one output record, in input order."""
from __future__ import annotations

import sys
from typing import Iterator

from engine import formats
from engine.errors import CaseError, EngineError
from engine.inputs import iter_records


def evaluate_records(engine, records, *, as_of=None, backend="default") -> Iterator[tuple[str, object, object]]:
    """Yield ``(source, result | None, error_record | None)`` for each input record, in order."""
    for source, value in records:
        case_id = value.get("id") if isinstance(value, dict) and isinstance(value.get("id"), str) else None
        if isinstance(value, CaseError):
            yield source, None, formats.error_record(source, value, case_id)
            continue
        try:
            res = engine.evaluate(value, as_of=as_of, backend=backend, default_id=case_id or source)
        except EngineError as exc:
            yield source, None, formats.error_record(source, exc, case_id)
            continue
        yield source, res, None


def run_evaluate(args, engine) -> int:
    records = iter_records(args.files)
    jobs = args.jobs
    if jobs is not None and jobs != 1 or (jobs is None and args.backend == "durable"):
        try:
            from engine.parallel import parallel_evaluate
        except ImportError:
            parallel_evaluate = None
        if parallel_evaluate is not None:
            stream = parallel_evaluate(engine, records, args)
        else:
            stream = evaluate_records(engine, records, as_of=args.as_of, backend=args.backend)
    else:
        stream = evaluate_records(engine, records, as_of=args.as_of, backend=args.backend)
    out = sys.stdout
    bad = 0
    summary = None
    if args.summary:
        from engine.summary import Summary

        summary = Summary()
    if args.format == "tsv":
        out.write(formats.tsv_header() + "\n")
    first_text = True
    for source, res, err in stream:
        if summary is not None:
            summary.add(res, err)
        if err is not None:
            bad += 1
            for e in err["error"]:
                where = f"{e['path']}: " if e.get("path") else ""
                hint = f" (did you mean '{e['suggestion']}'?)" if e.get("suggestion") and "did you mean" not in e["message"] else ""
                print(f"{source}: {where}{e['message']}{hint}", file=sys.stderr)
            if args.format == "json":
                out.write(formats.dumps(err) + "\n")
            elif args.format == "tsv":
                out.write(formats.tsv_row(None, error=err) + "\n")
            continue
        if args.format == "json":
            out.write(res.model_dump_json() + "\n")
        elif args.format == "tsv":
            out.write(formats.tsv_row(res) + "\n")
        else:
            if not first_text:
                out.write("\n")
            first_text = False
            out.write(formats.text(res) + "\n")
    out.flush()
    if summary is not None:
        print(summary.render(), file=sys.stderr)
    return 1 if bad else 0
