"""The envs a trained policy needs, built in one place: the imitation env a skill policy acts in
(eval, play, rollouts, distillation's teacher) and the task env a high-level controller acts in
(controller training, task eval, play). The policy is anything with a ``SkillActor``'s attributes
(``skillmimic.policy.SkillPolicy`` is one); its config's ``sim`` section says where to simulate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from skillmimic.config import EnvConfig, RewardConfig
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.sampling import FixedStartSampler
from skillmimic.envs.task_env import ClipStartSampler, SkillActor, TaskEnv, TaskEnvConfig
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import SceneConfig
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.factory import make_simulator
from skillmimic.skills import skill_name

UNLIMITED = 10**9  # control steps: an episode that its caller (a viewer window, a video's length) ends


def _skills(ids) -> str:
    return ", ".join(f"{s:03d} {skill_name(s)}" for s in ids)


def policy_motion(policy: SkillActor, motion: str | Path | None) -> MotionLibrary:
    """``motion`` (default: the clips the policy trained on) on the policy's device, retargeted as it
    trained; clips of skills the policy never trained on are refused (their one-hot would be unseen)."""
    where = policy.path
    cfg = policy.config
    motion = motion or cfg.motion
    if not motion:
        raise SkillMimicError(f"{where}: the checkpoint names no motion to start from; pass --motion")
    lib = MotionLibrary.load(motion, cfg.sim.device, cfg.skill, cfg.retarget_ball)
    unseen = sorted(set(lib.skill_ids.tolist()) - set(policy.skills))
    if unseen:
        raise SkillMimicError(
            f"{where}: trained on skills [{_skills(policy.skills)}], but the motion has {_skills(unseen)}"
        )
    return lib


def policy_env(
    policy: SkillActor,
    lib: MotionLibrary,
    num_envs: int,
    env_cfg: EnvConfig,
    *,
    sampler=None,
    scene: SceneConfig | None = None,
    reward: RewardConfig | None = None,
) -> ImitationEnv:
    """``num_envs`` worlds of the policy's scene (or ``scene``) acting under ``env_cfg``, observed as
    the policy was trained (history encoder, finger table), scored by its reward (or ``reward``)."""
    cfg = policy.config
    sim = make_simulator(cfg.sim.backend, num_envs, lib.device, scene or cfg.scene, cfg.sim_config())
    return ImitationEnv(
        lib,
        sim,
        env_cfg,
        reward or cfg.reward,
        sampler=sampler,
        history_encoder=policy.history_encoder,
        finger_pose=policy.finger_pose,
    )


def play_env(policy: SkillActor, lib: MotionLibrary, skill: int | None, frame: int = 0) -> ImitationEnv:
    """One world starting at ``frame`` of the first clip of ``skill`` (default: the first clip's skill),
    the policy conditioned on it, ended by a fall or by its caller: how ``play`` and ``export`` run a
    policy. A start frame other than 0 shows a policy past a clip's opening (a held ball, say)."""
    skill = skill if skill is not None else int(lib.skill_ids[0])
    if skill not in policy.skills:
        raise SkillMimicError(f"--skill {skill:03d} ({skill_name(skill)}): the policy knows {_skills(policy.skills)}")
    matching = (lib.skill_ids == skill).nonzero().flatten()
    clip = int(matching[0]) if len(matching) else 0
    length = int(lib.lengths[clip])
    if not 0 <= frame < length:
        raise SkillMimicError(f"--frame {frame}: clip {lib.names[clip]} has {length} frames (0 to {length - 1})")
    dev = lib.device
    start = FixedStartSampler(torch.tensor([clip], device=dev), torch.tensor([frame], device=dev))
    env = policy_env(policy, lib, 1, policy.config.env.rollout(UNLIMITED), sampler=start)
    env.set_skill(skill)
    return env


def task_env(task, llc: SkillActor, lib: MotionLibrary, num_envs: int, cfg: TaskEnvConfig, seed: int = 0) -> TaskEnv:
    """A task (a ``skillmimic/tasks/`` module) over the skill policy ``llc``: refused when the policy
    lacks a skill of the task's control mapping. Episodes end by the task's fall height or length."""
    missing = sorted(set(task.SKILLS) - set(llc.skills))
    if missing:
        raise SkillMimicError(
            f"{llc.path}: task {task.NAME} needs skills {_skills(missing)}, which the skill policy was not trained on"
        )
    run = llc.config.env.rollout(cfg.episode_length)
    env_cfg = replace(run, termination_height=cfg.fall_height, early_termination=True)
    sampler = ClipStartSampler(lib, torch.Generator().manual_seed(seed))
    return TaskEnv(task, llc, policy_env(llc, lib, num_envs, env_cfg, sampler=sampler), cfg, seed)
