"""The lower-jaw arch and the checks on a mandible candidate, on shapes with known answers.

:mod:`planner.bone.arch` (the U-shaped arch, found slice by slice) and
:mod:`planner.bone.candidate` (verification, the comparison of two splits): synthetic point
clouds and 1 mm grids whose right answer is known, each also built to show the failure
the rule prevents (a vertebra, a broken slice, bone in front of the chin, a lost ramus, an
arch with no maxilla over it), and jaws with a ramus short or missing that must pass.
"""

from __future__ import annotations

import numpy as np

from planner.bone.arch import arch_markers, arch_shape, find_arch, jaw_sized
from planner.bone.candidate import contact_ratio, split_cost, verify_mandible
from planner.scan.volume import apply_affine as apply_lps


def _u_points(width=90.0, depth=70.0, z=0.0, n=400) -> np.ndarray:
    """An arch of points (LPS mm), front at y = 0, arms running back to y = depth."""
    t = np.linspace(-1, 1, n)
    x = t * width / 2
    y = depth * t**2
    return np.stack([x, y, np.full(n, z)], axis=1)


def test_arch_shape_u_open_backwards():
    assert arch_shape(_u_points()).is_arch
    # the same U opening towards the face (+y front) is not a lower jaw
    flipped = _u_points() * [1, -1, 1]
    assert not arch_shape(flipped).is_arch
    # a closed ring (a cranial vault cut axially) is not either
    a = np.linspace(0, 2 * np.pi, 400)
    ring = np.stack([60 * np.cos(a), 80 * np.sin(a), np.zeros_like(a)], axis=1)
    assert not arch_shape(ring).is_arch
    # a narrow U (a hyoid, 25 mm) is no mandible
    assert not arch_shape(_u_points(width=25.0, depth=20.0)).is_arch


