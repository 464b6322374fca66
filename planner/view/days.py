"""The window's scene items at each day, made once per state of the plan.

The poses of a plan change only at activations (a few dozen states over a distraction),
but the day slider asks for a day at every mouse move. :class:`DayScenes` keys the items
of :func:`planner.render.scene.scene_at` by the poses of the day, so going back to a day
already seen costs a pose look-up, and the items (same objects) tell the window that
nothing moved. The items are the ones ``scene_at`` gives: caching changes no pose and no
mesh.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DayScenes", "case_items"]

MAX_STATES = 400  # cached poses per plan before the cache starts again


class DayScenes:
    """``scene_at(plan, day)`` for one plan, cached by the poses of the day.

    Parameters
    ----------
    plan : planner.pipeline.build.Plan
    """

    def __init__(self, plan):
        self.plan = plan
        self._items: dict[bytes, list] = {}

    def at(self, day: float) -> list:
        """The scene items at ``day`` (days since surgery), as ``scene_at`` makes them."""
        from planner.render.scene import scene_at

        poses = self.plan.poses_at(float(day))
        key = b"".join(np.asarray(poses[n], dtype=float).tobytes() for n in sorted(poses))
        items = self._items.get(key)
        if items is None:
            if len(self._items) >= MAX_STATES:
                self._items.clear()
            items = self._items[key] = scene_at(self.plan, float(day), poses=poses)
        return items


def case_items(case, models) -> list:
    """What to draw when the plan cannot be made: the bone whole, cuts and vectors."""
    import trimesh

    from planner.plan.cuts import osteotomy_frame
    from planner.render.scene import CUT_THICKNESS_MM, ROLE_COLORS, SceneItem, arrow_mesh

    eye = np.eye(4)
    items = [
        SceneItem(f"segment:{n}", "fixed", m, ROLE_COLORS["fixed"], eye) for n, m in models.items()
    ]
    for o in case.osteotomies:
        slab = trimesh.creation.box(
            extents=(*o.size_mm, CUT_THICKNESS_MM), transform=osteotomy_frame(o)
        )
        items.append(SceneItem(f"cut:{o.name}", "cut", slab, ROLE_COLORS["cut"], eye))
    for d in case.distractors:
        arrow = arrow_mesh(d.moving_point_mm, d.vector, d.target_mm + 6.0)
        items.append(SceneItem(f"vector:{d.name}", "vector", arrow, ROLE_COLORS["vector"], eye))
    return items
