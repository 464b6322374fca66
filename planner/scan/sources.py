"""Where DICOM files come from: a folder, a DICOMDIR, a zip archive or a list of files.

:func:`open_source` yields :class:`FileRef` objects, each able to open its bytes. A zip is
never unpacked to disk: its members are read one at a time into memory, and an archive that
would expand beyond a stated limit (in total, or one member compressed far beyond what real
data allow: a "zip bomb") is refused before anything is read.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from planner.errors import PlannerError

__all__ = [
    "MAX_MEMBER_RATIO",
    "MAX_UNZIPPED_BYTES",
    "PREFETCH_FILES",
    "FileRef",
    "is_dicomdir",
    "looks_like_dicom",
    "open_source",
]

MAX_UNZIPPED_BYTES = 8 * 1024**3
"""Default limit on the total uncompressed size of a zip archive (8 GiB)."""
MAX_MEMBER_RATIO = 200.0
"""A member larger than :data:`_RATIO_MIN_BYTES` compressed more than this is refused."""
PREFETCH_FILES = 16
"""Files asked of the disk (:meth:`FileRef.prefetch`) ahead of the one being read."""
_RATIO_MIN_BYTES = 8 * 1024**2  # small members (one CT slice is 0.5 MiB) are never suspect
_MAX_MEMBERS = 200_000
_DIRECTORY_SOP = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class FileRef:
    """One candidate file: on disk, or a member of an open zip archive.

    Attributes
    ----------
    name : str
        The file's own name (no folders), used in messages.
    path : Path or None
        The file on disk; None for a zip member.
    member : str or None
        The member's name in ``archive``.
    archive : zipfile.ZipFile or None
        The open archive holding ``member``.
    """

    name: str
    path: Path | None = None
    member: str | None = None
    archive: zipfile.ZipFile | None = None

    @classmethod
    def on_disk(cls, path: Path) -> FileRef:
        """A reference to the file ``path``."""
        return cls(name=path.name, path=path)

    def open(self) -> BinaryIO:
        """A seekable binary file object (a zip member is read into memory)."""
        if self.path is not None:
            return open(self.path, "rb")
        return io.BytesIO(self.archive.read(self.member))

    def prefetch(self, start: int, length: int) -> None:
        """Ask the system to start reading ``length`` bytes from ``start`` (disk files only).

        Reading a series file by file waits on the disk for each one when the files are not
        cached; asked a few files ahead, the system reads them while the previous ones are
        parsed. Does nothing where the system cannot be asked, or for a zip member.
        """
        if self.path is None or not hasattr(os, "posix_fadvise"):
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:  # reading the file will say what is wrong
            return
        try:
            os.posix_fadvise(fd, start, length, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes (a zip member is decompressed only that far)."""
        if self.path is not None:
            with open(self.path, "rb") as f:
                return f.read(n)
        with self.archive.open(self.member) as f:
            return f.read(n)


@contextlib.contextmanager
def open_source(
    path, *, max_unzipped_bytes: int = MAX_UNZIPPED_BYTES
) -> Iterator[tuple[list[FileRef], str]]:
    """Yield (candidate files, label for messages) for any accepted kind of input.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        A folder (searched recursively), a DICOMDIR, a ``.zip`` archive, a single file, or
        a list of files.
    max_unzipped_bytes : int
        Refuse a zip archive whose members add up to more than this, uncompressed.

    Raises
    ------
    PlannerError
        When the input does not exist, is empty, or is a zip archive that cannot be read or
        would expand beyond the limits.
    """
    if isinstance(path, list | tuple):
        files = [Path(p) for p in path]
        missing = [p for p in files if not p.is_file()]
        if not files:
            raise PlannerError("no files were given; give a folder of DICOM files")
        if missing:
            raise PlannerError(f"{missing[0]} does not exist or is not a file")
        yield [FileRef.on_disk(p) for p in files], f"the {len(files)} given files"
        return
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a path or a list of paths, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise PlannerError(
            f"{path} does not exist; give a folder of DICOM files, a DICOMDIR or a .zip"
        )
    if path.is_dir():
        files = walk(path)
        if not files:
            raise PlannerError(f"{path} is empty; give the folder that holds the CT images")
        yield [FileRef.on_disk(p) for p in files], str(path)
    elif zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            raise PlannerError(f"cannot read {path}: {exc}; unzip it and give the folder") from exc
        with archive:
            refs = _zip_members(archive, path, max_unzipped_bytes)
            try:
                yield refs, str(path)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
                raise PlannerError(
                    f"cannot read {path}: {exc}; unzip it and give the folder"
                ) from exc
    elif _starts_as_zip(path):  # a zip's first member, but no directory at its end
        raise PlannerError(
            f"{path.name} is a damaged zip archive (its table of contents cannot be read: "
            "cut short in copying?); copy it again, or unzip what can be and give the folder"
        )
    else:
        files = dicomdir_files(path) if is_dicomdir(path) else [path]
        yield [FileRef.on_disk(p) for p in files], str(path)


