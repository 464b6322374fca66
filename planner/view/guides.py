"""The guides as ``planner build`` last wrote them, drawn on the bone at day 0.

Building and checking a guide takes a second or more, too slow to redo on every edit in
the window; the window shows the STLs in ``CASE_DIR/out/guides/`` and says when they may
be out of date (an edit since, or none built yet). While something moves they are drawn
decimated and opaque (:mod:`planner.view.detail`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GuideLayer", "guide_files"]

GUIDES_FOLDER = Path("out") / "guides"


def guide_files(case_dir: str | Path | None) -> list[Path]:
    """The guide STLs ``planner build`` wrote for the case, sorted by name."""
    if case_dir is None:
        return []
    return sorted((Path(case_dir) / GUIDES_FOLDER).glob("*.stl"))


class GuideLayer:
    """The case's built guides as actors of ``plotter``, visible at day 0 only."""

    def __init__(self, case_dir: str | Path | None, plotter):
        import trimesh

        from planner.render.scene import ROLE_COLORS
        from planner.view.detail import Proxies, polydata

        self.files = guide_files(case_dir)
        self.actors, self.meshes, self.full = [], [], []
        self.proxies = Proxies(smooth=False)  # drawn faceted, as in full
        rgb = [c / 255 for c in ROLE_COLORS["guide"][:3]]
        for path in self.files:
            mesh = trimesh.load_mesh(path, file_type="stl")
            self.meshes.append(mesh)
            self.full.append(polydata(mesh.vertices, mesh.faces))
            self.actors.append(
                plotter.add_mesh(
                    self.full[-1],
                    color=rgb,
                    opacity=0.9,
                    name=f"guide:{path.stem}",
                    pickable=False,
                    reset_camera=False,
                    render=False,
                )
            )

    def prepare(self) -> None:
        """Make the decimated copies drawn while something moves (once)."""
        for mesh in self.meshes:
            self.proxies.proxy(mesh)

    def set_light(self, light: bool) -> None:
        """Draw the guides decimated, opaque and back faces culled while something moves,
        else in full."""
        for actor, mesh, full in zip(self.actors, self.meshes, self.full, strict=True):
            proxy = self.proxies.proxy(mesh) if light else None
            actor.GetMapper().SetInputData(full if proxy is None else proxy)
            actor.SetForceOpaque(light)
            actor.GetProperty().SetBackfaceCulling(light)

    def show(self, visible: bool) -> None:
        """Show the guides (at day 0) or hide them (once the bone has moved)."""
        for actor in self.actors:
            actor.SetVisibility(bool(visible))

    def note(self, n_in_case: int, case_file: Path | None, unsaved: bool) -> str:
        """One line for the overlay: what is drawn, and whether it may be out of date.

        The guides are out of date when the window holds unsaved edits or ``case_file``
        changed after they were written.
        """
        if not n_in_case:
            return ""
        if not self.files:
            return f"{n_in_case} guide(s) in the case, not built yet: run 'planner build'"
        written = min(f.stat().st_mtime for f in self.files)
        newer = (
            case_file is not None and case_file.is_file() and case_file.stat().st_mtime > written
        )
        stale = "; the plan changed since: run 'planner build'" if unsaved or newer else ""
        return f"guides drawn as 'planner build' last wrote them (out/guides/){stale}"
