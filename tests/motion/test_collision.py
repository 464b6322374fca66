import math

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from planner.errors import PlannerError
from planner.motion.collision import clearance, collision_sweep
from planner.motion.collision.triangles import triangle_distance
from tests.shared import SHARED_DATA


def box(lo, hi) -> trimesh.Trimesh:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    mesh = trimesh.creation.box(extents=hi - lo)
    mesh.apply_translation((lo + hi) / 2)
    return mesh


def translation(x=0.0, y=0.0, z=0.0) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = (x, y, z)
    return pose


def sphere(radius, center) -> trimesh.Trimesh:
    """A UV sphere: its poles (0, 0, +-r) and equator points (+-r, 0, 0), (0, +-r, 0) are
    vertices, so the extreme points along x, y and z are known exactly."""
    mesh = trimesh.creation.uv_sphere(radius=radius, count=[64, 64])
    mesh.apply_translation(center)
    return mesh


def dense_points(tri: np.ndarray, n: int = 80) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    keep = u + v <= 1
    return tri[0] + u[keep, None] * (tri[1] - tri[0]) + v[keep, None] * (tri[2] - tri[0])


def brute_force(a: trimesh.Trimesh, pose, b: trimesh.Trimesh) -> float:
    """Every triangle pair of the two meshes."""
    ta = trimesh.transform_points(a.vertices, pose)[a.faces]
    i, j = np.meshgrid(np.arange(len(a.faces)), np.arange(len(b.faces)), indexing="ij")
    d, _, _ = triangle_distance(ta[i.ravel()], b.vertices[b.faces][j.ravel()])
    return float(d.min())


# --------------------------------------------------------------------------- kernels
def test_triangle_distance_matches_dense_sampling():
    rng = np.random.default_rng(7)
    for k in range(30):
        ta = rng.normal(size=(3, 3))
        tb = rng.normal(size=(3, 3)) + rng.normal(size=3) * (0.5 + k % 3)
        if k % 7 == 0:  # a degenerate (flat) triangle
            tb[2] = (tb[0] + tb[1]) / 2
        d, pa, pb = triangle_distance(ta[None], tb[None])
        sampled = cKDTree(dense_points(tb)).query(dense_points(ta))[0].min()
        # exact is never above a sampled distance, and within the sampling step of it
        assert d[0] <= sampled + 1e-12
        assert sampled - d[0] < 0.05
        np.testing.assert_allclose(np.linalg.norm(pa - pb), d[0], atol=1e-12)


def test_triangle_distance_of_crossing_triangles_is_zero():
    ta = np.array([[[0.0, 0, 0], [2, 0, 0], [0, 2, 0]]])
    tb = np.array([[[0.5, 0.5, -1], [0.5, 0.5, 1], [3, 3, 0]]])  # pierces ta at (0.5, 0.5, 0)
    d, pa, pb = triangle_distance(ta, tb)
    assert d[0] == 0.0
    np.testing.assert_allclose(pa[0], [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(pb[0], pa[0], atol=1e-12)


# --------------------------------------------------------------------------- clearance
def test_clearance_equals_brute_force_on_small_meshes():
    a = trimesh.creation.icosphere(subdivisions=2, radius=3.0)  # 320 triangles
    b = trimesh.creation.annulus(r_min=2.0, r_max=4.0, height=3.0, sections=24)
    rng = np.random.default_rng(3)
    for _ in range(6):
        pose = trimesh.transformations.random_rotation_matrix(rng.random(3))
        pose[:3, 3] = rng.normal(size=3) * 2 + (6.0, 0, 0)
        c = clearance(a, pose, b)
        assert abs(c.distance_mm - brute_force(a, pose, b)) < 1e-9
        np.testing.assert_allclose(
            np.linalg.norm(c.point_on_moving_mm - c.point_on_static_mm), c.distance_mm, atol=1e-9
        )


def test_clearance_finds_an_edge_to_edge_minimum():
    # two cubes turned 45 degrees so that an edge of each faces the other, crossed at 90
    # degrees: the closest points are inside both edges, not at any vertex
    half = 5.0
    ridge = half * math.sqrt(2)
    a = box([-half] * 3, [half] * 3)
    a.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 4, [1, 0, 0]))
    b = a.copy()
    b.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [0, 0, 1]))
    gap = 1.5
    c = clearance(a, translation(z=-(2 * ridge + gap)), b)
    assert c.distance_mm == pytest.approx(gap, abs=1e-9)
    np.testing.assert_allclose(c.point_on_static_mm, [0, 0, -ridge], atol=1e-9)
    assert not c.penetrating


