"""The sample anatomy: signed distance functions of an infant skull, mandible and head.

Parts (LPS mm, built once): a cranial vault shell with a stepped skull base, orbits, nasal
cavity and maxillary sinuses, zygomatic arches, a maxilla with upper teeth, and a small
retruded mandible (Pierre Robin sequence) that is a separate bone: a U-shaped body, rami,
coronoid processes and condyles seated in glenoid fossae. :func:`fields` carves the skull
by the mandible grown by :data:`GAP_MM`, so the bones never touch, and wraps every bone in
soft tissue. Soft parts: skin, brain, orbital fat, eyes, airway and a head holder.
"""

from __future__ import annotations

import functools

import numpy as np

from planner.samples import sdf
from planner.samples.sdf import (
    Capsule,
    Ellipsoid,
    Function,
    Intersect,
    Plane,
    Ribbon,
    RoundBox,
    Shell,
    SmoothUnion,
    Subtract,
    Union,
)

__all__ = ["GAP_MM", "PARTS", "SOFT_PARTS", "grid_fields", "signed_distance"]

GAP_MM = 0.5
"""Clearance between mandible and skull at the condyles and the second molars (mm)."""

PARTS = ("skull", "mandible", "skull_bone", "upper_teeth", "mandible_bone", "lower_teeth")
SOFT_PARTS = ("skin", "brain", "fat", "eyes", "airway", "holder")
BAND_MM = 8.0
"""On grids, signed distances are exact within ±BAND_MM (see :mod:`planner.samples.sdf`)."""
Z_OCCLUSAL = -34.0
Z_UPPER_INCISAL = -35.5  # the upper incisors overlap the lower ones vertically (deep bite)
Z_LOWER_INCISAL = -33.0
RAMUS_CENTRE = np.array([32.5, -2.5, -39.5])  # left ramus; mirror x for the right
CONDYLE_CENTRE = np.array([35.5, 4.5, -21.5])  # left condylar head
SIDES = {"left": 1.0, "right": -1.0}  # sign of x: the patient's left is +x in LPS
_SKIN_OVER_BONE_MM = 5.0


def _floor_top(y):
    """z (mm) of the top of the skull base (floor of the brain case) at ``y``."""
    return np.interp(y, [-38.0, -12.0, 28.0, 45.0], [13.0, -8.0, -8.0, -15.0])


def lower_curve(n: int = 49) -> np.ndarray:
    """(n, 3) centre line of the mandibular body, right gonial region to left."""
    x = np.linspace(-31.0, 31.0, n)
    ax = np.abs(x)
    y = np.interp(ax, [0, 8, 14, 18.5, 31], [-37.0, -35.2, -31.6, -27.5, -8.0])
    y = _smooth_profile(y)
    z = -48.5 + 4.0 * (ax / 31.0) ** 1.5
    return np.column_stack([x, y, z])


def _lower_half_height(curve: np.ndarray) -> np.ndarray:
    """Half height (mm) of the body's vertical band: 14 mm tall body in front, 12 behind."""
    return 3.5 - 1.0 * (np.abs(curve[:, 0]) / 31.0) ** 1.5


def upper_curve(n: int = 33) -> np.ndarray:
    """(n, 3) centre line of the maxillary alveolar ridge (upper dental arch)."""
    x = np.linspace(-20.0, 20.0, n)
    y = np.interp(np.abs(x), [0, 7, 12.5, 16.5, 18.5, 20], [-52.0, -49.5, -42.5, -34, -27.5, -21])
    y = _smooth_profile(y)
    return np.column_stack([x, y, np.full_like(x, -24.0)])


def _smooth_profile(y):
    """Round the corners of a piecewise-linear profile (3-point moving average, twice)."""
    for _ in range(2):
        y = np.concatenate([y[:1], (y[:-2] + y[1:-1] + y[2:]) / 3.0, y[-1:]])
    return y


def on_curve(curve: np.ndarray, x: float) -> tuple[np.ndarray, np.ndarray]:
    """Point of a curve at abscissa ``x`` and the unit tangent there (towards +x)."""
    p = np.array([x, *(np.interp(x, curve[:, 0], curve[:, i]) for i in (1, 2))])
    dy = np.interp([x - 0.05, x + 0.05], curve[:, 0], curve[:, 1])
    t = np.array([0.1, dy[1] - dy[0], 0.0])
    return p, t / np.linalg.norm(t)


