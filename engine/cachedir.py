"""The folder of the engine's caches on disk and the bound on what each keeps there.

Two caches live in it: loaded rule bases (:func:`engine.rulebase.load_rulebase`) and compiled
evaluation plans (``plans/``, :func:`engine.evaluation.plancode.code_of`). Each file is written
whole (to a temporary name, then renamed) and named by a hash of what it was made from; each kind
keeps its most recently used files only.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def cache_dir() -> Path | None:
    """The folder of the engine's caches, or None when caching is off (``KRAS_RULES_CACHE``: a
    folder, or ``off``; default ``~/.cache/kras-rules``, or under ``$XDG_CACHE_HOME``)."""
    env = os.environ.get("KRAS_RULES_CACHE")
    if env and env.lower() in ("0", "off", "no", "false"):
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kras-rules"


def keep_file(path: Path, write: Callable[[BinaryIO], object], pattern: str, keep: int) -> None:
    """Write a cache file whole: ``write(fh)`` fills a temporary file beside ``path``, renamed to
    ``path`` once complete; then only the ``keep`` most recently used files of its folder matching
    ``pattern`` are kept. A write that fails (no folder, a full disk) leaves no part of a file and
    is no error: the cache is only missed next time."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
        keep_recent(path.parent, pattern, keep)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def keep_recent(folder: Path, pattern: str, keep: int) -> None:
    """Delete all but the ``keep`` most recently used files of ``folder`` matching ``pattern``
    (by modification time: a reader touches the file it used). Files that vanish or cannot be
    deleted meanwhile are left alone."""
    entries = []
    for f in folder.glob(pattern):
        try:
            entries.append((f.stat().st_mtime, f))
        except OSError:
            continue
    if len(entries) <= keep:
        return
    for _, f in sorted(entries, reverse=True)[keep:]:
        try:
            f.unlink()
        except OSError:
            pass
