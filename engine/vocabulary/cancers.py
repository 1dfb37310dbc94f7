"""Cancer types: the OncoTree hierarchy and the names people use for its codes."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from engine.errors import Problem, RuleError, TermError, quote
from engine.vocabulary.common import Cached, _closest, _name_key, check_length, fail, read_yaml


@dataclass(frozen=True, slots=True)
class CancerType:
    """One OncoTree node. ``lineage`` is the code itself, then its parent, ... up to ``TISSUE``."""

    code: str
    name: str
    main_type: str | None
    lineage: tuple[str, ...]

    def __reduce__(self):  # unpickled (rule-base cache) through __init__: several times faster than the default
        return (CancerType, (self.code, self.name, self.main_type, self.lineage))


class CancerTypes(Cached):
    """Reads ``cancer_types.yaml`` and the OncoTree file it names; resolves cancer-type texts."""

    _CACHED = ("_cancer",)
    _cached_cancer: Callable[[str], CancerType]  # made by Cached._make_caches

    def __init__(self) -> None:  # use CancerTypes.load
        self.attribution = ""
        self.oncotree_release = ""
        self._cancers: dict[str, CancerType] = {}
        self._cancer_names: dict[str, str] = {}  # name key -> code
        self._ambiguous_names: dict[str, tuple[str, ...]] = {}
        self._old_codes: dict[str, str] = {}
        self._tissue: dict[str, str] = {}
        self._cancer_suggest: dict[str, str] = {}
        #: codes of cancer types that are non-invasive by definition (in situ): such a tumour is not
        #: locally advanced or metastatic (``non_invasive`` in cancer_types.yaml)
        self.non_invasive: frozenset[str] = frozenset()
        #: sets of codes that rules leave out together, each with the words for a case outside
        #: all of them (``outside`` in cancer_types.yaml: "a solid tumour")
        self.outside: tuple[tuple[frozenset[str], str], ...] = ()
        #: sets of codes that rules name together, each with the name a student reads for all
        #: of them in a list (``named`` in cancer_types.yaml: "any melanoma (...)")
        self.named: tuple[tuple[frozenset[str], str], ...] = ()
        self._make_caches()

    @classmethod
    def load(cls, directory: Path) -> CancerTypes:
        part = cls()
        part._load(Path(directory))
        return part

    def _load(self, directory: Path) -> None:
        path = directory / "cancer_types.yaml"
        conf = read_yaml(path)
        tree_conf = conf.get("oncotree") or {}
        tree_path = directory / str(tree_conf.get("file", ""))
        try:
            tree = json.loads(tree_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuleError(f"cannot read the OncoTree file named in oncotree.file: {exc}", source=str(path)) from None
        self.attribution = " ".join(str(tree_conf.get("attribution", "")).split())
        self.oncotree_release = str(tree_conf.get("release", ""))

        parents: dict[str, str | None] = {}
        raw: dict[str, dict] = {}
        stack = list(tree.values())
        while stack:
            node = stack.pop()
            raw[node["code"]] = node
            parents[node["code"]] = node.get("parent")
            stack.extend((node.get("children") or {}).values())
        for code, node in raw.items():
            lineage = [code]
            parent = parents[code]
            while parent:
                lineage.append(parent)
                parent = parents.get(parent)
            # (names as OncoTree writes them, runs of spaces made one: "Rearrangement of  PDGFRA")
            self._cancers[code] = CancerType(code, " ".join(node["name"].split()), node.get("mainType"), tuple(lineage))
            self._tissue[code] = node.get("tissue") or node["name"]

        by_name: dict[str, set[str]] = {}
        for code, ct in self._cancers.items():
            by_name.setdefault(_name_key(ct.name), set()).add(code)
            self._cancer_suggest[code.casefold()] = code
            self._cancer_suggest.setdefault(_name_key(ct.name), ct.name)
        for key, codes in by_name.items():
            if len(codes) == 1:
                self._cancer_names[key] = next(iter(codes))
            else:
                self._ambiguous_names[key] = tuple(sorted(codes))
        for code, node in raw.items():
            for old in list(node.get("history") or []) + list(node.get("precursors") or []):
                if old not in self._cancers:
                    self._old_codes[old.upper()] = code

        problems: list[Problem] = []
        for code, names in (conf.get("names") or {}).items():
            if code not in self._cancers:
                problems.append(self._unknown_code(code, ("names", code)))
                continue
            for i, name in enumerate(names or []):
                key = _name_key(str(name))
                other = self._cancer_names.get(key)
                if key.upper() in self._cancers and key.upper() != code:
                    problems.append(Problem(f"'{name}' is the OncoTree code of another type", ("names", code, i)))
                elif other is not None and other != code:
                    problems.append(Problem(f"'{name}' is already the name of {other}", ("names", code, i)))
                else:
                    self._cancer_names[key] = code
                    self._ambiguous_names.pop(key, None)
                    self._cancer_suggest[key] = str(name)
        listed = conf.get("non_invasive") or []
        problems.extend(self._unknown_code(code, ("non_invasive", i))
                        for i, code in enumerate(listed) if code not in self._cancers)
        self.non_invasive = frozenset(c for c in listed if c in self._cancers)
        self.outside = self._groups(conf, "outside", "words", problems)
        self.named = self._groups(conf, "named", "name", problems)
        fail(path, problems)

    def _groups(self, conf: dict, key: str, field: str, problems: list) -> tuple[tuple[frozenset[str], str], ...]:
        """The ``key`` entries of cancer_types.yaml: ``{codes: [OncoTree code, ...], field: text}``."""
        groups: list[tuple[frozenset[str], str]] = []
        for i, group in enumerate(conf.get(key) or []):
            members = group.get("codes") if isinstance(group, dict) else None
            text = group.get(field) if isinstance(group, dict) else None
            if not isinstance(members, list) or not members or not isinstance(text, str) or not text.strip():
                problems.append(Problem(f"an entry is {{codes: [OncoTree code, ...], {field}: text}}", (key, i)))
                continue
            problems.extend(self._unknown_code(code, (key, i, "codes", j))
                            for j, code in enumerate(members) if code not in self._cancers)
            groups.append((frozenset(members), " ".join(text.split())))
        return tuple(groups)

    def _unknown_code(self, code, where: tuple) -> Problem:
        return Problem(f"unknown OncoTree code '{code}'", where,
                       _closest(str(code).casefold(), {c.casefold(): c for c in self._cancers}))

    def outside_words(self, codes) -> tuple[list[str], list[str]]:
        """Codes a case lies outside of, as a student reads them: the words of each group
        (``outside`` in cancer_types.yaml) whose codes are all among them, and the codes left."""
        left = list(codes)
        words = []
        for group, text in self.outside:
            if group.issubset(left):
                words.append(text)
                left = [c for c in left if c not in group]
        return words, left

    def grouped(self, codes) -> list[tuple[str, str | None]]:
        """The codes in order, those of a ``named`` group that are all among them given once as
        ``(first code, the group's name)``, the others as ``(code, None)``."""
        present = set(codes)
        whole = [(group, name) for group, name in self.named if group <= present]
        out: list[tuple[str, str | None]] = []
        done: set[str] = set()
        for code in codes:
            hit = next(((g, n) for g, n in whole if code in g), None)
            if hit is None:
                out.append((code, None))
            elif code not in done:
                done |= hit[0]
                out.append((code, hit[1]))
        return out

    def cancer(self, text: str) -> CancerType:
        """A cancer type from what people type: an OncoTree code in any case (``luad``), an
        OncoTree node name, a previous OncoTree code, or a common name (``PDAC``, ``mCRC``,
        ``non-small cell lung cancer``)."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a cancer type is a non-empty text, got {text!r}")
        check_length(text, "a cancer type")
        return self._cached_cancer(text)

    def _cancer(self, text: str) -> CancerType:
        code = text.strip().upper()
        hit = self._cancers.get(code)
        if hit is not None:
            return hit
        key = _name_key(text)
        found = self._cancer_names.get(key) or self._old_codes.get(code)
        if found is not None:
            return self._cancers[found]
        if key in self._ambiguous_names:
            codes = self._ambiguous_names[key]
            listed = ", ".join(f"{c} ({self._tissue[c]})" for c in codes)
            raise TermError(f"cancer type {quote(text)} is ambiguous: it names {listed}; give the OncoTree code",
                            codes[0])
        close = _closest(key, self._cancer_suggest)
        raise TermError(f"unknown cancer type {quote(text)}", self._within(key, close) or close)

    def _within(self, key: str, close: str | None) -> str | None:
        """The suggestion for a text that names a known type with other words ("NSCLC
        adenocarcinoma", "metastatic NSCLC"), where the closest spelling ``close`` is not of that
        type's subtree: the type of the subtree whose name holds the other words, highest in the
        tree (Lung Adenocarcinoma), or the type named itself where none does (NSCLC: "metastatic"
        is a stage, not a type). A text whose words name no type: None."""
        words = key.split()
        for size in range(len(words) - 1, 0, -1):  # (the longest run of words first)
            for i in range(len(words) - size + 1):
                span = " ".join(words[i:i + size])
                found = self._cancer_names.get(span) or (span.upper() if span.upper() in self._cancers else None)
                if found is None:
                    continue
                meant = close and (self._cancer_names.get(_name_key(close)) or close.upper())
                if meant in self._cancers and found in self._cancers[meant].lineage:
                    return close  # (a misspelling within the organ named: "colorectal cancr")
                rest = set(words[:i] + words[i + size:])
                holding = [ct for ct in self._cancers.values()
                           if found in ct.lineage and rest <= set(_name_key(ct.name).split())]
                best = min(holding, key=lambda ct: (len(ct.lineage), ct.code)) if holding else self._cancers[found]
                # (its name where the name reads as that type alone, else its code)
                return best.name if self._cancer_names.get(_name_key(best.name)) == best.code else best.code
        return None

    def cancer_code(self, code: str) -> CancerType:
        """An exact OncoTree code (for rule files, where names are not allowed)."""
        if type(code) is str and code in self._cancers:
            return self._cancers[code]
        try:
            meant = self.cancer(code)
        except TermError as err:
            suggestion = err.problems[0].suggestion
            if suggestion:
                try:
                    suggestion = self.cancer(suggestion).code
                except TermError:
                    pass
            raise TermError(f"unknown OncoTree code {quote(code)}", suggestion) from None
        raise TermError(f"{quote(code)} is not an OncoTree code (it means {meant.code}, {meant.name})", meant.code)

    @property
    def cancer_types(self) -> Mapping[str, CancerType]:
        """Every OncoTree node by code."""
        return MappingProxyType(self._cancers)
