"""Loading a rules directory: schema validation and term validation, at load time.

:func:`load_rulebase` reads ``meta.yaml``, ``sources.yaml``, ``therapies.yaml``, ``vocabulary/`` and
every ``kb/*.yaml``; it validates each against the schema of :mod:`engine.rules_model`, then checks
every term a rule uses against the vocabulary (cancer codes, genes, variants, drugs, drug classes),
every reference (facts, therapies, overridden rules, citation sources) and the uniqueness of ids. All
problems are collected and raised as one :class:`~engine.errors.RuleError` naming file and key path.
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from pydantic import ValidationError

from engine.cachedir import cache_dir, keep_file
from engine.errors import Problem, RuleError, TermError, quote
from engine.conditions import BY_MODEL
from engine.rules_model import (
    All,
    Any_,
    FactCond,
    Meta,
    Not,
    Rule,
    RuleFile,
    Source,
    SourceFile,
    Therapy,
    TherapyFile,
    TherapySelector,
    Unmet,
)
from engine import audit
from engine.schema import problems_from_validation
from engine.vocabulary import Vocabulary

DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def default_rules_dir() -> Path:
    env = os.environ.get("KRAS_RULES_DIR")
    return Path(env) if env else DEFAULT_RULES_DIR


@dataclass
class RuleBase:
    """A validated rule base: rules in id order, with the vocabulary and catalogues."""

    directory: Path
    meta: Meta
    vocab: Vocabulary
    sources: dict[str, Source]
    therapies: dict[str, Therapy]
    rules: list[Rule]
    rule_files: dict[str, str]  # rule id -> file (relative to the rules dir)
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # rule id -> therapy ids
    by_id: dict[str, Rule] = field(default_factory=dict)
    verifications: tuple = ()  # engine.audit.Verification records (verification.yaml)

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            close = difflib.get_close_matches(rule_id, list(self.by_id), n=1)
            raise RuleError(
                [Problem(f"unknown rule id '{rule_id}'", (), close[0] if close else None)]
            ) from None


def _check_jurisdiction(name: str, known: tuple[str, ...], path: tuple, problems: list[Problem]) -> None:
    """A jurisdiction the rule base lists (meta.yaml's ``jurisdictions``; any case): a misspelt one
    would make its rules apply to no case of the intended regulator."""
    upper = {j.upper(): j for j in known}
    if name.upper() in upper:
        return
    close = difflib.get_close_matches(name.upper(), list(upper), n=1, cutoff=0.5)
    problems.append(Problem(f"unknown jurisdiction '{name}'; the rule base's (meta.yaml jurisdictions): "
                            f"{', '.join(known)}", path, upper[close[0]] if close else None))


def _check_replacement(rule, by_id: dict, where: tuple, problems: list[Problem]) -> None:
    """``replaced_by``: the successor exists and, for a rule still in the rule base's history (not
    retired), takes over on the day the rule ends: an end date is needed (without one the old rule
    keeps deciding beside its successor), and a successor starting later leaves days that neither
    covers, one starting earlier days that both do."""
    succ = by_id.get(rule.replaced_by)
    if succ is None:
        close = difflib.get_close_matches(rule.replaced_by, list(by_id), n=1)
        problems.append(Problem(f"replaced_by names unknown rule '{rule.replaced_by}'", where + ("replaced_by",),
                                close[0] if close else None))
        return
    if succ.id == rule.id:
        problems.append(Problem("a rule cannot be replaced by itself", where + ("replaced_by",)))
        return
    if rule.status == "retired":
        return
    start = succ.effective_from.isoformat()
    if rule.effective_to is None:
        problems.append(Problem(f"replaced by {succ.id} from {start}, but the rule has no effective_to: it would "
                                f"keep deciding beside its successor; end it on the day {succ.id} starts",
                                where + ("effective_to",), start))
    elif rule.effective_to != succ.effective_from:
        end = rule.effective_to.isoformat()
        gap = "no rule of the two holds from" if succ.effective_from > rule.effective_to else "both rules hold from"
        first, last = sorted((rule.effective_to, succ.effective_from))
        problems.append(Problem(f"replaced by {succ.id}, which starts on {start}, but the rule ends on {end}: "
                                f"{gap} {first.isoformat()} to {(last - dt.timedelta(days=1)).isoformat()}; "
                                f"end it on the day its successor starts", where + ("effective_to",), start))


_UNREADABLE = object()  # a file _read_yaml could not read (its problem is already reported)


def _read_yaml(path: Path, rel: str, problems: list[Problem]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(f"cannot read: {exc.strerror}", (rel,)))
        return _UNREADABLE
    if not text.strip():
        problems.append(Problem("empty file", (rel,)))
        return _UNREADABLE
    from engine import ruleyaml  # only when the rule base is read from its files (not from the cache)

    try:
        return ruleyaml.load(text)
    except ruleyaml.YAMLError as exc:
        problems.append(Problem(f"invalid YAML{ruleyaml.where(exc)}: {ruleyaml.problem(exc)}{ruleyaml.hint(exc)}", (rel,)))
        return _UNREADABLE


def _validate(model, data: Any, rel: str, problems: list[Problem]):
    if data is _UNREADABLE:  # (validating nothing would only add "got null")
        return None
    if not isinstance(data, dict) and "rules" in model.model_fields:  # (a bare list of rules, say)
        problems.append(Problem(f"a rule file is a mapping whose 'rules:' key lists the rules, got {quote(data)}: "
                                "begin the file with 'rules:' and indent the list under it", (rel,)))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        ids = _entry_ids(data)
        for p in problems_from_validation(exc):
            path = p.path
            # an entry of a top-level list named by its id ("PAN-010.effective_from"), as the later
            # checks name it, not by its index in the file ("rules[9].effective_from")
            entry = ids.get((str(path[0]), path[1])) if len(path) >= 2 and isinstance(path[1], int) else None
            if entry is not None:
                path = (entry,) + path[2:]
            problems.append(Problem(p.message, (rel,) + path, p.suggestion))
        return None


def _entry_ids(data: Any) -> dict[tuple[str, int], str]:
    """(list key, index) -> id, for the entries of a file's top-level lists that give a text id."""
    out: dict[tuple[str, int], str] = {}
    if isinstance(data, dict):
        for key, items in data.items():
            if isinstance(key, str) and isinstance(items, list):
                for i, item in enumerate(items):
                    if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].strip():
                        out[(key, i)] = item["id"]
    return out


