"""Evaluating cohorts on a Dask cluster (needs ``pip install 'kras-rules[dask]'``).

* :func:`evaluate_bag` - a ``dask.bag.Bag`` of cases (dicts, raw JSON lines or ``(source, case)``
  pairs) -> a bag of output records (JSON or TSV lines), one per case, in the same order;
* :func:`evaluate_files` - case files (JSON Lines cut into partitions read on the workers, JSON
  documents and arrays whole) -> a bag of output records in input order;
* ``kras-rules evaluate --dask ADDRESS ...`` - the command line's batch with the work on a cluster
  (:mod:`engine.distributed.cli`).

Every record is rendered by the local batch's per-record code, so the records are those of
``kras-rules evaluate --format json|tsv`` on the same input: results and error records alike. Each
worker process holds the rule base once: with a distributed client the client's rule base is
shipped to every worker by a worker plugin (the rules directory need not exist there, the
``engine`` package must be installed at the same version); with a local Dask scheduler each process
loads it from the rules directory on first use.

>>> from distributed import Client                               # doctest: +SKIP
>>> from engine.distributed import evaluate_files
>>> client = Client("tcp://scheduler:8786")                        # doctest: +SKIP
>>> evaluate_files(["cohort.jsonl"]).to_textfiles("out/*.jsonl")   # doctest: +SKIP

Educational decision support only: not medical advice.
"""
from __future__ import annotations

__all__ = ["evaluate_bag", "evaluate_files", "partitions", "rule_source"]


def __getattr__(name: str):  # dask is imported only when one of these is used
    if name in __all__:
        from engine.distributed import bag

        return getattr(bag, name)
    raise AttributeError(name)
