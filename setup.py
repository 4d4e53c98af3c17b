"""SkillMimic: physics-based human-object interaction skills learned from motion capture."""

from setuptools import find_packages, setup

setup(
    name="skillmimic",
    version="0.1.0",
    description="Learn basketball skills from human-ball motion capture with MuJoCo Warp and PPO",
    python_requires=">=3.11",
    packages=find_packages(include=["skillmimic", "skillmimic.*"]),
    package_data={"skillmimic": ["motion/manifests/*.json", "cfg/*/*.yaml"]},
    install_requires=[
        "torch>=2.4",
        "numpy>=1.26",
        # MuJoCo, MuJoCo Warp and Warp are pinned together: MuJoCo Warp releases are built against
        # one MuJoCo and one Warp version, and a mismatch fails at import or at kernel compile time.
        "mujoco==4.0.0",
        "mujoco-warp==4.0.0",
        "warp-lang==1.19.0",
        "rl-games==1.6.5",
        "gymnasium>=0.29",  # observation/action spaces handed to rl-games
        "omegaconf>=2.3",
        "tensorboard>=2.15",
        "trimesh>=4.0",
        "smplx>=0.1.28",
        "tqdm>=4.66",
        "imageio>=2.34",
        "imageio-ffmpeg>=0.5",
        "Pillow>=10",  # captions on offscreen video frames
    ],
    extras_require={"dev": ["pytest>=8", "ruff==0.17.6", "mypy==2.4.1"]},
    entry_points={"console_scripts": ["skillmimic=skillmimic.cli:main"]},
)