def _tooth_box(curve, x, *, width, thick, top, tip, tilt=0.0, r=0.6):
    """A rounded-box incisor on ``curve`` at ``x``, from ``top`` (root side) to ``tip`` (z).

    ``tilt`` leans the crown towards the lips (proclination, tan of the angle). The centre
    of the incisal edge is exactly at ``(x, curve y, tip)``.
    """
    p, t = on_curve(curve, x)
    n = np.array([t[1], -t[0], 0.0])  # horizontal, towards the lips
    a = np.array([0.0, 0.0, np.sign(tip - top)]) + tilt * n  # root to tip
    a /= np.linalg.norm(a)
    length = abs(top - tip) / abs(a[2])
    centre = np.array([p[0], p[1], tip]) - a * (0.5 * length)
    axes = [t, np.cross(a, t), a]
    return RoundBox(centre, [0.5 * width, 0.5 * thick, 0.5 * length], r, axes=axes)


def _tooth_cap(curve, x, *, radius, top, tip):
    """A vertical capsule tooth (canine or molar) on ``curve`` at ``x``; tip at ``tip``."""
    p, _ = on_curve(curve, x)
    s = np.sign(top - tip)
    return Capsule([p[0], p[1], tip + s * radius], [p[0], p[1], top - s * radius], radius)


def _molar(s, *, top, tip, radius=2.6):
    """Second molar crown: vertical capsule at :func:`molar_xy`, tip at z ``tip``."""
    x, y = molar_xy(s)
    sign = np.sign(top - tip)
    return Capsule([x, y, tip + sign * radius], [x, y, top - sign * radius], radius)


def ramus_axes(s: float) -> np.ndarray:
    """(3, 3) rows: lateral, posterior and upward unit axes of the ramus on side ``s``."""
    ap = np.array([0.30 * s, 0.954, 0.0])
    ap /= np.linalg.norm(ap)
    up = np.array([0.0, 0.139, 0.990])
    up -= (up @ ap) * ap
    up /= np.linalg.norm(up)
    ml = np.cross(ap, up)
    return np.array([ml * np.sign(ml[0] * s), ap, up])


def molar_xy(s: float) -> np.ndarray:
    """xy (mm) of the second molars on side ``s``, upper and lower (they meet there)."""
    p, _ = on_curve(upper_curve(), 18.5 * s)
    return p[:2]


def _mirror(fn):
    return [fn(1.0), fn(-1.0)]


