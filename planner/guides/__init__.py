"""Printable cutting and positioning guides, their checks, and models for the operating room.

- :mod:`~planner.guides.make`: one osteotomy's guide (shell, slot block, drill holes,
  label) built from height fields along its insertion direction, booleans by manifold3d;
  :mod:`~planner.guides.shell` (footprint, heights), :mod:`~planner.guides.solids`,
  :mod:`~planner.guides.heightfield`, :mod:`~planner.guides.label`, :mod:`~planner.guides.font`;
- :mod:`~planner.guides.footplates`: the planned screws from the device catalog;
- :mod:`~planner.guides.checks`: every check, measured on the mesh and its STL read back;
- :mod:`~planner.guides.files`: STL (numpy-stl) and 3MF (lib3mf) writers;
- :mod:`~planner.guides.run`: all guides of a case, their files and the OR models;
- :mod:`~planner.guides.edit`: ``planner guide add/set/remove``.
"""
