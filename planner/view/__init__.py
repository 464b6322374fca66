"""The planning window (``planner view``): widgets call the same functions as the CLI.

Without VTK (testable headless):
    editor.py    PlanEditor: the case under edit, undo/redo, every edit, save
    commands.py  the typed commands of the window (``size 30 25``, ``target 18`` ...)
    live.py      the plan as ``planner build`` makes it, bridges, angles; the background
                 re-planner; the collision preview
    overlay.py   the text the window shows
With pyvista/VTK:
    window.py    PlanWindow: the scene, the day, the camera, picking
    controls.py  handles, sliders and keys bound to editor methods
    slices.py, slicer.py  the CT planes and the outlines traced on them
    detail.py    light stand-ins for heavy meshes while dragging
    app.py       the display check and the event loop
"""