def test_clearance_overlap_volume_and_depth():
    a, b = box([0, 0, 0], [10, 10, 10]), box([10, 0, 0], [20, 10, 10])
    c = clearance(a, translation(x=2.0), b)  # pushed 2 mm into b
    assert c.distance_mm == 0.0 and c.penetrating
    assert c.overlap_volume_mm3 == pytest.approx(200.0, rel=1e-5)
    assert c.penetration_depth_mm == pytest.approx(2.0, abs=1e-4)
    touching = clearance(a, np.eye(4), b)
    assert touching.distance_mm == 0.0 and not touching.penetrating
    barely = clearance(a, translation(x=2e-4), b)  # crossing by less than the 1 µm tolerance
    assert barely.distance_mm == 0.0 and barely.penetrating


def test_clearance_detects_a_piece_inside_another_and_picks_the_closest_static():
    inner, outer = box([4, 4, 4], [6, 6, 6]), box([0, 0, 0], [10, 10, 10])
    c = clearance(inner, np.eye(4), outer)
    assert c.penetrating and c.distance_mm == pytest.approx(4.0)
    far, near = box([30, 0, 0], [40, 1, 1]), box([10, 0, 0], [12, 1, 1])
    c = clearance(box([0, 0, 0], [1, 1, 1]), np.eye(4), [far, near])
    assert c.static_index == 1 and c.distance_mm == pytest.approx(9.0)


@pytest.mark.parametrize(
    "pose, message",
    [
        (np.eye(3), "shape"),
        (np.diag([2.0, 1, 1, 1]), "rigid"),
        (np.diag([-1.0, 1, 1, 1]), "rigid"),
    ],
)
def test_clearance_rejects_bad_poses(pose, message):
    with pytest.raises(ValueError, match=message):
        clearance(box([0, 0, 0], [1, 1, 1]), pose, box([2, 0, 0], [3, 1, 1]))


# --------------------------------------------------------------------------- sweep
def test_sweep_first_contact_at_the_analytic_time_and_point():
    # poles face each other 6 mm apart; a closes at 0.7 mm/day -> contact at t = 6 / 0.7
    a, b = sphere(5.0, [0, 0, 0]), sphere(4.0, [0, 0, 15.0])
    speed = 0.7
    report = collision_sweep(
        {"a": a}, {"b": b}, lambda t: {"a": translation(z=speed * t)}, 0.0, 12.0
    )
    c = report.first_contact
    t_true = 6.0 / speed
    assert c is not None and (c.moving, c.other) == ("a", "b")
    assert c.t_clear_days < t_true <= c.t_days
    assert c.motion_mm <= 0.1 and (c.t_days - t_true) * speed <= 0.1
    assert c.day == math.floor(c.t_days) == 8
    np.testing.assert_allclose(c.point_on_other_mm, [0, 0, 11.0], atol=0.1)
    assert not report.initial_contacts
    # the table: one sample per day at least, exact distance where the poles still face
    assert np.all(np.diff(report.times_days) <= 1.0 + 1e-9)
    np.testing.assert_allclose(report.distance_mm[("a", "b")][:3], [6.0, 5.3, 4.6], atol=1e-9)


def test_sweep_passing_piece_reports_the_minimum_between_samples():
    # a passes b at 3 mm/day, equators 2.0 mm apart at t = 6.5 (midway between samples)
    a, b = sphere(5.0, [-19.5, 0, 0]), sphere(5.0, [0, 12.0, 0])
    report = collision_sweep(
        {"a": a}, [b], lambda t: {"a": translation(x=3.0 * t)}, 0.0, 14.0, contact_mm=0.5
    )
    pair = ("a", "static 0")
    assert report.contacts == () and report.first_contact is None
    assert report.distance_mm[pair].min() > 2.05  # the samples alone miss the minimum
    assert report.min_distance_mm[pair] == pytest.approx(2.0, abs=0.05)
    assert report.min_distance_t_days[pair] == pytest.approx(6.5, abs=0.05)
    assert report.summary()[-1].startswith("no new contact; closest approach 2.0")


