"""planner: research software for planning craniofacial distraction osteogenesis.

Not a certified medical device. Coordinates are DICOM patient LPS in millimetres
everywhere; meshes are :class:`trimesh.Trimesh`.

Importing :mod:`planner` is light: heavy libraries (VTK, pydicom, manifold3d) are imported
by the modules that adapt them.
"""

from planner.errors import PlannerError

__version__ = "0.1.0"
__all__ = ["PlannerError", "__version__"]
