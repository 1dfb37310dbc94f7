"""Writing an output stream to the end, or saying which output could not be written.

A failed write (a full disk, a quota, an I/O error) is not a bug and not a bad record: the commands
that write records (``evaluate``, :mod:`engine.batch.run`; ``import``, :mod:`engine.importers.cli`)
report it as a usage error naming the output, exit status 2, never a traceback. This module imports
nothing heavy, so ``import`` pays nothing for it.
"""
from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import IO


class OutputFailed(Exception):
    """Writing an output stream failed. ``where`` names the output when the code that caught it
    knows which (``import`` writes two: the cases and the error records). A broken pipe is not one
    of these (the reader has gone: the run ends quietly)."""

    def __init__(self, error: OSError, where: str | None = None):
        super().__init__(str(error))
        self.error = error
        self.where = where


@contextlib.contextmanager
def writing(where: str | None = None) -> Iterator[None]:
    """Turn an ``OSError`` of the writes inside into :class:`OutputFailed` (naming ``where``)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputFailed(exc, where) from exc


def reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def close_quietly(fh: IO[str]) -> None:
    """Close an output file whose write already failed: what is still buffered is lost (the
    complete records before it stay, and ``--resume`` cuts a partial last line)."""
    try:
        fh.close()
    except OSError:
        pass


def drop_stdout(out: IO[str]) -> None:
    """After a failed write to standard output, point its descriptor at the null device, so that
    the output still buffered does not fail again (with a traceback) when the process exits."""
    try:
        fd = out.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, io.UnsupportedOperation):
        return
    try:
        os.dup2(null, fd)
    except OSError:
        pass
    finally:
        os.close(null)