def test_sweep_rotation_hits_a_wall_at_the_analytic_angle():
    # a 20 mm bar turning about the z axis at 5 degrees/day towards the wall x = 10
    bar, wall = box([-1, 0, -1], [1, 20, 1]), box([10, -30, -5], [30, 30, 5])
    rate = math.radians(5.0)

    def pose_at(t):
        return {"bar": trimesh.transformations.rotation_matrix(-rate * t, [0, 0, 1])}

    report = collision_sweep({"bar": bar}, {"wall": wall}, pose_at, 0.0, 12.0)
    # the far corner (1, 20) reaches x = 10 when cos(a) + 20 sin(a) = 10
    angle = math.asin(10 / math.hypot(1, 20)) - math.atan2(1, 20)
    c = report.first_contact
    assert c.t_clear_days < angle / rate <= c.t_days and c.motion_mm <= 0.1
    corner = trimesh.transformations.rotation_matrix(-angle, [0, 0, 1])[:3, :3] @ [1, 20, 0]
    np.testing.assert_allclose(c.point_on_other_mm[:2], corner[:2], atol=0.15)
    assert c.point_on_other_mm[0] == pytest.approx(10.0, abs=1e-9)


def test_sweep_two_moving_pieces_meet():
    a, b = box([0, 0, 0], [5, 5, 5]), box([9, 0, 0], [14, 5, 5])  # 4 mm apart
    report = collision_sweep(
        {"a": a, "b": b},
        [box([0, 20, 0], [5, 25, 5])],
        lambda t: {"a": translation(x=t), "b": translation(x=-t)},
        0.0,
        5.0,
    )
    c = report.first_contact
    assert (c.moving, c.other) == ("a", "b")
    assert c.t_clear_days < 2.0 <= c.t_days and c.motion_mm <= 0.1
    # where: the facing sides just before they touch (at t_clear_days)
    assert c.point_on_moving_mm[0] == pytest.approx(5.0 + c.t_clear_days, abs=1e-9)
    assert c.point_on_other_mm[0] == pytest.approx(9.0 - c.t_clear_days, abs=1e-9)
    np.testing.assert_allclose(report.segment_distance_mm("a")[:3], [4.0, 2.0, 0.0], atol=1e-9)


def test_sweep_across_a_kerf_is_not_an_initial_contact():
    segment, rest = box([0, 0, 0], [10, 10, 10]), box([11, 0, 0], [30, 10, 10])  # 1 mm kerf
    report = collision_sweep(
        {"segment": segment}, {"rest": rest}, lambda t: {"segment": translation(x=-t)}, 0, 10
    )
    assert report.initial_contacts == () and report.contacts == ()
    np.testing.assert_allclose(report.distance_mm[("segment", "rest")][:3], [1.0, 2.0, 3.0])


def fine(mesh: trimesh.Trimesh, max_edge_mm: float = 1.0) -> trimesh.Trimesh:
    """The same surface with edges of at most ``max_edge_mm`` (still watertight)."""
    v, f = mesh.vertices, mesh.faces
    while np.linalg.norm(v[f] - v[np.roll(f, 1, axis=1)], axis=2).max() > max_edge_mm:
        v, f = trimesh.remesh.subdivide(v, f)
    return trimesh.Trimesh(v, f)


def wall_and_roof() -> trimesh.Trimesh:
    """One piece: a wall along x = 10 touching the moving box, and a roof 3 mm above the box
    (x <= 5) joined to the wall behind it (y >= 12): far from where they touch."""
    import manifold3d

    def part(lo, hi):
        m = fine(box(lo, hi), 1.5)
        return manifold3d.Manifold(
            manifold3d.Mesh(
                vert_properties=np.asarray(m.vertices, np.float32),
                tri_verts=np.asarray(m.faces, np.uint32),
            )
        )

    piece = part([10, 0, 0], [20, 15, 20]) + part([-5, 12, 13], [20, 15, 16])
    piece += part([-5, 0, 13], [5, 15, 16])
    m = piece.to_mesh()
    return trimesh.Trimesh(np.array(m.vert_properties)[:, :3], np.array(m.tri_verts))


def test_initial_contact_does_not_hide_a_new_contact_on_the_same_pair():
    jaw, skull = fine(box([0, 0, 0], [10, 10, 10])), wall_and_roof()
    report = collision_sweep(
        {"jaw": jaw}, {"skull": skull}, lambda t: {"jaw": translation(z=t)}, 0, 5
    )
    (initial,) = report.initial_contacts
    assert (initial.moving, initial.other) == ("jaw", "skull")
    assert initial.distance_mm == 0.0 and initial.penetration_depth_mm == 0.0
    assert initial.worse_at_days is None  # sliding along the wall
    c = report.first_contact
    assert (c.moving, c.other) == ("jaw", "skull")
    assert c.t_clear_days < 3.0 <= c.t_days and c.motion_mm <= 0.1
    assert c.point_on_other_mm[2] == pytest.approx(13.0, abs=1e-9)
    assert c.point_on_other_mm[0] <= 5.0 + 1e-9
    lines = report.summary()
    assert lines[0].startswith("in contact at day 0: jaw and skull")
    assert lines[0].endswith("not pressed together further")
    assert lines[1].startswith("new contact on day 3")


