"""The FastAPI application of ``kras-rules serve``.

Every JSON response body is exactly what the command line prints for the same question (``evaluate
--format json``, ``why --format json``, ``compare --format json``, ``catalogue --format json``,
``rules --format json``, ``explain RULE --format json``, ``schema``), without the final newline.
Errors have the engine's own shape, the JSON error record of ``evaluate``:
``{"case_id": ..., "source": ..., "error": [{"path", "message", "suggestion"}]}`` with status 422
(a case or therapy the engine cannot read), 400 (not JSON, wrong request shape) or 404 (unknown
rule or schema).

The engine is shared by the request threads; it keeps no per-request state (see
:mod:`engine.api`). Only the default backend is served: the durable-rules backend allows one
session at a time per process.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from engine.case import CaseIn
from engine.catalogue import Catalogue, TherapyEntry
from engine.errors import CaseError, EngineError, Problem, RuleError, UsageError, quote
from engine.formats import error_record
from engine.result import Result
from engine.streams.inputs import MAX_RECORD_BYTES, case_id_of, decode_document, decode_json, usable_id
from engine.service import cds
from engine.tutoring.compare import Comparison
from engine.tutoring.whynot import TherapyAnswer

STATIC = Path(__file__).resolve().parent / "static"


class WhyRequest(BaseModel):
    """Why (not) a therapy for a case."""

    model_config = ConfigDict(extra="forbid")
    case: CaseIn = Field(description="the case")
    therapy: str | None = Field(default=None, description="therapy id, name or drugs in any order")
    all: bool = Field(default=False, description="answer for every therapy of the catalogue instead")
    as_of: str | None = Field(default=None, description="evaluate at this date (YYYY-MM-DD)")
    jurisdiction: str | None = Field(default=None, description="evaluate under this regulator (FDA or EMA; overrides the case's)")


class CompareRequest(BaseModel):
    """What changes from one case to another."""

    model_config = ConfigDict(extra="forbid")
    before: CaseIn = Field(description="the case before")
    after: CaseIn = Field(description="the case after (usually one fact changed)")
    as_of: str | None = Field(default=None, description="evaluate both at this date (YYYY-MM-DD)")
    jurisdiction: str | None = Field(default=None, description="evaluate both under this regulator (FDA or EMA; overrides the cases')")


class CDSRequest(BaseModel):
    """A CDS Hooks request; the case is in context.case."""

    model_config = ConfigDict(extra="allow")
    hook: str = Field(description="the hook (patient-view)")
    hookInstance: str = Field(description="the hook instance id")
    context: dict[str, Any] = Field(description="the hook context; 'case' holds the kras-rules case")


class ErrorItem(BaseModel):
    path: str = Field(description="the field path, e.g. alterations[0].variant")
    message: str = Field(description="what is wrong")
    suggestion: str | None = Field(description="the value probably meant")


class ErrorRecord(BaseModel):
    """The engine's error shape (as in ``evaluate --format json``)."""

    case_id: str | None = Field(description="the case id, if it could be read")
    source: str | None = Field(description="where the input came from")
    error: list[ErrorItem] = Field(description="every problem found")
    code: str = Field(description="what kind of error: invalid_case, usage, not_found, invalid_json, duplicate_key, "
                                  "not_utf8, too_deep, too_large, ...")


_BODIES = {"CaseIn": CaseIn, "WhyRequest": WhyRequest, "CompareRequest": CompareRequest, "CDSRequest": CDSRequest}
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorRecord, "description": "not JSON, or not the request's shape"},
           413: {"model": ErrorRecord, "description": "a request body over 1 MiB (code too_large)"},
           422: {"model": ErrorRecord, "description": "a case or therapy the engine cannot read"}}


def _body(name: str) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}}


def _json(text: str, status: int = 200) -> Response:
    return Response(content=text, media_type="application/json", status_code=status)


