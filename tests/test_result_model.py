"""Results are built without re-validation (``_Out.fast``, on the per-option hot path): check that
what the engine builds that way is exactly what the pydantic model would accept and produce."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from pydantic_core import PydanticUndefined

from engine.result import CautionOut, CitationOut, Considered, Criterion, NoteOut, Option, Result

CASES = sorted((Path(__file__).resolve().parents[1] / "cases").glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fast_built_result_validates_as_the_model(engine, path):
    res = engine.evaluate(json.loads(path.read_text()))
    dumped = res.model_dump(mode="json")
    again = Result.model_validate(dumped)  # raises if a field is missing, extra or of the wrong type
    assert again.model_dump(mode="json") == dumped
    assert res.model_dump_json() == again.model_dump_json()  # the same bytes: fields in declared order too
    for opt in res.options:
        assert set(opt.__dict__) == set(Option.model_fields)



def test_model_attributes_are_set_through_pydantics_slots_or_as_object_setattr_does():
    from types import SimpleNamespace

    from pydantic import BaseModel

    from engine import result as result_module

    for name, setter in (("__dict__", result_module._DICT), ("__pydantic_fields_set__", result_module._FIELDS_SET),
                         ("__pydantic_extra__", result_module._EXTRA), ("__pydantic_private__", result_module._PRIVATE)):
        assert getattr(setter, "__self__", None) is BaseModel.__dict__[name], name  # the slot's own setter
    obj = SimpleNamespace()
    result_module._setter("__no_such_slot__")(obj, 5)
    assert obj.__no_such_slot__ == 5
    # a name BaseModel holds, but not as a descriptor (a plain dict): set as object.__setattr__ does
    assert not hasattr(BaseModel.__dict__["model_config"], "__set__")
    result_module._setter("model_config")(obj, 6)
    assert obj.model_config == 6
    c = result_module.CautionOut.fast(rule="R-1", text="t")
    assert c.__dict__ == {"rule": "R-1", "text": "t"} and c.__pydantic_fields_set__ == {"rule", "text"}
    assert c.__pydantic_extra__ is None and c.__pydantic_private__ is None and c == result_module.CautionOut(rule="R-1", text="t")


# --------------------------------------------------------------------------- fast, defaults

_CIT = CitationOut(source="S1", title="A title", section="2.1", quote="a passage", rule="R-9", date="2021-05-28")
_CONSIDERED = Considered(rule="R-2", verdict="excluded", evidence="phase3", set_aside_by="R-3", reason="why not")
_CRITERION = Criterion(id="R-1/gate/0", text="KRAS G12C", kind="gate", status="met", facts=("kras_g12c",))
_CAUTION = CautionOut(rule="R-4", text="take care")
_NOTE = NoteOut(rule="R-5", text="a note", citations=[_CIT])
_OPTION_FIELDS = dict(
    therapy="t1", name="T one", drugs=["a", "b"], verdict="eligible", evidence="approved", oncokb_level="1",
    rules=["R-1"], explanation="because", citations=[_CIT], missing=["stage"], failed_criteria=["R-1/requires/0"],
    status="regular", jurisdiction="FDA", effective_from="2024-01-01", considered=[_CONSIDERED],
    criteria=[_CRITERION], cautions=[_CAUTION], summary="in short")
#: every field of each model with a value; the defaulted ones differ from their defaults
FIELDS = {
    CitationOut: _CIT.model_dump(),
    Considered: _CONSIDERED.model_dump(),
    CautionOut: _CAUTION.model_dump(),
    Criterion: _CRITERION.model_dump(),
    NoteOut: dict(rule="R-5", text="a note", citations=[_CIT]),
    Option: _OPTION_FIELDS,
    Result: dict(case_id="c1", evaluated_as_of="2025-01-01", knowledge_version="k", jurisdiction="FDA",
                 cancer_type="LUAD", options=[Option(**_OPTION_FIELDS)], notes=["n"], note_details=[_NOTE],
                 facts={"kras_g12c": True, "x": None}, trace=["t"], disclaimer="d", contract_version="1.0"),
}


@pytest.mark.parametrize("cls", list(FIELDS), ids=lambda c: c.__name__)
def test_fast_with_any_defaulted_fields_left_out_equals_the_validated_model(cls):
    """``fast`` given the required fields and any subset of the defaulted ones (in field order, as
    the engine gives them) builds the object validation builds: equal, the same JSON bytes, the
    same field order, and every default left out a fresh copy (never the class's own object, so
    changing one result's list changes no other)."""
    full = FIELDS[cls]
    for k, v in full.items():
        d = cls.model_fields[k].default
        assert d is PydanticUndefined or v != d, k  # a default put in place of a given value shows
    defaulted = [k for k in cls.model_fields if cls.model_fields[k].default is not PydanticUndefined]
    assert defaulted or cls in (CautionOut, Criterion, NoteOut)
    for n in range(len(defaulted) + 1):
        for left_out in itertools.combinations(defaulted, n):
            given = {k: v for k, v in full.items() if k not in left_out}
            m = cls.fast(**dict(given))
            want = cls.model_validate(given)
            assert m == want and want == m, left_out
            assert m.model_dump_json() == want.model_dump_json(), left_out
            assert list(m.__dict__) == list(want.__dict__) == list(cls.model_fields), left_out
            for k in left_out:
                default = cls.model_fields[k].default
                if type(default) in (list, dict):
                    assert getattr(m, k) == default and getattr(m, k) is not default, (left_out, k)
                    assert getattr(cls.fast(**dict(given)), k) is not getattr(m, k), (left_out, k)
    if cls is Option:  # a list filled in is the object's own: changing it changes no other
        given = {k: v for k, v in full.items() if k not in ("failed_criteria", "cautions")}
        a = cls.fast(**dict(given))
        a.failed_criteria.append("x")
        a.cautions.append(_CAUTION)
        b = cls.fast(**dict(given))
        assert b.failed_criteria == [] and b.cautions == [] and cls.model_validate(given).cautions == []