def test_initial_contact_that_gets_worse():
    jaw, skull = fine(box([0, 0, 0], [10, 10, 10])), wall_and_roof()
    report = collision_sweep(
        {"jaw": jaw},
        {"skull": skull},
        lambda t: {"jaw": translation(x=0.5 * t)},
        0.0,
        2.0,
        zone_mm=2.0,  # wider than the 1 mm push: the rest of the jaw never reaches the wall
    )
    (initial,) = report.initial_contacts
    assert report.contacts == ()
    assert initial.worse_at_days == 1.0  # 0.5 mm deep on day 1
    np.testing.assert_allclose(initial.zone_clearance_mm, [0.0, -0.5, -1.0], atol=0.07)
    assert "pressed together from day 1" in report.summary()[0]


def test_sweep_samples_every_activation():
    a, b = box([0, 0, 0], [1, 1, 1]), box([5, 0, 0], [6, 1, 1])
    steps = [0.25, 0.75, 1.25]

    def pose_at(t):  # 0.5 mm per activation
        return {"a": translation(x=0.5 * sum(t >= s for s in steps))}

    report = collision_sweep({"a": a}, [b], pose_at, 0, 2, schedule_times=steps)
    np.testing.assert_allclose(report.times_days, [0, 0.25, 0.75, 1, 1.25, 2])
    np.testing.assert_allclose(report.distance_mm[("a", "static 0")], [4, 3.5, 3, 3, 2.5, 2.5])


def test_sweep_contact_at_an_activation_step_reports_the_jump():
    a, b = box([0, 0, 0], [1, 1, 1]), box([2.3, 0, 0], [3, 1, 1])

    def pose_at(t):  # 0.5 mm at every half day: jumps, no motion in between
        return {"a": translation(x=0.5 * math.floor(2 * t))}

    report = collision_sweep({"a": a}, [b], pose_at, 0, 3)
    c = report.first_contact
    assert c.t_days == pytest.approx(1.5, abs=2e-3) and c.day == 1
    assert c.motion_mm == pytest.approx(0.5)  # the activation step cannot be split


def long_bar() -> trimesh.Trimesh:
    """A 200 x 10 x 10 mm bar along x, meshed finely (edges of 3 mm at most)."""
    box_ = trimesh.creation.box(extents=(200, 10, 10))
    return trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(box_.vertices, box_.faces, 3.0))


def test_culling_keeps_the_answers_and_drops_the_far_side():
    # a small sphere passes close by one end of a large, finely meshed bar: most of the
    # bar is out of reach, and every answer is the same with and without culling
    bar = long_bar()
    a = sphere(3.0, [-95.0, 20.0, 0.0])

    def pose_at(t):
        return {"a": translation(y=-3.0 * t)}

    args = ({"a": a}, {"bar": bar}, pose_at, 0.0, 4.0)
    culled = collision_sweep(*args, contact_mm=0.2)
    full = collision_sweep(*args, contact_mm=0.2, cull=False)
    pair = ("a", "bar")
    np.testing.assert_array_equal(culled.distance_mm[pair], full.distance_mm[pair])
    assert culled.min_distance_mm == full.min_distance_mm
    assert [c.t_days for c in culled.contacts] == [c.t_days for c in full.contacts]
    # contact when the sphere's south pole (y = 17 - 3 t) reaches y = 5.2: t = 3.93
    assert culled.first_contact.t_clear_days < 11.8 / 3 <= culled.first_contact.t_days


def test_within_reach_keeps_the_faces_near_the_path_only():
    from planner.motion.collision.cull import within_reach
    from planner.motion.collision.surface import Surface

    bar = long_bar()
    a = sphere(3.0, [-95.0, 20.0, 0.0])
    sa, sb = Surface(a.vertices, a.faces), Surface(bar.vertices, bar.faces)
    poses = [translation(y=-3.0 * t) for t in range(5)]
    keep = within_reach(sa, [sa], poses, sb, 3.0)
    kept = sb.centroids[keep]
    assert 0 < keep.sum() < 0.2 * len(keep)
    assert kept[:, 0].max() < -60  # nothing from the far end of the bar
    # the faces facing the sphere's path are all kept
    facing = (sb.centroids[:, 1] > 4.99) & (sb.centroids[:, 0] < -90)
    assert keep[facing].all()


