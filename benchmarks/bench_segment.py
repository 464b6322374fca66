"""Benchmark: ``planner segment`` end to end on a 512×512×300 CT series, against a floor.

The floor, measured in the same run on the same files: reading the files' bytes plus one
VTK flying-edges isosurface of the volume. Also the peer ``dicom2stl`` (PyPI) on the same
series, when installed (``pip install '.[bench]'``). Each timed command runs in its own
process, so its peak memory (max RSS) is its own; the volume's size is printed beside it.
The same figures are then printed for the phantom's 1 mm series
(``../shared/data/dicom/head-phantom-study/S2030``) when it is there.

Goals (issues 2 and 7): segment ≤ 3× the floor and ≥ 3× as fast as dicom2stl; peak memory
≤ 4× the volume above the interpreter and libraries; the deviation bound kept.

Usage::

    python benchmarks/bench_segment.py [--shape 512 512 300] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
t0 = time.perf_counter()
ni, nj = (int(v) for v in sys.argv[2:4])
files = sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_file())
blobs = [b for b in (p.read_bytes() for p in files) if len(b) > ni * nj * 2]
t_read = time.perf_counter() - t0
# the volume as the isosurface sees it: pixel bytes are the last rows*cols*2 of each file
nk = len(blobs)
vol = np.empty((nk, nj, ni), np.int16)
for k, b in enumerate(blobs):
    vol[k] = np.frombuffer(b[-ni * nj * 2:], np.int16).reshape(nj, ni)
import pyvista as pv
t1 = time.perf_counter()
img = pv.ImageData(dimensions=(ni, nj, nk))
img.point_data["hu"] = vol.ravel()
surf = img.contour([300.5 + 1024], scalars="hu", method="flying_edges")
t_iso = time.perf_counter() - t1
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"read": t_read, "iso": t_iso, "triangles": surf.n_cells, "rss": rss}))
"""

SEGMENT = r"""
import json, resource, sys, time
from planner.cli.main import main
before = set(sys.modules)
t0 = time.perf_counter()
code = main(["segment", sys.argv[1], "-o", sys.argv[2], "--force"])
t = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
loaded = [m for m in sys.modules if m not in before]  # in the order they were imported
from planner.bone import decimate_helper
helper = decimate_helper.helper_peak_bytes  # its own peak (ru_maxrss of children counts the fork)
print(json.dumps({"code": code, "seconds": t, "rss": rss, "helper_rss": helper,
                  "modules": loaded}))
"""

# the modules that the segment command imported while it ran, imported alone in a fresh
# process after the same CLI import: the part of its time that is loading libraries
IMPORTS = r"""
import importlib, json, resource, sys, time
from planner.cli.main import main
t0 = time.perf_counter()
for name in json.loads(sys.stdin.read()):
    if name not in sys.modules:
        try:
            importlib.import_module(name)
        except Exception:  # made at run time (not importable by name): none of the cost
            pass
t = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": t, "rss": rss}))
"""


