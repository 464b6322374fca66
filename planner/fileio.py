"""Atomic writes: every output goes to a temporary name and is moved into place.

The temporary name is ``.NAME.PID-RANDOM.part`` beside the target, so a run that is
killed leaves an orphan that the next write of the same target removes (only when its
process is gone and the orphan is older than this run). Files and folders get the modes
the user's umask asks for (``0644`` and ``0755`` with the usual ``022``), not the private
``0600``/``0700`` of :mod:`tempfile`. A symlink given as the target is written through: the
link stays, the file it points to gets the content.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_dir", "atomic_path", "clean_orphans", "current_umask"]

# Orphans older than this process (with a margin for coarse file-system clocks).
_RUN_STARTED = time.time() - 2.0


def current_umask() -> int:
    """The process's umask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _target(path: str | os.PathLike) -> Path:
    """``path``, or the file a symlink at ``path`` points to (written through)."""
    path = Path(path)
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_orphans(path: str | os.PathLike) -> list[Path]:
    """Remove ``.NAME.*.part`` (and ``.NAME.old``) left beside ``path`` by a killed run.

    Only entries older than this run whose writing process is gone are removed; returns
    what was removed.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    prefix = f".{path.name}."
    for entry in path.parent.iterdir():
        name = entry.name
        if not name.startswith(prefix) or not (name.endswith(".part") or name.endswith(".old")):
            continue
        middle = name[len(prefix) :].rsplit(".", 1)[0]
        pid_text = middle.split("-", 1)[0]
        try:
            if entry.lstat().st_mtime >= _RUN_STARTED:
                continue
            if pid_text.isdigit() and _alive(int(pid_text)):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except FileNotFoundError:
            continue
    return removed


def _name_target(exc: OSError, path: Path) -> None:
    """Name the target, not our temporary, in an OSError (a full disk says where)."""
    if exc.filename is None or ".part" in os.fspath(exc.filename):
        exc.filename, exc.filename2 = os.fspath(path), None


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was. The file
    gets the mode of the file it replaces, else ``0666`` less the umask.

    Examples
    --------
    >>> with atomic_path(out / "skull.stl") as tmp:  # doctest: +SKIP
    ...     mesh.export(tmp)
    """
    path = _target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_orphans(path)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~current_umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    except OSError as exc:
        _name_target(exc, path)
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success move it to ``path``.

    With ``overwrite`` an existing ``path`` is replaced only once the new one is complete.
    The folder gets ``0777`` less the umask.
    """
    path = _target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_orphans(path)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".part", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())
        if path.exists():
            if not overwrite:
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path))
            old = path.with_name(f"{_prefix(path)}{os.urandom(4).hex()}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        _name_target(exc, path)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
