#!/usr/bin/env bash
# The one GPU command (benchmarks/GPU.md): benchmarks, a time-boxed training run, export, eval.
#   bash benchmarks/gpu.sh                        # on the GPU machine, results in $OUT
#   bash benchmarks/gpu.sh --device cpu --tiny    # the CPU dry run (a test runs it)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
# Nothing here renders; GPU images that set MUJOCO_GL=egl make `import mujoco` fail on a PyOpenGL
# without an EGL platform (seen on the H200 image), so MuJoCo's GL is switched off.
export MUJOCO_GL=disable
exec "${PYTHON:-python3}" benchmarks/gpu_run.py "$@"  # PYTHON: the interpreter to use (default python3)
