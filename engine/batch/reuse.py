"""Output records reused across the cases of a batch that read the same.

A case's output record is a function of its plan key (cancer type, date interval, jurisdiction),
its id, its evaluation date, and what evaluation reads of the rest of the case: the value of
each atom it evaluates, the words of the atoms its texts name (what made one true, what is
missing for one unknown) and whether the case lists the genes a note needs. The evaluator
records those reads, in order, when a case's :class:`~engine.evaluation.evaluator.Ctx` has a ``trail``.
The date matters in few places: the rules in effect (the plan), and the words that name it (a
TSV row's date cell; a JSON record's date field, the note on knowledge older than the date and
each trace line of a rule not in effect then). Those words are written for each case, like its
id, so cases at other dates with the same rules in effect share a record (see :class:`Reuse`).

:class:`Reuse` keeps, per plan key, a tree of reads: a node is the read evaluation made next,
its branches the values read, a leaf the output record with the case id and date cut out. A
case is looked up by making the reads the tree asks for on the case, in order. When every read
agrees, evaluation would read the same and write the same record: the leaf's, with the case's
own id and date put in. At the first read that differs, the case is evaluated on the same state,
recording the reads it makes after those, and they become a new branch. So cohorts whose cases
share their relevant facts (the usual case: most samples of a study have the same few facts the
rules read), at one date or each at its own, are written at the cost of reading the case and
making its reads; the generated cases of the benchmark, which rarely repeat, are evaluated as
before once the store sees that it rarely helps.

Nothing here knows a rule, gene or format: the batch gives the function that writes the start
of a record (see :meth:`engine.batch.run.Processor`), the resolution step counts where the texts
name the date (:func:`engine.evaluation.resolve.date_mentions`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from engine.case import NormalCase
from engine.evaluation.evaluator import Ctx, atom_words, infer, listed_genes
from engine.evaluation.resolve import build_result, date_mentions, decisions
from engine.result import Decisions, Result

#: the reads and records kept before the store starts afresh (bounded memory: a node is about
#: 100 bytes, a record 1 to 70 KB of text (a JSON record of a lung cancer names every driver
#: the G12C approvals' population rules out); a study of a thousand samples has a few dozen to
#: a few hundred distinct records, a few megabytes)
MAX_NODES: Final = 50_000
MAX_CHARS: Final = 8_000_000  # characters of TSV rows, bytes of JSON records (kept as UTF-8)
#: the store is judged on windows of this many cases: below MIN_REUSED of them reused, it is
#: bypassed for the next REST cases (then tried afresh). A case it does not answer costs about a
#: tenth more than evaluating it; one it answers saves half to two thirds of a JSON line (more
#: where records are long): the break-even is near one case in seven
WINDOW: Final = 1024
MIN_REUSED: Final = 0.25
REST: Final = 16_384


_CODE: Final[dict[object, int]] = {True: 1, False: 2, None: 3}


def _edge(node: int, what, v) -> object:
    """The key of the branch of ``node`` for value ``v``: a number for a truth value (no object
    for the garbage collector to track), a pair for words."""
    return (node, v) if type(what) is tuple else node << 2 | _CODE[v]


class Miss:
    """A case the store could not answer: its result, evaluated while recording its reads.
    Give :meth:`keep` the record written from it (after writing, which may read the case too)."""

    __slots__ = ("store", "key", "plan", "path", "case", "result", "mentions")

    def __init__(self, store: Reuse, key: tuple, plan, path: list, case: NormalCase, result: Result | Decisions,
                 mentions: int | None = None):
        self.store = store
        self.key = key
        self.plan = plan
        self.path = path
        self.case = case
        self.result = result
        self.mentions = mentions  # of the date in the record after its head (None: kept as it is)

    def keep(self, text: str | bytes) -> None:
        res = self.result
        self.store._keep(self.key, self.plan, self.path, text, self.store.head(self.case),
                         (res.cancer_type, tuple((o.therapy, o.verdict) for o in res.options)),
                         self.case.as_of.isoformat() if self.mentions is not None else None, self.mentions)


class Reuse:
    """The store of one batch process (not shared between threads).

    ``head(case)`` is the start of a case's record, up to and including its id and evaluation
    date (None: the record cannot be cut; such cases are evaluated). Records name the id there
    and nowhere else. The date:

    * ``date_in_body=False`` (a TSV row): the record names it in its head only. Records are kept
      per plan, i.e. per set of rules in effect, whatever the date.
    * ``date_in_body=True`` (a JSON record): its notes and trace name it too
      (:func:`engine.evaluation.resolve.date_mentions` counts where). Records are kept per date interval
      between rule boundaries and side of the knowledge version, with the date cut out where
      those texts name it: another date of the interval is written in its place. A record naming
      the date more often than that (another text that holds the same date) is not kept. On the
      dates the rule base names (a rule's start or end, the knowledge version: ``Program.dates``),
      a record may name the date as one of the rule base's own too (an option's
      ``effective_from``, the knowledge version), so records are kept per date there, whole.

    Records and heads are texts or bytes (one kind per store: the batch keeps JSON records as
    their UTF-8 bytes, TSV rows as texts); the bounds count their lengths."""

    def __init__(self, engine, head: Callable[[NormalCase], Any], *, date_in_body: bool = True,
                 decided_only: bool = False):
        self.program = engine.program
        self.summary = engine.summaries().of
        self.head = head
        self.date_in_body = date_in_body
        self.decided_only = decided_only  # a miss holds the case's Decisions (its record reads no more)
        self.knowledge_version = engine.program.rb.meta.knowledge_version  # (a later date: a note names it)
        # The tree, flat (few long-lived containers for the garbage collector to walk): nodes are
        # numbers; ``reads[n]`` is what node n reads (None: a leaf, its record in ``records``);
        # ``edges[_edge(n, read, value)]`` the node after n for that value; ``roots[plan key]``
        # the first, beside the plan (a key names its plan by id: the entry keeps the id the plan's).
        self.roots: dict[tuple, tuple[object, int]] = {}
        self.reads: list = []
        self.edges: dict[object, int] = {}
        self.records: dict[int, tuple[Any, tuple]] = {}  # leaf -> (record without its head, counts)
        self.chars = 0
        self.seen = 0  # cases looked up in this window
        self.reused = 0  # of which answered
        self.resting = 0  # cases left to bypass the store
        self.total_reused = 0
        self.total_seen = 0

    def find(self, case: NormalCase) -> tuple[Any, tuple] | Miss | None:
        """The record and counts (cancer type, (therapy, verdict) pairs) of ``case`` if the store
        has them; else a :class:`Miss` holding its result; None while the store rests (evaluate
        the case as usual)."""
        if self.resting:
            self.resting -= 1
            return None
        if self.seen >= WINDOW:
            low = self.reused < MIN_REUSED * self.seen
            self.seen = self.reused = 0
            if low:  # this case is the first of REST the store leaves alone
                self.resting = REST - 1
                self._clear()
                return None
        self.seen += 1
        self.total_seen += 1
        program = self.program
        plan = program.plan(case)
        day = case.as_of
        cut = False  # the date cut out of the record's body (see the class's words)
        if not self.date_in_body:
            when: object = None
        elif day in program.dates:
            when = day
        else:
            when = (program.interval(day), day > self.knowledge_version)
            cut = True
        key = (id(plan), when, case.jurisdiction, case.cancer.code)
        path: list = []
        root = self.roots.get(key)
        if root is not None and root[0] is plan:
            # the reads are made here as Ctx makes them (the same functions), without its state:
            # each is made once on a path, and a miss hands them to the Ctx that evaluates the case
            node: int | None = root[1]
            reads = self.reads
            edges = self.edges
            atoms = program.atoms
            listed = None
            while node is not None:
                what = reads[node]
                if what is None:
                    head = self.head(case)
                    if head is None:
                        break
                    self.reused += 1
                    self.total_reused += 1
                    tail, counts = self.records[node]
                    if type(tail) is tuple:  # the body's parts around the date
                        iso = day.isoformat()
                        tail = (iso.encode("ascii") if type(head) is bytes else iso).join(tail)
                    return head + tail, counts
                t = type(what)
                if t is int:  # an atom's value
                    v = atoms[what].fn(case)
                    node = edges.get(node << 2 | _CODE[v])
                elif t is tuple:  # an atom's words
                    v = atom_words(atoms[what[1]], what[0], case)
                    node = edges.get((node, v))
                else:  # whether the case lists each of these genes
                    if listed is None:
                        listed = listed_genes(case)
                    v = what <= listed
                    node = edges.get(node << 2 | _CODE[v])
                path.append((what, v))
        ctx = Ctx(program, case, plan)
        ctx.recorded(path)
        ctx.trail = path  # from here every read is recorded, after those made above
        inf = infer(program, case, ctx=ctx)
        mentions = date_mentions(inf) if cut else None
        result = (decisions(inf) if self.decided_only
                  else build_result(inf, lazy_texts=True, summary=self.summary))
        return Miss(self, key, plan, path, case, result, mentions)

    # ------------------------------------------------------------------ the tree

    def _keep(self, key: tuple, plan, path: list, text, head, counts: tuple, iso: str | None = None,
              mentions: int | None = None) -> None:
        """Keep ``text`` (whose start is ``head``) as the record of the reads ``path`` under
        ``key``; with ``iso``, its body cut around each of its ``mentions`` of that date (not
        kept if it holds the date any other number of times)."""
        if head is None or not text.startswith(head) or len(text) - len(head) > MAX_CHARS // 16:
            return
        tail = text[len(head):]
        if iso is not None:
            parts = tail.split(iso.encode("ascii") if type(tail) is bytes else iso)
            if len(parts) - 1 != mentions:
                return
            if mentions:
                tail = tuple(parts)
        if len(self.reads) + len(path) >= MAX_NODES or self.chars + len(text) > MAX_CHARS:
            self._clear()
        reads = self.reads
        edges = self.edges
        root = self.roots.get(key)
        k = 0
        if root is None or root[0] is not plan:
            node = len(reads)
            self.roots[key] = (plan, node)
            reads.append(path[0][0] if path else None)
        else:
            node = root[1]
            while True:
                what = reads[node]
                if what is None:
                    return  # a leaf answers these reads already (a case whose id could not be cut)
                if k == len(path) or path[k][0] != what:
                    return  # evaluation read otherwise than the tree says (not expected): not kept
                nxt = edges.get(_edge(node, what, path[k][1]))
                if nxt is None:
                    break
                node = nxt
                k += 1
        # node reads path[k][0] (or is the new leaf when the path is used up): add the rest
        while k < len(path):
            nxt = len(reads)
            reads.append(path[k + 1][0] if k + 1 < len(path) else None)
            edges[_edge(node, path[k][0], path[k][1])] = nxt
            node = nxt
            k += 1
        self.records[node] = (tail, counts)
        self.chars += len(text) - len(head)

    def _clear(self) -> None:
        self.roots.clear()
        self.reads.clear()
        self.edges.clear()
        self.records.clear()
        self.chars = 0
