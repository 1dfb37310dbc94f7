"""Drugs (generic, brand and code names, classes) and regimens, and prior-therapy words."""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from engine.errors import Problem, RuleError, TermError, quote
from engine.vocabulary.common import Cached, _alike_before_shared_ending, _closest, _drug_key, _regimen_key, check_length, fail, read_yaml

MAX_PARTS = 40  # drugs or regimens in one therapy word (``a/b/c + d``)


def _offer(key: str, names: Mapping[str, str]) -> str | None:
    """The name to offer for an unknown drug or regimen (``names``: key -> name shown): a close
    spelling, alike also where the two differ once a shared ending (a drug class's INN stem) is
    set aside; None otherwise."""
    if not key.isascii():  # (look-alike letters: the plain form, where it is a name)
        return _closest(key, names, cutoff=0.7)
    for hit in difflib.get_close_matches(key, list(names), n=3, cutoff=0.7):
        if _alike_before_shared_ending(key, hit):
            return names[hit]
    return None

_COMBINATION = re.compile(r"\s*(?:\+|&|,|;|\bplus\b|\band\b|\bwith\b)\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Drug:
    """A drug by lowercase generic name. ``classes`` includes every implied class
    (oxaliplatin: ``{"oxaliplatin", "platinum", "chemotherapy"}``)."""

    name: str
    classes: frozenset[str]

    def __reduce__(self):  # unpickled (rule-base cache) through __init__: faster than the default
        return (Drug, (self.name, self.classes))


class Drugs(Cached):
    """Reads ``drugs.yaml`` and ``regimens.yaml``; resolves drug names and therapy words."""

    _CACHED = ("_drug", "_therapy_word")
    _cached_drug: Callable[[str], Drug]  # made by Cached._make_caches
    _cached_therapy_word: Callable[[str], tuple[str, ...]]

    def __init__(self) -> None:  # use Drugs.load
        self._classes: dict[str, str] = {}
        self._drugs: dict[str, Drug] = {}
        self._drug_display: dict[str, str] = {}
        self._drug_keys: dict[str, str] = {}
        self._drug_suggest: dict[str, str] = {}
        self._in_class: dict[str, frozenset[str]] = {}
        self._regimens: dict[str, tuple[str, ...]] = {}  # regimen key -> drugs
        self._regimen_names: dict[str, str] = {}  # regimen key -> name as written
        self._regimen_canon: dict[str, tuple[str, ...]] = {}  # regimen name -> drugs
        self._max_run = 1  # most '/'-separated parts in one drug or regimen name
        self._make_caches()

    @classmethod
    def load(cls, directory: Path) -> Drugs:
        part = cls()
        part._load_drugs(Path(directory))
        part._load_regimens(Path(directory))
        return part

    def _load_drugs(self, directory: Path) -> None:
        path = directory / "drugs.yaml"
        conf = read_yaml(path)
        problems: list[Problem] = []
        classes = conf.get("classes") or {}
        implies: dict[str, tuple[str, ...]] = {}
        for cid, spec in classes.items():
            spec = spec or {}
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(cid)):
                problems.append(Problem("class ids are snake_case", ("classes", cid)))
            self._classes[str(cid)] = str(spec.get("label") or cid)
            implies[str(cid)] = tuple(map(str, spec.get("implies") or ()))
        for cid, parents in implies.items():
            for p in parents:
                if p not in implies:
                    problems.append(Problem(f"implies unknown class '{p}'", ("classes", cid, "implies"),
                                            _closest(p, {c: c for c in implies})))
        fail(path, problems)

        closure: dict[str, frozenset[str]] = {}

        def close(cid: str, trail: tuple[str, ...] = ()) -> frozenset[str]:
            if cid in trail:
                raise RuleError([Problem(f"class cycle: {' -> '.join(trail + (cid,))}", ("classes", cid))], str(path))
            if cid not in closure:
                out = {cid}
                for parent in implies[cid]:
                    out |= close(parent, trail + (cid,))
                closure[cid] = frozenset(out)
            return closure[cid]

        members: dict[str, set[str]] = {cid: set() for cid in implies}
        for name, spec in (conf.get("drugs") or {}).items():
            name = str(name)
            spec = spec or {}
            where = ("drugs", name)
            if name != name.lower():
                problems.append(Problem("drug keys are lowercase", where))
            drug_classes: set[str] = set()
            for cid in spec.get("classes") or []:
                if cid not in implies:
                    problems.append(Problem(f"unknown class '{cid}'", where + ("classes",),
                                            _closest(str(cid), {c: c for c in implies})))
                    continue
                drug_classes |= close(str(cid))
            drug = Drug(name, frozenset(drug_classes))
            self._drugs[name] = drug
            self._drug_display[name] = str(spec.get("display") or name)
            for cid in drug_classes:
                members[cid].add(name)
            names = [name, self._drug_display[name]]
            for field in ("brands", "codes", "synonyms"):
                names += [str(x) for x in spec.get(field) or []]
            for alias in names:
                self._max_run = max(self._max_run, alias.count("/") + 1)
                key = _drug_key(alias)
                if self._drug_keys.get(key, name) != name:
                    problems.append(Problem(f"'{alias}' is also a name of {self._drug_keys[key]}", where))
                self._drug_keys[key] = name
                self._drug_suggest.setdefault(key, alias)
        self._in_class = {cid: frozenset(v) for cid, v in members.items()}
        fail(path, problems)

    def _load_regimens(self, directory: Path) -> None:
        path = directory / "regimens.yaml"
        conf = read_yaml(path)
        problems: list[Problem] = []
        for name, spec in (conf.get("regimens") or {}).items():
            name = str(name)
            spec = spec or {}
            drugs = []
            for i, d in enumerate(spec.get("drugs") or []):
                if d not in self._drugs:
                    problems.append(Problem(f"unknown drug '{d}'", ("regimens", name, "drugs", i),
                                            self._suggest_drug(str(d))))
                drugs.append(str(d))
            if not drugs:
                problems.append(Problem("a regimen lists its drugs", ("regimens", name, "drugs")))
            expanded = tuple(sorted(set(drugs)))
            self._regimen_canon[name] = expanded
            for alias in [name] + [str(a) for a in spec.get("aliases") or []]:
                key = _regimen_key(alias)
                if key in self._regimens and self._regimens[key] != expanded:
                    problems.append(Problem(f"'{alias}' is already another regimen", ("regimens", name)))
                if _drug_key(alias) in self._drug_keys:
                    problems.append(Problem(f"'{alias}' is also a drug name", ("regimens", name)))
                self._regimens[key] = expanded
                self._regimen_names.setdefault(key, alias)
                self._max_run = max(self._max_run, alias.count("/") + alias.count("+") + alias.count("&") + 1)
        fail(path, problems)

    def _suggest_drug(self, text: str) -> str | None:
        return _offer(_drug_key(text), self._drug_suggest)

    def _lookup_drug(self, text: str) -> Drug | None:
        name = self._drug_keys.get(_drug_key(text))
        return self._drugs[name] if name else None

    def drug(self, text: str) -> Drug:
        """A drug from its generic, brand or code name, in any case and spacing
        (``AMG 510``, ``AMG-510``, ``amg510``, ``Lumakras`` -> sotorasib)."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a drug is a non-empty text, got {text!r}")
        check_length(text, "a drug")
        return self._cached_drug(text)

    def _drug(self, text: str) -> Drug:
        hit = self._lookup_drug(text)
        if hit is not None:
            return hit
        drugs = self._regimens.get(_regimen_key(text))
        if drugs is not None:
            raise TermError(f"{quote(text)} is a regimen, not a drug: it expands to {', '.join(drugs)}")
        close = self._suggest_drug(text)
        if close is None:  # a misspelt regimen where a drug is asked for: name the regimen, and what it is
            regimen = _closest(_regimen_key(text), self._regimen_names, cutoff=0.7)
            if regimen is not None:
                expands = ", ".join(self._regimens[_regimen_key(regimen)])
                raise TermError(f"unknown drug {quote(text)} (spelt like the regimen {quote(regimen)}, which is not a drug: "
                                f"it expands to {expands})", regimen)
        raise TermError(f"unknown drug {quote(text)}", close)

    def drug_label(self, name: str) -> str:
        """How to show a drug (``rm-018`` -> ``RM-018``); accepts any of the drug's names."""
        return self._drug_display[self.drug(name).name]

    def class_label(self, cls: str) -> str:
        """The human label of a drug class (``kras_g12c_inhibitor`` -> ``KRAS G12C inhibitor``)."""
        try:
            return self._classes[cls]
        except (KeyError, TypeError):
            raise TermError(f"unknown drug class {quote(cls)}", _closest(str(cls), {c: c for c in self._classes})) from None

    @property
    def drug_classes(self) -> frozenset[str]:
        """Every drug class id."""
        return frozenset(self._classes)

    @property
    def drugs(self) -> frozenset[str]:
        """Every drug name (lowercase generic name or code name)."""
        return frozenset(self._drugs)

    def drugs_in_class(self, cls: str) -> frozenset[str]:
        """The drugs of a class, counting implied classes (``platinum`` includes oxaliplatin)."""
        self.class_label(cls)
        return self._in_class.get(cls, frozenset())

    # ------------------------------------------------------------------ regimens and therapy words

    def regimen(self, text: str) -> tuple[str, ...] | None:
        """The drugs of a named regimen (sorted), or ``None`` if ``text`` is not a regimen name."""
        if not isinstance(text, str):
            return None
        return self._regimens.get(_regimen_key(text))

    @property
    def regimens(self) -> Mapping[str, tuple[str, ...]]:
        """Every regimen by its name (aliases left out)."""
        return MappingProxyType(self._regimen_canon)

    def _one_therapy(self, text: str) -> tuple[str, ...] | None:
        drugs = self._regimens.get(_regimen_key(text))
        if drugs is not None:
            return drugs
        hit = self._lookup_drug(text)
        return (hit.name,) if hit else None

    def _slashed(self, text: str, whole: str) -> tuple[str, ...]:
        """Resolve 'a/b/c' where each part, or a run of parts, is a drug or regimen: the fewest
        runs that cover the parts. A run is at most as long as the longest name written with '/'
        (``_max_run``), so the work is linear in the number of parts, which is capped."""
        direct = self._one_therapy(text)
        if direct is not None:
            return direct
        parts = [p.strip() for p in text.split("/")]
        n = len(parts)
        if n > MAX_PARTS:
            raise TermError(f"{n} drugs or regimens joined by '/' in {quote(whole)} (at most {MAX_PARTS})")
        best: list[tuple[int, tuple[str, ...]] | None] = [None] * (n + 1)
        best[0] = (0, ())
        for j in range(1, n + 1):
            for i in range(max(0, j - self._max_run), j):
                prev = best[i]
                if prev is None or not all(parts[i:j]):
                    continue
                got = self._one_therapy("/".join(parts[i:j]))
                if got is not None:
                    cand = (prev[0] + 1, prev[1] + got)
                    cur = best[j]
                    if cur is None or cand[0] < cur[0]:
                        best[j] = cand
        last = best[n]
        if last is not None:
            return last[1]
        bad = next((p for p in parts if p and self._one_therapy(p) is None), text)
        raise self._unknown_therapy(bad, whole)

    def _unknown_therapy(self, part: str, whole: str) -> TermError:
        where = f" in '{whole}'" if part.strip() != whole.strip() else ""
        pool = {**self._drug_suggest, **{k.replace("/", ""): v for k, v in self._regimen_names.items()}}
        return TermError(f"unknown drug or regimen {quote(part.strip())}{where}", _offer(_drug_key(part), pool))

    def therapy_word(self, text: str) -> tuple[str, ...]:
        """The drugs of one prior-therapy word: a regimen (``FOLFOX``), a drug, or a combination
        of these written with ``/``, ``+``, ``&``, ``,``, ``plus``, ``and`` or ``with``
        (``FOLFOX + bevacizumab``, ``carbo/pem/pembro``). Sorted drug names."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a therapy is a non-empty text, got {text!r}")
        check_length(text, "a therapy")
        return self._cached_therapy_word(text)

    def _therapy_word(self, text: str) -> tuple[str, ...]:
        whole = self._one_therapy(text)
        if whole is not None:
            return tuple(sorted(set(whole)))
        pieces = [p for p in _COMBINATION.split(text.strip()) if p]
        if len(pieces) > MAX_PARTS:
            raise TermError(f"{len(pieces)} drugs or regimens in {quote(text)} (at most {MAX_PARTS})")
        if not pieces:
            raise self._unknown_therapy(text, text)
        drugs: set[str] = set()
        for piece in pieces:
            drugs.update(self._slashed(piece, text))
        return tuple(sorted(drugs))