def test_poses_that_hold_still_are_measured_once():
    a, b = box([0, 0, 0], [1, 1, 1]), box([5, 0, 0], [6, 1, 1])

    def pose_at(t):  # one 0.5 mm step at t = 1.5, still otherwise
        return {"a": translation(x=0.5 * (t >= 1.5))}

    report = collision_sweep({"a": a}, [b], pose_at, 0, 4, schedule_times=[1.5])
    np.testing.assert_allclose(report.distance_mm[("a", "static 0")], [4, 4, 3.5, 3.5, 3.5, 3.5])
    assert report.evaluations <= 1 + 2 + 2  # the start, then one per distinct pose (+ refine)


def test_sweep_rejects_bad_input():
    a, b = box([0, 0, 0], [1, 1, 1]), box([5, 0, 0], [6, 1, 1])
    with pytest.raises(ValueError, match="no pose"):
        collision_sweep({"a": a}, [b], lambda t: {}, 0, 1)
    with pytest.raises(ValueError, match="rigid"):
        collision_sweep({"a": a}, [b], lambda t: {"a": np.diag([1.0, 1, 2, 1])}, 0, 1)
    with pytest.raises(ValueError, match="both moving and static"):
        collision_sweep({"a": a}, {"a": b}, lambda t: {"a": np.eye(4)}, 0, 1)
    with pytest.raises(ValueError, match="t_end_days"):
        collision_sweep({"a": a}, [b], lambda t: {"a": np.eye(4)}, 2, 1)
    with pytest.raises(PlannerError, match="one inside the other"):
        inner = box([0.4, 0.4, 0.4], [0.6, 0.6, 0.6])
        collision_sweep({"inner": inner}, [a], lambda t: {"inner": np.eye(4)}, 0, 1)


# --------------------------------------------------------------------------- real scan
DATA = SHARED_DATA
SKULL = DATA / "dicom" / "skull-ct-0051"


@pytest.mark.slow
@pytest.mark.skipif(not SKULL.is_dir(), reason="needs ../shared/data/dicom/skull-ct-0051")
def test_clearance_on_a_real_skull_matches_manifold3d():
    """Two pieces of a real skull (about 60k triangles each) a few mm apart: the exact
    distance equals manifold3d's independent minimum gap."""
    import fast_simplification
    import manifold3d
    import pydicom
    from skimage.measure import marching_cubes

    slices = sorted(
        (pydicom.dcmread(f) for f in SKULL.iterdir()),
        key=lambda d: float(d.ImagePositionPatient[2]),
    )
    hu = np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in slices]
    )
    dz = float(slices[1].ImagePositionPatient[2]) - float(slices[0].ImagePositionPatient[2])
    dy, dx = (float(v) for v in slices[0].PixelSpacing)
    v, f, _, _ = marching_cubes(np.pad(hu, 1, constant_values=-1000), 300.5, spacing=(dz, dy, dx))
    v, f = fast_simplification.simplify(v[:, ::-1].astype(np.float32), f, target_count=120_000)
    mesh = manifold3d.Mesh(vert_properties=np.asarray(v, np.float32), tri_verts=f[:, ::-1])
    mesh.merge()
    skull = max(manifold3d.Manifold(mesh).decompose(), key=lambda m: m.num_tri())
    normal = np.array([0.1, -0.3, 0.95]) / np.linalg.norm([0.1, -0.3, 0.95])
    upper, lower = skull.split_by_plane(list(normal), float(normal @ [125, 130, 45]))

    def as_trimesh(solid):
        m = solid.to_mesh()
        return trimesh.Trimesh(np.array(m.vert_properties)[:, :3], np.array(m.tri_verts))

    rng = np.random.default_rng(1)
    for _ in range(2):
        pose = trimesh.transformations.rotation_matrix(0.01, rng.normal(size=3), [125, 130, 45])
        pose[:3, 3] += -normal * rng.uniform(2, 4) + rng.normal(size=3)
        c = clearance(as_trimesh(lower), pose, as_trimesh(upper))
        gap = lower.transform(pose[:3, :].tolist()).min_gap(upper, c.distance_mm + 1.0)
        assert 0 < c.distance_mm == pytest.approx(gap, abs=2e-3)  # exact to 1 µm
