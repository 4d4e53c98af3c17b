"""The training observer sums per-step values on the device and reads them once per epoch: its
per-epoch numbers must be exactly what the per-step values add up to."""

from types import SimpleNamespace

import torch

from skillmimic.config import EnvConfig
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.rewards import TERMS
from skillmimic.learning.observer import ProgressObserver
from skillmimic.motion import MotionLibrary
from skillmimic.sim.factory import make_simulator
from skillmimic.sim.state import SimState


class _Writer:
    def __init__(self):
        self.scalars = {}

    def add_scalar(self, tag, value, step):
        self.scalars[tag] = value


def test_epoch_numbers_are_the_sums_of_the_steps(ballplay, capsys):
    n, steps = 4, 6
    lib = MotionLibrary.load(ballplay / "layup")
    # a termination height above the standing pelvis: every healthy world falls at every step
    env = ImitationEnv(lib, make_simulator("mujoco", n), EnvConfig(termination_height=1.5))
    env.reset()
    algo = SimpleNamespace(
        writer=_Writer(),
        frame=0,
        curr_frames=n * steps,
        vec_env=SimpleNamespace(env=env),
        game_lengths=SimpleNamespace(current_size=1, get_mean=lambda: torch.tensor(7.0)),
    )
    observer = ProgressObserver(max_epochs=1)
    observer.after_init(algo)
    g = torch.Generator().manual_seed(0)
    reward = 0.0
    terms = dict.fromkeys(TERMS, 0.0)
    falls = diverged = 0
    for k in range(steps):
        if k == 2:  # world 3 diverges in this step
            state = SimState.from_motion(env.lib.get(env.clip[:1], env.start[:1]))
            state.dof_vel = state.dof_vel.clone()
            state.dof_vel[0, 7] = float("nan")
            env.sim.set_state(torch.tensor([3]), state)
        _, _, _, info = env.step(0.1 * torch.randn(n, 156, generator=g))
        observer.process_infos({"time_outs": info.time_outs, "step": info}, None)
        algo.frame += n
        # what the per-step host reads used to add up
        reward += float(info.reward)
        for key in TERMS:
            terms[key] += float(info.terms[key])
        falls += info.falls
        diverged += info.num_diverged
    assert diverged == 1 and falls == n * steps - 1
    assert env.totals == {"falls": falls, "diverged": diverged, "timeouts": 0}
    observer.after_print_stats(algo.frame, 1, 0.0)
    s = algo.writer.scalars
    assert s["reward/step_mean"] == reward / steps
    assert all(s[f"reward_terms/{key}"] == terms[key] / steps for key in TERMS)
    assert (s["resets/falls"], s["resets/drifted"], s["resets/diverged"]) == (falls, 0, diverged)
    line = capsys.readouterr().out
    assert f"reward {reward / steps:.3f}" in line and f"falls {falls}  drifted 0  diverged {diverged}" in line
    assert observer.summary().startswith(f"1 epochs, {n * steps:,} samples")
    # the next epoch starts from zero
    assert observer.steps == 0 and observer._sums is None


def test_overflow_warning_is_printed_once_and_the_env_keeps_its_report(ballplay, capsys):
    lib = MotionLibrary.load(ballplay / "layup")
    env = ImitationEnv(lib, make_simulator("mujoco", 2))
    env.reset()
    env.overflow_message = "MuJoCo Warp buffers overflowed in 1 of 2 worlds: raise sim.nconmax (now 64)"
    algo = SimpleNamespace(
        writer=_Writer(),
        frame=0,
        curr_frames=2,
        vec_env=SimpleNamespace(env=env),
        game_lengths=SimpleNamespace(current_size=0),
    )
    observer = ProgressObserver(max_epochs=2)
    observer.after_init(algo)
    for epoch in (1, 2):
        _, _, _, info = env.step(torch.zeros(2, env.num_actions))
        observer.process_infos({"step": info}, None)
        observer.after_print_stats(algo.frame, epoch, 0.0)
    out = capsys.readouterr().out
    assert out.count("warning: MuJoCo Warp buffers overflowed") == 1
    assert env.overflow_message is not None  # the observer reads the env, it does not reset it