def iter_conditions(cond, path: tuple = ()) -> Iterable[tuple[Any, tuple]]:
    """Every condition node with its key path, depth first."""
    yield cond, path
    if isinstance(cond, All):
        for i, c in enumerate(cond.all):
            yield from iter_conditions(c, path + ("all", i))
    elif isinstance(cond, Any_):
        for i, c in enumerate(cond.any):
            yield from iter_conditions(c, path + ("any", i))
    elif isinstance(cond, Not):
        yield from iter_conditions(cond.not_, path + ("not",))
    elif isinstance(cond, Unmet):
        yield from iter_conditions(cond.unmet, path + ("unmet",))


def rule_conditions(rule: Rule) -> Iterable[tuple[Any, tuple]]:
    yield from iter_conditions(rule.when, ("when",))
    for i, r in enumerate(rule.requires):
        yield from iter_conditions(r.test, ("requires", i, "test"))


class TermCheck:
    """What a condition kind's ``check_terms`` reports through: vocabulary look-ups that add a
    problem with the condition's path (and a suggestion) instead of raising."""

    def __init__(self, vocab: Vocabulary, where: tuple, problems: list[Problem]):
        self.vocab = vocab
        self.where = where
        self.path: tuple = ()
        self.problems = problems

    def term(self, fn, path: tuple, *args) -> None:
        try:
            fn(*args)
        except TermError as exc:
            for p in exc.problems:
                self.problems.append(Problem(p.message, self.where + self.path + path, p.suggestion))

    def klass(self, name: str, path: tuple) -> None:
        if name not in self.vocab.drug_classes:
            close = difflib.get_close_matches(name, sorted(self.vocab.drug_classes), n=1)
            self.problems.append(Problem(f"unknown drug class '{name}'", self.where + self.path + path,
                                         close[0] if close else None))

    def gene(self, g: str, path: tuple) -> str | None:
        """The gene's HGNC symbol, or None (a problem is reported) if unknown or not written so."""
        try:
            canon = self.vocab.gene(g)
        except TermError as exc:
            for p in exc.problems:
                self.problems.append(Problem(p.message, self.where + self.path + path, p.suggestion))
            return None
        if canon != g:
            self.problems.append(Problem(f"write the gene as its HGNC symbol '{canon}', not '{g}'",
                                         self.where + self.path + path, canon))
        return canon


