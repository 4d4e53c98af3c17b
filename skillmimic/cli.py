"""The ``skillmimic`` command. It parses arguments and calls into the package; no logic here."""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from pathlib import Path

from skillmimic.errors import SkillMimicError
from skillmimic.process import configure_process
from skillmimic.storage import safe_output


def _data_fetch(a) -> None:
    from skillmimic.motion.datasets import data_root
    from skillmimic.motion.fetch import fetch

    fetch(a.name, Path(a.dest) if a.dest else data_root(), source=a.source, base_url=a.url)


def _data_inspect(a) -> None:
    from skillmimic.motion.report import format_report, inspect_motion

    rep = inspect_motion(a.path, a.skill)
    if a.json:
        print(json.dumps(rep, indent=1))
    else:
        print(format_report(rep))


def _data_render(a) -> None:
    from skillmimic.motion.library import MotionLibrary
    from skillmimic.viewer.replay import render_motion

    safe_output(a.video, a.path, what="--video")
    n = render_motion(MotionLibrary.load(a.path, skill=a.skill), a.video, a.width, a.height)
    print(f"wrote {a.video} ({n} frames)")


def _data_convert(a) -> None:
    from skillmimic.io.smplx_import import convert_to_file

    path, c = convert_to_file(
        a.sequence,
        a.out,
        a.skill,
        model_dir=a.model_dir,
        object_track=a.object,
        object_mesh=a.object_mesh,
        up=a.up,
        fps_in=a.fps_in,
        contact_tol=a.contact_tol,
        gender=a.gender,
        ground=not a.no_ground,
    )
    n = len(c.tensor)
    print(
        f"wrote {path}: {n} frames at 60 fps (from {c.frames_in} at {c.fps_in:g} fps, {c.sequence.up}-up, hands "
        f"{c.sequence.hands}), ground shift {c.ground_shift:+.3f} m, contact on {c.contact_frames}/{n} frames"
    )


def _export(a) -> None:
    from skillmimic.io.track import track_from_clip, track_from_rollout

    if not (a.smplx or a.mesh):
        raise SkillMimicError("export needs --smplx out.npz and/or --mesh out.glb")
    if a.smplx and not a.model_dir:
        raise SkillMimicError("--smplx needs --model-dir: SMPL-X's transl depends on the model's rest pelvis")
    for out in (a.smplx, a.mesh):
        if out:
            safe_output(out, a.checkpoint, a.motion, what="export")
    skill = _skill_arg(a.skill) if a.skill is not None else None
    if a.dataset:
        track = track_from_clip(a.motion, skill).head(a.seconds)
    elif a.checkpoint:
        track = track_from_rollout(a.checkpoint, a.motion, skill, a.seconds or 10.0, a.device, a.backend)
    else:
        raise SkillMimicError("export needs --checkpoint (a policy rollout) or --dataset (the clip itself)")
    what = f"{track.num_frames} frames at {track.fps:g} fps, {track.name}"
    if a.smplx:
        from skillmimic.io.smplx_export import export_smplx

        print(f"wrote {export_smplx(track, a.smplx, a.model_dir, a.gender, a.up)}: SMPL-X ({a.up}-up) + ball, {what}")
    if a.mesh:
        from skillmimic.io.mesh_export import export_mesh

        print(f"wrote {export_mesh(track, a.mesh)}: animated glTF (y-up), {what}")


def _graph_build(a) -> None:
    import time

    from skillmimic.graph import build_graph, graph_key
    from skillmimic.motion.library import MotionLibrary

    if a.out:
        safe_output(a.out, a.motion, what="--out")
    lib = MotionLibrary.load(a.motion, a.device)
    t0 = time.perf_counter()
    g = build_graph(lib)
    seconds = time.perf_counter() - t0
    out = Path(a.out) if a.out else Path(f"graph-{graph_key(lib)}.pt")
    g.save(out)
    print(
        f"wrote {out}: built in {seconds:.1f} s on {lib.device}, {g.num_frames} frames, "
        f"{len(g.skills)} skills, {g.num_edges} edges"
    )


