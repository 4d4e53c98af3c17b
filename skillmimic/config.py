"""Typed configuration: dataclass schemas, YAML presets in ``skillmimic/cfg/`` and ``key=value`` overrides.

One ``TrainConfig`` flows from the command line to every part. Its defaults are a small run that
fits a CPU; ``train/skillmimic.yaml`` is the upstream-scale preset for a GPU. Unknown keys
and badly typed values are one-line errors naming the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import cast

import torch
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import SceneConfig
from skillmimic.sim.base import SimConfig

# Presets ship inside the package (a wheel has no repository around it); ``cfg/`` at the top of the
# repository is a link to this folder.
CFG_DIR = Path(__file__).resolve().parent / "cfg"


def presets() -> list[str]:
    """Names of the shipped presets, as ``--config`` takes them (``train/fast.yaml``)."""
    return sorted(str(p.relative_to(CFG_DIR)) for p in CFG_DIR.rglob("*.yaml"))


@dataclass
class RewardConfig:
    """Weights of the HOI imitation reward (upstream ``rewardWeights``); each term is exp(-w * error)."""

    p: float = 20.0  # body positions: root + 17 key bodies
    r: float = 20.0  # body rotations: geodesic angle of the root and of each joint's local rotation
    op: float = 1.0  # ball position
    ig: float = 20.0  # interaction graph: vectors from the ball to the 18 body nodes
    cg1: float = 5.0  # contact graph, body node: forbidden bodies touching anything
    cg2: float = 5.0  # contact graph, ball node: hand-ball contact against the reference label
    contact_threshold: float = 0.1  # N: a contact with more normal force counts as a touch
    contact_depth: float = 0.001  # m: so does one penetrating deeper than this
    # Reference contact labels: "geometry" replays each reference frame in the simulator and reads
    # the same contacts as during training; "data" uses the clip's hand-ball flag (upstream).
    contact_label: str = "geometry"


FINGER_MODES = ("policy", "skill_pose")  # EnvConfig.fingers


@dataclass
class EnvConfig:
    episode_length: int = 60  # control steps per training episode at most
    termination_height: float = 0.3  # m; pelvis below this ends the episode (a fall)
    early_termination: bool = True
    fingertip_force_clip: float = 100.0  # N; the observation's fingertip contact forces saturate here
    # Training episodes end with their clip; evaluation and playback run on past it.
    reference_ends_episode: bool = True
    # m; > 0: an episode also ends (as a failure) when the mean distance of the 18 reward nodes
    # (root + key bodies) from the reference exceeds this. Motion-tracking systems (ProtoMotions,
    # MimicKit, mjlab) all end episodes that drift off the reference: under a product reward, steps
    # after the reference has run away earn ~0 and only dilute the batch. 0 = off (upstream).
    termination_distance: float = 0.0
    # m; > 0: an episode also ends (as a failure) when the ball, seen from the root, is farther than
    # this from where the reference has it: once the ball is lost the contact and interaction-graph
    # terms stay near 0, and so does the product reward. 0 = off (upstream).
    ball_termination_distance: float = 0.0
    # policy: the policy drives all 156 hinges (upstream). skill_pose: the 90 finger hinges hold
    # the skill's mean finger pose over the training clips and the policy drives the other 66; the
    # fingers move little within a clip (mean within-clip std 0.05 rad vs 0.14 for the body over
    # BallPlay-M), and their exploration noise is noise in every gradient.
    fingers: str = "policy"
    # A tracking teacher (train/teacher.yaml). > 0: actions are offsets around the next reference
    # frame's joint angles, target = reference + this * pi * action, so a zero action follows the
    # data and learning starts from its feedback corrections. 0 = absolute targets (upstream).
    residual_actions: float = 0.0
    # the observation ends with the next reference frame as seen from the character (162 values)
    reference_obs: bool = False
    # past its clip's end the reference loops back to the clip's most similar earlier frame instead
    # of holding the last one (envs/reference.py): long episodes keep something to follow
    loop_reference: bool = False

    def rollout(self, steps: int) -> EnvConfig:
        """Episodes of ``steps`` control steps that end by a fall only (eval, play): past the clip's
        end and whatever the drift rules, which only speed up training."""
        return replace(
            self,
            episode_length=steps,
            reference_ends_episode=False,
            termination_distance=0.0,
            ball_termination_distance=0.0,
        )


@dataclass
class TransitionFieldConfig:
    """SkillMimic-V2's state transition field (``envs/transition_field.py``); all off by default
    (SkillMimic V1). Per reset an env gets a noisy start, else a graph switch, with these
    probabilities; each part can be switched off on its own for ablations."""

    noisy_start_prob: float = 0.0  # V2 README: 0.1
    switch_prob: float = 0.0  # V2 README: 0.1; builds (or reuses) the trajectory graph
    noise: float = 0.1  # epsilon of the noise model
    noise_getup: float = 1.0  # root and joint noise of getup clips (skill 0)
    buffer: bool = True  # reward = the clip's mean reward for the first steps after such a start
    retime: bool = True  # noisy starts track the frame nearest the perturbed state (false: the V2 paper's eps-NSI)


@dataclass
class AdaptiveSamplingConfig:
    """SkillMimic-V2's adaptive trajectory sampling (``envs/adaptive_sampling.py``); off by default."""

    enabled: bool = False
    alpha: float = 1.0  # 0: the class-balanced uniform sampler; 1: fully reward-driven (V2 README)
    period: int = 0  # env steps between weight updates; 0: 5 x the frames of all clips (upstream)
    image_every: int = 50  # epochs between tensorboard images of the reward record (0: never)