def _check_terms(rule: Rule, vocab: Vocabulary, derived: dict[str, str], where: tuple, problems: list[Problem]):
    """``derived``: each fact a rule derives -> that rule's id."""
    t = TermCheck(vocab, where, problems)
    for cond, path in rule_conditions(rule):
        if isinstance(cond, FactCond):
            if cond.fact not in derived:
                close = difflib.get_close_matches(cond.fact, sorted(derived), n=1)
                # (the fault may be the deriving rule's: a renamed `derive` leaves every reader unmatched)
                by = f"; {derived[close[0]]} derives '{close[0]}': if its 'derive' was renamed, that is the line to mend" if close else ""
                problems.append(Problem(f"fact '{cond.fact}' is derived by no rule{by}", where + path + ("fact",),
                                        close[0] if close else None))
            continue
        kind = BY_MODEL.get(type(cond))
        if kind is not None and kind.check_terms is not None:
            t.path = path
            kind.check_terms(cond, t)


def _check_population(rule: Rule, vocab: Vocabulary, where: tuple, problems: list[Problem]) -> None:
    pop = rule.population
    if pop is None:
        return
    for i, code in enumerate(pop.cancers or ()):
        if code != "any":
            try:
                vocab.cancer_code(code)
            except TermError as exc:
                for p in exc.problems:
                    problems.append(Problem(p.message, where + ("population", "cancers", i), p.suggestion))
    if pop.acquired_on is not None and pop.acquired_on not in vocab.drug_classes:
        close = difflib.get_close_matches(pop.acquired_on, sorted(vocab.drug_classes), n=1)
        problems.append(Problem(f"unknown drug class '{pop.acquired_on}'", where + ("population", "acquired_on"),
                                close[0] if close else None))


def _check_contradictory_gate(rule: Rule, vocab: Vocabulary, where: tuple, problems: list[Problem]) -> None:
    """A `when` whose `all` asks for two leaves that can never both hold (two cancer types of
    separate OncoTree subtrees: a copy-paste slip) is never true; it is unknown only for a case
    coded above both, which it would then give an option it can never confirm."""
    leaves: list = []
    todo = [rule.when] if rule.when is not None else []
    while todo:
        c = todo.pop()
        if isinstance(c, All):
            todo.extend(reversed(c.all))  # (in the rule's order)
        elif type(c) in BY_MODEL:
            leaves.append(c)
    for i, a in enumerate(leaves):
        kind = BY_MODEL[type(a)]
        if kind.disjoint is None:
            continue
        for b in leaves[i + 1:]:
            if type(b) is type(a) and kind.disjoint(a, b, vocab):
                problems.append(Problem(f"'when' asks for both {kind.label(a, vocab)} and {kind.label(b, vocab)}, which "
                                        f"no case can be: the rule never applies (did you mean one of them, or 'any'?)",
                                        where + ("when",)))


