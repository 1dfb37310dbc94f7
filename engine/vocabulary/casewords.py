"""``case_words.yaml``: the words people write for the values of the case format's fixed fields
(``stage``, ``setting``, ``outcome``, ``origin``, ``classification``), each with the value it
means. They are offered as the value probably meant when a case gives one ("stage IV" ->
``metastatic``, "PD" -> ``progression``), never read in the value's place: the case format keeps
its one writing of each value. Words that mean no one value (``unclear``: "advanced", "stage III")
get the reason instead of an offer, which a close spelling would otherwise make."""
from __future__ import annotations

from pathlib import Path

from engine.errors import Problem
from engine.vocabulary.common import _name_key, fail, read_yaml

#: the fields whose words the file may give, and the values each field takes (the case model's;
#: a test keeps them equal, this module sitting below the model)
FIELDS: dict[str, tuple[str, ...]] = {
    "stage": ("early", "locally_advanced", "metastatic"),
    "setting": ("adjuvant", "neoadjuvant", "metastatic", "maintenance"),
    "outcome": ("progression", "response", "stable", "intolerance"),
    "origin": ("somatic", "germline"),
    "classification": ("pathogenic", "likely_pathogenic", "uncertain_significance", "likely_benign", "benign"),
}


class CaseWords:
    """Reads ``case_words.yaml``; :meth:`meant` gives the value a word probably means."""

    def __init__(self) -> None:  # use CaseWords.load
        self._words: dict[str, dict[str, str]] = {}
        self._unclear: dict[str, dict[str, str]] = {}  # field -> word -> why no one value is meant

    @classmethod
    def load(cls, directory: Path) -> CaseWords:
        part = cls()
        path = Path(directory) / "case_words.yaml"
        if not path.exists():  # (optional: a rule base without it offers only close spellings)
            return part
        conf = read_yaml(path)
        problems: list[Problem] = []
        for fld, words in (conf.pop("unclear", None) or {}).items():
            if fld not in FIELDS or not isinstance(words, dict):
                problems.append(Problem(f"not a field with fixed values ({', '.join(FIELDS)}), or not a mapping "
                                        "of words to why they mean no one value", ("unclear", str(fld))))
                continue
            for word, why in words.items():
                if not isinstance(why, str) or not why.strip():
                    problems.append(Problem("give why the word means no one value", ("unclear", fld, str(word))))
                    continue
                part._unclear.setdefault(fld, {})[_name_key(str(word))] = " ".join(why.split())
        for fld, values in conf.items():
            if fld not in FIELDS or not isinstance(values, dict):
                problems.append(Problem(f"not a field with fixed values ({', '.join(FIELDS)}), or not a mapping "
                                        "of its values to words", (str(fld),)))
                continue
            words = part._words.setdefault(fld, {})
            for value, said in values.items():
                if value not in FIELDS[fld]:
                    problems.append(Problem(f"'{value}' is not a value of {fld} ({', '.join(FIELDS[fld])})", (fld, str(value))))
                    continue
                for i, word in enumerate(said or ()):
                    key = _name_key(str(word))
                    if words.get(key, value) != value or key in part._unclear.get(fld, {}):
                        problems.append(Problem(f"'{word}' already means {words.get(key, 'no one value (unclear)')}",
                                                (fld, value, i)))
                    words[key] = value
        fail(path, problems)
        return part

    def unclear(self, fld: str, word: str) -> str | None:
        """Why ``word`` means no one value of ``fld`` ("advanced": metastatic or locally advanced),
        or None."""
        return self._unclear.get(fld, {}).get(_name_key(word)) if len(word) <= 80 else None

    def meant(self, fld: str, word: str) -> str | None:
        """The value of ``fld`` that ``word`` probably means (None: the file gives no such word)."""
        return self._words.get(fld, {}).get(_name_key(word)) if len(word) <= 80 else None