@dataclass
class HistoryConfig:
    """SkillMimic-V2's history encoder: a frozen embedding of the last 60 frames appended to the
    observation (``envs/history.py``, ``learning/history_encoder.py``); off by default."""

    enabled: bool = False
    encoder: str | None = None  # a `skillmimic hist train` file; None: trained here, cached per clip set
    epochs: int | None = None  # offline epochs when trained here (None: the trainer's default)


@dataclass
class TaskSection:
    """A high-level controller's task (``skillmimic/tasks/``); None: train a skill policy."""

    name: str | None = None  # a module of skillmimic/tasks/ (heading, circling, throwing, scoring, ...)
    llc: str | None = None  # the skill policy checkpoint the controller drives
    llc_steps: int | None = None  # control steps per controller action (None: the task's CONFIG, 3 = 20 Hz)
    episode_length: int | None = None  # control steps (None: the task's CONFIG, 800 = 13.3 s)


@dataclass
class PPOConfig:
    """rl-games PPO settings; defaults mirror upstream SkillMimic (``skillmimic.yaml``)."""

    learning_rate: float = 2.0e-5
    # constant (upstream) | adaptive: rl-games scales the rate by 1.5 down/up when the policy's KL
    # per update is above 2x / below 0.5x ``kl_threshold`` (the schedule of mjlab and rsl-rl).
    lr_schedule: str = "constant"
    kl_threshold: float = 0.008
    horizon_length: int = 32
    num_minibatches: int = 4  # minibatch = envs * horizon / this (upstream: 65536 / 16384)
    mini_epochs: int = 6
    gamma: float = 0.99
    tau: float = 0.95
    e_clip: float = 0.2
    critic_coef: float = 5.0
    entropy_coef: float = 0.0
    bounds_loss_coef: float = 10.0
    grad_norm: float = 1.0
    truncate_grads: bool = False
    normalize_input: bool = True
    normalize_value: bool = True
    normalize_advantage: bool = True
    units: list[int] = field(default_factory=lambda: [1024, 512, 512])
    log_std: float = -2.9  # action noise std ~0.055, i.e. ~0.17 rad of PD-target noise
    learn_log_std: bool = False
    # zero (upstream): an untrained actor commands the zero pose. mean_pose: the action layer's bias
    # starts at the training clips' mean joint angles, so an untrained policy stands near the data.
    mu_init: str = "zero"
    save_frequency: int = 50  # epochs between checkpoints (the last one is always saved)
    torch_compile: bool = False


@dataclass
class SimSection:
    backend: str = "auto"  # mjwarp | mujoco | auto (mjwarp on CUDA, mujoco on the CPU)
    device: str = "auto"  # cpu | cuda | auto (cuda when available)
    substeps: int = 2
    nconmax: int = 64
    njmax: int = 256
    threads: int = 0
    graph: bool = True


