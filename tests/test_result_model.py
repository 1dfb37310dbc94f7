"""Results are built without re-validation (``_Out.fast``, on the per-option hot path): check that
what the engine builds that way is exactly what the pydantic model would accept and produce."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.result import Option, Result

CASES = sorted((Path(__file__).resolve().parents[1] / "cases").glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fast_built_result_validates_as_the_model(engine, path):
    res = engine.evaluate(json.loads(path.read_text()))
    dumped = res.model_dump(mode="json")
    again = Result.model_validate(dumped)  # raises if a field is missing, extra or of the wrong type
    assert again.model_dump(mode="json") == dumped
    assert json.loads(res.model_dump_json()) == dumped
    for opt in res.options:
        assert set(opt.__dict__) == set(Option.model_fields)

