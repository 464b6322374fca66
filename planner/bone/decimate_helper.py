"""The helper process that decimates every other slab, so that both cores work.

fast-simplification holds the GIL, so threads cannot share its work: :class:`Helper` runs
it in a second Python process on the slabs :func:`planner.bone.decimate.decimate` sends,
through files in a private temporary folder (no pipe can fill up). Whatever goes wrong
with it, the slab is decimated in the caller's process, with the same result.
:func:`helper_process` lets every decimation of a block share one helper.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["AGGRESSIVENESS", "Helper", "borrow_helper", "helper_process", "simplify_part"]

AGGRESSIVENESS = 9  # fast-simplification's ``agg``: how fast its error threshold grows
# (its default is 7). On the 1.84 M-triangle skull of the speed benchmark taken to 200 k in
# one piece: 2.67 s at 7, 1.75 s at 9 (11: no faster); deviation mean/99th
# percentile/max 0.015/0.058/0.22 mm at 7, 0.018/0.071/0.31 mm at 9 (the bound is 1.5 mm)
helper_peak_bytes = 0
"""The largest peak memory (VmHWM) of a helper process so far, bytes (for benchmarks)."""
_shared: _Shared | None = None  # the helper of the current :func:`helper_process` block


def simplify_part(points: np.ndarray, triangles: np.ndarray, target: int):
    """fast-simplification of a part to about ``target`` triangles, its border kept."""
    import fast_simplification

    return fast_simplification.simplify(
        points, triangles, target_count=target, preserve_border=True, agg=AGGRESSIVENESS
    )


_SERVE = """
import sys, numpy as np, fast_simplification
for line in sys.stdin:
    path = line.strip()
    try:
        job = np.load(path + ".in.npz")
        v, f = fast_simplification.simplify(job["points"], job["triangles"],
            target_count=int(job["target"]), preserve_border=True, agg=int(job["agg"]))
        np.savez(path + ".out.npz", points=v, triangles=f)
        print(path + " ok", flush=True)
    except Exception as exc:  # the caller decimates this slab itself
        print(path + " failed", flush=True)
try:  # the peak memory of this process, for benchmarks (Linux)
    with open("/proc/self/status") as status:
        print(*[line.split()[:2] for line in status if line.startswith("VmHWM")][0], flush=True)
except (OSError, IndexError):
    pass
"""


class Helper:
    """A second process running fast-simplification, which holds the GIL, on slabs.

    Slabs go to it through files in a private temporary folder (no pipe can fill up);
    whatever goes wrong with it, the slab is decimated in this process instead.
    """

    def __init__(self) -> None:
        import subprocess
        import sys
        import tempfile

        self.folder = tempfile.mkdtemp(prefix="planner-decimate-")
        self.jobs = 0
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _SERVE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except BaseException:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    @classmethod
    def start(cls) -> Helper | None:
        """A helper, or None when no process can be started here (the work stays here)."""
        try:
            return cls()
        except (OSError, ValueError, TypeError):  # no executable, no /tmp, a frozen app
            return None

    def submit(self, points: np.ndarray, triangles: np.ndarray, target: int):
        """Send a slab; returns a function giving ``(points, triangles)`` (or Nones)."""
        path = os.path.join(self.folder, str(self.jobs))
        self.jobs += 1
        try:
            np.savez(
                path + ".in.npz",
                points=points,
                triangles=triangles,
                target=target,
                agg=AGGRESSIVENESS,
            )
            self.process.stdin.write(path + "\n")
            self.process.stdin.flush()
        except OSError:
            return lambda: self._here(points, triangles, target)

        def result():
            reply = self.process.stdout.readline().split()
            if reply != [path, "ok"]:
                return self._here(points, triangles, target)
            with np.load(path + ".out.npz") as out:
                return out["points"], out["triangles"]

        return result

    @staticmethod
    def _here(points, triangles, target):
        return simplify_part(points, triangles, target)

    def close(self) -> None:
        import shutil

        global helper_peak_bytes
        try:
            self.process.stdin.close()
            last = self.process.stdout.read().split()
            if len(last) == 2 and last[0] == "VmHWM:" and last[1].isdigit():
                helper_peak_bytes = max(helper_peak_bytes, 1024 * int(last[1]))
            self.process.wait(timeout=10)
        except Exception:  # never let the helper's end stop the models
            self.process.kill()
            self.process.wait()
        finally:
            self.process.stdout.close()
            shutil.rmtree(self.folder, ignore_errors=True)


class _Shared:
    """The helper of a :func:`helper_process` block: started at once, or when first needed."""

    def __init__(self, start_now: bool) -> None:
        self.started = start_now
        self.helper = Helper.start() if start_now else None

    def get(self) -> Helper | None:
        if not self.started:
            self.started = True
            self.helper = Helper.start()
        return self.helper


def borrow_helper() -> tuple[Helper | None, bool]:
    """The helper of the current :func:`helper_process` block, or a new one.

    Returns ``(helper, own)``: ``own`` when it was started for the caller, who closes it.
    The helper is None when no process can be started.
    """
    if _shared is None:
        return Helper.start(), True
    return _shared.get(), False


@contextmanager
def helper_process(*, start_now: bool = False) -> Iterator[None]:
    """Let every decimation in the block share one helper process.

    Without it each large decimation starts (and stops) a helper of its own, and waits
    for it to load its libraries (about 0.2 s). With ``start_now`` it is started at once
    (when a large surface is coming), and loads them while the surface is made.
    """
    global _shared
    if _shared is not None or (os.cpu_count() or 1) < 2:
        yield
        return
    _shared = shared = _Shared(start_now)
    try:
        yield
    finally:
        _shared = None
        if shared.helper is not None:
            shared.helper.close()
