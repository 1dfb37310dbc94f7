"""Sources as users see them: readable ids and titles, never the file name of a seed document.

Every example case in ``cases/`` and every example of every rule is evaluated and its JSON and
text output searched for a seed file name (``NNN_<16 hex digits>.txt``)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from engine.api import Engine
from engine.check import example_case
from engine.formats import text

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE_NAME = re.compile(r"\d{3}_[0-9a-f]{16}\.txt")
READABLE_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def _outputs(engine: Engine, case: dict) -> tuple[str, str]:
    res = engine.evaluate(case)
    return res.model_dump_json(), text(res)


def test_the_pattern_finds_a_seed_file_name() -> None:
    # the regex the other tests rely on, tried on the names of the two seed documents
    for s in yaml.safe_load((ROOT / "rules" / "sources.yaml").read_text())["sources"]:
        if s.get("file"):
            assert SEED_FILE_NAME.fullmatch(s["file"]), s["file"]


def test_every_source_has_a_readable_id_a_title_and_a_kind(engine: Engine) -> None:
    for sid, src in engine.rulebase.sources.items():
        assert READABLE_ID.match(sid) and not SEED_FILE_NAME.search(sid), sid
        assert src.title and not SEED_FILE_NAME.search(src.title), sid
        if src.kind == "label" and src.id.endswith("-LABEL"):
            assert src.revision, f"{sid}: a label names the revision it was checked against"


@pytest.mark.parametrize("path", sorted((ROOT / "cases").glob("*.json")), ids=lambda p: p.stem)
def test_no_seed_file_name_in_case_output(engine: Engine, path: Path) -> None:
    js, tx = _outputs(engine, json.loads(path.read_text(encoding="utf-8")))
    assert not SEED_FILE_NAME.search(js), SEED_FILE_NAME.search(js).group()
    assert not SEED_FILE_NAME.search(tx), SEED_FILE_NAME.search(tx).group()


def test_no_seed_file_name_in_rule_example_output(engine: Engine) -> None:
    rb = engine.rulebase
    seen = 0
    for rule in rb.rules:
        for ex in rule.examples:
            js, tx = _outputs(engine, example_case(rb, rule, ex))
            for out in (js, tx):
                m = SEED_FILE_NAME.search(out)
                assert m is None, f"{rule.id} example '{ex.name}': {m.group()}"
            seen += 1
    assert seen > 100


def test_citations_in_results_carry_the_source_title(engine: Engine) -> None:
    res = engine.evaluate(json.loads((ROOT / "cases" / "luad-g12c-second-line.json").read_text()))
    cits = [c for o in res.options for c in o.citations]
    assert cits
    for c in cits:
        assert c.title == engine.rulebase.sources[c.source].title
    assert "KRAS Mutations Explained" in text(res) or "US prescribing information" in text(res)


def test_the_text_names_each_source_once_with_the_sections_cited_and_what_is_missing_once(engine: Engine) -> None:
    res = engine.evaluate(json.loads((ROOT / "cases" / "crc-g12c-history-unknown.json").read_text()))
    opt = next(o for o in res.options if o.therapy == "adagrasib+cetuximab")
    titles = [c.title for c in opt.citations]
    repeated = next(t for t in titles if t is not None and titles.count(t) > 1)  # one source, several passages
    block = text(res, width=10_000).split("* adagrasib + cetuximab")[1].split("\n    *")[0]
    sources_line = next(line for line in block.splitlines() if line.strip().startswith("Sources: "))
    assert sources_line.count(repeated) == 1
    for c in opt.citations:  # every section cited is named, under its source
        assert c.section is None or c.section in sources_line
    # what is missing is said once, in the explanation
    assert opt.missing and block.count(opt.missing[0]) == 1 and "Cannot decide without" in block


def test_a_reading_several_options_share_is_printed_once_and_named_under_the_others(engine: Engine) -> None:
    res = engine.evaluate(json.loads((ROOT / "cases" / "crc-g12c-history-unknown.json").read_text()))
    readings = engine.readings()
    shared = {}
    for o in res.options:
        for _criterion, sentence in readings.get(o.rules[0], ()):
            if sentence in o.explanation:
                shared.setdefault(sentence, []).append(o.name)
    sentence, names = next((s, n) for s, n in shared.items() if len(n) > 1)  # the case has one
    out = " ".join(text(res, width=10_000, readings=readings).split())
    assert out.count(" ".join(sentence.split())) == 1
    criterion = sentence.split('": ', 1)[0] + '"'
    assert out.count(f'{criterion}: as under {names[0]} above.') == len(names) - 1
    # without the rule base's readings, every explanation is printed whole (as the JSON holds it)
    assert " ".join(text(res, width=10_000).split()).count(" ".join(sentence.split())) == len(names)