def _check_resistance_overridden(rule: Rule, by_id: dict, targets: dict[str, tuple[str, ...]], therapies: dict[str, Therapy],
                                 vocab: Vocabulary, where: tuple, problems: list[Problem]) -> None:
    """An approval or trial rule must not set aside an exclusion whose evidence is resistance
    acquired on a drug class its own therapy holds (``population.acquired_on``): where that
    exclusion applies, the tumour grew resistant to that very drug, and the approval's population
    (tumours not yet treated with it) is not this one. A new approval of such a drug is listed in
    the exclusion's ``overrides`` instead: the exclusion sets the approval aside."""
    c = rule.conclude
    if rule.kind != "conclusion" or c is None or c.verdict == "excluded" or rule.status == "retired":
        return
    for i, ov in enumerate(rule.overrides):
        other = by_id.get(ov.rule)
        if other is None or other.resistance_acquired_on is None:
            continue
        cls = other.resistance_acquired_on
        held = sorted(t for t in targets.get(rule.id, ()) if t in therapies
                      for d in therapies[t].drugs if cls in vocab.drug(d).classes)
        if held:
            problems.append(Problem(
                f"sets aside {other.id}, whose evidence is resistance acquired on a {vocab.class_label(cls)}, for "
                f"{', '.join(dict.fromkeys(held))}, which holds one: where {other.id} applies the tumour is resistant "
                f"to this very drug. List {rule.id} in {other.id}'s overrides instead (the resistance exclusion sets "
                f"the approval aside), and remove {other.id} here", where + ("overrides", i, "rule")))


def _resolve_targets(rule: Rule, therapies: dict[str, Therapy], vocab: Vocabulary, where: tuple, problems: list[Problem]) -> tuple[str, ...]:
    c = rule.conclude or rule.about
    if c is None:
        return ()
    part = "conclude" if rule.conclude is not None else "about"
    if c.therapy is not None:
        ids: tuple[str, ...] = (c.therapy,)
    elif isinstance(c.therapies, TherapySelector):
        sel = c.therapies
        for k in (sel.with_class, sel.without_class):
            if k is not None and k not in vocab.drug_classes:
                close = difflib.get_close_matches(k, sorted(vocab.drug_classes), n=1)
                problems.append(Problem(f"unknown drug class '{k}'", where + (part, "therapies"), close[0] if close else None))
                return ()

        def classes_of(t: Therapy) -> set[str]:
            out: set[str] = set()
            for d in t.drugs:
                out |= vocab.drug(d).classes
            return out

        ids = tuple(
            sorted(
                t.id
                for t in therapies.values()
                if sel.with_class in classes_of(t)
                and (sel.without_class is None or sel.without_class not in classes_of(t))
            )
        )
        if not ids:
            problems.append(Problem("the therapy selector matches no therapy of the catalogue", where + (part, "therapies")))
    else:
        ids = tuple(c.therapies or ())
    for i, t in enumerate(ids):
        if t not in therapies:
            close = difflib.get_close_matches(t, sorted(therapies), n=1)
            path = (part, "therapy") if c.therapy is not None else (part, "therapies", i)
            problems.append(Problem(f"unknown therapy '{t}' (not in therapies.yaml)", where + path, close[0] if close else None))
    return ids


_SEED_CACHE: dict[Path, str] = {}


def _norm_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def seeds_dir_for(rb_dir: Path, meta: Meta) -> Path | None:
    env = os.environ.get("KRAS_SEEDS_DIR")
    cand = Path(env) if env else (rb_dir.parent / meta.seeds_dir).resolve()
    return cand if cand.is_dir() else None


_SEED_NORM: dict[Path, tuple[str, list[str]]] = {}


def _seed_text(fp: Path) -> tuple[str, list[str]]:
    """A seed document read (``_SEED_CACHE``) with its whitespace normalised: the whole text, and
    each line."""
    hit = _SEED_NORM.get(fp)
    if hit is None:
        raw = _SEED_CACHE[fp]
        hit = _SEED_NORM[fp] = (_norm_ws(raw), [_norm_ws(ln) for ln in raw.splitlines()])
    return hit


