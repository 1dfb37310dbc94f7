"""What every part of the vocabulary shares: the key normalisers, YAML reading, caching."""
from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from pathlib import Path

from engine.errors import Problem, RuleError, TermError, quote

CACHE_SIZE = 1 << 16
MAX_TERM = 500  # characters of one term (cancer type, gene, variant, drug, therapy word)


def check_length(text: str, what: str) -> None:
    """A term over :data:`MAX_TERM` characters is an error (every lookup stays cheap)."""
    if len(text) > MAX_TERM:
        raise TermError(f"{what} of {len(text):,} characters (at most {MAX_TERM}): {quote(text)}")

# --------------------------------------------------------------------------- normalisers


_NAME_PUNCT = re.compile(r"[-_,]+")
_SYMBOL_PUNCT = re.compile(r"[\s\-_./]+")
_DRUG_PUNCT = re.compile(r"[\s\-_./,'\u2019\u00ae\u2122()]+")
_REGIMEN_PUNCT = re.compile(r"[\s\-_.]+")
_REGIMEN_SEP = re.compile(r"[+&/]+")
_SPACES = re.compile(r"\s+")


def _name_key(text: str) -> str:
    """Names: ignore case, hyphens, underscores, commas and repeated spaces."""
    return " ".join(_NAME_PUNCT.sub(" ", text.casefold()).split()).rstrip(".")


def _symbol_key(text: str) -> str:
    """Gene symbols and aliases: ignore case, spaces, hyphens, dots, slashes, underscores."""
    return _SYMBOL_PUNCT.sub("", text.upper())


def _drug_key(text: str) -> str:
    """Drug names: ignore case, spaces, hyphens, dots, slashes, quotes and trademark signs."""
    return _DRUG_PUNCT.sub("", text.casefold())


def _regimen_key(text: str) -> str:
    """Regimen names: ignore case, spaces and hyphens; '+', '&' and '/' are one separator."""
    return _REGIMEN_SEP.sub("/", _REGIMEN_PUNCT.sub("", text.casefold())).strip("/")


#: letters of the Cyrillic and Greek alphabets that look like Latin ones, as a word typed on another
#: keyboard or copied from a document has them ("КRAS" with a Cyrillic К): read as those Latin
#: letters when a suggestion is worked out (never when a word is read)
_LOOKALIKES = str.maketrans(
    "АВЕЅІЈКМНОРСТХУаеѕіјорсхуԛԝ" "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧΖοικνρτυχ",
    "ABESIJKMHOPCTXYaesijopcxyqw" "ABEZHIKMNOPTYXZoikvptux",
)


def _closest(word: str, candidates: Mapping[str, str], cutoff: float = 0.6) -> str | None:
    """The display form of the candidate key closest to ``word`` (a key), if close enough. A key
    written in compatibility forms (full-width "ＬＵＡＤ", a ligature) or with letters of another
    alphabet that look like Latin ones (a Cyrillic "К") is read in its plain form first: a
    candidate it then is exactly is the one meant."""
    if not word:
        return None
    if not word.isascii():
        import unicodedata

        plain = unicodedata.normalize("NFKC", word).translate(_LOOKALIKES)
        for key in (plain, plain.casefold(), plain.upper()):  # (as the caller's key folds case)
            if key != word and key in candidates:
                return candidates[key]
    hit = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return candidates[hit[0]] if hit else None


def _alike_before_shared_ending(word: str, other: str, cutoff: float = 0.7) -> bool:
    """Whether two names are alike where they differ, their shared ending set aside: a drug's
    ending (an INN stem such as '-tinib' or '-lizumab') says its class, not which drug it is, so
    'lazertinib' is not a misspelt 'zongertinib', as 'osimertnib' is 'osimertinib'."""
    n = 0
    while n < min(len(word), len(other)) and word[-1 - n] == other[-1 - n]:
        n += 1
    a, b = word[:len(word) - n], other[:len(other) - n]
    return max(len(a), len(b)) <= 2 or difflib.SequenceMatcher(None, a, b).ratio() >= cutoff


def read_yaml(path: Path) -> dict:
    """A vocabulary file as a mapping; :class:`RuleError` naming the file otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read vocabulary file: {exc.strerror}", source=str(path)) from None
    from engine import ruleyaml  # only when the vocabulary is read from its files (not from the cache)

    try:
        data = ruleyaml.load(text)
    except ruleyaml.YAMLError as exc:
        raise RuleError(f"not valid YAML{ruleyaml.where(exc)}: {ruleyaml.problem(exc)}", source=str(path)) from None
    if not isinstance(data, dict):
        raise RuleError("expected a mapping at the top level", source=str(path))
    return data


def fail(path: Path, problems: list[Problem]) -> None:
    """Raise the problems found in one vocabulary file, if any."""
    if problems:
        raise RuleError(problems, source=str(path))


class Cached:
    """A part of the vocabulary whose lookups are memoised. ``_CACHED`` names the methods
    (``_x``) wrapped as ``_cached_x``; the caches are rebuilt after unpickling (workers)."""

    _CACHED: tuple[str, ...] = ()

    def _make_caches(self) -> None:
        for name in self._CACHED:
            setattr(self, f"_cached{name}", functools.lru_cache(maxsize=CACHE_SIZE)(getattr(self, name)))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cached_")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._make_caches()