@functools.lru_cache(maxsize=1)
def anatomy() -> dict[str, sdf.Shape]:
    """The SDF trees of every part (mandible not yet carved out of the skull)."""
    big = 200.0
    lower, upper = lower_curve(), upper_curve()

    # --- mandible: body ribbon, chin, rami, condyles, coronoids
    def ramus(s):
        ml, ap, up = ramus_axes(s)
        head = CONDYLE_CENTRE * [s, 1, 1]
        axis = 2.0 * np.array([0.966 * s, -0.259, 0.0])  # lateral-anterior to medial-posterior
        return SmoothUnion(
            3.0,
            RoundBox(RAMUS_CENTRE * [s, 1, 1], [2.5, 7.5, 11.5], 2.0, axes=[ml, ap, up]),
            Capsule([33.8 * s, 1.2, -30.0], np.add(head, [0.0, 0.0, -1.5]), 2.3),  # neck
            Capsule(head + axis, head - axis, 3.0),  # condylar head
            Capsule([31.8 * s, -7.5, -30.0], [32.5 * s, -12.0, -23.0], 1.8),  # coronoid
        )

    mandible_bone = SmoothUnion(
        3.0,
        Ribbon(lower, _lower_half_height(lower), 3.5),
        Ellipsoid([0.0, -37.5, -51.0], [7.0, 4.5, 4.5]),  # mental protuberance (chin)
        *_mirror(ramus),
    )
    lower_teeth = Union(
        _tooth_box(lower, 0.0, width=8.0, thick=2.0, top=-44.0, tip=Z_LOWER_INCISAL, tilt=0.05),
        *[
            t
            for s in (1.0, -1.0)
            for t in (
                _tooth_box(lower, 5.9 * s, width=3.6, thick=2.0, top=-43.5, tip=-33.8, tilt=0.05),
                _tooth_cap(lower, 9.6 * s, radius=1.9, top=-43.0, tip=-34.8),
                _tooth_cap(lower, 14.0 * s, radius=2.5, top=-42.5, tip=-35.5),
                _molar(s, top=-42.0, tip=Z_OCCLUSAL - GAP_MM / 2),
            )
        ],
    )

    # --- skull: vault, skull base, face, glenoid housings, arches, maxilla
    vault_outer = Ellipsoid([0.0, 8.0, 18.0], [61.0, 68.0, 52.0])
    below_floor = Function(lambda x, y, z: (z - _floor_top(y)) * 0.8, [-big] * 3, [big] * 3)
    above_base = Function(lambda x, y, z: (_floor_top(y) - 6.0 - z) * 0.8, [-big] * 3, [big] * 3)
    floor = Subtract(
        Intersect(
            vault_outer,
            Function(  # the floor lies between z = -21 and z = 13
                lambda x, y, z: (np.abs(z - _floor_top(y) + 3.0) - 3.0) * 0.8,
                [-big, -big, -22.0],
                [big, big, 14.0],
            ),
        ),
        Capsule([0.0, 35.0, -40.0], [0.0, 35.0, 5.0], 9.0),  # foramen magnum
    )
    face = Intersect(
        Ellipsoid([0.0, -36.0, -4.0], [36.0, 22.0, 22.0]),
        below_floor,
    )

    def housing(s):
        return RoundBox([38.0 * s, 4.5, -16.5], [7.0, 6.5, 4.5], 2.0)

    def arch(s):
        return SmoothUnion(
            4.0,
            Ellipsoid([31.0 * s, -44.0, -6.0], [6.0, 6.0, 7.0]),  # zygoma body
            Capsule([34.0 * s, -40.0, -3.0], [43.0 * s, -4.0, -15.0], 2.5),  # zygomatic arch
        )

    skull_raw = SmoothUnion(
        4.0,
        Intersect(Shell(vault_outer, 3.0), above_base),
        floor,
        face,
        *_mirror(housing),
        *_mirror(arch),
        Capsule([0.0, -55.5, 12.0], [0.0, -60.0, 1.0], 2.2),  # nasal bones
        Ellipsoid([0.0, -57.5, 19.0], [14.0, 4.5, 6.0]),  # glabella
        Ribbon(upper, 1.5, 4.0),  # maxillary alveolar ridge
    )
    orbits = [Ellipsoid([18.5 * s, -50.0, 2.0], [11.0, 13.0, 9.0]) for s in (1, -1)]
    sinuses = [Ellipsoid([16.5 * s, -38.0, -13.5], [7.5, 9.0, 5.0]) for s in (1, -1)]
    nasal = RoundBox([0.0, -42.0, -9.0], [4.5, 19.0, 10.5], 3.5)
    skull_bone = Subtract(skull_raw, *orbits, *sinuses, nasal)
    upper_teeth = Union(
        _tooth_box(upper, 0.0, width=9.0, thick=2.2, top=-27.0, tip=Z_UPPER_INCISAL, tilt=0.18),
        *[
            t
            for s in (1.0, -1.0)
            for t in (
                _tooth_box(upper, 6.6 * s, width=4.0, thick=2.0, top=-27.0, tip=-34.5, tilt=0.15),
                _tooth_cap(upper, 10.6 * s, radius=2.0, top=-27.0, tip=-34.0),
                _tooth_cap(upper, 15.2 * s, radius=2.6, top=-27.0, tip=-32.5),
                _molar(s, top=-27.0, tip=Z_OCCLUSAL + GAP_MM / 2),
            )
        ],
    )

    # --- soft tissues, air, holder
    cranium_skin = Ellipsoid([0.0, 8.0, 18.0], [65.5, 72.5, 56.5])
    skin = SmoothUnion(
        8.0,
        cranium_skin,
        Ellipsoid([0.0, -36.0, -12.0], [46.0, 33.0, 31.0]),  # midface
        Ellipsoid([0.0, -22.0, -40.0], [44.0, 28.0, 22.0]),  # lower face, chin
        Ellipsoid([0.0, -8.0, -35.0], [46.0, 36.0, 28.0]),  # cheeks, jaw
        Ellipsoid([0.0, -62.0, -9.0], [8.0, 10.0, 11.0]),  # nose
        Ellipsoid([0.0, 4.0, -85.0], [40.0, 34.0, 60.0]),  # neck
    )
    above_floor = Function(lambda x, y, z: (_floor_top(y) - z) * 0.8, [-big] * 3, [big] * 3)
    brain = Intersect(Ellipsoid([0.0, 8.0, 18.0], [58.0, 65.0, 49.0]), above_floor)
    fat = Union(*[Ellipsoid([18.5 * s, -50.0, 2.0], [10.5, 12.5, 8.5]) for s in (1, -1)])
    eyes = Union(*[Capsule([18.5 * s, -53.0, 3.0], [18.5 * s, -53.0, 3.0], 8.0) for s in (1, -1)])
    airway = Union(
        nasal,
        *sinuses,
        Capsule([0.0, -28.0, -12.0], [0.0, -6.0, -22.0], 5.0),  # nasopharynx
        Capsule([0.0, -6.0, -22.0], [0.0, -3.0, -90.0], 4.5),  # oropharynx, larynx
    )
    holder = Intersect(
        Shell(Ellipsoid([0.0, 8.0, 18.0], [71.5, 78.5, 62.5]), 3.0),
        Plane([0.0, -1.0, 0.0], -38.0, [-big, 38.0, -big], [big] * 3),  # behind y = 38
    )
    return {
        "mandible_bone": mandible_bone,
        "lower_teeth": lower_teeth,
        "skull_bone": skull_bone,
        "upper_teeth": upper_teeth,
        "skin": skin,
        "brain": brain,
        "fat": fat,
        "eyes": eyes,
        "airway": airway,
        "holder": holder,
    }


