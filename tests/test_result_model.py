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



def test_model_attributes_are_set_through_pydantics_slots_or_as_object_setattr_does():
    from types import SimpleNamespace

    from pydantic import BaseModel

    from engine import result as result_module

    for name, setter in (("__dict__", result_module._DICT), ("__pydantic_fields_set__", result_module._FIELDS_SET),
                         ("__pydantic_extra__", result_module._EXTRA), ("__pydantic_private__", result_module._PRIVATE)):
        assert getattr(setter, "__self__", None) is BaseModel.__dict__[name], name  # the slot's own setter
    fallback = result_module._setter("__no_such_slot__")
    obj = SimpleNamespace()
    fallback(obj, 5)
    assert obj.__no_such_slot__ == 5
    c = result_module.CautionOut.fast(rule="R-1", text="t")
    assert c.__dict__ == {"rule": "R-1", "text": "t"} and c.__pydantic_fields_set__ == {"rule", "text"}
    assert c.__pydantic_extra__ is None and c.__pydantic_private__ is None and c == result_module.CautionOut(rule="R-1", text="t")