def _hist_train(a) -> None:
    from skillmimic.envs.history_encoder import save_encoder
    from skillmimic.learning.history_encoder import history_key, train_history_encoder
    from skillmimic.motion.library import MotionLibrary

    if a.out:
        safe_output(a.out, a.motion, what="--out")
    lib = MotionLibrary.load(a.motion)
    enc, m = train_history_encoder(lib, a.epochs, a.device, a.seed)
    key = history_key(lib, a.epochs, a.seed)
    out = Path(a.out) if a.out else Path(f"hist-{key}.pt")
    save_encoder(out, enc, m, key)
    print(
        f"wrote {out}: {m['epochs']} epochs in {m['seconds']:.1f} s, {m['train_samples']} training / "
        f"{m['val_samples']} validation samples\nvalidation next-state MSE: model {m['val_mse']:.3e}, "
        f"no history {m['val_mse_no_history']:.3e}, next = current {m['val_mse_next_equals_current']:.3e}"
    )


def _graph_inspect(a) -> None:
    from skillmimic.graph import TrajectoryGraph, summary

    print(summary(TrajectoryGraph.load(a.path)))


def _bench_sim(a) -> None:
    from skillmimic.bench import bench_sim

    if a.json:
        safe_output(a.json, what="--json")
    _bench_report([bench_sim(a.backend, a.device, n, a.steps, a.warmup, graph=not a.no_graph) for n in a.envs], a.json)


def _train(a) -> None:
    from skillmimic.learning.train import train

    epochs = a.epochs
    if a.minutes and epochs is None:
        epochs = 10**9  # the clock decides
    flags = {
        "motion": a.motion,
        "num_envs": a.num_envs,
        "epochs": epochs,
        "minutes": a.minutes,
        "sim.device": a.device,
        "sim.backend": a.backend,
        "seed": a.seed,
        "task.name": a.task,
        "task.llc": a.llc,
    }
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None] + list(a.overrides)
    configs = a.config or (["train/hlc.yaml"] if a.task and not a.resume else [])
    train(configs, overrides, run=a.run, resume=a.resume, resume_from=a.resume_from)  # prints "done: RUN_DIR"


def _distill(a) -> None:
    from skillmimic.learning.distill import distill

    run_dir = distill(
        a.teacher,
        a.run,
        iterations=a.iterations,
        minutes=a.minutes or 0.0,
        steps=a.steps,
        num_envs=a.num_envs,
        device=a.device,
        overrides=list(a.overrides),
    )
    print(f"done: {run_dir}")


def _bench_env(a) -> None:
    from skillmimic.bench import bench_env

    if a.json:
        safe_output(a.json, a.motion, what="--json")
    _bench_report(
        [bench_env(a.backend, a.device, n, a.steps, a.warmup, not a.no_graph, a.motion) for n in a.envs], a.json
    )


def _bench_report(results: list[dict], json_path: str | None) -> None:
    """One line per size; the JSON holds one result, or a list when several sizes ran."""
    from skillmimic.bench import report, write_json

    for r in results:
        print(report(r), flush=True)
    if json_path:
        write_json(results[0] if len(results) == 1 else results, json_path)


def _play(a) -> None:
    from skillmimic.viewer.play import play

    if a.video:
        safe_output(a.video, a.checkpoint, a.motion, what="--video")
    skill = _skill_arg(a.skill) if a.skill is not None else None
    print(
        play(
            a.checkpoint,
            a.motion,
            skill,
            a.video,
            a.seconds,
            a.dataset,
            a.ghost,
            a.width,
            a.height,
            a.device,
            a.backend,
            a.frame,
        )
    )