def run_json(code: str, *args: str, stdin: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        input=stdin,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def run_case(series: Path, ni: int, nj: int, volume_bytes: int, work: Path, repeat: int) -> int:
    """Floor, planner segment and dicom2stl on one series; prints the figures."""
    floors, segs = [], []
    for _ in range(repeat):
        floors.append(run_json(FLOOR, str(series), str(ni), str(nj)))
        segs.append(run_json(SEGMENT, str(series), str(work / "case")))
        if segs[-1]["code"] != 0:
            print("planner segment failed", file=sys.stderr)
            return 1
    base = run_json(IMPORTS, stdin=json.dumps(segs[-1]["modules"]))
    floor = median([f["read"] + f["iso"] for f in floors])
    seg = median([s["seconds"] for s in segs])
    seg_rss = median([s["rss"] for s in segs])
    print(
        f"floor (read bytes + flying edges): {floor:.2f} s "
        f"(read {median([f['read'] for f in floors]):.2f} s, "
        f"isosurface {median([f['iso'] for f in floors]):.2f} s, "
        f"{floors[0]['triangles']:,} triangles)"
    )
    print(
        f"planner segment:                  {seg:.2f} s  → {seg / floor:.2f}× the floor "
        "(goal ≤ 3×)"
    )
    print(
        f"  of which importing the {len(segs[-1]['modules'])} modules it loads: "
        f"{base['seconds']:.2f} s (timed alone in a fresh process); that and the floor "
        f"together are {(base['seconds'] + floor) / floor:.2f}× the floor, the least any "
        "run of the command can take"
    )
    print(
        f"peak memory: {seg_rss / 2**20:.0f} MiB = {seg_rss / volume_bytes:.2f}× the volume; "
        f"of which {base['rss'] / 2**20:.0f} MiB is the interpreter and libraries → "
        f"{(seg_rss - base['rss']) / volume_bytes:.2f}× the volume above that (goal ≤ 4×)"
    )
    helper = median([s.get("helper_rss", 0) for s in segs])
    if helper:
        print(
            f"  + the decimation helper process (its own interpreter and slabs): peak "
            f"{helper / 2**20:.0f} MiB; both peaks added, above the libraries: "
            f"{(seg_rss + helper - base['rss']) / volume_bytes:.2f}× the volume (an upper bound)"
        )
    report = json.loads((work / "case" / "models" / "models.json").read_text())
    for m in report["models"]:
        print(
            f"  {m['name']}: {m['triangles']:,} triangles, {m['volume_mm3'] / 1000:.1f} cm³, "
            f"watertight on disk {'yes' if m['watertight'] else 'NO'}, "
            f"deviation {m['deviation_mean_mm']}/{m['deviation_max_mm']} mm (bound 1.5)"
        )
    sec = report["seconds"]
    print(
        "  seconds: "
        + ", ".join(f"{k} {v}" for k, v in sec.items())
        + f"; outside the stage (imports, writing and checking the files, summary): "
        f"{segs[-1]['seconds'] - sec.get('total', 0):.2f}"
    )

    exe = shutil.which("dicom2stl")
    if not exe:
        print("peer dicom2stl: not installed (pip install '.[bench]')")
        return 0
    t = time.perf_counter()
    peer_stl = work / "peer.stl"
    peer_stl.unlink(missing_ok=True)
    proc = subprocess.run(
        ["/usr/bin/env", "time", "-f", "%M", exe, "-t", "bone", "-o", str(peer_stl), str(series)],
        capture_output=True,
        text=True,
    )
    peer = time.perf_counter() - t
    try:
        peer_rss = int(proc.stderr.strip().splitlines()[-1]) * 1024
        mem = f", {peer_rss / 2**20:.0f} MiB"
    except (ValueError, IndexError):
        mem = ""
    ok = proc.returncode == 0 and peer_stl.is_file()
    status = "ok" if ok else f"failed ({proc.returncode}, no STL written)"
    print(
        f"peer dicom2stl -t bone:           {peer:.2f} s{mem} {status} "
        f"→ planner is {peer / seg:.2f}× as fast (goal ≥ 3×)"
    )
    if ok:
        least = base["seconds"] + floor
        print(
            f"  3× as fast is {peer / 3:.2f} s; the imports and the floor take {least:.2f} s "
            f"of it, leaving {peer / 3 - least:.2f} s for the rest of planner's "
            f"{seg - least:.2f} s (segmenting, decimating, checking, writing)"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", nargs=3, type=int, default=(512, 512, 300))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the series in this folder")
    parser.add_argument(
        "--phantom",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared/data/dicom/head-phantom-study/S2030",
        help="the phantom's 1 mm series (skipped when absent)",
    )
    args = parser.parse_args()

    from planner.samples import make_head, write_ct_series

    ni, nj, nk = args.shape
    work = Path(tempfile.mkdtemp(prefix="planner-bench-"))
    series = args.keep or work / "series"
    try:
        t = time.perf_counter()
        head = make_head(spacing_mm=(176 / ni, 176 / nj, 154 / nk), shape=(ni, nj, nk))
        if not (series.exists() and any(series.iterdir())):
            write_ct_series(head.volume, series)
        volume_bytes = head.volume.hu.nbytes
        print(
            f"series: {ni}×{nj}×{nk} int16 ({volume_bytes / 2**20:.0f} MiB), "
            f"spacing {head.volume.spacing_mm.round(3).tolist()} mm, "
            f"made in {time.perf_counter() - t:.1f} s"
        )
        del head
        code = run_case(series, ni, nj, volume_bytes, work, args.repeat)
        if code == 0 and args.phantom.is_dir():
            from planner.scan.dicom import load_volume

            phantom = load_volume(args.phantom)
            pi, pj, pk = phantom.shape
            print(
                f"\nphantom {args.phantom.name}: {pi}×{pj}×{pk} {phantom.hu.dtype} "
                f"({phantom.hu.nbytes / 2**20:.0f} MiB), spacing "
                f"{phantom.spacing_mm.round(3).tolist()} mm"
            )
            nbytes = pi * pj * pk * 2
            del phantom
            code = run_case(args.phantom, pi, pj, nbytes, work, args.repeat)
        elif code == 0:
            print(f"phantom series not found at {args.phantom}: skipped")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
