"""The env's history ring buffer and the encoder's embedding in the observation; one per-frame state
for offline training and run time."""

import pytest
import torch

from skillmimic.envs.history import FRAME_SIZE, WINDOW, frame_state, history_windows
from skillmimic.envs.history_encoder import HistoryEncoder
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.observations import obs_layout, obs_size
from skillmimic.envs.sampling import FixedStartSampler
from skillmimic.motion import MotionLibrary
from skillmimic.sim.factory import make_simulator

LAYUP = "layup/031_015pickle_layup_001_001.pt"


def _env(lib, frames, encoder=None):
    n = len(frames)
    start = FixedStartSampler(torch.zeros(n, dtype=torch.long), torch.tensor(frames))
    encoder = encoder or HistoryEncoder()
    return ImitationEnv(lib, make_simulator("mujoco", n), sampler=start, history_encoder=encoder)


def test_reference_and_simulated_frames_agree(ballplay):
    """The frame state of a reference frame equals that of the simulator set to it (heading from
    the true quaternion on both sides)."""
    lib = MotionLibrary.load(ballplay / LAYUP)
    frames = torch.tensor([5, 50, 90])
    env = _env(lib, frames.tolist())
    env.reset()
    snap = env.read()
    ref = lib.get(torch.zeros(3, dtype=torch.long), frames)
    skills = lib.skill_ids[torch.zeros(3, dtype=torch.long)]
    offline = frame_state(ref.body_pos, ref.root_rot, ref.dof_pos, ref.ball_pos, skills)
    runtime = frame_state(snap.bodies.pos, snap.state.root_rot, snap.state.dof_pos, snap.state.ball_pos, skills)
    assert offline.shape == (3, FRAME_SIZE)
    torch.testing.assert_close(runtime, offline, atol=1e-4, rtol=0)


def test_history_after_reset_and_after_steps(ballplay):
    lib = MotionLibrary.load(ballplay / LAYUP)
    frames = [70, 20]  # the second starts less than 60 frames in: zero padding before the clip
    env = _env(lib, frames)
    obs = env.reset()
    assert env.num_obs == obs_size(True) == obs.shape[1] == 885 and obs_layout(True)["history"] == (882, 885)
    hist = env.ordered_history()
    # the 60 frames before the start are the reference's, except the current one pushed last
    expected = history_windows(lib, lib.flat_index(torch.zeros(2, dtype=torch.long), torch.tensor(frames) + 1))
    torch.testing.assert_close(hist, expected, atol=1e-4, rtol=0)
    assert (hist[1, : WINDOW - 21] == 0).all() and (hist[1, WINDOW - 21 :] != 0).any(dim=1).all()
    simulated = []
    for _ in range(5):
        _, _, done, info = env.step(0.02 * torch.randn(2, env.num_actions, generator=torch.Generator().manual_seed(0)))
        assert not done.any()
        snap = env.read()
        simulated.append(
            frame_state(snap.bodies.pos, snap.state.root_rot, snap.state.dof_pos, snap.state.ball_pos, env.skill)
        )
    hist = env.ordered_history()
    torch.testing.assert_close(hist[:, -5:], torch.stack(simulated, dim=1))
    # the embedding in the observation is the encoder's output on the frames before the current one
    obs = env.observe()
    with torch.no_grad():
        torch.testing.assert_close(obs[:, 882:], env.encoder(hist))


@pytest.mark.slow
def test_streamed_embedding_equals_the_encoder_at_every_step(ballplay):
    """The env updates the encoder's layers per frame; the result must be the full forward pass,
    through resets (some envs refilled) and wrap-arounds of the ring."""
    lib = MotionLibrary.load(ballplay / LAYUP)
    torch.manual_seed(0)
    encoder = HistoryEncoder()
    with torch.no_grad():  # a non-trivial normalisation, as a trained encoder has
        encoder.mean.uniform_(-0.5, 0.5)
        encoder.std.uniform_(0.5, 2.0)
    env = _env(lib, [10, 30, 70, 100], encoder)
    env.reset()
    resets = 0
    for step in range(130):
        actions = 0.3 * torch.randn(4, env.num_actions, generator=torch.Generator().manual_seed(step))
        _, _, done, _ = env.step(actions)
        resets += int(done.sum())
        with torch.no_grad():
            full = encoder(env.ordered_history())
        torch.testing.assert_close(env.observe()[:, 882:], full, atol=2e-5, rtol=1e-4)
    assert resets > 0