def _starts_as_zip(path: Path) -> bool:
    """Whether the file starts as a zip archive does (and is not a DICOM file)."""
    with open(path, "rb") as f:
        head = f.read(132)
    return head[:4] == b"PK\x03\x04" and head[128:132] != b"DICM"


def _zip_members(archive: zipfile.ZipFile, path: Path, limit: int) -> list[FileRef]:
    """The archive's files, after checking what they would expand to."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    if not members:
        raise PlannerError(f"{path} is an empty zip archive")
    if len(members) > _MAX_MEMBERS:
        raise PlannerError(
            f"{path} holds {len(members):,} files, more than {_MAX_MEMBERS:,}; "
            "unzip it and give the folder of the CT series"
        )
    total = sum(m.file_size for m in members)
    if total > limit:
        raise PlannerError(
            f"{path} would expand to {_size(total)}, more than the {_size(limit)} limit; "
            "unzip it yourself and give the folder of the CT series"
        )
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > _RATIO_MIN_BYTES and ratio > MAX_MEMBER_RATIO:
            raise PlannerError(
                f"{path}: member {Path(m.filename).name} would expand {ratio:,.0f}-fold to "
                f"{_size(m.file_size)} (a zip bomb?); refused"
            )
    members.sort(key=lambda m: m.filename)
    return [
        FileRef(name=Path(m.filename).name, member=m.filename, archive=archive) for m in members
    ]


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def walk(folder: Path) -> list[Path]:
    """Every file under ``folder``, in a stable (sorted) order."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        files.extend(Path(root, name) for name in sorted(names))
    return files


def looks_like_dicom(head: bytes) -> bool | None:
    """From a file's first 132 bytes: True (DICM preamble), None (no preamble but starts
    like a DICOM data set: read with ``force``), or False (not DICOM)."""
    if head[128:132] == b"DICM":
        return True
    if len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00"):
        return None  # no preamble, but starts with a group 0002/0008 tag
    return False


def is_dicomdir(path: Path) -> bool:
    """True when ``path`` is a DICOM directory file (DICOMDIR, or a scanner's DIRFILE)."""
    import pydicom

    try:
        with open(path, "rb") as f:
            if looks_like_dicom(f.read(132)) is False:
                return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        meta = ds.get("file_meta") or {}
        return meta.get("MediaStorageSOPClassUID") == _DIRECTORY_SOP or 0x00041220 in ds
    except Exception:  # unreadable: not a directory; the header reader says what it is
        return False


def dicomdir_files(path: Path) -> list[Path]:
    """Files a DICOMDIR refers to that exist; else every file in its folder."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = pydicom.dcmread(path).get("DirectoryRecordSequence", [])
            ids = [r.get("ReferencedFileID") for r in records]
        parts = [[i] if isinstance(i, str) else list(i) for i in ids if i]
        files = [f for f in (path.parent.joinpath(*p) for p in parts) if f.is_file()]
    except Exception:  # unreadable directory: fall back to the folder
        files = []
    return sorted(set(files)) or walk(path.parent)