def fields(get, names=PARTS + SOFT_PARTS) -> dict[str, np.ndarray]:
    """Final fields from the raw parts, ``get(name) -> array`` (on a grid or at points).

    The skull and upper teeth are carved by the mandible grown by GAP_MM; the skin covers
    every bone by at least ``_SKIN_OVER_BONE_MM``.
    """
    out = {"mandible_bone": get("mandible_bone"), "lower_teeth": get("lower_teeth")}
    out["mandible"] = np.minimum(out["mandible_bone"], out["lower_teeth"])
    if {"skull", "skull_bone", "upper_teeth", "skin"} & set(names):
        keep_out = GAP_MM - out["mandible"]
        out["skull_bone"] = np.maximum(get("skull_bone"), keep_out)
        out["upper_teeth"] = np.maximum(get("upper_teeth"), keep_out)
        out["skull"] = np.minimum(out["skull_bone"], out["upper_teeth"])
    for name in SOFT_PARTS:
        if name in names:
            out[name] = get(name)
    if "skin" in names:
        bone = np.minimum(out["skull"], out["mandible"]) - _SKIN_OVER_BONE_MM
        out["skin"] = sdf.smin(out["skin"], bone, 6.0)
    return {name: out[name] for name in names}


def signed_distance(points, part: str = "mandible") -> np.ndarray:
    """Signed distance (mm, negative inside) of LPS points to a part of the sample anatomy.

    Parameters
    ----------
    points : (..., 3) float
        LPS mm.
    part : str
        ``"skull"`` (all bone but the mandible, with the upper teeth), ``"mandible"``
        (with the lower teeth), ``"skull_bone"``, ``"upper_teeth"``, ``"mandible_bone"``,
        ``"lower_teeth"``, or a soft part: ``"skin"``, ``"brain"``, ``"fat"``, ``"eyes"``,
        ``"airway"``, ``"holder"``.

    Returns
    -------
    (...) float
        Exact distances for spheres, capsules, boxes and ribbons, a close smooth estimate
        elsewhere (ellipsoids, blends, carving); the zero level is the part's surface.
    """
    if part not in PARTS + SOFT_PARTS:
        raise ValueError(f"part must be one of {PARTS + SOFT_PARTS}, got {part!r}")
    parts = anatomy()
    p = np.asarray(points, dtype=float)
    if p.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {p.shape}")
    return fields(lambda name: sdf.eval_points(parts[name], p), (part,))[part]


def grid_fields(xs, ys, zs, names=PARTS + SOFT_PARTS) -> dict[str, np.ndarray]:
    """Fields on the grid ``xs × ys × zs``: (nx, ny, nz) float32 each."""
    parts = anatomy()
    return fields(lambda name: sdf.eval_grid(parts[name], xs, ys, zs, band=BAND_MM), names)