def _eval(a) -> None:
    if a.task:
        return _eval_task(a)
    if a.checkpoint:
        from skillmimic.policy import ControllerPolicy, is_controller

        if is_controller(a.checkpoint):  # a high-level controller: its own task and skill policy
            h = ControllerPolicy(a.checkpoint)
            a.task, a.llc = h.task, h.llc
            return _eval_task(a, controller=a.checkpoint)
    if not a.checkpoint or not a.motion:
        raise SkillMimicError("eval needs --checkpoint CKPT --motion PATH (or --task NAME --llc CKPT --scripted)")
    from skillmimic.eval.evaluate import EPISODES, STEPS, evaluate, format_table, write_json

    if a.json:
        safe_output(a.json, a.checkpoint, a.motion, what="--json")
    episodes, steps = a.episodes or EPISODES, a.steps if a.steps is not None else STEPS
    rep = evaluate(a.checkpoint, a.motion, episodes, steps, a.num_envs, a.device, a.backend, a.mode, a.trials, a.seed)
    print(format_table(rep))
    if a.json:
        write_json(rep, a.json)
        print(f"wrote {a.json}")


def _eval_task(a, controller: str = "scripted") -> None:
    from skillmimic.eval.evaluate import write_json
    from skillmimic.eval.tasks import EPISODES, evaluate_task, format_task_report

    if controller == "scripted" and (not a.llc or not a.scripted):
        raise SkillMimicError("eval --task NAME needs --llc CKPT (the skill policy) and --scripted (the controller)")
    if a.json:
        safe_output(a.json, a.llc, a.motion, a.checkpoint, what="--json")
    episodes = a.episodes or EPISODES
    r = evaluate_task(a.task, a.llc, a.motion, controller, episodes, a.steps, a.num_envs, a.seed, a.device, a.backend)
    print(format_task_report(r))
    if a.json:
        write_json(r, a.json)
        print(f"wrote {a.json}")


def _export_policy(a) -> None:
    from skillmimic.learning.export import export_policy

    safe_output(a.out, a.checkpoint, what="--out", make_folder=True)
    r = export_policy(a.checkpoint, a.out, a.half, a.resumable)
    kind = ", fp16, resumable" if r["resumable"] else ", fp16" if r["half"] else ""
    print(
        f"wrote {r['path']} ({r['bytes'] / 1e6:.1f} MB{kind}; checkpoint "
        f"{r['source_bytes'] / 1e6:.1f} MB, epoch {r['epoch']}, {r['frame']} samples)"
    )


def _skill_arg(s: str) -> int:
    from skillmimic.skills import skill_id

    return skill_id(s)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is the command's usual one-line error (exit 2), not usage text."""

    def error(self, message: str):
        raise SkillMimicError(f"{self.prog}: {message}")


