"""The package stands alone: its imports are declared dependencies, and a wheel built from the
repository trains with a shipped preset outside the repository."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from skillmimic.config import CFG_DIR, presets

REPO = Path(__file__).resolve().parents[1]


def _declared() -> set[str]:
    """Distribution names in setup.py's ``install_requires``, normalised (PEP 503)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            names = [re.split(r"[<>=!~\[; ]", e.value)[0] for e in node.value.elts]
            return {re.sub(r"[-_.]+", "-", n).lower() for n in names}
    raise AssertionError("setup.py has no install_requires")


def _imported() -> dict[str, str]:
    """Top-level third-party module -> first file importing it, over the whole package."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "skillmimic").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "skillmimic":
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_import_is_a_declared_dependency():
    declared = _declared()
    dists = md.packages_distributions()
    missing = []
    for module, where in _imported().items():
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in dists.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} ({where}; distribution {', '.join(sorted(names))})")
    assert not missing, "imported but not in install_requires: " + "; ".join(missing)
    # the check can fail: an undeclared module is reported
    assert "gymnasium" in declared and "pillow" in declared


def test_presets_ship_inside_the_package():
    assert CFG_DIR.parent == REPO / "skillmimic"
    assert {"train/skillmimic.yaml", "train/fast.yaml"} <= set(presets())
    # the repository's cfg/ is the same folder, for people who browse the tree
    assert (REPO / "cfg").resolve() == CFG_DIR.resolve()


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_trains_with_a_shipped_preset(tmp_path, data_dir):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("skillmimic-*.whl")
    assert "skillmimic/cfg/train/skillmimic.yaml" in zipfile.ZipFile(wheel).namelist()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--ignore-installed", "-q"]
        + [str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    # The dependencies (torch, MuJoCo, ...) come from this environment, appended after the fresh
    # venv's own site-packages (after the install, so pip sees none of them); .pth files in that
    # folder are not run, so the editable skillmimic of this checkout stays invisible and only the
    # wheel provides the package.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "SKILLMIMIC_DATA": str(data_dir)}
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [python, "-c", "import skillmimic; print(skillmimic.__file__)"],
        check=True,
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    # upstream preset, shrunk to 4 worlds so one epoch fits a test
    out = subprocess.run(
        [
            venv / "bin" / "skillmimic",
            "train",
            "--config",
            "train/skillmimic.yaml",
            "--epochs",
            "1",
            "--num-envs",
            "4",
            "--motion",
            "ballplay-m/layup",
            "--run",
            "wheel",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (work / "runs" / "wheel" / "nn" / "last.pth").is_file()
    assert "num_envs: 4" in (work / "runs" / "wheel" / "config.yaml").read_text()
