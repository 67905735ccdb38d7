"""Atomic file writes, shared by everything gradwire saves (models, diagrams, pages, plots).

A file is written to a temporary name in the same folder, flushed to disk, then renamed
over the target in one step, so a crash or an error mid-write leaves the previous file
whole and no half-written one.  The new file gets the usual permissions (0666 less the
umask), not the owner-only ones a plain ``tempfile.mkstemp`` would give it.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "sub", "hello.txt")
    >>> atomic_write(p, lambda f: f.write("hi")) == p
    True
"""
from __future__ import annotations

import os
import uuid
from typing import IO, Any, Callable, Union

__all__ = ["atomic_write"]


def atomic_write(path: Union[str, os.PathLike], write: Callable[[IO[Any]], Any],
                 binary: bool = False) -> str:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it onto
    ``path``; parent folders are created.  Returns ``path`` as a string."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with (os.fdopen(fd, "wb") if binary else
              os.fdopen(fd, "w", encoding="utf-8", newline="")) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
