"""Batch evaluation (``kras-rules evaluate``): every input record yields exactly one output record.

- :mod:`engine.batch.run`: the command: inputs read, records evaluated and written in input
  order, resumed, and the output checked not to be an input.
- :mod:`engine.batch.parallel`: the worker pool on every core, surviving crashed workers.
- :mod:`engine.batch.reuse`: the store of output records reused by cases that read the same.
- :mod:`engine.batch.summary`: the per-cohort summary (``--summary``).
- :mod:`engine.batch.progress`: the progress line on a terminal.

Reading and writing streams is :mod:`engine.streams` (shared with ``kras-rules import``); the
same records on a Dask cluster are :mod:`engine.distributed`.
"""
