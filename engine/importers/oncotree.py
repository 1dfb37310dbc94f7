"""What the shipped OncoTree file says beyond the hierarchy: revoked codes and NCIt / UMLS references.

The vocabulary reads the OncoTree tree (codes, names, lineage, previous codes). This module reads the
same file for two more things importers need:

- ``revocations``: a code OncoTree withdrew and the code that replaced it (``GBM`` -> ``GB``). A clinical
  file written before the change still says ``GBM``; importers read it as ``GB`` and say so;
- ``externalReferences``: the NCI Thesaurus (``NCI``) and UMLS concept ids of each code, so that a
  Phenopacket or FHIR diagnosis coded in NCIt (``NCIT:C3512``) finds its OncoTree code (``LUAD``).
  An NCIt concept that several codes share is ambiguous and not used.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import ruleyaml
from engine.importers.clinical import CancerResolver


@dataclass
class OncoTreeIndex:
    revoked: dict[str, str] = field(default_factory=dict)  # old code -> current code
    ncit: dict[str, str] = field(default_factory=dict)  # "C3512" -> "LUAD"
    umls: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # code -> name

    @classmethod
    def load(cls, vocabulary_dir: Path) -> OncoTreeIndex:
        conf = ruleyaml.load((vocabulary_dir / "cancer_types.yaml").read_text(encoding="utf-8")) or {}
        tree_file = vocabulary_dir / str((conf.get("oncotree") or {}).get("file", ""))
        tree = json.loads(tree_file.read_text(encoding="utf-8"))
        out = cls()
        ncit: dict[str, set[str]] = {}
        umls: dict[str, set[str]] = {}
        stack = list(tree.values())
        while stack:
            node = stack.pop()
            stack.extend((node.get("children") or {}).values())
            code = node["code"]
            out.names[code] = node.get("name", code)
            for old in node.get("revocations") or []:
                out.revoked[str(old).upper()] = code
            refs = node.get("externalReferences") or {}
            for c in refs.get("NCI") or []:
                ncit.setdefault(str(c).upper(), set()).add(code)
            for c in refs.get("UMLS") or []:
                umls.setdefault(str(c).upper(), set()).add(code)
        out.ncit = {k: next(iter(v)) for k, v in ncit.items() if len(v) == 1}
        out.umls = {k: next(iter(v)) for k, v in umls.items() if len(v) == 1}
        return out

    def from_ncit(self, concept: str) -> str | None:
        """``NCIT:C3512`` / ``C3512`` / ``ncit_C3512`` -> ``LUAD`` (None: unknown or shared)."""
        c = concept.strip().upper()
        for prefix in ("NCIT:", "NCIT_", "NCI:", "NCI_"):
            if c.startswith(prefix):
                c = c[len(prefix) :]
        return self.ncit.get(c)

    def from_umls(self, concept: str) -> str | None:
        c = concept.strip().upper()
        if c.startswith("UMLS:"):
            c = c[5:]
        return self.umls.get(c)


class OncoTreeResolver(CancerResolver):
    """The clinical files' cancer type, with revoked OncoTree codes read as their replacement."""

    def __init__(self, vocab: Any, fallback: str | None, index: OncoTreeIndex, notes: list[str]):
        super().__init__(vocab, fallback)
        self.index = index
        self.revoked_used: Counter = Counter()
        self._notes = notes

    def resolve_text(self, text: str) -> tuple[str | None, str | None]:
        out, why = super().resolve_text(text)
        if out is None:
            new = self.index.revoked.get(text.strip().upper())
            if new is not None:
                got, _ = super().resolve_text(new)
                if got is not None:
                    return got, None
        return out, why

    def for_sample(self, values: dict[str, str] | None) -> tuple[str | None, str, list[str]]:
        ct, where, tried = super().for_sample(values)
        if ct is not None and values and where in values:
            text = values[where].strip().upper()
            if text in self.index.revoked and text != ct.upper():
                if not self.revoked_used:
                    self._notes.append("")  # placeholder, filled in by note()
                self.revoked_used[(text, ct)] += 1
                self._refresh()
        return ct, where, tried

    def _refresh(self) -> None:
        text = "revoked OncoTree codes read as their replacement: " + ", ".join(
            f"{old} -> {new} ({self.index.names.get(new, new)}) {n} samples" for (old, new), n in self.revoked_used.most_common()
        )
        for i, n in enumerate(self._notes):
            if n == "" or n.startswith("revoked OncoTree codes"):
                self._notes[i] = text
                return