def _status(exc: EngineError) -> int:
    if isinstance(exc, BodyTooLarge):
        return 413
    if isinstance(exc, (BodyError, RequestShape)):
        return 400
    if isinstance(exc, RuleError):
        return 404
    if isinstance(exc, CaseError) or (isinstance(exc, UsageError) and any(p.path for p in exc.problems)):
        return 422
    return 400


#: the largest request body read (a case is at most 1 MiB, as a line of ``evaluate``'s input)
MAX_BODY = MAX_RECORD_BYTES
#: bodies up to this size are decoded and evaluated on the event loop (well under a millisecond);
#: larger ones in the thread pool, so that a large case delays no other request
INLINE_BODY = 64 << 10


class BodyTooLarge(UsageError):
    """A request body over :data:`MAX_BODY` (status 413)."""


class RequestShape(UsageError):
    """A request that is not of its endpoint's shape: a member missing, unknown or of the wrong
    type (status 400, code ``usage``). A value the engine cannot read (a case, a therapy, a date)
    is a 422 instead."""


class BodyError(UsageError):
    """A request body that is not JSON as the command line reads it (status 400, with the code
    ``evaluate`` writes for the same line: ``invalid_json``, ``duplicate_key``, ``too_deep``...)."""


async def _raw(request: Request) -> bytes:
    """The request body, read no further than :data:`MAX_BODY` bytes."""
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise BodyTooLarge([Problem(f"a request body of {int(size):,} bytes (at most {MAX_BODY:,})")], code="too_large")
    parts: list[bytes] = []
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > MAX_BODY:
            raise BodyTooLarge([Problem(f"a request body of more than {MAX_BODY:,} bytes")], code="too_large")
        parts.append(chunk)
    return b"".join(parts)


def _decode(raw: bytes) -> Any:
    """The body as the command line reads a record: UTF-8, strict JSON (no key named twice, no
    NaN, bounded nesting and numbers), errors with the same codes."""
    if not raw.strip():
        raise BodyError([Problem("the request body is empty: send a JSON object")], code="invalid_json")
    try:
        text = decode_document(raw, "request")
        if isinstance(text, CaseError):
            raise text
        return decode_json(text)
    except CaseError as exc:
        raise BodyError(exc.problems, code=exc.code) from None


async def _read(request: Request) -> Any:
    raw = await _raw(request)
    if len(raw) > INLINE_BODY:
        return await run_in_threadpool(_decode, raw)
    return _decode(raw)


def _object(data: Any, key: str | None = None, required: bool = True) -> Any:
    if key is None:
        if not isinstance(data, dict):
            raise CaseError([Problem(f"a case is a JSON object, got {type(data).__name__}")])
        return data
    if not isinstance(data, dict):
        raise RequestShape([Problem(f"the request body is a JSON object with '{key}'")])
    if key not in data:
        if required:
            raise RequestShape([Problem("required field is missing", (key,))])
        return None
    value = data[key]
    if key in _OBJECT_MEMBERS and not isinstance(value, dict):
        raise RequestShape([Problem(f"'{key}' is a JSON object, got {quote(value)}", (key,))])
    return value


#: request members that hold a JSON object (a case, a CDS Hooks context)
_OBJECT_MEMBERS = frozenset({"case", "before", "after", "context"})


def _named(exc: EngineError, case: Any) -> EngineError:
    """The error, naming the case it is about (its ``id``, where the body gives one)."""
    exc.case_id = usable_id(case_id_of(case))  # type: ignore[attr-defined]
    return exc


def _patient(context: dict) -> str:
    """The case id a CDS Hooks context gives (its ``patientId``, when a text)."""
    pid = context.get("patientId")
    return pid if type(pid) is str and pid else "case"


