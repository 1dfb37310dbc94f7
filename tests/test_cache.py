"""The rule-base cache: keyed by content (not by folder), evicted, and hermetic in tests."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine import rulebase

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TESTS = Path(__file__).resolve().parent


def test_the_test_session_caches_under_tests_not_in_the_home_directory():
    cdir = rulebase.cache_dir()
    assert cdir is not None and cdir.resolve().is_relative_to(TESTS)
    assert not cdir.resolve().is_relative_to(Path.home() / ".cache")


def test_the_same_rule_base_in_two_folders_shares_one_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAS_RULES_CACHE", str(tmp_path / "cache"))
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(FIXTURES / "mini", a)
    shutil.copytree(FIXTURES / "mini", b)
    rb_a = rulebase.load_rulebase(a)
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 1
    rb_b = rulebase.load_rulebase(b)
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 1
    assert rb_b.directory == b and rb_a.directory == a
    (b / "meta.yaml").write_text((b / "meta.yaml").read_text().replace("Miniature", "Edited miniature"))
    assert rulebase.load_rulebase(b).meta.title.startswith("Edited miniature")  # an edit misses the cache


def test_old_entries_are_evicted(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAS_RULES_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "rb"
    shutil.copytree(FIXTURES / "mini", src)
    meta = (src / "meta.yaml").read_text()
    for i in range(rulebase.CACHE_KEEP + 3):
        (src / "meta.yaml").write_text(meta.replace("Miniature rule base", f"Miniature rule base {i}"))
        rulebase.load_rulebase(src)
    entries = list((tmp_path / "cache").glob("*.pickle"))
    assert len(entries) == rulebase.CACHE_KEEP
    assert not list((tmp_path / "cache").glob("*.tmp"))
    assert os.environ["KRAS_RULES_CACHE"] == str(tmp_path / "cache")


def test_a_write_that_fails_half_way_leaves_no_part_of_an_entry(tmp_path, monkeypatch):
    """A full disk while the rule base is written: it is loaded all the same, and no temporary
    file is left behind (a cache that failed often would otherwise fill with them)."""
    import pickle

    monkeypatch.setenv("KRAS_RULES_CACHE", str(tmp_path / "cache"))

    def half(obj, fh, protocol=None):
        fh.write(b"\x80\x05partial")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(pickle, "dump", half)
        rb = rulebase.load_rulebase(FIXTURES / "mini")
    assert rb.meta.title and rb.rules
    assert not list((tmp_path / "cache").glob("*"))
    assert rulebase.load_rulebase(FIXTURES / "mini").meta.title == rb.meta.title  # written the next time
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 1
