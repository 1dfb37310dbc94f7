"""The HTTP service: the same JSON as the CLI and the API, errors in the engine's shape, the OpenAPI
snapshot, CDS Hooks cards, statelessness, and one Engine shared by threads."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.service.app import create_app  # noqa: E402
from engine.service.cds import INDICATORS, SERVICE_ID  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "cases").glob("*.json"))
SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "openapi.json"


@pytest.fixture(scope="module")
def client(engine):
    return TestClient(create_app(engine))


def _cli(*args, stdin=None):
    out = subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=REPO, input=stdin)
    return out


def case(name):
    return json.loads((REPO / "cases" / name).read_text())


# --------------------------------------------------------------------------- same JSON everywhere


def test_evaluate_is_byte_for_byte_the_cli_and_the_api(client, engine):
    out = _cli("evaluate", "--format", "json", "--jobs", "1", *[str(p) for p in CASES])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(CASES)
    for path, line in zip(CASES, lines, strict=True):
        data = json.loads(path.read_text())
        r = client.post("/evaluate", json=data)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.text == line == engine.evaluate(data).to_json(), path.name


def test_why_compare_catalogue_rules_schema_are_the_cli_output(client):
    c = "cases/luad-g12d-second-line.json"
    pairs = [
        (client.post("/why", json={"case": json.loads((REPO / c).read_text()), "therapy": "Krazati + Erbitux"}),
         _cli("why", c, "Krazati + Erbitux", "--format", "json")),
        (client.post("/why", json={"case": json.loads((REPO / c).read_text()), "all": True}),
         _cli("why", c, "--all", "--format", "json")),
        (client.post("/compare", json={"before": case("crc-g12c-folfox-only.json"), "after": case("crc-g12c-folfox-folfiri.json")}),
         _cli("compare", "cases/crc-g12c-folfox-only.json", "cases/crc-g12c-folfox-folfiri.json", "--format", "json")),
        (client.get("/catalogue"), _cli("catalogue", "--format", "json")),
        (client.get("/catalogue/therapy", params={"q": "cetuximab+adagrasib"}),
         _cli("catalogue", "--therapy", "cetuximab+adagrasib", "--format", "json")),
        (client.get("/rules"), _cli("rules", "--format", "json")),
        (client.get("/rules/LNG-001"), _cli("explain", "LNG-001", "--format", "json")),
        (client.get("/schema/case"), _cli("schema", "case")),
        (client.get("/schema/result"), _cli("schema", "result")),
    ]
    for http, cli in pairs:
        assert http.status_code == 200 and cli.returncode == 0, (http.text[:200], cli.stderr)
        assert http.text == cli.stdout.rstrip("\n"), http.url


def test_why_of_the_service_names_the_unmet_gates(client):
    r = client.post("/why", json={"case": case("luad-g12d-second-line.json"), "therapy": "adagrasib + cetuximab"}).json()
    assert r["verdict"] is None
    assert {c["status"] for c in r["criteria"] if c["kind"] == "gate"} == {"not_met"}


# --------------------------------------------------------------------------- errors


def test_errors_have_the_engine_shape_with_path_and_did_you_mean(client):
    bad = dict(case("luad-g12c-second-line.json"), cancer_type="NSCLCC")
    r = client.post("/evaluate", json=bad)
    assert r.status_code == 422
    assert r.json() == {"case_id": "luad-g12c-second-line", "source": "request", "code": "invalid_case",
                        "error": [{"path": "cancer_type", "message": "unknown cancer type 'NSCLCC'", "suggestion": "NSCLC"}]}
    r = client.post("/evaluate", json=dict(case("luad-g12c-second-line.json"), stagee="metastatic"))
    assert r.status_code == 422 and r.json()["error"][0]["path"] == "stagee" and r.json()["error"][0]["suggestion"] == "stage"
    bad = case("luad-g12c-second-line.json")
    bad["alterations"][0]["variant"] = "G12CC"
    r = client.post("/why", json={"case": bad, "therapy": "sotorasib"})
    assert r.status_code == 422 and r.json()["error"][0]["path"].startswith("case.alterations[0].variant")
    r = client.post("/why", json={"case": case("luad-g12c-second-line.json"), "therapy": "cetuximab+adagrasob"})
    assert r.status_code == 422 and r.json()["error"][0]["suggestion"] == "adagrasib+cetuximab"
    r = client.post("/compare", json={"before": case("luad-g12c-second-line.json"), "after": dict(case("luad-g12c-second-line.json"), stage="late")})
    assert r.status_code == 422 and r.json()["error"][0]["path"] == "after.stage"
    r = client.post("/evaluate", content=b"{not json")
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"][0]["message"] and r.json()["code"] == "invalid_json"
    r = client.post("/evaluate", json=[1, 2])
    assert r.status_code == 422 and r.json()["error"]
    r = client.get("/rules/LNG-01")
    assert r.status_code == 404 and r.json()["error"][0]["suggestion"] and r.json()["code"] == "not_found"
    assert client.get("/schema/cases").status_code == 404


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_matches_the_snapshot(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in ("Result", "Option", "CaseIn", "TherapyAnswer", "Comparison", "Catalogue", "CardsResponse", "ErrorRecord"):
        assert name in schemas
    body = spec["paths"]["/evaluate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CaseIn"}
    text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
    if os.environ.get("KRAS_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), "OpenAPI changed: review it, then KRAS_UPDATE_SNAPSHOTS=1 pytest tests/test_service.py"


# --------------------------------------------------------------------------- CDS Hooks


def test_cds_hooks_discovery_and_cards(client, engine):
    d = client.get("/cds-services").json()
    assert d["services"][0]["id"] == SERVICE_ID and d["services"][0]["hook"] == "patient-view"
    req = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {"patientId": "p1", "case": case("crc-g12c-folfox-folfiri.json")}}
    a = client.post(f"/cds-services/{SERVICE_ID}", json=req).json()
    b = client.post(f"/cds-services/{SERVICE_ID}", json=dict(req, hookInstance=str(uuid.uuid4()))).json()
    result = engine.evaluate(case("crc-g12c-folfox-folfiri.json"))
    assert len(a["cards"]) == len(result.options) > 0
    for card, o in zip(a["cards"], result.options, strict=True):
        assert 0 < len(card["summary"]) <= 140 and card["summary"] == o.summary
        assert card["indicator"] in INDICATORS
        assert card["source"]["label"] and card["source"]["url"].startswith("http")
        why = engine.explain(case("crc-g12c-folfox-folfiri.json"), o.therapy)
        assert why.explanation in card["detail"] and not any(r in card["detail"] for r in o.rules)
        uuid.UUID(card["uuid"])
    assert [c["uuid"] for c in a["cards"]] == [c["uuid"] for c in b["cards"]]  # stable per option
    assert len({c["uuid"] for c in a["cards"]}) == len(a["cards"])  # one per option
    ind = {o.verdict: c["indicator"] for c, o in zip(a["cards"], result.options, strict=True)}
    assert ind.get("eligible") == "info" and ind.get("excluded") == "warning"
    r = client.post(f"/cds-services/{SERVICE_ID}", json={"hook": "patient-view", "hookInstance": "x", "context": {}})
    assert r.status_code == 400 and r.json()["error"][0]["path"] == "context.case"


def test_cds_card_source_url_points_at_the_rule_when_the_source_has_none(client):
    req = {"hook": "patient-view", "hookInstance": "i", "context": {"case": case("luad-g12c-second-line.json")}}
    cards = client.post(f"/cds-services/{SERVICE_ID}", json=req).json()["cards"]
    for c in cards:
        url = c["source"]["url"]
        if "/rules/" in url:
            assert client.get(url.split("testserver")[-1]).status_code == 200


# --------------------------------------------------------------------------- stateless, thread safe


def test_stateless_two_instances_give_the_same_bytes_and_no_cookie(engine):
    a, b = TestClient(create_app(engine)), TestClient(create_app(Engine()))
    data = case("pdac-g12d-second-line.json")
    ra, rb = a.post("/evaluate", json=data), b.post("/evaluate", json=data)
    assert ra.text == rb.text and "set-cookie" not in ra.headers


def test_one_engine_shared_by_threads_equals_serial_calls():
    engine = Engine()
    cases = [json.loads(p.read_text()) for p in CASES]
    serial = [engine.evaluate(c).to_json() for c in cases]
    serial_why = [engine.explain(c, "adagrasib+cetuximab").model_dump_json() for c in cases]
    work = [i for i in range(len(cases)) for _ in range(4)]
    random.Random(7).shuffle(work)
    fresh = Engine()  # caches empty: the threads fill them concurrently

    def one(i):
        return i, fresh.evaluate(cases[i]).to_json(), fresh.explain(cases[i], "adagrasib+cetuximab").model_dump_json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        for i, res, why in pool.map(one, work):
            assert res == serial[i] and why == serial_why[i]


def test_concurrent_clients_over_http_get_what_serial_calls_give(engine):
    import http.client
    from urllib.parse import urlparse

    from service_util import LiveServer

    cases = [json.loads(p.read_text()) for p in CASES[:20]]
    expected = [engine.evaluate(c).to_json() for c in cases]
    with LiveServer(create_app(engine), max_requests=1000) as url:
        host, port = urlparse(url).hostname, urlparse(url).port
        errors = []

        def client_loop(k):
            conn = http.client.HTTPConnection(host, port, timeout=30)
            for j in range(10):
                i = (k + j) % len(cases)
                conn.request("POST", "/evaluate", body=json.dumps(cases[i]), headers={"Content-Type": "application/json"})
                body = conn.getresponse().read().decode()
                if body != expected[i]:
                    errors.append(i)
            conn.close()

        threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors


# --------------------------------------------------------------------------- bodies read as the CLI reads a record


def test_bodies_are_read_as_strictly_as_a_line_of_evaluate(client):
    good = case("luad-g12c-second-line.json")
    text = json.dumps(good)
    # a key named twice is an error, not the last value (here: another cancer type evaluated)
    r = client.post("/evaluate", content=text[:-1] + ', "cancer_type": "PAAD"}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "duplicate_key"
    r = client.post("/evaluate", content=text.replace('"as_of"', '"x": NaN, "as_of"'))
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = client.post("/evaluate", content=text.encode("utf-16"))
    assert r.status_code == 400 and r.json()["code"] == "not_utf8"
    r = client.post("/evaluate", content='{"cancer_type": "LUAD", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    assert r.status_code == 400 and r.json()["code"] == "too_deep"
    r = client.post("/evaluate", content='{"cancer_type": "LUAD", "prior_therapies": [{"regimen": "FOLFOX", "weeks": ' + "9" * 5000 + "}]}")
    assert r.status_code == 400 and r.json()["code"] == "too_large"
    r = client.post("/evaluate", content=b"")
    assert r.status_code == 400 and "empty" in r.json()["error"][0]["message"]
    # over the size of one record: refused before it is decoded
    r = client.post("/evaluate", content=b" " * (2 << 20))
    assert r.status_code == 413 and "at most" in r.json()["error"][0]["message"]
    # a large valid case is evaluated (in the thread pool) as a small one is
    big = dict(good, alterations=good["alterations"] + [{"gene": "TP53", "variant": "R175H"}] * 3000)
    r = client.post("/evaluate", json=big)
    assert r.status_code == 200 and r.json()["options"] == client.post("/evaluate", json=good).json()["options"]


def test_as_of_of_any_other_type_or_form_is_an_error_naming_it(client, engine):
    good = case("luad-g12c-second-line.json")
    for bad in (20260101, ["2026-01-01"], "2026-W01-1", "20260101", "2026-02-30"):
        r = client.post("/why", json={"case": good, "therapy": "sotorasib", "as_of": bad})
        assert r.status_code == 422 and r.json()["error"][0]["path"] == "as_of", bad
        r = client.post("/compare", json={"before": good, "after": good, "as_of": bad})
        assert r.status_code == 422 and r.json()["error"][0]["path"] == "as_of", bad
        from engine.errors import UsageError

        with pytest.raises(UsageError, match="YYYY-MM-DD"):
            engine.evaluate(good, as_of=bad)
    r = client.post("/evaluate?as_of=20260101", json=good)
    assert r.status_code == 422 and r.json()["error"][0]["path"] == "as_of"
    assert client.post("/evaluate?as_of=2026-01-01", json=good).json()["evaluated_as_of"] == "2026-01-01"


def test_jurisdiction_can_be_set_on_every_endpoint_and_an_unknown_one_or_query_parameter_is_an_error(client, engine):
    """A tutor switching the regulator: ``?jurisdiction=EMA`` used to be ignored in silence (the
    result came back under FDA) and ``/why`` refused the field. Every endpoint takes it now, as
    Engine.evaluate, explain and compare do; an unknown regulator or query parameter is an error
    that names it."""
    good = case("crc-g12c-folfox-folfiri.json")  # adagrasib + cetuximab: FDA-approved, not EU-authorised
    r = client.post("/evaluate?jurisdiction=EMA", json=good)
    assert r.status_code == 200 and r.json()["jurisdiction"] == "EMA"
    verdict = {o["therapy"]: o["verdict"] for o in r.json()["options"]}["adagrasib+cetuximab"]
    assert verdict == engine.evaluate(good, jurisdiction="ema").option("adagrasib+cetuximab").verdict == "consider"
    assert engine.evaluate(good).option("adagrasib+cetuximab").verdict == "eligible"
    why = client.post("/why", json={"case": good, "therapy": "adagrasib + cetuximab", "jurisdiction": "EMA"}).json()
    assert why["verdict"] == "consider" and why == engine.explain(good, "adagrasib+cetuximab", jurisdiction="EMA").model_dump(mode="json")
    cmp = client.post("/compare", json={"before": good, "after": dict(good, jurisdiction="FDA"), "jurisdiction": "EMA"}).json()
    assert cmp["options"] == []  # (both evaluated under the EMA)
    for bad in ("EU", 5):
        r = client.post(f"/evaluate?jurisdiction={bad}", json=good)
        assert r.status_code == 422 and r.json()["error"][0]["path"] == "jurisdiction", bad
        r = client.post("/why", json={"case": good, "therapy": "sotorasib", "jurisdiction": bad})
        assert r.status_code == 422 and r.json()["error"][0]["path"] == "jurisdiction", bad
    r = client.post("/evaluate?asof=2026-01-01", json=good)
    assert r.status_code == 400 and "unknown query parameter 'asof'" in r.json()["error"][0]["message"]
    assert r.json()["error"][0].get("suggestion") == "as_of"


def test_why_request_fields_are_read_strictly(client):
    good = case("luad-g12c-second-line.json")
    # the request's own shape: 400, code usage
    r = client.post("/why", json={"case": good, "all": "false"})
    assert r.status_code == 400 and r.json()["error"][0]["path"] == "all" and r.json()["code"] == "usage"
    r = client.post("/why", json={"case": good, "therapy": "sotorasib", "all": True})
    assert r.status_code == 400 and "not both" in r.json()["error"][0]["message"]
    r = client.post("/why", json={"case": good, "therapy": ["sotorasib"]})
    assert r.status_code == 400 and r.json()["error"][0]["path"] == "therapy"
    r = client.post("/compare", json={"before": good})
    assert r.status_code == 400 and r.json()["error"][0]["path"] == "after"
    # a therapy the engine cannot read: 422
    r = client.post("/why", json={"case": good, "therapy": "sotorasibb"})
    assert r.status_code == 422 and r.json()["error"][0]["suggestion"] == "sotorasib"


def test_error_records_name_the_case_and_every_error_has_the_engine_shape(client):
    r = client.post("/evaluate", json={"id": "student-7", "cancer_type": "XX"})
    assert r.status_code == 422 and r.json()["case_id"] == "student-7"
    for r, status in ((client.get("/nope"), 404), (client.get("/evaluate"), 405), (client.get("/catalogue/therapy"), 400)):
        body = r.json()
        assert r.status_code == status and set(body) == {"case_id", "source", "error", "code"}, body
        assert body["error"][0]["message"]
    r = client.get("/catalogue/therapy")
    assert r.json()["error"][0]["path"] == "q"


def test_cds_requests_name_their_hook_and_a_patient_id_that_is_no_text_is_not_an_id(client):
    good = case("luad-g12c-second-line.json")
    r = client.post(f"/cds-services/{SERVICE_ID}", json={"context": {"case": good}})
    assert r.status_code == 400 and r.json()["error"][0]["path"] == "hook"
    r = client.post(f"/cds-services/{SERVICE_ID}", json={"hook": "patient-view", "hookInstance": "x",
                                                         "context": {"case": {k: v for k, v in good.items() if k != "id"}, "patientId": {"a": 1}}})
    assert r.status_code == 200


def test_cross_origin_pages_are_allowed_only_when_named(engine):
    origin = "https://tutor.example.org"
    pre = {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    closed = TestClient(create_app(engine))
    r = closed.options("/evaluate", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    opened = TestClient(create_app(engine, cors_origins=[origin]))
    r = opened.options("/evaluate", headers=pre)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
    r = opened.post("/evaluate", json=case("luad-g12c-second-line.json"), headers={"Origin": origin})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
    r = opened.options("/evaluate", headers=dict(pre, Origin="https://elsewhere.example.org"))
    assert r.headers.get("access-control-allow-origin") != "https://elsewhere.example.org"


def test_every_case_endpoint_names_the_case_and_a_mistyped_member_is_the_request_s_shape(client, engine):
    good = case("luad-g12c-second-line.json")
    bad = dict(good, cancer_type="LUADX")
    r = client.post("/why", json={"case": bad, "therapy": "sotorasib"})
    assert r.status_code == 422 and r.json()["case_id"] == "luad-g12c-second-line"
    r = client.post("/compare", json={"before": good, "after": dict(bad, id="after-7")})
    assert r.status_code == 422 and r.json()["case_id"] == "after-7"
    for body, path in (({"case": 5, "therapy": "sotorasib"}, "case"), ({"before": 5, "after": good}, "before")):
        r = client.post("/why" if "case" in body else "/compare", json=body)
        assert r.status_code == 400 and r.json()["error"][0]["path"] == path and r.json()["code"] == "usage"
    r = client.post(f"/cds-services/{SERVICE_ID}", json={"hook": "patient-view", "hookInstance": "x", "context": {"case": 5}})
    assert r.status_code == 400 and r.json()["error"][0]["path"] == "context.case"


def test_a_refused_cross_origin_preflight_has_the_engine_error_shape(engine):
    opened = TestClient(create_app(engine, cors_origins=["https://tutor.example.org"]))
    r = opened.options("/evaluate", headers={"Origin": "https://elsewhere.example.org", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    assert set(r.json()) == {"case_id", "source", "error", "code"} and "cross-origin" in r.json()["error"][0]["message"]


def test_http_details_an_integrator_relies_on(engine, client):
    """From a review of the service as an integrator sees it: every endpoint refuses a query
    parameter it does not take (``/why?as_of=`` answered for the case's own date), or one given
    twice; HEAD works wherever GET does; a 405 names the methods allowed; a trailing slash is an
    unknown path, not a redirect; a 413 has the code ``too_large``, as the command line's; a 400
    names the case the body gives; a CORS preflight may ask for Authorization (a CDS Hooks client's
    JWT)."""
    good = case("luad-g12c-second-line.json")
    for method, path, kw in (("post", "/why", {"json": {"case": good, "therapy": "sotorasib"}}),
                             ("post", "/compare", {"json": {"before": good, "after": good}}),
                             ("get", "/catalogue", {}), ("get", "/rules", {}), ("get", "/rules/LNG-001", {}),
                             ("get", "/schema/case", {}), ("get", "/cds-services", {}), ("get", "/health", {})):
        r = getattr(client, method)(path + "?as_of=2020-01-01", **kw)
        assert r.status_code == 400 and r.json()["code"] == "usage", path
        assert "unknown query parameter 'as_of'" in r.json()["error"][0]["message"], path
    r = client.post("/why?as_of=2020-01-01", json={"case": good, "therapy": "sotorasib"})
    assert r.json()["case_id"] == "luad-g12c-second-line"
    r = client.post("/evaluate?as_of=2021-01-01&as_of=2024-01-01", json=good)
    assert r.status_code == 400 and "given more than once" in r.json()["error"][0]["message"]
    assert r.json()["case_id"] == "luad-g12c-second-line"
    assert client.get("/catalogue/therapy?q=sotorasib").status_code == 200
    r = client.post("/why", json={"case": good, "therapy": "sotorasib", "bogus": 1})
    assert r.status_code == 400 and r.json()["case_id"] == "luad-g12c-second-line"
    for path in ("/health", "/catalogue", "/cds-services", "/"):
        h = client.head(path)
        assert h.status_code == 200 and h.content == b"" and h.headers["content-length"] == str(len(client.get(path).content)), path
    r = client.delete("/evaluate")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = client.post("/evaluate/", json=good)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.post("/evaluate", content=b"{" + b" " * (1 << 20) + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    origin = "https://tutor.example.org"
    opened = TestClient(create_app(engine, cors_origins=[origin]))
    r = opened.options(f"/cds-services/{SERVICE_ID}", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                                 "Access-Control-Request-Headers": "content-type, authorization"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin


def test_cds_hooks_answers_its_own_hook_and_a_card_uuid_follows_its_content(client):
    """A request for another hook than the one the discovery document registers is refused; two
    different cases without ids get different card uuids where the card says something else, and
    the same case the same uuids."""
    req = {"hook": "order-select", "hookInstance": "i", "context": {"case": case("luad-g12c-second-line.json")}}
    r = client.post(f"/cds-services/{SERVICE_ID}", json=req)
    assert r.status_code == 400 and r.json()["error"][0]["path"] == "hook" and r.json()["error"][0]["suggestion"] == "patient-view"
    assert r.json()["case_id"] == "luad-g12c-second-line"
    base = {k: v for k, v in case("luad-g12c-second-line.json").items() if k != "id"}

    def uuids(c):
        got = client.post(f"/cds-services/{SERVICE_ID}", json={"hook": "patient-view", "hookInstance": "i", "context": {"case": c}})
        return {card["summary"].split(":")[0]: card["uuid"] for card in got.json()["cards"]}

    first, again = uuids(base), uuids(base)
    other = uuids(dict(base, stage="early"))
    assert first == again
    assert first["sotorasib"] != other["sotorasib"]  # eligible, then not eligible: another card
