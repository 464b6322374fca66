"""Which bodies of each label's surface make its model, and which go elsewhere.

A label's isosurface can hold several closed bodies. :func:`part_models` keeps the
largest as the label's model, with those that belong to it (a newborn's mandible is two
halves until the symphysis fuses in the first year; an infant's cranial bones lie apart
at open sutures); the other bodies of the patient's bone (vertebrae, the hyoid, loose
fragments) go into ``other_bone``, and the smallest are counted as fragments. Nothing is
dropped.
"""

from __future__ import annotations

__all__ = [
    "CRANIAL_BONE_MM3",
    "JOINED",
    "MIN_PIECE_MM3",
    "OTHER_BONE",
    "SECOND_BODY",
    "part_models",
]

OTHER_BONE = "other_bone"
MIN_PIECE_MM3 = 10.0  # isosurface bodies smaller than this are fragments, counted not meshed
SECOND_BODY = 0.3  # a mandible's body this large beside its largest stays in its model
JOINED = "bodies_joined"  # a model's metadata (and models.json) key: its bodies, apart in
# the scan, move as one in the plan (a newborn's mandibular halves: the symphysis holds them)
CRANIAL_BONE_MM3 = 1000.0  # a skull's body this large above the jaw stays in the skull:
# an infant's cranial bone (the fragments of thin bone at 4 mm pixels, 0.1 cm³ on average,
# are other bone)


def part_models(dense: list, names: list[str]) -> tuple[list, dict]:
    """Part the labels' surfaces into models: nothing is dropped.

    The largest body of each label is that label's model, with the other bodies that
    belong with it (:func:`_with_largest`: a newborn's mandibular halves, apart at the
    symphysis; the skull's bones apart at open sutures); every other body of at least
    ``MIN_PIECE_MM3`` goes into ``other_bone``; smaller ones (fragments of a voxel or two)
    are counted. Returns ``[(name, mesh), ...]`` and the books (``fragments``,
    ``cavities_filled_mm3``, ``surface_mm3``: the labels' whole isosurfaces, ``notes``).
    """
    import trimesh

    from planner.bone.surface import split_bodies

    parts, others = [], []
    fragments = {"count": 0, "volume_mm3": 0.0}
    filled = surface = 0.0
    notes: tuple[str, ...] = ()
    split = [split_bodies(mesh) for mesh in dense]
    # the top of the jaw (its condyles, in their fossae at the skull base): the skull's
    # bodies above it are cranial bones; the neck's (vertebrae, hyoid) lie below it
    jaw_top = next(
        (
            float(b[0].vertices[:, 2].max())
            for b, n in zip(split, names, strict=True)
            if n == "mandible"
        ),
        None,
    )
    for mesh, name, bodies in zip(dense, names, split, strict=True):
        filled += float(mesh.metadata.get("cavities_filled_mm3", 0.0))
        surface += float(sum(mesh.metadata["body_mm3"]))
        mine, rest, note = _with_largest(name, bodies, jaw_top)
        model = mine[0] if len(mine) == 1 else trimesh.util.concatenate(mine)
        if name == "mandible" and len(mine) > 1:
            model.metadata[JOINED] = True  # the plan moves the halves as one
        parts.append((name, model))
        notes += note
        for body in rest:
            if body.metadata["body_mm3"] >= MIN_PIECE_MM3:
                others.append(body)
            else:
                fragments["count"] += 1
                fragments["volume_mm3"] += float(body.metadata["body_mm3"])
    if others:
        cm3 = sum(b.metadata["body_mm3"] for b in others) / 1000.0
        big = max(b.metadata["body_mm3"] for b in others) / 1000.0
        parts.append((OTHER_BONE, trimesh.util.concatenate(others)))
        notes += (
            f"{len(others)} other {'piece' if len(others) == 1 else 'pieces'} of bone "
            f"({cm3:.1f} cm³, the largest {big:.1f} cm³: vertebrae, hyoid, fragments?) "
            f"kept apart from the skull in {OTHER_BONE}.stl",
        )
    fragments["volume_mm3"] = round(fragments["volume_mm3"], 1)
    books = {"fragments": fragments, "cavities_filled_mm3": filled, "surface_mm3": surface}
    return parts, {**books, "notes": notes}


def _with_largest(name: str, bodies: list, jaw_top: float | None) -> tuple[list, list, tuple]:
    """A label's bodies (largest first) parted: those of its model, the others, a note.

    With the mandible's largest go its bodies at least ``SECOND_BODY`` times as large (a
    newborn's mandible is two halves until the symphysis fuses in the first year); with
    the skull's, its bodies of at least ``CRANIAL_BONE_MM3`` whose centre lies above the
    top of the jaw ``jaw_top`` (LPS z, mm: an infant's cranial bones, apart at open
    sutures, or a bone flap), never by size alone (a neck's spine can be as large as what
    a scan holds of the skull).
    """
    largest = bodies[0].metadata["body_mm3"]

    def belongs(body) -> bool:
        mm3 = body.metadata["body_mm3"]
        if name == "mandible":
            return mm3 >= SECOND_BODY * largest
        above = jaw_top is not None and float(body.vertices[:, 2].mean()) > jaw_top
        return name == "skull" and above and mm3 >= CRANIAL_BONE_MM3

    mine = [bodies[0]] + [b for b in bodies[1:] if belongs(b)]
    rest = [b for b in bodies[1:] if not belongs(b)]
    if len(mine) == 1:
        return mine, rest, ()
    cm3 = sum(b.metadata["body_mm3"] for b in mine[1:]) / 1000.0
    why = (
        "the cranial bones apart at open sutures, or a bone flap?"
        if name == "skull"
        else "a newborn's mandibular halves, apart at the symphysis? The plan moves them "
        "as one where no osteotomy parts them, as the symphysis holds them together"
    )
    note = (
        f"{name}.stl holds {len(mine)} bodies: beside the largest ({largest / 1000.0:.1f} "
        f"cm³), {len(mine) - 1} apart from it ({cm3:.1f} cm³ in all: {why})"
    )
    return mine, rest, (note,)
