"""Collision checks along a distraction: exact clearances between bone pieces over time.

Pieces are :class:`trimesh.Trimesh` surfaces in LPS mm; a pose is a ``(4, 4)`` rigid
transform with ``p' = T[:3, :3] @ p + T[:3, 3]``.

Distances are exact surface to surface (to 1 µm), not vertex to vertex:

1. Each piece's faces are sorted along a Z-order curve; runs of ``2**l`` consecutive faces
   are the nodes of level ``l`` of a bounding hierarchy, bounded by their extents along the
   13 directions of a 26-DOP and along a few extra axes (below), computed from the posed
   vertices (float32, rounded outwards) at every query.
2. An upper bound and its triangle pair come from the last closest pair and from the
   nearest vertices of a sample; a quick beam search down both hierarchies tightens it.
   The normals of the closest triangles it met become the extra axes: when many pairs tie,
   as across the parallel faces of a kerf, one of them separates whole regions at once.
3. Both hierarchies are split together from the top, keeping node pairs that may be closer
   than the bound; runs of up to 8 faces are bounded by their triangles themselves. The
   surviving triangle pairs are measured exactly (6 point-triangle, 9 segment-segment and
   6 edge-through-triangle tests), best first.

Overlaps (one piece pushed into another) are measured with manifold3d: the shared volume,
and its depth (how far a surface has sunk into the other piece).

Modules, bottom up: the distance engine, ``triangles`` (triangle-pair distances) ->
``surface`` (a prepared surface and its bounding hierarchy) -> ``pair`` (exact distance
between two surfaces) -> ``overlap`` (manifold3d overlap volume and depth) ->
``clearance`` (one pose); then ``cull`` (the faces of the other piece within reach of a
moving piece's whole path: the sweep measures against those only), ``sweep``
(:func:`collision_sweep` over a distraction, measuring each distinct relative pose once)
and ``report`` (what it found).
"""

from planner.motion.collision.clearance import Clearance, clearance
from planner.motion.collision.report import CollisionReport, Contact, InitialContact
from planner.motion.collision.sweep import collision_sweep

__all__ = [
    "Clearance",
    "CollisionReport",
    "Contact",
    "InitialContact",
    "clearance",
    "collision_sweep",
]