_SECTION_CACHE: dict[tuple[str, frozenset[str]], dict[str, list[str]]] = {}


def _sections(name: str, lines: list[str], heads: set[str]) -> dict[str, list[str]]:
    """Each cited heading's text (whitespace normalised): from its line to the next line that is
    another cited heading of the document (a heading may occur more than once)."""
    key = (name, frozenset(heads))
    hit = _SECTION_CACHE.get(key)
    if hit is None:
        hit = {}
        starts = [k for k, ln in enumerate(lines) if ln in heads]
        for n, k in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            hit.setdefault(lines[k], []).append(_norm_ws(" ".join(lines[k:end])))
        _SECTION_CACHE[key] = hit
    return hit


_NOT_A_HEADING = re.compile(r"^[\u2022*\-]|[.;,:?]$")  # a bullet, or a line ending a sentence


def check_citations(rb: RuleBase, problems: list[Problem], seeds: Path | None) -> int:
    """Every citation resolves to a known source; with the seed documents at hand, every section
    is a heading line of its document (not a bullet or a sentence) and every quote is found in it:
    in the text from the section's heading to the next heading any citation of that document
    names (a quote with no section, anywhere in the document). Returns how many quotes were
    verified."""
    verified = 0
    headings: dict[str, set[str]] = {}  # seed file -> the sections cited from it
    for rule in rb.rules:
        for cit in rule.citations:
            src = rb.sources.get(cit.source)
            if src is not None and src.file and cit.section:
                headings.setdefault(src.file, set()).add(_norm_ws(cit.section))
    for rule in rb.rules:
        where = (rb.rule_files[rule.id], rule.id)
        for i, cit in enumerate(rule.citations):
            path = where + ("citations", i)
            src = rb.sources.get(cit.source)
            if src is None:
                close = difflib.get_close_matches(cit.source, sorted(rb.sources), n=1)
                problems.append(Problem(f"unknown source '{cit.source}' (not in sources.yaml)", path + ("source",), close[0] if close else None))
                continue
            if seeds is None or not src.file:
                continue
            fp = seeds / src.file
            if fp not in _SEED_CACHE:
                try:
                    _SEED_CACHE[fp] = fp.read_text(encoding="utf-8")
                except OSError:
                    problems.append(Problem(f"seed document of {src.id} not found in {seeds.name}/", path + ("source",)))
                    continue
            text, lines = _seed_text(fp)
            quote = _norm_ws(cit.quote)
            if quote not in text:
                problems.append(Problem(f"quote not found in {src.id} ({src.title}): {_where_quote_differs(quote, text)}",
                                        path + ("quote",)))
                continue
            if cit.section:
                sec = _norm_ws(cit.section)
                at = [k for k, ln in enumerate(lines) if ln == sec]
                if not at or _NOT_A_HEADING.search(sec):
                    cands = [ln for ln in set(lines) if 1 < len(ln) < 90 and not _NOT_A_HEADING.search(ln)]
                    close = difflib.get_close_matches(sec, cands, n=1)
                    why = "is a line of its text, not a heading" if at else "is not a heading"
                    problems.append(Problem(f"section '{cit.section}' {why} of {src.id}", path + ("section",),
                                            close[0] if close else None))
                    continue
                spans = _sections(str(fp), lines, headings.get(src.file, set()))
                if not any(quote in s for s in spans.get(sec, ())):
                    holder = next((h for h, ss in sorted(spans.items()) if any(quote in s for s in ss)), None)
                    problems.append(Problem(f"quote is in {src.id} but not under its section '{cit.section}'"
                                            + (f": it is under '{holder}'" if holder else ""), path + ("section",), holder))
                    continue
            verified += 1
    return verified


