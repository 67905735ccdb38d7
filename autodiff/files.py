"""Atomic file writes, shared by everything gradwire saves (models, diagrams, pages, plots).

A file is written to a temporary name in the same folder, flushed to disk, then renamed
over the target in one step, so a crash, an error or Ctrl-C mid-write leaves the previous
file whole, no half-written one and no temporary file.  The temporary name is short
(``.gw-`` and 12 hex digits), so any legal file name can be saved.  A symbolic link is
written through: its real file gets the new content (atomically) and the link stays.  A
target that exists but is not a regular file (a folder, a named pipe, a device such as
``/dev/null``, a socket) is refused with :class:`NotARegularFile` or
``IsADirectoryError``, naming the path given, before anything is written.  A new file
gets the usual permissions (0666 less the umask); a replaced file keeps its permissions
(and its owner, where the process may set it).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "sub", "hello.txt")
    >>> atomic_write(p, lambda f: f.write("hi")) == p
    True
    >>> try:
    ...     atomic_write(os.path.dirname(p), lambda f: f.write("hi"))
    ... except IsADirectoryError as e:
    ...     print(e.strerror)
    cannot save here: it is a folder; give a file name inside it
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from typing import IO, Any, Callable, Dict, Optional, Union

__all__ = ["atomic_write", "NotARegularFile"]

_TEMP_PREFIX = ".gw-"


class NotARegularFile(OSError):
    """The save target exists and is not a regular file (a pipe, a device, a socket).

    An ``OSError`` whose ``filename`` is the path given, so callers that report file
    errors (the CLI) name it.

        >>> str(NotARegularFile(errno.EINVAL, "it is a named pipe", "out.json"))
        "[Errno 22] it is a named pipe: 'out.json'"
    """


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _target(path: str) -> tuple[str, Optional[os.stat_result]]:
    """The real file to replace (links followed) and its stat, or None when it is new;
    refuses a folder or a special file, naming ``path`` as given."""
    if path == "":
        raise FileNotFoundError(errno.ENOENT, "cannot save: the file name is empty", path)
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)):
        raise IsADirectoryError(
            errno.EISDIR,
            "cannot save here: the path ends with a "
            "separator, so it names a folder; give a file name",
            path,
        )
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None
    except OSError as e:  # a loop of links, a file used as a folder, no permission
        raise OSError(e.errno, f"cannot save: {e.strerror}", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(
            errno.EISDIR, "cannot save here: it is a folder; give a file name inside it", path
        )
    if not stat.S_ISREG(st.st_mode):
        via = f" (a link to {real!r})" if real != os.path.abspath(path) else ""
        raise NotARegularFile(
            errno.EINVAL,
            f"cannot save here: it is {_kind(st.st_mode)}"
            f"{via}; gradwire only replaces regular files",
            path,
        )
    return real, st


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (not every file system lets a folder be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: Union[str, os.PathLike], write: Callable[[IO[Any]], Any], binary: bool = False
) -> str:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it onto
    ``path``; parent folders are created.  Returns ``path`` as a string.

    ``f`` is a text file (UTF-8, newlines as written) or, with ``binary=True``, a binary
    one.  If ``path`` is a symbolic link its real file is replaced.  Raises
    ``IsADirectoryError`` for a folder or ``''``-like paths, :class:`NotARegularFile` for a
    pipe/device/socket, and any other ``OSError`` with ``filename`` set to ``path``.

        >>> import os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> _ = atomic_write(os.path.join(d, "a.bin"), lambda f: f.write(b"1"), binary=True)
        >>> os.listdir(d)
        ['a.bin']
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(
            f"cannot save to {path!r}: expected a file path (str or "
            f"os.PathLike), got {type(path).__name__}"
        )
    path = os.fsdecode(os.fspath(path))
    real, old = _target(path)
    folder = os.path.dirname(real)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, f"cannot create the folder {folder!r}: {e.strerror}", path) from None
    mode = "xb" if binary else "x"  # x: create, never open an existing file
    text: Dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
    tmp = ""
    try:
        f = None
        for _ in range(100):
            # tmp is named before the open, so an interrupt just after it still removes it
            tmp = os.path.join(folder, f"{_TEMP_PREFIX}{secrets.token_hex(6)}.tmp")
            try:
                # 0666 less the umask, as for any new file; closed by the `with f:` below
                f = open(tmp, mode, **text)  # noqa: SIM115
            except FileExistsError:
                tmp = ""
                continue
            break
        if f is None:
            raise FileExistsError(errno.EEXIST, "no free temporary name", folder)
        with f:
            if old is not None:  # the replaced file's owner (when allowed) and mode
                # a `with`, not a nested `try:`: an interrupt raised on a nested try line
                # escapes the cleanup below (CPython 3.11 tracing)
                with contextlib.suppress(OSError):
                    os.fchown(f.fileno(), old.st_uid, old.st_gid)
                os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode))
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
        tmp = ""
    except OSError as e:
        if e.errno is not None and e.filename in (None, tmp, real, folder):
            raise OSError(e.errno, e.strerror, path) from None  # name the path given
        raise
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_folder(folder)
    return path