def _number(kind: type, low: float, strict: bool = False):
    """An argparse type: a finite ``kind`` at least ``low`` (above it when ``strict``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>' if strict else '>='} {low:g}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def DEVICE(text: str) -> str:
    """An argparse type: auto, cpu, cuda or cuda:N, and a CUDA device only where there is one."""
    from skillmimic.config import is_device_name, missing_cuda

    if not is_device_name(text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    if missing_cuda(text):
        raise argparse.ArgumentTypeError(f"{text}: no such CUDA device on this machine (use cpu)")
    return text


def VIDEO(text: str) -> str:
    """An argparse type: the path of an .mp4 to write."""
    if Path(text).suffix.lower() != ".mp4":
        raise argparse.ArgumentTypeError(f"expected an .mp4 path, got {text!r}")
    return text


def URL(text: str) -> str:
    if not re.match(r"(https?|file)://", text):
        raise argparse.ArgumentTypeError(f"expected an http(s):// or file:// URL, got {text!r}")
    return text


FRAME = _number(int, 0)  # a clip frame
COUNT = _number(int, 1)  # episodes, steps, worlds, epochs, pixels: at least one
SEED = _number(int, 0)
SECONDS = _number(float, 0.0, strict=True)
NONNEGATIVE = _number(float, 0.0)  # minutes (0: no limit), tolerances


def build_parser() -> argparse.ArgumentParser:
    from skillmimic.eval.evaluate import EPISODES, STEPS
    from skillmimic.eval.tasks import EPISODES as TASK_EPISODES
    from skillmimic.tasks import TASKS
    from skillmimic.viewer.keys import KEY_HELP

    p = _Parser(
        prog="skillmimic",
        description="SkillMimic: human-object interaction skills from motion capture, in MuJoCo, with PPO.",
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="motion data: fetch, inspect, render, convert").add_subparsers(
        dest="action", required=True
    )
    f = data.add_parser("fetch", help="download a dataset (checksummed) into the data root")
    f.add_argument("name", help="dataset name, e.g. ballplay-m")
    f.add_argument("--from", dest="source", type=Path, help="copy from a local mirror folder instead of downloading")
    f.add_argument("--dest", help="data root to fetch into (default: $SKILLMIMIC_DATA or ./motions)")
    f.add_argument("--url", type=URL, help="override the download base URL")
    f.set_defaults(func=_data_fetch)

    i = data.add_parser("inspect", help="list the clips of a motion file or folder")
    i.add_argument("path", help="a .pt file, a folder, or a dataset-relative name like ballplay-m/layup")
    i.add_argument("--json", action="store_true", help="print JSON instead of a table")
    i.add_argument("--skill", type=_skill_arg, help="label every clip with this skill (id or name)")
    i.set_defaults(func=_data_inspect)

    r = data.add_parser("render", help="kinematic playback of clips to an mp4 (offscreen)")
    r.add_argument("path", help="a .pt file, a folder, or a dataset-relative name")
    r.add_argument("--video", type=VIDEO, required=True, help="output .mp4")
    r.add_argument("--width", type=COUNT, default=640)
    r.add_argument("--height", type=COUNT, default=480)
    r.add_argument("--skill", type=_skill_arg, help="label every clip with this skill (id or name)")
    r.set_defaults(func=_data_render)

    cv = data.add_parser(
        "convert",
        help="an SMPL-X parameter sequence (+ object track) -> a BallPlay clip",
        description="Resample to 60 fps, turn to z-up, put the lowest foot point at z = 0, map SMPL-X joints to "
        "ours (skillmimic/io/joint_map.py) and flag hand-object contact from geometry.",
    )
    cv.add_argument("sequence", help="SMPL-X parameters .npz (AMASS poses/trans/betas or global_orient/body_pose/...)")
    cv.add_argument("--model-dir", required=True, help="folder with SMPLX_NEUTRAL.npz (or its smplx/ subfolder)")
    cv.add_argument("--object", help="object track .npz/.npy (position + orientation per frame, any fps)")
    cv.add_argument("--object-mesh", help="the object's mesh (any trimesh format); default: the ball (a sphere)")
    cv.add_argument("--skill", type=_skill_arg, help="skill id or name (prefixed to the file name)")
    cv.add_argument("--up", choices=("y", "z"), help="the file's up axis (default: z for AMASS poses, else y)")
    cv.add_argument("--fps-in", type=SECONDS, help="the sequence's frame rate (default: from the file)")
    cv.add_argument(
        "--contact-tol", type=NONNEGATIVE, default=0.02, help="hand-surface distance that counts as contact (m)"
    )
    cv.add_argument("--gender", choices=("neutral", "female", "male"), help="model gender (default: from the file)")
    cv.add_argument("--no-ground", action="store_true", help="keep the heights as they are (no foot at z = 0)")
    cv.add_argument("--out", required=True, help="the clip to write, e.g. 031_mine.pt")
    cv.set_defaults(func=_data_convert)
    t = sub.add_parser(
        "train",
        help="train a skill policy with PPO (rl-games)",
        description="Train one policy on every clip of a motion file or folder. Extra "
        "key=value arguments override the config, e.g. ppo.learning_rate=1e-4.",
    )
    t.add_argument("--motion", help="a .pt file, a folder, or a dataset-relative name like ballplay-m/layup")
    t.add_argument("--num-envs", type=COUNT, help="parallel simulated worlds (default 16)")
    t.add_argument("--device", type=DEVICE, help="cpu or cuda (default: cuda when available)")
    t.add_argument("--backend", help="mjwarp or mujoco (default: mjwarp on cuda, mujoco on cpu)")
    t.add_argument("--epochs", type=COUNT, help="PPO epochs to run (on --resume: this many more)")
    t.add_argument(
        "--minutes",
        type=NONNEGATIVE,
        help="stop cleanly after this many minutes of wall clock (saves "
        "the checkpoint and prints the summary); without --epochs the clock alone decides",
    )
    t.add_argument("--run", help="run name: outputs go to runs/<name>/ (default: motion name and time)")
    t.add_argument("--resume", action="store_true", help="continue --run from its last checkpoint")
    t.add_argument(
        "--resume-from",
        metavar="FILE",
        help="start the new --run from a compact resumable file (export-policy --resumable) or a training "
        "checkpoint: its weights, normalisers, sampler state and config, with a fresh optimizer",
    )
    t.add_argument("--seed", type=SEED)
    t.add_argument(
        "--config", action="append", help="YAML config file or shipped preset (repeatable), e.g. train/fast.yaml"
    )
    t.add_argument("--task", choices=sorted(TASKS), help="train a high-level controller for this task instead")
    t.add_argument("--llc", help="with --task: the skill policy checkpoint the controller drives")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    t.set_defaults(func=_train)

    pl = sub.add_parser(
        "play",
        help="watch a policy (or the reference clips): viewer or mp4",
        description="With a display: MuJoCo's viewer, keys switch the skill. Without one, or "
        "with --video: offscreen rendering to mp4 with a skill caption. A high-level controller checkpoint "
        "plays its task: the controller picks the skills, the goal is drawn, keys move it.",
        epilog=KEY_HELP,
    )
    pl.add_argument("--checkpoint", help="a policy or high-level controller checkpoint (runs/<name>/nn/last.pth)")
    pl.add_argument(
        "--motion", help="clips giving the start state (and the ghost reference); a controller's default: its own"
    )
    pl.add_argument("--skill", help="skill to start with (id or name; default: the first clip's)")
    pl.add_argument("--video", type=VIDEO, help="write this mp4 instead of opening the viewer")
    pl.add_argument(
        "--seconds",
        type=SECONDS,
        help="video length (default 10); in the viewer: close after this long (default: never)",
    )
    pl.add_argument("--frame", type=FRAME, default=0, help="start at this frame of the skill's first clip (default 0)")
    pl.add_argument("--dataset", action="store_true", help="play the reference clips instead of a policy")
    pl.add_argument("--ghost", action="store_true", help="draw the reference pose as a translucent character")
    pl.add_argument("--width", type=COUNT, default=640)
    pl.add_argument("--height", type=COUNT, default=480)
    pl.add_argument("--device", type=DEVICE, default="auto")
    pl.add_argument("--backend", default="auto")
    pl.set_defaults(func=_play)

    ev = sub.add_parser("eval", help="success rates and rewards of a policy, per clip and per skill")
    ev.add_argument("--checkpoint", help="a policy checkpoint or exported policy")
    ev.add_argument("--motion", help="clips to start from (with --task: default the skill policy's own)")
    ev.add_argument(
        "--episodes",
        type=COUNT,
        help=f"episodes per clip (default {EPISODES}); with --task: episodes (default {TASK_EPISODES})",
    )
    ev.add_argument(
        "--steps", type=COUNT, help=f"control steps per episode (default {STEPS}; --task: the task's episode length)"
    )
    ev.add_argument("--task", choices=sorted(TASKS), help="evaluate a high-level task instead")
    ev.add_argument("--llc", help="with --task: the skill policy (low-level controller) checkpoint")
    ev.add_argument("--scripted", action="store_true", help="with --task: the scripted baseline controller")
    ev.add_argument(
        "--mode",
        default="sr",
        choices=("sr", "ensr", "tsr", "all"),
        help="sr: reference starts; ensr: noisy starts; tsr: transitions between skills via the graph; all",
    )
    ev.add_argument("--trials", type=COUNT, help="episodes per skill (sr, ensr) or skill pair (tsr), seeded draws")
    ev.add_argument("--seed", type=SEED, default=0, help="seed of the noisy starts and --trials draws")
    ev.add_argument("--num-envs", type=COUNT, default=64, help="episodes simulated at once")
    ev.add_argument("--json", help="also write the full report to this JSON file")
    ev.add_argument("--device", type=DEVICE, default="auto")
    ev.add_argument("--backend", default="auto")
    ev.set_defaults(func=_eval)

    di = sub.add_parser(
        "distill",
        help="DAgger: a tracking teacher (train/teacher.yaml) into a skill policy that needs no reference",
        description="The student acts, the teacher labels every visited state, the student regresses onto the "
        "labels; writes runs/<run>/ like train. Extra key=value arguments override the student's config.",
    )
    di.add_argument("--teacher", required=True, help="a tracking teacher's checkpoint or exported file")
    di.add_argument("--run", required=True, help="run name: outputs go to runs/<name>/")
    di.add_argument("--iterations", type=COUNT, default=50, help="collect-and-fit rounds (default 50)")
    di.add_argument("--minutes", type=NONNEGATIVE, help="stop after this many minutes of wall clock")
    di.add_argument("--steps", type=COUNT, default=32, help="env steps per world per iteration (default 32)")
    di.add_argument("--num-envs", type=COUNT, help="parallel worlds (default: the teacher's)")
    di.add_argument("--device", type=DEVICE, default="auto", help="cpu or cuda (default: cuda when available)")
    di.add_argument("overrides", nargs="*", help="key=value for the student's config")
    di.set_defaults(func=_distill)

    ex = sub.add_parser(
        "export-policy",
        help="write a policy-only file (actor + normaliser + metadata) from a training checkpoint, for play and eval",
    )
    ex.add_argument("--checkpoint", required=True, help="a training checkpoint (runs/<name>/nn/last.pth)")
    ex.add_argument("--out", required=True, help="the policy file to write, e.g. policies/NAME.pth")
    ex.add_argument("--half", action="store_true", help="store the network weights as fp16 (half the size)")
    ex.add_argument(
        "--resumable",
        action="store_true",
        help="the compact resumable file of a campaign (fp16; critic, normalisers and sampler state kept, "
        "no optimizer state): train --resume-from FILE --run NAME continues from it",
    )
    ex.set_defaults(func=_export_policy)

    xo = sub.add_parser(
        "export",
        help="a policy rollout or a clip as SMPL-X parameters + ball (.npz) and/or an animated glTF",
    )
    xo.add_argument("--checkpoint", help="a policy checkpoint: export its rollout")
    xo.add_argument("--dataset", action="store_true", help="export the reference clip instead of a policy")
    xo.add_argument("--motion", required=True, help="clips giving the start state (or, with --dataset, the clip)")
    xo.add_argument("--skill", help="skill (id or name): its first clip (default: the first clip)")
    xo.add_argument(
        "--seconds", type=SECONDS, help="length (default: 10 s for a rollout, the whole clip for --dataset)"
    )
    xo.add_argument("--smplx", help="write SMPL-X parameters and the ball track to this .npz")
    xo.add_argument("--model-dir", help="folder with SMPLX_NEUTRAL.npz (needed by --smplx)")
    xo.add_argument("--gender", default="neutral", choices=("neutral", "female", "male"))
    xo.add_argument("--up", default="z", choices=("z", "y"), help="world of the .npz (z: AMASS, default)")
    xo.add_argument("--mesh", help="write the humanoid's capsules and the ball as an animated .glb")
    xo.add_argument("--device", type=DEVICE, default="auto")
    xo.add_argument("--backend", default="auto")
    xo.set_defaults(func=_export)

    gr = sub.add_parser("graph", help="stitched trajectory graph: skill-transition edges").add_subparsers(
        dest="action", required=True
    )
    gb = gr.add_parser("build", help="search every frame's most similar frame in each other skill; save the graph")
    gb.add_argument("--motion", required=True, help="a .pt file, a folder, or a dataset-relative name")
    gb.add_argument("--out", help="graph file to write (default: graph-<key>.pt in the current directory)")
    gb.add_argument("--device", type=DEVICE, default="cpu", help="cpu or cuda (default cpu)")
    gb.set_defaults(func=_graph_build)
    gi = gr.add_parser("inspect", help="edge counts and similarity quantiles per pair of skills")
    gi.add_argument("path", help="a graph file written by `skillmimic graph build`")
    gi.set_defaults(func=_graph_inspect)

    hi = sub.add_parser("hist", help="SkillMimic-V2 history encoder: offline training").add_subparsers(
        dest="action", required=True
    )
    ht = hi.add_parser("train", help="train the 60-frame history encoder by next-state prediction; save it")
    ht.add_argument("--motion", required=True, help="a .pt file, a folder, or a dataset-relative name")
    ht.add_argument("--out", help="encoder file to write (default: hist-<key>.pt in the current directory)")
    ht.add_argument("--epochs", type=COUNT, help="training epochs (default 20)")
    ht.add_argument("--device", type=DEVICE, default="cpu", help="cpu or cuda (default cpu)")
    ht.add_argument("--seed", type=SEED, default=0, help="seed of the weights, the batches and the validation split")
    ht.set_defaults(func=_hist_train)

    bench = sub.add_parser("bench", help="throughput benchmarks").add_subparsers(dest="target", required=True)
    b = bench.add_parser("sim", help="raw physics step: world-steps per second")
    _bench_args(b)
    b.set_defaults(func=_bench_sim)
    e = bench.add_parser("env", help="full env step next to the raw physics step, as a ratio")
    _bench_args(e)
    e.add_argument("--motion", default="ballplay-m/layup", help="reference clips for the env")
    e.set_defaults(func=_bench_env)
    return p


def _bench_args(b) -> None:
    b.add_argument("--backend", choices=("mjwarp", "mujoco"), default="mjwarp")
    b.add_argument("--device", type=DEVICE, default="cpu", help="cpu or cuda")
    b.add_argument("--envs", type=COUNT, nargs="+", default=[16], help="number of worlds (several: one run each)")
    b.add_argument("--steps", type=COUNT, default=100, help="timed control steps")
    b.add_argument("--warmup", type=COUNT, default=10, help="untimed steps first (kernel loading, graph capture)")
    b.add_argument("--no-graph", action="store_true", help="MuJoCo Warp on CUDA: launch kernels without CUDA graphs")
    b.add_argument("--json", help="also write the result to this JSON file")


def main(argv: list[str] | None = None) -> int:
    configure_process()
    configure_logging()
    try:
        args = build_parser().parse_args(argv)
        args.func(args)
    except SkillMimicError as e:
        print(f"skillmimic: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skillmimic: interrupted", file=sys.stderr)
        return 130
    return 0


def configure_logging() -> None:
    """The package reports through ``logging`` (``skillmimic.*`` loggers); the command shows their
    info lines on stdout, with the per-epoch progress lines training prints, and warnings on stderr."""
    log = logging.getLogger("skillmimic")
    if not any(isinstance(h, _Console) for h in log.handlers):
        log.addHandler(_Console())
        log.setLevel(logging.INFO)


class _Console(logging.Handler):
    """The message alone, to whatever ``sys.stdout`` (info) or ``sys.stderr`` (warnings, errors) is
    when it is logged (a test's capture, too)."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            print(f"warning: {self.format(record)}", file=sys.stderr, flush=True)
        else:
            print(self.format(record), flush=True)