def _where_quote_differs(quote: str, text: str) -> str:
    """Where a quote stops matching its document: the longest start of it the document holds (a
    binary search: a start found means every shorter one is), then the quote's words and the
    document's from there."""
    lo, hi = 0, len(quote)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if quote[:mid] in text:
            lo = mid
        else:
            hi = mid - 1
    if lo < 12:  # (a few letters in common say nothing)
        return f"'{quote[:80]}'" + ("..." if len(quote) > 80 else "") + " (no passage of the document begins so)"
    at = text.index(quote[:lo]) + lo
    return (f"the document has '...{quote[max(0, lo - 40):lo]}' but then '{text[at:at + 40].strip()}...', where the "
            f"quote has '{quote[lo:lo + 40].strip()}...'")


_VOCAB_CACHE: dict[tuple[Path, str], Vocabulary] = {}


def vocabulary_dir(d: Path) -> Path:
    """The vocabulary folder of the rule base in ``d``: its own, or (a rule base of one's own may
    share it) the shipped one."""
    own = d / "vocabulary"
    return own if own.is_dir() else DEFAULT_RULES_DIR / "vocabulary"


def _tree_digest(d: Path) -> str:
    """A content hash of every file under ``d`` (names and bytes)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(d.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(d)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()


def _load_vocab(vdir: Path) -> Vocabulary:
    """The vocabulary of a folder, shared between rule bases that use the same folder with the
    same content. The key is the path *and* the content: a folder edited since it was last loaded
    is loaded again (keyed by path alone, an edited vocabulary went unseen)."""
    key = (vdir.resolve(), _tree_digest(vdir))
    v = _VOCAB_CACHE.get(key)
    if v is None:
        if len(_VOCAB_CACHE) > 16:
            _VOCAB_CACHE.clear()
        v = _VOCAB_CACHE[key] = Vocabulary.load(vdir)
    return v


_CODE_FILES = ("rules_model.py", "audit.py", "rulebase.py", "vocabulary", "schema.py", "errors.py", "semantics.py", "conditions")


def _digest(d: Path) -> str:
    """A content hash of everything a loaded rule base depends on: its files, the vocabulary it
    uses and the engine code that validates them."""
    import hashlib

    h = hashlib.sha256()
    vdir = vocabulary_dir(d)
    files = [f for f in sorted(d.rglob("*")) if f.is_file() and f.suffix in (".yaml", ".yml", ".json")]
    if not (d / "vocabulary").is_dir():
        files += [f for f in sorted(vdir.rglob("*")) if f.is_file()]
    here = Path(__file__).resolve().parent
    files += [f for n in _CODE_FILES for f in (sorted((here / n).glob("*.py")) if (here / n).is_dir() else [here / n])]
    for f in files:  # keyed by content and relative names: the same files anywhere share a key
        for root, tag in ((d, "rules"), (vdir, "vocabulary"), (here, "engine")):
            if f.is_relative_to(root):
                h.update(f"{tag}/{f.relative_to(root).as_posix()}".encode())
                break
        h.update(f.read_bytes())
    return h.hexdigest()[:32]


def load_rulebase(directory: Path | str | None = None, *, cache: bool = True) -> RuleBase:
    """Load and validate a rule base; raise RuleError listing every problem.

    A rule base that loaded cleanly is kept, pickled, in a cache keyed by the content of its files
    (``$KRAS_RULES_CACHE``, default ``~/.cache/kras-rules``; ``KRAS_RULES_CACHE=off`` disables it),
    so the command line starts fast. Any change to a rule, vocabulary or engine file misses it;
    the same content in another folder hits it; only the :data:`CACHE_KEEP` most recently used
    rule bases are kept.
    """
    import pickle

    d = Path(directory) if directory is not None else default_rules_dir()
    if not d.is_dir():
        raise RuleError([Problem(f"rules directory not found: {d}")])
    cdir = cache_dir() if cache else None
    target = None
    if cdir is not None:
        try:
            target = cdir / f"rulebase-{_digest(d)}.pickle"
            with open(target, "rb") as fh:
                rb = pickle.load(fh)
            if isinstance(rb, RuleBase):
                rb.directory = d
                try:
                    os.utime(target)  # recently used: kept by the eviction below
                except OSError:
                    pass
                return rb
        except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            pass
    rb = _load_uncached(d)
    if target is not None:
        keep_file(target, lambda fh: pickle.dump(rb, fh, protocol=pickle.HIGHEST_PROTOCOL), "rulebase-*.pickle", CACHE_KEEP)
    return rb


CACHE_KEEP = 8  # rule bases kept in the cache folder (the most recently used)


def _load_uncached(d: Path) -> RuleBase:
    problems: list[Problem] = []

    meta = _validate(Meta, _read_yaml(d / "meta.yaml", "meta.yaml", problems), "meta.yaml", problems)
    src_file = _validate(SourceFile, _read_yaml(d / "sources.yaml", "sources.yaml", problems), "sources.yaml", problems)
    th_file = _validate(TherapyFile, _read_yaml(d / "therapies.yaml", "therapies.yaml", problems), "therapies.yaml", problems)
    vdir = vocabulary_dir(d)
    try:
        vocab = _load_vocab(vdir)
    except TermError as exc:
        raise RuleError([Problem(p.message, ("vocabulary",) + p.path, p.suggestion) for p in exc.problems]) from None

    sources: dict[str, Source] = {}
    if src_file:
        for i, s in enumerate(src_file.sources):
            if s.id in sources:
                problems.append(Problem(f"duplicate source id '{s.id}'", ("sources.yaml", "sources", i, "id")))
            sources[s.id] = s
    therapies: dict[str, Therapy] = {}
    if th_file:
        for i, t in enumerate(th_file.therapies):
            where = ("therapies.yaml", "therapies", i)
            if t.id in therapies:
                problems.append(Problem(f"duplicate therapy id '{t.id}'", where + ("id",)))
            names = []
            for j, dname in enumerate(t.drugs):
                try:
                    names.append(vocab.drug(dname).name)
                except TermError as exc:
                    for p in exc.problems:
                        problems.append(Problem(p.message, where + ("drugs", j), p.suggestion))
            expected_id = "+".join(sorted(names))
            if names and len(names) == len(t.drugs) and t.id != expected_id:
                problems.append(Problem(f"therapy id must be the sorted generic drug names joined by '+': '{expected_id}', "
                                        f"got '{t.id}'", where + ("id",), expected_id))
            therapies[t.id] = t

    kb_dir = d / "kb"
    files = sorted(kb_dir.glob("*.yaml")) if kb_dir.is_dir() else []
    for f in sorted(kb_dir.glob("*.y*ml")) if kb_dir.is_dir() else []:
        if f.suffix != ".yaml" and f.suffix.lower() in (".yml", ".yaml"):  # (a rule file not read is a rule lost)
            problems.append(Problem(f"not read: rule files end in .yaml, got '{f.name}'", (f"kb/{f.name}",),
                                    f"kb/{f.stem}.yaml"))
    if not files:
        problems.append(Problem("no rule files (kb/*.yaml)", ("kb",)))
    rules: list[Rule] = []
    rule_files: dict[str, str] = {}
    rule_where: dict[str, tuple] = {}
    for f in files:
        rel = f"kb/{f.name}"
        rf = _validate(RuleFile, _read_yaml(f, rel, problems), rel, problems)
        if rf is None:
            continue
        for i, rule in enumerate(rf.rules):
            if rule.id in rule_files:
                problems.append(Problem(f"duplicate rule id '{rule.id}' (also in {rule_files[rule.id]})", (rel, "rules", i, "id")))
                continue
            rule_files[rule.id] = rel
            rule_where[rule.id] = (rel, rule.id)
            rules.append(rule)

    if problems or meta is None:
        raise RuleError(problems or [Problem("meta.yaml is invalid")])

    if meta.jurisdictions is not None:
        _check_jurisdiction(meta.default_jurisdiction, meta.jurisdictions, ("meta.yaml", "default_jurisdiction"), problems)
        for j in meta.approval_words:
            _check_jurisdiction(j, meta.jurisdictions, ("meta.yaml", "approval_words", j), problems)
        for name, j in meta.jurisdiction_names.items():
            _check_jurisdiction(j, meta.jurisdictions, ("meta.yaml", "jurisdiction_names", name), problems)
    rules.sort(key=lambda r: r.id)
    derived = {r.derive: r.id for r in rules if r.derive and r.status != "retired"}
    by_id = {r.id: r for r in rules}
    targets: dict[str, tuple[str, ...]] = {}
    for rule in rules:
        where = rule_where[rule.id]
        _check_terms(rule, vocab, derived, where, problems)
        _check_population(rule, vocab, where, problems)
        _check_contradictory_gate(rule, vocab, where, problems)
        targets[rule.id] = _resolve_targets(rule, therapies, vocab, where, problems)
        for i, ov in enumerate(rule.overrides):
            if ov.rule == rule.id:  # (it would silence itself wherever it applies)
                problems.append(Problem("a rule cannot override itself: name the rule whose verdict this one "
                                        "replaces", where + ("overrides", i, "rule")))
            elif ov.rule not in by_id:
                close = difflib.get_close_matches(ov.rule, list(by_id), n=1)
                renamed = (f"; an id never changes: if '{close[0]}' was '{ov.rule}' before, give it back its id"
                           if close else "")
                problems.append(Problem(f"overrides unknown rule '{ov.rule}'{renamed}", where + ("overrides", i, "rule"),
                                        close[0] if close else None))
        if rule.replaced_by is not None:
            _check_replacement(rule, by_id, where, problems)
        if rule.effective_from > meta.knowledge_version:
            problems.append(Problem(
                f"'effective_from' ({rule.effective_from}) is after the knowledge version ({meta.knowledge_version}, "
                f"meta.yaml): the rule base cannot know a fact from after the date it is current to; raise the "
                f"version with the knowledge", where + ("effective_from",)))
        if rule.jurisdiction is not None and meta.jurisdictions is not None:
            _check_jurisdiction(rule.jurisdiction, meta.jurisdictions, where + ("jurisdiction",), problems)
        for i, ex in enumerate(rule.examples):
            t = ex.expect.therapy
            if rule.kind == "conclusion":
                if ex.expect.verdict is None and not ex.expect.no_option:
                    problems.append(Problem("an example of a conclusion rule needs 'expect.verdict' (or 'no_option: true')",
                                            where + ("examples", i, "expect")))
                if t is None and len(targets[rule.id]) > 1:
                    problems.append(Problem("the rule concludes about several therapies: name 'expect.therapy'", where + ("examples", i, "expect")))
                if t is not None and t not in therapies:
                    problems.append(Problem(f"unknown therapy '{t}'", where + ("examples", i, "expect", "therapy")))
            elif rule.kind == "derivation" and ex.expect.fact is None and not ex.expect.fact_unknown:
                problems.append(Problem("an example of a derivation rule needs 'expect.fact' or 'fact_unknown: true'", where + ("examples", i, "expect")))
            elif rule.kind == "note" and ex.expect.note is None:
                problems.append(Problem("an example of a note rule needs 'expect.note'", where + ("examples", i, "expect")))
            elif rule.kind == "caution" and ex.expect.caution is None:
                problems.append(Problem("an example of a caution rule needs 'expect.caution'", where + ("examples", i, "expect")))

    for rule in rules:
        _check_resistance_overridden(rule, by_id, targets, therapies, vocab, rule_where[rule.id], problems)
    rb = RuleBase(d, meta, vocab, sources, therapies, rules, rule_files, targets, by_id)
    rb.verifications = audit.load(d, set(by_id), set(sources), problems)
    check_citations(rb, problems, None)
    if problems:
        raise RuleError(problems)
    return rb
