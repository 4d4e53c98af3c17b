"""Offscreen rendering of the scene to mp4 through MuJoCo's renderer (EGL without a display)."""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio
import mujoco
import numpy as np
from PIL import Image, ImageDraw

from skillmimic.errors import SkillMimicError


class OffscreenRenderer:
    """Renders ``MjData`` frames from a camera that follows the humanoid's root."""

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480):
        try:
            self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as e:  # no GL context: EGL/OSMesa missing or no framebuffer
            raise SkillMimicError(
                f"offscreen rendering unavailable (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {str(e).splitlines()[0]}"
            ) from None
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.distance = 5.0
        self.camera.elevation = -15.0
        self.camera.azimuth = 135.0
        self._lookat: np.ndarray | None = None

    def reset_camera(self) -> None:
        """Jump to the next target instead of panning (e.g. at a cut between clips)."""
        self._lookat = None

    def render(
        self, data: mujoco.MjData, caption: str | None = None, scene_option=None, extra_geoms=None
    ) -> np.ndarray:
        target = np.array([data.qpos[0], data.qpos[1], 1.0])
        # A lagged camera target: smooth to watch, and the character stays in frame.
        self._lookat = target if self._lookat is None else 0.9 * self._lookat + 0.1 * target
        self.camera.lookat[:] = self._lookat
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
