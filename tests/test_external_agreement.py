"""Agreement with a public knowledge base nobody here wrote (MOAlmanac).

``tests/external_agreement/moalmanac_cases.yaml`` holds one case per MOAlmanac assertion about
KRAS, NRAS, BRAF V600E and BRCA1/2 in lung, colorectal and pancreatic cancer, each citing the
assertion it comes from. The test evaluates every case, computes the agreement figure, and fails
on any disagreement that is not listed as a deliberate difference with its reason, and on any
listed difference that has become an agreement (the list must stay true)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.api import Engine

DATA = Path(__file__).resolve().parent / "external_agreement" / "moalmanac_cases.yaml"
AGREEING = {
    ("sensitive", "approved"): {"eligible"},
    ("sensitive", "clinical"): {"consider", "eligible"},
    ("sensitive", "preclinical"): {"consider", "eligible"},
    ("resistant", "guideline"): {"excluded"},
    ("resistant", "clinical"): {"excluded"},
}


@pytest.fixture(scope="module")
def data() -> dict:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def outcomes(data) -> dict[str, tuple[bool, str]]:
    engine = Engine()
    out = {}
    for c in data["cases"]:
        res = engine.evaluate(dict(c["case"], id=c["id"]))
        opt = res.option(c["therapy"]) if c["therapy"] else None
        got = opt.verdict if opt else "no option"
        want = AGREEING[(c["relation"], c["evidence"])]
        out[c["id"]] = (got in want, f"{c['therapy']}: {got} (MOAlmanac: {c['relation']}, {c['evidence']})")
    return out


def test_every_case_cites_its_assertion(data) -> None:
    ids = [c["id"] for c in data["cases"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    for c in data["cases"]:
        assert c["url"].startswith("https://github.com/vanallenlab/moalmanac-db/blob/" + data["source"]["commit"])
        assert c["moalmanac"].split()[0] in ("assertion_id", "statement") and c["assertion"]
        assert (c["relation"], c["evidence"]) in AGREEING
        assert c["case"].get("jurisdiction", "FDA") == c["jurisdiction"]
    genes = {a["gene"] for c in data["cases"] for a in c["case"]["alterations"]}
    assert {"KRAS", "NRAS", "BRAF", "BRCA1", "BRCA2"} <= genes
    assert data["source"]["licence"] and data["source"]["citation"]


def test_agreement_with_moalmanac(data, outcomes) -> None:
    deliberate = {d["case"]: d["reason"] for d in data["deliberate_differences"]}
    assert set(deliberate) <= set(outcomes), "a deliberate difference names no case"
    agree = sum(ok for ok, _ in outcomes.values())
    figure = f"{agree}/{len(outcomes)} MOAlmanac assertions agree ({100 * agree / len(outcomes):.0f}%)"
    print("\nexternal agreement:", figure)
    unexplained = [f"{cid}: {why}" for cid, (ok, why) in outcomes.items() if not ok and cid not in deliberate]
    assert not unexplained, "disagreements not listed as deliberate differences:\n" + "\n".join(unexplained)
    stale = [cid for cid in deliberate if outcomes[cid][0]]
    assert not stale, f"listed as deliberate differences but now agreeing: {stale}"
    assert agree == len(outcomes) - len(deliberate)
    for reason in deliberate.values():
        assert len(reason) > 40
