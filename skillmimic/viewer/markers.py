"""Task goals drawn as extra geoms (no physics): the same list goes to the viewer's ``user_scn``
and to the offscreen renderer's scene, so the window and ``--video`` show the same markers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

# Green: no other part of the scene (tan body, orange ball, blue-grey floor and sky) is green, so a
# person sees the goal at once and a test can find it by colour.
MARKER_RGBA = (0.15, 0.95, 0.25, 1.0)
FAINT_RGBA = (0.15, 0.95, 0.25, 0.35)
HOOP_RADIUS = 0.23  # m, a basketball rim


@dataclass(frozen=True)
class Marker:
    """A sphere (``end`` None, ``size`` its radius) or a capsule from ``pos`` to ``end`` (``size``
    its radius)."""

    pos: tuple[float, float, float]
    size: float
    end: tuple[float, float, float] | None = None
    rgba: tuple[float, float, float, float] = MARKER_RGBA


def ring(centre_xy, radius: float, z: float, width: float, segments: int, rgba=MARKER_RGBA) -> list[Marker]:
    """A horizontal circle as capsules between ``segments`` points on it."""
    cx, cy = float(centre_xy[0]), float(centre_xy[1])
    pts = [
        (cx + radius * math.cos(2 * math.pi * k / segments), cy + radius * math.sin(2 * math.pi * k / segments), z)
        for k in range(segments + 1)
    ]
    return [Marker(a, width, b, rgba) for a, b in zip(pts[:-1], pts[1:], strict=True)]


def task_markers(task: str, goal: dict, start_xy) -> list[Marker]:
    """The goal of one world: ``goal`` holds its values of ``TaskEnv.goals`` (``goal`` / ``centre`` [2],
    ``radius``), ``start_xy`` the character's start (throwing's target is above it)."""
    from skillmimic.tasks import heading, scoring, throwing

    if task == "heading":
        x, y = (float(v) for v in goal["goal"])
        h = heading.BALL_HEIGHT
        return [Marker((x, y, h), 0.15), Marker((x, y, 0.0), 0.02, (x, y, h), FAINT_RGBA)]
    if task == "circling":
        cx, cy = (float(v) for v in goal["centre"])
        r = float(goal["radius"])
        return [Marker((cx, cy, 0.1), 0.1), *ring((cx, cy), r, 0.03, 0.02, max(24, round(12 * r)))]
    if task == "scoring":
        x, y = (float(v) for v in goal["goal"])
        px = x + HOOP_RADIUS + 0.15  # a post beside the rim, so its height reads in perspective
        post = Marker((px, y, 0.0), 0.03, (px, y, scoring.HOOP), FAINT_RGBA)
        return [*ring((x, y), HOOP_RADIUS, scoring.HOOP, 0.02, 24), Marker((x, y, 0.0), 0.08), post]
    if task == "throwing":
        return [Marker((float(start_xy[0]), float(start_xy[1]), throwing.HEIGHT), 0.12)]
    return []


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