@dataclass
class TrainConfig:
    motion: str | None = None  # path or dataset-relative name, e.g. ballplay-m/layup
    skill: int | None = None  # label every clip with this skill id instead of the file names'
    retarget_ball: bool = True  # move the ball onto our hands where the clip flags contact
    num_envs: int = 16
    epochs: int = 20
    minutes: float = 0.0  # > 0: stop cleanly after this much wall clock (then save), even before ``epochs``
    run: str | None = None  # runs/<run>/; default: motion name and time
    runs_dir: str = "runs"
    seed: int = 0
    env: EnvConfig = field(default_factory=EnvConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    sim: SimSection = field(default_factory=SimSection)
    scene: SceneConfig = field(default_factory=SceneConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    stf: TransitionFieldConfig = field(default_factory=TransitionFieldConfig)
    ats: AdaptiveSamplingConfig = field(default_factory=AdaptiveSamplingConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    task: TaskSection = field(default_factory=TaskSection)

    def sim_config(self) -> SimConfig:
        s = self.sim
        return SimConfig(substeps=s.substeps, nconmax=s.nconmax, njmax=s.njmax, threads=s.threads, graph=s.graph)


def _error(e: OmegaConfBaseException, where: str, key: str | None = None) -> SkillMimicError:
    key = getattr(e, "full_key", None) or key  # some errors (a tuple of the wrong length) carry no key
    msg = str(e).strip().splitlines()[0]
    return SkillMimicError(f"{where}: bad config key {key!r}: {msg}" if key else f"{where}: {msg}")


def load_config(
    files: Sequence[str | Path] = (), overrides: Sequence[str] = (), base: dict | None = None
) -> TrainConfig:
    """Schema defaults <- ``base`` (e.g. a saved run's config) <- YAML files <- ``key=value`` overrides."""
    cfg = OmegaConf.structured(TrainConfig)
    if base is not None:
        try:
            cfg = OmegaConf.merge(cfg, base)
        except OmegaConfBaseException as e:
            raise _error(e, "saved run config") from None
    for f in files:
        path = Path(f)
        if not path.is_file() and (CFG_DIR / path).is_file():
            path = CFG_DIR / path
        if not path.is_file():
            raise SkillMimicError(
                f"config file not found: {f} (neither a file nor a preset; presets: {', '.join(presets())})"
            )
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
        except OmegaConfBaseException as e:
            raise _error(e, str(path)) from None
        except Exception as e:  # YAML syntax errors
            raise SkillMimicError(f"{path}: cannot parse YAML: {str(e).splitlines()[0]}") from None
    for o in overrides:
        if "=" not in o:
            raise SkillMimicError(f"override {o!r}: expected key=value, e.g. ppo.learning_rate=1e-4")
        try:  # one at a time, so an error names its key
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([o]))
        except OmegaConfBaseException as e:
            raise _error(e, "command line", o.split("=", 1)[0]) from None
    try:
        out = cast(TrainConfig, OmegaConf.to_object(cfg))
    except OmegaConfBaseException as e:  # e.g. an interpolation (${oc.env:...}) that does not resolve
        raise _error(e, "config") from None
    _nonfinite(out)
    _validate(out)
    return out


def _nonfinite(c, where: str = "") -> None:
    """Every float of the config is finite: NaN passes no range check (every comparison is false)
    and would train to "done" on garbage."""
    for f in fields(c):
        value, key = getattr(c, f.name), f"{where}{f.name}"
        if is_dataclass(value):
            _nonfinite(value, key + ".")
        elif isinstance(value, float) and not math.isfinite(value):
            raise SkillMimicError(f"bad config value for {key!r}: expected a finite number, got {value}")
        elif isinstance(value, list) and any(isinstance(v, float) and not math.isfinite(v) for v in value):
            raise SkillMimicError(f"bad config value for {key!r}: expected finite numbers, got {value}")


def _validate(c: TrainConfig) -> None:
    checks = [
        (c.num_envs >= 1, "num_envs", "at least 1"),
        (c.seed >= 0, "seed", "0 or a positive integer"),
        (c.ppo.learning_rate >= 0, "ppo.learning_rate", "0 (a frozen policy) or a positive number"),
        (c.ppo.mini_epochs >= 1, "ppo.mini_epochs", "at least 1"),
        (0 < c.ppo.gamma <= 1 and 0 < c.ppo.tau <= 1, "ppo.gamma/tau", "numbers in (0, 1]"),
        (c.ppo.e_clip > 0 and c.ppo.grad_norm > 0, "ppo.e_clip/grad_norm", "positive numbers"),
        (c.ppo.save_frequency >= 1, "ppo.save_frequency", "at least 1 (epochs between checkpoints)"),
        (c.sim.nconmax >= 1 and c.sim.njmax >= 1, "sim.nconmax/njmax", "at least 1"),
        (c.sim.threads >= 0, "sim.threads", "0 (one per core) or a positive count"),
        (c.epochs >= 1, "epochs", "at least 1"),
        (c.minutes >= 0, "minutes", "0 (no time limit) or a positive number of minutes"),
        (c.env.termination_distance >= 0, "env.termination_distance", "0 (off) or a distance in metres"),
        (c.env.ball_termination_distance >= 0, "env.ball_termination_distance", "0 (off) or a distance in metres"),
        (c.scene.ball_touch_distance >= 0, "scene.ball_touch_distance", "0 (off) or a distance in metres"),
        (c.ppo.lr_schedule in ("constant", "adaptive"), "ppo.lr_schedule", "constant or adaptive"),
        (c.ppo.kl_threshold > 0, "ppo.kl_threshold", "positive"),
        (c.ppo.mu_init in ("zero", "mean_pose"), "ppo.mu_init", "zero or mean_pose"),
        (0 <= c.env.residual_actions <= 1, "env.residual_actions", "0 (absolute targets) or a scale in (0, 1]"),
        (
            c.env.residual_actions == 0 or c.ppo.mu_init == "zero",
            "ppo.mu_init",
            "zero with env.residual_actions (a zero offset already follows the reference)",
        ),
        (c.env.fingers in FINGER_MODES, "env.fingers", " or ".join(FINGER_MODES)),
        (c.env.episode_length >= 1, "env.episode_length", "at least 1"),
        (c.sim.backend in ("auto", "mjwarp", "mujoco"), "sim.backend", "one of auto, mjwarp, mujoco"),
        (is_device_name(c.sim.device), "sim.device", "one of auto, cpu, cuda, cuda:N"),
        (c.sim.substeps >= 1, "sim.substeps", "at least 1"),
        (c.reward.contact_label in ("geometry", "data"), "reward.contact_label", "geometry or data"),
        (
            c.scene.ball_body_solref is None
            or all(v > 0 for v in c.scene.ball_body_solref)
            or all(v < 0 for v in c.scene.ball_body_solref),
            "scene.ball_body_solref",
            "null or a MuJoCo solref: [timeconst, dampratio] or [-stiffness, -damping]",
        ),
        (c.ppo.horizon_length >= 1 and c.ppo.num_minibatches >= 1, "ppo.horizon_length/num_minibatches", "positive"),
        (
            (c.num_envs * c.ppo.horizon_length) % max(c.ppo.num_minibatches, 1) == 0,
            "ppo.num_minibatches",
            f"a divisor of num_envs * horizon_length = {c.num_envs * c.ppo.horizon_length}",
        ),
        (len(c.ppo.units) > 0 and all(u > 0 for u in c.ppo.units), "ppo.units", "one or more positive layer sizes"),
        (
            0 <= c.stf.noisy_start_prob and 0 <= c.stf.switch_prob and c.stf.noisy_start_prob + c.stf.switch_prob <= 1,
            "stf.noisy_start_prob/switch_prob",
            "probabilities in [0, 1] with a sum of at most 1",
        ),
        (c.stf.noise >= 0 and c.stf.noise_getup >= 0, "stf.noise/noise_getup", "non-negative"),
        (0 <= c.ats.alpha <= 1, "ats.alpha", "a number in [0, 1]"),
        (
            all(v is None or v >= 1 for v in (c.task.llc_steps, c.task.episode_length)),
            "task.llc_steps/episode_length",
            "at least 1 (or null: the task's own)",
        ),
        (c.ats.period >= 0 and c.ats.image_every >= 0, "ats.period/image_every", "0 or a positive count"),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise SkillMimicError(f"bad config value for {key!r}: expected {expected}")


def to_yaml(c: TrainConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(c))


def to_dict(c: TrainConfig) -> dict:
    return cast(dict, OmegaConf.to_container(OmegaConf.structured(c)))


def is_device_name(text: str) -> bool:
    """auto, cpu, cuda or cuda:N: what ``--device`` and ``sim.device`` take (whether this machine has
    it is ``missing_cuda``, asked where the device is used)."""
    return text in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", text) is not None


def missing_cuda(device: str) -> bool:
    """True for a CUDA device (``cuda``, ``cuda:N``) that this machine does not have."""
    if not device.startswith("cuda"):
        return False
    index = int(device.split(":")[1]) if ":" in device else 0
    return not torch.cuda.is_available() or index >= torch.cuda.device_count()


def resolve_device(cfg: TrainConfig) -> TrainConfig:
    """Replace ``auto`` device/backend by what this machine has (CUDA + MuJoCo Warp, else CPU + MuJoCo C)."""
    device = cfg.sim.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if missing_cuda(device):
        raise SkillMimicError(f"sim.device {device!r}: no such CUDA device on this machine; use --device cpu")
    backend = cfg.sim.backend
    if backend == "auto":
        backend = "mjwarp" if device.startswith("cuda") else "mujoco"
    return replace(cfg, sim=replace(cfg.sim, device=device, backend=backend))