def _jaw_grid(*, rami=True, skull=True, body_mm=12, rami_mm=(45, 45), maxilla=True):
    """A 1 mm grid: a U body (x ±40, y 0..60) 12 mm tall, rami, a skull slab above.

    ``rami_mm``: the heights of the right (-x) and left rami (0: none); ``maxilla``: a
    block of bone over the front of the arch (with the skull).
    """
    shape = (120, 110, 120)
    affine = np.eye(4)
    affine[:3, 3] = [-60.0, -20.0, -40.0]
    x, y, z = (np.indices(shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    u = np.abs(y - 60.0 * (x / 40.0) ** 2) < 4.0
    body = u & (np.abs(x) <= 40) & (z >= 0) & (z < body_mm)
    mandible = body.copy()
    if rami:
        for side, height in zip((-1, 1), rami_mm, strict=True):
            ramus = (np.abs(x - 38 * side) < 3) & (np.abs(y - 56) < 6)
            mandible |= ramus & (z >= 0) & (z < height)
    bone = mandible.copy()
    if skull:
        bone |= (z >= 47) & (z < 60) & (np.abs(x) < 55) & (y > -15) & (y < 85)
        if maxilla:
            bone |= (z >= 16) & (z < 28) & (np.abs(x) < 20) & (y > -8) & (y < 20)
    return bone, mandible, affine


def test_verify_accepts_a_jaw_and_refuses_what_is_not():
    bone, mandible, affine = _jaw_grid()
    assert verify_mandible(mandible, bone, affine) == (True, "")
    # no rami: a U alone (the upper dental arch, a hyoid) is not a mandible
    bone, mandible, affine = _jaw_grid(rami=False)
    ok, why = verify_mandible(mandible, bone, affine)
    assert not ok and "ramus" in why
    # nothing above it, bone only below (a neck): not hanging from a skull
    bone, mandible, affine = _jaw_grid(skull=False)
    bone[:, :, :38] |= np.roll(bone[:, :, :38], 0) | (np.indices(bone.shape)[2][:, :, :38] < 30)
    ok, why = verify_mandible(mandible, bone, affine)
    assert not ok and "above" in why
    # the whole skull as a candidate: too much of the bone
    bone, _, affine = _jaw_grid()
    ok, why = verify_mandible(bone, bone, affine)
    assert not ok and "cm³" in why


def test_contact_ratio_is_the_interface_over_the_volume_to_two_thirds():
    # a 10-voxel cube against a slab over one whole face, on 1 × 1 × 2 mm voxels: the
    # interface is 100 faces of 2 mm² (normal to axis 0), the cube 2000 mm³
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    cube = np.zeros((30, 30, 30), dtype=bool)
    cube[10:20, 10:20, 10:20] = True
    bone = cube.copy()
    bone[20:25, 5:25, 5:25] = True
    assert np.isclose(contact_ratio(cube, bone, affine), 200.0 / 2000.0 ** (2 / 3))
    # across a face normal to axis 2 the faces are 1 mm²: 100 mm²
    bone = cube.copy()
    bone[5:25, 5:25, 20:25] = True
    assert np.isclose(contact_ratio(cube, bone, affine), 100.0 / 2000.0 ** (2 / 3))
    assert contact_ratio(cube, cube, affine) == 0.0  # no other bone
    assert contact_ratio(np.zeros_like(cube), bone, affine) == 0.0


def test_verify_refuses_a_split_that_cut_through_bone():
    # the jaw with the lower part of the skull slab fused to its rami: every check on its
    # shape passes, but it meets the rest of the slab over the slab's whole area
    bone, mandible, affine = _jaw_grid(rami_mm=(52, 52))
    z = np.indices(bone.shape)[2] + affine[2, 3]
    taken = mandible | (bone & (z < 52) & (z >= 47))
    ok, why = verify_mandible(taken, bone, affine)
    assert not ok and "cut through bone" in why, why
    assert contact_ratio(mandible, bone, affine) < 1.0  # the jaw alone: its rami's tops


def test_verify_refuses_a_front_taller_than_the_arch_is_wide():
    # a U 80 mm wide and 90 mm tall under a skull slab (vertebrae stacked under the skull
    # base, the jaw gone): its sides rise 90 mm, so it passed as a jaw with short rami
    shape = (120, 110, 200)
    affine = np.eye(4)
    affine[:3, 3] = [-60.0, -20.0, -40.0]
    x, y, z = (np.indices(shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    u = (np.abs(y - 60.0 * (x / 40.0) ** 2) < 4.0) & (np.abs(x) <= 40)
    stack = u & (z >= 0) & (z < 90)
    bone = stack | ((z >= 95) & (z < 108) & (np.abs(x) < 55) & (y > -15) & (y < 85))
    bone |= (z >= 92) & (z < 100) & (np.abs(x) < 20) & (y > -8) & (y < 20)  # over its front
    ok, why = verify_mandible(stack, bone, affine)
    assert not ok and "more than its arch is wide" in why, why
    # the same U 40 mm tall (a jaw's front is 0.2-0.6 of its width) is not refused for it
    ok, why = verify_mandible(stack & (z < 40), bone, affine)
    assert "front rises" not in why


def test_verify_accepts_a_jaw_with_a_ramus_short_or_missing_and_says_which():
    # hemifacial microsomia: the left ramus missing (Pruzansky III)
    bone, mandible, affine = _jaw_grid(rami_mm=(45, 0))
    assert verify_mandible(mandible, bone, affine) == (
        True,
        "a ramus on the right only: check the left side",
    )
    # the right one short (Pruzansky II): 20 mm, under the 20 mm and 1.25 fronts a ramus rises
    bone, mandible, affine = _jaw_grid(rami_mm=(20, 45))
    assert verify_mandible(mandible, bone, affine) == (
        True,
        "a ramus on the left only: check the right side",
    )
    # both short (bilateral forms, micrognathia): the stumps rise over the body's front
    bone, mandible, affine = _jaw_grid(rami_mm=(20, 20))
    ok, why = verify_mandible(mandible, bone, affine)
    assert ok and why.startswith("short rami on both sides")
    # stumps lower than 15 mm: a U alone, refused
    bone, mandible, affine = _jaw_grid(rami_mm=(14, 14))
    ok, why = verify_mandible(mandible, bone, affine)
    assert not ok and "ramus" in why


def test_verify_refuses_a_one_ramus_candidate_with_an_arm_cut_short():
    # a ramus on the right, and the left arm ending 30 mm short of where a ramus would rise
    bone, mandible, affine = _jaw_grid(rami_mm=(45, 0))
    x, y, _ = (np.indices(bone.shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    arm = (x > 0) & (y > 30)
    mandible &= ~arm
    bone &= ~(arm & (np.indices(bone.shape)[2] + affine[2, 3] < 14))
    ok, why = verify_mandible(mandible, bone, affine)
    assert not ok and "arm" in why


def test_verify_refuses_an_arch_with_no_maxilla_over_its_front():
    # the upper dental arch taken for a lower one: the nasal aperture lies over its front,
    # with rami or without
    for rami_mm in ((45, 45), (45, 0)):
        bone, mandible, affine = _jaw_grid(rami_mm=rami_mm, maxilla=False)
        ok, why = verify_mandible(mandible, bone, affine)
        assert not ok and "maxilla" in why, rami_mm
        # the same with the maxilla passes
        bone, mandible, affine = _jaw_grid(rami_mm=rami_mm)
        assert verify_mandible(mandible, bone, affine)[0]


def test_find_arch_refuses_an_arch_cut_by_the_scan_floor():
    bone, _, affine = _jaw_grid()
    arch, how = find_arch(bone, affine, 0.0, floor=False)
    assert arch is not None and arch.height_mm >= 10
    # the same bone with its lower edge the scan's: the arch is cut (a jaw not in view)
    cut = bone[:, :, 42:]  # the scan starts 2 mm above the jaw's lower border (z 0)
    lifted = affine.copy()
    lifted[2, 3] += 42
    arch, how = find_arch(cut, lifted, 0.0, floor=True)
    assert arch is None and "lower edge" in how


def test_a_vertebra_is_not_jaw_sized():
    # a vertebra cut between its laminae: a U open backwards, but shallow (50 mm wide,
    # opening about a quarter of that)
    vertebra = arch_shape(_u_points(width=50.0, depth=20.0))
    assert vertebra.is_arch and not jaw_sized(vertebra)
    assert jaw_sized(arch_shape(_u_points()))
    # narrower than a jaw (a hyoid) however deep
    assert not jaw_sized(arch_shape(_u_points(width=40.0, depth=40.0)))
    # wider than a jaw: the zygomatic arches with the maxilla between them, in a head
    # turned by 24° (136-138 mm); a large jaw's 120 mm passes
    assert not jaw_sized(arch_shape(_u_points(width=140.0, depth=80.0)))
    assert jaw_sized(arch_shape(_u_points(width=120.0, depth=70.0)))


def test_find_arch_passes_over_one_broken_slice():
    bone, _, affine = _jaw_grid()
    x = np.indices(bone.shape)[0] + affine[0, 3]
    broken = bone.copy()
    gap = (np.abs(x) < 6)[:, :, 0]  # 11 mm: wider than a newborn's symphysis
    broken[gap, 45] = False  # the body cut at the chin in one slice
    arch, how = find_arch(broken, affine, 0.0, floor=False)
    assert arch is not None and arch.height_mm >= 10, how
    # two slices cut: two stacks of 5 mm, neither a mandibular body
    broken[gap, 46] = False
    arch, how = find_arch(broken, affine, 0.0, floor=False)
    assert arch is None


def test_find_arch_joins_a_newborn_s_halves_across_the_symphysis():
    # a newborn's mandible: two halves, apart at the symphysis (fibrous, it fuses in the
    # first year) in every slice; each half is a J, not a U
    bone, _, affine = _jaw_grid()
    x = np.indices(bone.shape)[0] + affine[0, 3]
    for gap_mm, found in ((2.0, True), (4.0, True), (9.0, False)):
        halves = bone & ~(np.abs(x) < gap_mm / 2)[:, :, :1]
        arch, how = find_arch(halves, affine, 0.0, floor=False)
        assert (arch is not None) == found, (gap_mm, how)
        if found:
            assert arch.height_mm >= 10 and abs(arch.shape.centre_x) < 2.0
            assert arch.shape.width_mm > 70.0


def test_find_arch_takes_the_front_u_not_one_behind_it():
    # a jaw-sized U 65 mm behind the chin and below it (where a vertebra would be): the
    # lowest U, but not the mandible
    bone, _, affine = _jaw_grid()
    bone = np.pad(bone, ((0, 0), (0, 40), (0, 0)))
    x, y, z = (np.indices(bone.shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    behind = (np.abs(y - 65.0 - 40.0 * (x / 25.0) ** 2) < 4.0) & (np.abs(x) <= 25)
    behind &= (z >= -30) & (z < -15)
    arch, _ = find_arch(bone | behind, affine, 0.0, floor=False)
    assert arch is not None and abs(arch.shape.front_y) < 5.0
    # alone, it would be taken: the rule is what passes it over
    arch, _ = find_arch(behind, affine, 0.0, floor=False)
    assert arch is not None and arch.shape.front_y > 60.0


def test_verify_refuses_a_candidate_with_bone_in_front_of_its_arch():
    bone, mandible, affine = _jaw_grid()
    x, y, z = (np.indices(bone.shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    # 3.8 cm³ of bone 11-19 mm in front of the chin, at the body's height
    bone |= (np.abs(x) < 20) & (y >= -19) & (y < -11) & (z >= 0) & (z < 12)
    ok, why = verify_mandible(mandible, bone, affine)
    assert not ok and "in front" in why


def test_split_cost_prefers_the_jaw_to_a_split_that_loses_or_takes_bone():
    bone, mandible, affine = _jaw_grid()
    x, y, z = (np.indices(bone.shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    # the rami reach the skull (condyles in their fossae): the bone is one piece
    for side in (-1, 1):
        bone |= (np.abs(x - 38 * side) < 3) & (np.abs(y - 56) < 6) & (z >= 0) & (z < 48)
    shape = arch_shape(apply_lps(affine, np.argwhere(mandible & (z < 12))))
    right = mandible & ~((x < 0) & (z >= 12))  # the right ramus to the skull
    # the left condyle with a piece of the temporal bone over it
    temporal = mandible | (bone & (np.abs(x - 38) < 12) & (np.abs(y - 56) < 12) & (z < 52))
    good = split_cost(mandible, bone, affine, shape)
    assert good < split_cost(right, bone, affine, shape)
    assert good < split_cost(temporal, bone, affine, shape)


def test_markers_give_the_bone_behind_the_rami_to_the_skull():
    # a mastoid-like block 35-50 mm behind the rami, joined to each by a bar: the skull's
    # marker, so that the watershed cannot carry the jaw into it through the bar
    bone, _, affine = _jaw_grid()
    bone = np.pad(bone, ((0, 0), (0, 40), (0, 0)))
    x, y, z = (np.indices(bone.shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    block = (np.abs(np.abs(x) - 38) < 6) & (y >= 97) & (y < 112) & (z >= 20) & (z < 40)
    bar = (np.abs(np.abs(x) - 38) < 2) & (y >= 60) & (y < 97) & (np.abs(z - 30) < 2)
    bone |= block | bar
    arch, how = find_arch(bone, affine, 0.0, floor=False)
    assert arch is not None, how
    markers, seed = arch_markers(bone, affine, arch)
    assert np.all(markers[block] == 1)
    assert not np.any(markers[(y < 85) & bar] == 1)  # the bar near the rami is left open
    assert seed.any() and np.all(markers[seed] == 2)


def test_verify_refuses_a_candidate_with_a_jaw_beneath_it():
    bone, mandible, affine = _jaw_grid()
    x, y, z = (np.indices(bone.shape).transpose(1, 2, 3, 0) + affine[:3, 3]).transpose(3, 0, 1, 2)
    # a hyoid: a 1.1 cm³ bar inside the U, 25 mm behind the chin, 15 mm below: still a jaw
    hyoid = (np.abs(x) < 12) & (np.abs(y - 25) < 3) & (z >= -17) & (z < -13)
    assert verify_mandible(mandible, bone | hyoid, affine) == (True, "")
    # the same U 12-22 mm below (the candidate is a piece above a jaw): 7 cm³ beneath it
    below = (np.abs(y - 60.0 * (x / 40.0) ** 2) < 4.0) & (np.abs(x) <= 40) & (z >= -22)
    ok, why = verify_mandible(mandible, bone | (below & (z < -12)), affine)
    assert not ok and "beneath the candidate's arch" in why
