"""Offscreen rendering of the scene to mp4 through MuJoCo's renderer (EGL without a display)."""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio
import mujoco
import numpy as np
from PIL import Image, ImageDraw

from skillmimic.errors import SkillMimicError


def fit_distance(points: np.ndarray, lookat: np.ndarray, fovy: float, least: float = 5.0, limit: float = 30.0) -> float:
    """Camera distance from ``lookat`` at which every point is in view (a vertical field of view of
    ``fovy`` degrees, a margin of 20 %), at least ``least`` (the character's own framing) and at most
    ``limit`` m."""
    span = float(np.linalg.norm(np.asarray(points) - lookat, axis=1).max()) if len(points) else 0.0
    return float(np.clip(1.2 * span / np.tan(np.radians(fovy) / 2), least, limit))


class OffscreenRenderer:
    """Renders ``MjData`` frames from a camera that follows the humanoid's root (and, given ``focus``
    points, keeps them in frame too: a task's goal beside the character)."""

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480):
        try:
            self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as e:  # no GL context: EGL/OSMesa missing or no framebuffer
            raise SkillMimicError(
                f"offscreen rendering unavailable (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {str(e).splitlines()[0]}"
            ) from None
        self.fovy = float(model.vis.global_.fovy)
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.distance = 5.0
        self.camera.elevation = -15.0
        self.camera.azimuth = 135.0
        self._lookat: np.ndarray | None = None
        self._distance = 5.0

    def reset_camera(self) -> None:
        """Jump to the next target instead of panning (e.g. at a cut between clips)."""
        self._lookat = None

    def render(
        self, data: mujoco.MjData, caption: str | None = None, scene_option=None, extra_geoms=None, focus=None
    ) -> np.ndarray:
        """``focus``: [K, 3] points to keep in view (default: the root at 1 m height); ``extra_geoms``:
        called with the scene before drawing, to add geoms (markers)."""
        points = np.array([[data.qpos[0], data.qpos[1], 1.0]]) if focus is None else np.asarray(focus, float)
        target = 0.5 * (points.min(axis=0) + points.max(axis=0))
        distance = fit_distance(points, target, self.fovy)
        # A lagged camera target: smooth to watch, and the character stays in frame.
        if self._lookat is None:
            self._lookat, self._distance = target, distance
        else:
            self._lookat = 0.9 * self._lookat + 0.1 * target
            self._distance = 0.9 * self._distance + 0.1 * distance
        self.camera.lookat[:] = self._lookat
        self.camera.distance = self._distance
        self._renderer.update_scene(data, self.camera, scene_option)
        if extra_geoms is not None:
            extra_geoms(self._renderer.scene)
        frame = self._renderer.render()
        return draw_caption(frame, caption) if caption else frame

    def close(self) -> None:
        self._renderer.close()


def draw_caption(frame: np.ndarray, text: str) -> np.ndarray:
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = draw.textbbox((10, 10), text)
    draw.rectangle((x0 - 4, y0 - 4, x1 + 4, y1 + 4), fill=(0, 0, 0))
    draw.text((10, 10), text, fill=(255, 255, 255))
    return np.asarray(img)


class VideoWriter:
    """H.264 mp4 writer; frames are written as they come, so long videos use little memory."""

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise SkillMimicError(f"--video {path}: folder {self.path.parent} does not exist")
        self._writer = imageio.get_writer(
            self.path, fps=fps, codec="libx264", quality=7, macro_block_size=8, ffmpeg_log_level="error"
        )
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame)
        self.frames += 1

    def close(self) -> None:
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
