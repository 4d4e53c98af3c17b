"""Task goals drawn as extra geoms (no physics): each task says what to draw (its ``markers``, a
``tasks.common.Marker`` list); the same list goes to the viewer's ``user_scn`` and to the offscreen
renderer's scene, so the window and ``--video`` show the same markers."""

from __future__ import annotations

import mujoco
import numpy as np

from skillmimic.tasks.common import Marker


def add_markers(scene: mujoco.MjvScene, markers: list[Marker]) -> int:
    """Append ``markers`` to ``scene`` after its current geoms (as many as fit); returns how many."""
    n = 0
    eye = np.eye(3).flatten()
    for m in markers:
        if scene.ngeom >= scene.maxgeom:
            break
        g = scene.geoms[scene.ngeom]
        rgba = np.asarray(m.rgba, dtype=np.float32)
        if m.end is None:
            size = np.array([m.size, m.size, m.size])
            mujoco.mjv_initGeom(g, mujoco.mjtGeom.mjGEOM_SPHERE, size, np.asarray(m.pos, float), eye, rgba)
        else:
            mujoco.mjv_initGeom(g, mujoco.mjtGeom.mjGEOM_CAPSULE, np.zeros(3), np.zeros(3), eye, rgba)
            mujoco.mjv_connector(
                g, mujoco.mjtGeom.mjGEOM_CAPSULE, m.size, np.asarray(m.pos, float), np.asarray(m.end, float)
            )
        g.emission = 0.4  # reads as the marker colour in shade too
        g.category = mujoco.mjtCatBit.mjCAT_DECOR
        scene.ngeom += 1
        n += 1
    return n
