"""Reading records from files and standard input, and writing output streams, with nothing lost.

- :mod:`engine.streams.inputs`: files, folders, JSON Lines and JSON documents, read as streams of
  records or errors, with the limits every reader applies.
- :mod:`engine.streams.codec`: fast JSON for the batch path, byte for byte what the plain path
  gives.
- :mod:`engine.streams.output`: writing an output stream to the end, or naming the output that
  could not be written (a full disk).

Used by ``kras-rules evaluate`` (:mod:`engine.batch`), ``kras-rules import``
(:mod:`engine.importers`) and the Dask integration (:mod:`engine.distributed`).
"""
