"""``skillmimic train``: build motion library, simulator and env, then run rl-games PPO.

A run lives in ``runs/<name>/``: ``config.yaml`` (the resolved configuration), ``summaries/``
(tensorboard events) and ``nn/last.pth`` / ``nn/best.pth`` (atomic checkpoints that carry the
observation layout, skill table and config).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import torch
from omegaconf import OmegaConf

from skillmimic import __version__, storage
from skillmimic.config import TrainConfig, load_config, resolve_device, to_dict, to_yaml
from skillmimic.envs.adaptive_sampling import AdaptiveStartSampler
from skillmimic.envs.history_encoder import HistoryEncoder, encoder_from_state, encoder_state, load_encoder
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.observations import obs_layout
from skillmimic.envs.sampling import UniformStartSampler
from skillmimic.envs.task_env import TaskEnv
from skillmimic.envs.transition_field import TransitionFieldSampler
from skillmimic.errors import SkillMimicError
from skillmimic.graph import load_or_build
from skillmimic.learning import distributed, hlc, vecenv
from skillmimic.learning.agent import AGENT_NAME, HLC_AGENT_NAME, HLCAgent, SkillMimicAgent
from skillmimic.learning.history_encoder import load_or_train
from skillmimic.learning.observer import ProgressObserver
from skillmimic.motion.library import MotionLibrary
from skillmimic.policy import network
from skillmimic.policy.checkpoint import CONTROLLER_KIND, FORMAT, load_checkpoint
from skillmimic.policy.controller import check_llc
from skillmimic.sim.factory import make_simulator
from skillmimic.skills import SKILLS
from skillmimic.threads import configure_threads


def check_run_name(run: str) -> None:
    """A run is a folder under ``runs_dir``: its name is a name, not a path to somewhere else."""
    if not run or run in (".", "..") or any(c in run for c in "/\\") or run != run.strip():
        raise SkillMimicError(f"run name {run!r}: expected a plain folder name (no '/', no '..'), e.g. layup_a")


def build_env(
    cfg: TrainConfig, encoder: HistoryEncoder | None = None, finger_pose: torch.Tensor | None = None
) -> ImitationEnv:
    """The training env of ``cfg``; ``encoder``: the history encoder to use (a resumed run's own),
    else, with ``history.enabled``, the configured file or one trained here (cached per clip set);
    ``finger_pose``: a resumed run's finger pose table (``env.fingers: skill_pose``)."""
    if not cfg.motion:
        raise SkillMimicError("no motion given: pass --motion PATH (a file, folder or name like ballplay-m/layup)")
    lib = MotionLibrary.load(cfg.motion, cfg.sim.device, cfg.skill, cfg.retarget_ball)
    if cfg.history.enabled and encoder is None:
        if cfg.history.encoder:
            encoder = load_encoder(cfg.history.encoder, cfg.sim.device)
        else:
            encoder = load_or_train(lib, Path(cfg.runs_dir) / "history", cfg.sim.device, cfg.history.epochs)
    sim = make_simulator(cfg.sim.backend, cfg.num_envs, cfg.sim.device, cfg.scene, cfg.sim_config())
    sampler = start_sampler(cfg, lib)
    return ImitationEnv(
        lib, sim, cfg.env, cfg.reward, seed=cfg.seed, sampler=sampler, history_encoder=encoder, finger_pose=finger_pose
    )


def start_sampler(cfg: TrainConfig, lib: MotionLibrary):
    """Reference starts (uniform, or adaptive with ``ats.enabled``), wrapped in the state transition
    field when ``stf`` asks for it.
    Graph switching needs the trajectory graph: built once per set of clips, cached in
    ``<runs_dir>/graphs/`` (keyed by a hash of the clips and weights) and reused by later runs."""
    gen = torch.Generator().manual_seed(cfg.seed)
    base = AdaptiveStartSampler(lib, cfg.ats, gen) if cfg.ats.enabled else UniformStartSampler(lib, gen)
    if cfg.stf.noisy_start_prob == 0 and cfg.stf.switch_prob == 0:
        return base
    graph = None
    if cfg.stf.switch_prob > 0:
        if len(set(lib.skill_ids.tolist())) < 2:
            raise SkillMimicError(f"stf.switch_prob > 0 needs clips of at least two skills; {cfg.motion} has one")
        graph = load_or_build(lib, Path(cfg.runs_dir) / "graphs")
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    return TransitionFieldSampler(base, lib, cfg.stf, gen, graph)


def policy_metadata(cfg: TrainConfig, env: ImitationEnv) -> dict:
    lib = env.lib
    meta = dict(
        format=FORMAT,
        version=__version__,
        config=to_dict(cfg),
        obs_size=env.num_obs,
        obs_layout={k: list(v) for k, v in obs_layout(env.encoder is not None, cfg.env.reference_obs).items()},
        num_actions=env.num_actions,
        skills={int(k): v for k, v in SKILLS.items()},
        clips=[dict(name=n, skill_id=int(s)) for n, s in zip(lib.names, lib.skill_ids.tolist(), strict=True)],
    )
    if env.encoder is not None:  # play and eval rebuild the observation from the checkpoint alone
        meta["history_encoder"] = encoder_state(env.encoder)
    if env.actions.finger_pose is not None:  # the held finger pose per skill, whatever clips play loads
        meta["finger_pose"] = env.actions.finger_pose.cpu().clone()
    return meta


def _check_same_clips(meta: dict, env: ImitationEnv, path: str) -> None:
    """A run started from a file trains on the file's clips: its sampler state and finger table
    describe them, and other clips would silently change what the campaign learns."""
    have = [(n, int(s)) for n, s in zip(env.lib.names, env.lib.skill_ids.tolist(), strict=True)]
    want = [(c["name"], int(c["skill_id"])) for c in meta["clips"]]
    if have != want:
        raise SkillMimicError(
            f"--resume-from {path}: trained on {len(want)} clips ({', '.join(n for n, _ in want[:3])}...), "
            f"but --motion gives {len(have)} ({', '.join(n for n, _ in have[:3])}...); use the file's own motion"
        )


def rl_games_params(cfg: TrainConfig, run: str, max_epochs: int, metadata: dict) -> dict:
    p = cfg.ppo
    return {
        "seed": cfg.seed,
        "torch_threads": 0,  # rl-games would reset torch's pool to min(4, cores); threads.py sizes it
        "algo": {"name": AGENT_NAME},
        **network.network_params(p),
        "config": {
            "name": run,
            "full_experiment_name": run,
            "train_dir": cfg.runs_dir,
            "env_name": vecenv.ENV_NAME,
            "device": cfg.sim.device,
            "ppo": True,
            "multi_gpu": False,
            "mixed_precision": False,
            "normalize_input": p.normalize_input,
            "normalize_value": p.normalize_value,
            "normalize_advantage": p.normalize_advantage,
            "value_bootstrap": True,
            "num_actors": cfg.num_envs,
            "reward_shaper": {"scale_value": 1.0},
            "gamma": p.gamma,
            "tau": p.tau,
            "learning_rate": p.learning_rate,
            "lr_schedule": p.lr_schedule,
            "kl_threshold": p.kl_threshold,
            "schedule_type": "standard",
            "max_epochs": max_epochs,
            "save_frequency": p.save_frequency,
            "save_best_after": p.save_frequency,
            "print_stats": False,
            "grad_norm": p.grad_norm,
            "entropy_coef": p.entropy_coef,
            "truncate_grads": p.truncate_grads,
            "e_clip": p.e_clip,
            "clip_value": False,
            "horizon_length": p.horizon_length,
            "minibatch_size": cfg.num_envs * p.horizon_length // p.num_minibatches,
            "mini_epochs": p.mini_epochs,
            "critic_coef": p.critic_coef,
            "bounds_loss_coef": p.bounds_loss_coef,
            "torch_compile": p.torch_compile,
            "skillmimic": metadata,
            "minutes": cfg.minutes,
            "mu_init": p.mu_init,
        },
    }


def train(*args, **kwargs) -> Path:
    """Train (or ``resume``) run ``run``; returns the run folder (``_train`` says how). Under
    ``torchrun`` every rank calls this; ranks other than 0 print nothing (``learning/distributed.py``)."""
    if distributed.ranks().main:
        return _train(*args, **kwargs)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        return _train(*args, **kwargs)


def _train(
    files: Sequence[str] = (),
    overrides: Sequence[str] = (),
    run: str | None = None,
    resume: bool = False,
    resume_from: str | None = None,
) -> Path:
    """Train (or ``resume``) run ``run``; returns the run folder. ``resume_from``: start the new run
    ``run`` from a compact resumable file (``export-policy --resumable``) or a training checkpoint:
    its weights, normalisers, counters, sampler state and config (``files`` and ``overrides`` on top),
    with a fresh optimizer."""
    from rl_games.torch_runner import Runner

    base, source = None, None
    if (resume or resume_from) and not run:  # run=NAME: under torchrun, whose parser takes --run for its own
        run = load_config(files, overrides).run
    if resume_from:
        if resume:
            raise SkillMimicError("--resume continues a run, --resume-from starts a new one from a file: pick one")
        if not run:
            raise SkillMimicError("--resume-from needs --run NAME or run=NAME (the new run folder under runs/)")
        source = load_checkpoint(resume_from)
        meta = source["skillmimic"]
        if meta.get("kind") == CONTROLLER_KIND or (meta.get("exported") and not meta.get("resumable")):
            raise SkillMimicError(
                f"--resume-from {resume_from}: expected a skill policy's training checkpoint or a file of "
                "export-policy --resumable"
            )
        base = dict(meta["config"])
        base["sim"] = {**base["sim"], "device": "auto", "backend": "auto"}  # re-resolve on this machine
        base.update(minutes=0.0, run=None, runs_dir="runs")  # where the file's run lived is not this run's
    elif resume:
        if not run:
            raise SkillMimicError("--resume needs --run NAME or run=NAME (the run folder under runs/ to continue)")
        probe = load_config(files, overrides)
        saved = Path(probe.runs_dir) / run / "config.yaml"
        if not saved.is_file():
            raise SkillMimicError(f"--resume: {saved} not found; nothing to continue")
        try:
            base = cast(dict, OmegaConf.to_container(OmegaConf.load(saved)))
            base["sim"]["device"] = base["sim"]["backend"] = "auto"  # re-resolve on this machine
        except Exception as e:  # not YAML, not a mapping, no sim section
            raise SkillMimicError(f"--resume: {saved} is not a run config: {str(e).splitlines()[0][:160]}") from None
        base["minutes"] = 0.0  # the earlier run's time limit is not this one's
    cfg = load_config(files, overrides, base=base)
    if resume and base is not None and cfg.motion != base.get("motion"):
        raise SkillMimicError(
            f"--resume continues run {run!r} on its own clips ({base.get('motion')}), not {cfg.motion}: "
            "start a new run (or --resume-from a file of it) for other clips"
        )
    cfg = resolve_device(cfg)
    if cfg.task.name:  # the task's own controller period and episode length where the config has none
        cfg = hlc.with_task_defaults(cfg)
    ranks, device = distributed.join(cfg.sim.device)  # one process: rank 0 of 1, the device as it is
    cfg = replace(cfg, sim=replace(cfg.sim, device=device))
    configure_threads(cfg.sim.device, cfg.sim.threads)
    run = run or cfg.run or f"{Path(cfg.motion or 'run').name}_{time.strftime('%Y%m%d-%H%M%S')}"
    check_run_name(run)
    cfg = replace(cfg, run=run)
    run_dir = Path(cfg.runs_dir) / run
    last = run_dir / "nn" / "last.pth"
    start_epoch, encoder, finger_pose = 0, None, None
    if resume or source is not None:
        state = source if source is not None else load_checkpoint(last)
        start_epoch = int(state["epoch"])
        meta = state.get("skillmimic", {})
        if "history_encoder" in meta:  # keep the run's own encoder
            encoder = encoder_from_state(meta["history_encoder"], resume_from or str(last))
        finger_pose = meta.get("finger_pose")
    if not resume and any((run_dir / "nn").glob("*.pth")):
        raise SkillMimicError(
            f"run {run!r} already has checkpoints in {run_dir}; pass --resume to continue it or choose another --run"
        )
    # each rank's worlds start elsewhere than its neighbours'; the config keeps rank 0's seed
    local = replace(cfg, seed=cfg.seed + ranks.rank)
    torch.manual_seed(local.seed)
    if ranks.main:  # held until this process ends: one training process per run folder
        lock = storage.hold_lock(run_dir, f"run {run!r}")  # noqa: F841
    previous = (run_dir / "config.yaml").read_text() if resume else None  # put back if this resume fails
    max_epochs = start_epoch + cfg.epochs
    env: TaskEnv | ImitationEnv
    if cfg.task.name:  # a high-level controller over a frozen skill policy
        if resume:
            check_llc(load_checkpoint(last)["skillmimic"], str(last))
        env = hlc.build_task_env(local)
        if ranks.main:
            (run_dir / "config.yaml").write_text(to_yaml(cfg))
        print(
            f"run {run}: task {cfg.task.name} with skills {list(env.task.SKILLS)} of {cfg.task.llc}, "
            f"{cfg.num_envs} envs, {cfg.sim.backend} on {cfg.sim.device}, epochs {start_epoch + 1}..{max_epochs} "
            f"-> {run_dir}",
            flush=True,
        )
        hlc.register(env)
        observer = hlc.TaskObserver(max_epochs, list(env.task.SKILLS), cfg.minutes)
        params = rl_games_params(cfg, run, max_epochs, hlc.hlc_metadata(cfg, env))
        params.update(network.discrete_params(cfg.ppo.units), algo={"name": HLC_AGENT_NAME})
        params["config"]["env_name"] = hlc.ENV_NAME
        agent = HLCAgent
    else:
        env = build_env(local, encoder, finger_pose)
        if source is not None:
            assert resume_from is not None, "source was read from it"
            _check_same_clips(source["skillmimic"], env, resume_from)
        if ranks.main:
            (run_dir / "config.yaml").write_text(to_yaml(cfg))
        print(
            f"run {run}: {env.lib.num_clips} clips ({env.lib.num_frames} frames), {cfg.num_envs} envs, "
            f"{cfg.sim.backend} on {cfg.sim.device}, epochs {start_epoch + 1}..{max_epochs} -> {run_dir}",
            flush=True,
        )
        vecenv.register(env)
        network.register()
        observer = ProgressObserver(max_epochs, cfg.minutes)
        params = rl_games_params(cfg, run, max_epochs, policy_metadata(cfg, env))
        params["config"]["fresh_optimizer"] = source is not None
        agent = SkillMimicAgent
    params["seed"] = local.seed
    params["config"]["ranks"] = ranks
    scratch = None
    if not ranks.main:  # rl-games makes a run folder and a tensorboard file per agent: not in the run's
        scratch = tempfile.mkdtemp(prefix=f"skillmimic-rank{ranks.rank}-")
        params["config"]["train_dir"] = scratch
    built = []  # the agent rl-games builds, for the ranks' final comparison

    def build(**kwargs):
        built.append(agent(**kwargs))
        return built[-1]

    runner = Runner(algo_observer=observer)
    runner.algo_factory.register_builder(params["algo"]["name"], build)
    runner.load({"params": params})
    t0 = time.monotonic()
    started = last.stat().st_mtime_ns if last.exists() else None
    try:
        checkpoint = str(last) if resume else resume_from
        try:
            runner.run({"train": True, "play": False, "checkpoint": checkpoint})
        except BaseException:
            if previous is not None and ranks.main and (last.stat().st_mtime_ns if last.exists() else None) == started:
                (run_dir / "config.yaml").write_text(previous)  # nothing trained: the run is as it was
            raise
        if ranks.distributed:
            same = distributed.check_in_sync(built[-1].model, ranks)
            print(f"{ranks.world_size} ranks end with the same weights and normalisers (digest {same})", flush=True)
    finally:
        observer.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        distributed.leave()
    timed_out = cfg.minutes > 0 and time.monotonic() - t0 >= 60.0 * cfg.minutes
    print(
        f"stopped after {'the --minutes limit' if timed_out else 'the last epoch'}: {observer.summary()}; "
        f"checkpoint {last}",
        flush=True,
    )
    print(f"done: {run_dir}", flush=True)
    return run_dir