class _HeadAsGet:
    """HEAD answered as GET without the body (RFC 9110: a server supports HEAD wherever it supports
    GET; FastAPI's routes take only the methods they name). A load balancer's HEAD check works."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def create_app(engine=None, cors_origins: list[str] | tuple[str, ...] = ()) -> FastAPI:
    """The application for ``engine`` (default: the shipped rules). ``cors_origins``: the web
    origins (``https://tutor.example.org``, or ``*``) whose pages may call the API from a browser
    (cross-origin requests: none by default, so only the service's own page can)."""
    from engine import __version__
    from engine.api import default_engine
    from engine.catalogue import rule_record
    from engine.contract import json_schema
    from engine.tutoring.criteria import rule_criteria  # noqa: F401  (documents the dependency)

    engine = engine or default_engine()
    rb = engine.rulebase
    app = FastAPI(
        redirect_slashes=False,  # (a path with a trailing slash is an unknown path: a 404 in the error shape)
        title="kras-rules",
        version=__version__,
        description=("Educational therapy-eligibility rules for KRAS-driven cancers. " + rb.meta.disclaimer
                     + " Knowledge current to " + rb.meta.knowledge_version.isoformat() + "."),
    )
    app.state.engine = engine
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        class _Cors(CORSMiddleware):
            """Starlette's CORS handling, its refusals in the engine's error shape."""

            def preflight_response(self, request_headers):
                resp = super().preflight_response(request_headers)
                if resp.status_code != 200:
                    err = UsageError([Problem(f"this service does not allow that cross-origin request: "
                                              f"{bytes(resp.body).decode('utf-8', 'replace')}")])
                    return _json(json.dumps(error_record("request", err), separators=(",", ":")), resp.status_code)
                return resp

        # (Authorization: a CDS Hooks client presents its JWT so; the service does not read it)
        app.add_middleware(_Cors, allow_origins=list(cors_origins), allow_methods=["GET", "HEAD", "POST"],
                           allow_headers=["Content-Type", "Authorization"], max_age=600)
    app.add_middleware(_HeadAsGet)

    @app.exception_handler(EngineError)
    async def _engine_error(request: Request, exc: EngineError):
        record = error_record(exc.source or "request", exc, getattr(exc, "case_id", None))
        status = _status(exc)
        if status == 404:  # an unknown rule or schema: nothing is wrong with the rules
            record["code"] = "not_found"
        return _json(json.dumps(record, separators=(",", ":")), status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        # an unknown path or method in the engine's error shape too
        what = {404: f"no such path: {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        err = UsageError([Problem(what.get(exc.status_code, str(exc.detail)))], code="not_found" if exc.status_code == 404 else None)
        resp = _json(json.dumps(error_record("request", err), separators=(",", ":")), exc.status_code)
        for k, v in (exc.headers or {}).items():  # (a 405 names the methods allowed: Allow)
            resp.headers[k] = v
        return resp

    @app.exception_handler(RequestValidationError)
    async def _query_error(request: Request, exc: RequestValidationError):
        problems = [Problem(e.get("msg", "invalid"), tuple(str(x) for x in e.get("loc", ())[1:])) for e in exc.errors()]
        err = UsageError(problems or [Problem("invalid request")])
        return _json(json.dumps(error_record("request", err), separators=(",", ":")), 400)

    def _known(data: dict, allowed: set[str], what: str = "field") -> None:
        import difflib

        for k in data:
            if k not in allowed:
                close = difflib.get_close_matches(k, sorted(allowed), n=1)
                raise RequestShape([Problem(f"unknown {what} '{k}'; allowed: {', '.join(sorted(allowed))}", (k,),
                                          close[0] if close else None)])

    @contextlib.contextmanager
    def _about(case: Any):
        """A request-shape error raised inside names the case the body gives (its ``id``)."""
        try:
            yield
        except RequestShape as exc:
            raise _named(exc, case) from None

    def _query(request: Request, allowed: Collection[str] = (), case: Any = None) -> None:
        """A query parameter the endpoint does not take, or one given twice, is an error (never
        ignored in silence: ``/why?as_of=`` would answer for the case's own date), naming the
        case where the body gives one."""
        seen: set[str] = set()
        with _about(case):
            for k, _ in request.query_params.multi_items():
                if k in seen:
                    raise RequestShape([Problem(f"query parameter '{k}' given more than once", (k,))])
                seen.add(k)
            _known(dict(request.query_params), set(allowed), "query parameter")

    @app.post("/evaluate", response_model=Result, responses=_ERRORS, openapi_extra=_body("CaseIn"),
              summary="Evaluate one case", description="The result, as `kras-rules evaluate --format json` prints it.")
    async def evaluate(request: Request, as_of: str | None = None, jurisdiction: str | None = None):
        data = await _read(request)
        _query(request, {"as_of", "jurisdiction"}, data)
        case = _object(data)
        try:
            res = engine.evaluate(case, as_of=as_of, jurisdiction=jurisdiction)  # well under a millisecond: inline, no thread hop
        except EngineError as exc:
            raise _named(exc, case) from None
        return _json(res.model_dump_json())

    @app.post("/why", response_model=TherapyAnswer | list[TherapyAnswer], responses=_ERRORS, openapi_extra=_body("WhyRequest"),
              summary="Why (not) a therapy", description="As `kras-rules why CASE THERAPY --format json` (or `--all`).")
    async def why(request: Request):
        data = await _read(request)
        case = _object(data, "case")
        _query(request, case=case)
        therapy, every = data.get("therapy"), data.get("all", False)
        with _about(case):
            _known(data, {"case", "therapy", "all", "as_of", "jurisdiction"})
            if type(every) is not bool:
                raise RequestShape([Problem(f"all is true or false, got {quote(every)}", ("all",))])
            if therapy is not None and type(therapy) is not str:
                raise RequestShape([Problem(f"a therapy is named by a text, got {quote(therapy)}", ("therapy",))])
            if not therapy and not every:
                raise RequestShape([Problem("name a therapy, or set all to true", ("therapy",))])
            if therapy and every:
                raise RequestShape([Problem("name a therapy or set all to true, not both", ("all",))])
        try:
            ans = await run_in_threadpool(lambda: engine.explain(_object(case), None if every else therapy,
                                                                 include_all=every, as_of=data.get("as_of"),
                                                                 jurisdiction=data.get("jurisdiction")))
        except CaseError as exc:
            raise _named(exc.at("case"), case) from None
        except EngineError as exc:
            raise _named(exc, case) from None
        if isinstance(ans, list):
            return _json("[" + ",".join(a.model_dump_json() for a in ans) + "]")
        return _json(ans.model_dump_json())

    @app.post("/compare", response_model=Comparison, responses=_ERRORS, openapi_extra=_body("CompareRequest"),
              summary="What if: compare two cases", description="As `kras-rules compare A B --format json`.")
    async def compare(request: Request):
        data = await _read(request)
        before, after = _object(data, "before"), _object(data, "after")
        _query(request, case=before)
        with _about(before):
            _known(data, {"before", "after", "as_of", "jurisdiction"})
        try:  # (Engine.compare names the side of a case error: before.stage)
            cmp = await run_in_threadpool(engine.compare, before, after, as_of=data.get("as_of"),
                                          jurisdiction=data.get("jurisdiction"))
        except EngineError as exc:
            side = exc.problems[0].path[:1] if isinstance(exc, CaseError) and exc.problems else ()
            raise _named(exc, before if side == ("before",) else after) from None
        return _json(cmp.model_dump_json())

    @app.get("/catalogue", response_model=Catalogue, summary="The catalogue",
             description="As `kras-rules catalogue --format json`.")
    def catalogue(request: Request):
        _query(request)
        return _json(engine.catalogue().model_dump_json())

    @app.get("/catalogue/therapy", response_model=TherapyEntry, responses=_ERRORS, summary="Look a therapy up",
             description="By id, name or drugs in any order and by any name, as `kras-rules catalogue --therapy Q --format json`.")
    def therapy(request: Request, q: str):
        _query(request, {"q"})
        return _json(engine.therapy(q).model_dump_json())

    @app.get("/rules", summary="Every rule", description="As `kras-rules rules --format json`.")
    def rules(request: Request):
        _query(request)
        return _json(json.dumps([rule_record(rb, r) for r in rb.rules], indent=2))

    @app.get("/rules/{rule_id}", summary="One rule", responses={404: {"model": ErrorRecord}},
             description="Its fields, rationale, citations and examples, as `kras-rules explain RULE --format json`.")
    def rule(request: Request, rule_id: str):
        _query(request)
        return _json(json.dumps(rule_record(rb, rb.rule(rule_id.strip().upper())), indent=2))

    @app.get("/schema/{which}", summary="JSON Schema of the case or result format",
             responses={404: {"model": ErrorRecord}}, description="As `kras-rules schema case|result`.")
    def schema(request: Request, which: str):
        _query(request)
        if which not in ("case", "result"):
            raise RuleError([Problem(f"unknown schema '{which}' (use 'case' or 'result')", ("which",))])
        return _json(json.dumps(json_schema(which), indent=2))

    @app.get("/cds-services", response_model=cds.Discovery, summary="CDS Hooks discovery")
    def cds_discovery(request: Request):
        _query(request)
        return _json(cds.discovery().model_dump_json())

    @app.post(f"/cds-services/{cds.SERVICE_ID}", response_model=cds.CardsResponse, responses=_ERRORS,
              openapi_extra=_body("CDSRequest"), summary="CDS Hooks service: one card per option")
    async def cds_service(request: Request):
        data = await _read(request)
        context = _object(data, "context")
        named = context.get("case") if isinstance(context, dict) else None
        _query(request, case=named)
        with _about(named):
            for key in ("hook", "hookInstance"):
                if type(data.get(key)) is not str:
                    raise RequestShape([Problem(f"a CDS Hooks request names its {key} (a text)", (key,))])
            if data["hook"] != cds.HOOK:  # (the hook the discovery document registers the service for)
                raise RequestShape([Problem(f"this service answers the {cds.HOOK} hook, not {quote(data['hook'])}", ("hook",),
                                            cds.HOOK)])
        if not isinstance(context, dict) or "case" not in context:
            raise RequestShape([Problem("the case goes in context.case", ("context", "case"))])
        case = context["case"]
        if not isinstance(case, dict):
            raise RequestShape([Problem(f"context.case is a JSON object (a case), got {quote(case)}", ("context", "case"))])
        base = str(request.base_url)

        def run():
            from engine.tutoring.whynot import WhyNot  # noqa: F401

            res, answers = engine._answers(case, None, default_id=_patient(context))
            return cds.cards(res, rb, base, lambda o: answers[o.therapy].criteria, lambda o: answers[o.therapy].explanation)

        try:
            out = await run_in_threadpool(run)
        except CaseError as exc:
            raise _named(exc.at("context", "case"), case) from None
        return _json(out.model_dump_json(exclude_none=True))

    @app.get("/", include_in_schema=False)
    def page(request: Request):
        _query(request)
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/health", summary="Liveness", description="Always {\"status\": \"ok\"} with the knowledge version.")
    def health(request: Request):
        _query(request)
        return JSONResponse({"status": "ok", "knowledge_version": rb.meta.knowledge_version.isoformat()})

    def openapi():
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _BODIES.items():
            s = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for k, v in s.pop("$defs", {}).items():
                comps.setdefault(k, v)
            comps[name] = s
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to supply the schema
    return app


def serve(engine, host: str = "127.0.0.1", port: int = 8000, cors_origins: list[str] | tuple[str, ...] = ()) -> int:
    """Run the service until interrupted (``kras-rules serve``)."""
    import socket

    import uvicorn

    # the address is tried first, so that one in use or a host that does not resolve is a usage
    # error naming it (uvicorn would log it and exit as if the program had failed)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    uvicorn.run(create_app(engine, cors_origins), host=host, port=port, log_level="info")
    return 0
