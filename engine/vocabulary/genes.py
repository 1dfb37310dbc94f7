"""Genes: current HGNC symbols, previous symbols and aliases, named panels."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.errors import Problem, TermError, quote
from engine.vocabulary.common import Cached, _closest, _symbol_key, check_length, fail, read_yaml


class Genes(Cached):
    """Reads ``genes.yaml``; resolves gene symbols and aliases."""

    _CACHED = ("_gene",)
    _cached_gene: Callable[[str], str]  # made by Cached._make_caches

    def __init__(self) -> None:  # use Genes.load
        self._genes: frozenset[str] = frozenset()
        self._gene_keys: dict[str, str] = {}
        self._panels: dict[str, frozenset[str]] = {}
        self._make_caches()

    @classmethod
    def load(cls, directory: Path) -> Genes:
        part = cls()
        part._load(Path(directory))
        return part

    def _load(self, directory: Path) -> None:
        path = directory / "genes.yaml"
        conf = read_yaml(path)
        renamed = {str(k): str(v) for k, v in (conf.get("renamed") or {}).items()}
        symbols: set[str] = set(map(str, conf.get("knowledge") or []))
        for name, panel in (conf.get("panels") or {}).items():
            members = frozenset(renamed.get(str(g), str(g)) for g in panel.get("genes") or [])
            self._panels[str(name)] = members
            symbols |= members
        symbols |= set(map(str, conf.get("fusion_partners") or []))
        self._genes = frozenset(symbols)

        problems: list[Problem] = []
        keys: dict[str, str] = {}

        def add(name: str, symbol: str, where: tuple) -> None:
            key = _symbol_key(name)
            if keys.get(key, symbol) != symbol:
                problems.append(Problem(f"'{name}' would mean both {keys[key]} and {symbol}", where))
            keys[key] = symbol

        for symbol in sorted(symbols):
            add(symbol, symbol, ("genes", symbol))
        for section, table in (("renamed", renamed), ("aliases", conf.get("aliases") or {})):
            for old, new in table.items():
                if str(new) not in symbols:
                    problems.append(Problem(f"'{old}' points to '{new}', which is not a known gene", (section, old)))
                    continue
                if _symbol_key(str(old)) in keys and keys[_symbol_key(str(old))] == str(old):
                    problems.append(Problem(f"'{old}' is itself a known gene symbol", (section, old)))
                    continue
                add(str(old), str(new), (section, old))
        self._gene_keys = keys
        fail(path, problems)

    def gene(self, text: str) -> str:
        """The current HGNC symbol for a symbol (any case), a previous symbol or an alias
        (``LKB1`` -> ``STK11``, ``c-MET`` -> ``MET``, ``FAM123B`` -> ``AMER1``)."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a gene is a non-empty text, got {text!r}")
        check_length(text, "a gene")
        return self._cached_gene(text)

    def find_gene(self, text: str) -> str | None:
        """Like :meth:`gene`, but None for an unknown gene, with no suggestion worked out (fast:
        importers look up every gene of a mutation file, most of them unknown to the rules)."""
        if type(text) is not str:
            return None
        return self._gene_keys.get(_symbol_key(text))

    def _gene(self, text: str) -> str:
        symbol = self._gene_keys.get(_symbol_key(text))
        if symbol is not None:
            return symbol
        suggestion = _closest(_symbol_key(text), self._gene_keys, cutoff=0.7)
        raise TermError(f"unknown gene {quote(text)}", suggestion)

    @property
    def genes(self) -> frozenset[str]:
        """Every gene symbol the vocabulary knows (current HGNC symbols)."""
        return self._genes

    def panel(self, name: str) -> frozenset[str]:
        """The genes of a named panel (``IMPACT410``), as current symbols."""
        try:
            return self._panels[name]
        except KeyError:
            raise TermError(f"unknown gene panel {quote(name)}", _closest(name, {p: p for p in self._panels})) from None
