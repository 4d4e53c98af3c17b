"""The interactive viewer in a real X window (Xvfb): it opens, follows the character, takes a skill
key, keeps stepping and exits cleanly when closed. What the program did is read from its own log
(``SKILLMIMIC_VIEWER_LOG=1``), what the window shows from a screenshot (Pillow's X11 grab)."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _wait_for(what: str, check, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    """Poll ``check`` until it returns something truthy; fail with the log's tail on timeout or exit."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    state = f"exited with {proc.returncode}" if proc is not None and proc.poll() is not None else "timed out"
    pytest.fail(f"{what}: {state} after {timeout:.0f} s\n{tail}")


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a display number it picks itself (-displayfd: no clash with other servers)."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(w,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 20.0)
        number = os.read(r, 64).decode().strip() if ready else ""
    finally:
        os.close(r)
    if not number.isdigit():
        _kill(proc)
        pytest.fail("Xvfb did not report a display within 20 s")
    return proc, f":{number}"


def _kill(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _xdotool(display: str, *args: str) -> str:
    out = subprocess.run(
        ["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=10
    )
    return out.stdout.strip()


def test_viewer_opens_follows_the_character_and_takes_a_skill_key(trained, tmp_path):
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} for a real window (apt-get install xvfb xdotool; .ci/run does)")
    from PIL import ImageGrab

    motion, ckpt = trained  # skills 031 layup (the first clip: the start), 011 dribble left, 004 pass
    stdout, stderr = tmp_path / "play.out", tmp_path / "play.err"
    xvfb = play = None
    t0 = time.monotonic()
    try:
        xvfb, display = _start_xvfb()
        env = {**os.environ, "DISPLAY": display, "MUJOCO_GL": "glfw", "SKILLMIMIC_VIEWER_LOG": "1"}
        cmd = [sys.executable, "-m", "skillmimic", "play", "--checkpoint", str(ckpt), "--motion", str(motion)]
        with stdout.open("w") as out, stderr.open("w") as err:
            play = subprocess.Popen([*cmd, "--seconds", "300"], env=env, stdout=out, stderr=err, start_new_session=True)
        log = lambda: stderr.read_text()  # noqa: E731
        opened = _wait_for("viewer open", lambda: re.search(r"viewer: open (\d+)x(\d+)", log()), 180, play, stderr)
        assert "skill 031" in opened.string[opened.start() :].splitlines()[0]
        window = _wait_for("window", lambda: _xdotool(display, "search", "--name", "MuJoCo").split(), 20, play)[0]

        _xdotool(display, "key", "--window", window, "Left")  # dribble left
        _wait_for("skill key taken", lambda: "key Left: skill 011 dribble_left" in log(), 60, play, stderr)
        change = _wait_for("skill change", lambda: re.search(r"frame (\d+): skill 031 -> 011", log()), 60, play)
        _wait_for(  # frames go on after the change
            "frames advancing",
            lambda: any(int(n) >= int(change.group(1)) + 30 for n in re.findall(r"frame (\d+) t ", log())),
            120,
            play,
            stderr,
        )

        geometry = dict(
            line.split("=") for line in _xdotool(display, "getwindowgeometry", "--shell", window).splitlines()
        )
        x, y, w, h = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        shot = ImageGrab.grab(xdisplay=display)
        shot.save(tmp_path / "screen.png")
        view = np.asarray(shot.convert("RGB"), dtype=int)[y : y + h, x : x + w]
        assert view.std() > 10, "the window is blank: no GL drawing under Xvfb"
        r, g, b = view[..., 0], view[..., 1], view[..., 2]
        body = (r > g + 15) & (g > b + 15) & (r > 100)  # the tan character and orange ball; floor and sky are blue-grey
        centre = body[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
        assert centre.sum() > 300, f"character not in the middle of the view: {centre.sum()} body pixels there"
        assert centre.sum() > 0.5 * body.sum()  # the camera follows it, so most of it is near the middle

        _xdotool(display, "key", "--window", window, "ctrl+q")  # MuJoCo's quit
        play.wait(timeout=60)
        assert play.returncode == 0, log()[-3000:]
        assert "viewer closed after" in stdout.read_text() and "X Error" not in log()
        assert re.search(r"viewer: closed after \d+ frames", log())
    finally:
        _kill(play)
        _kill(xvfb)
    print(f"\nviewer window test: {time.monotonic() - t0:.1f} s")
