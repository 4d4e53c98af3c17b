"""Actions -> PD targets, and ``env.fingers: skill_pose`` (fingers held at the skill's mean pose)."""

import math

import pytest
import torch

from skillmimic.cli import main
from skillmimic.config import EnvConfig, load_config
from skillmimic.envs.actions import ActionMap, skill_finger_pose
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import BODY_DOFS, BODY_NAMES, FINGER_DOFS, NUM_DOFS
from skillmimic.motion import MotionLibrary
from skillmimic.policy import SkillPolicy
from skillmimic.policy.checkpoint import atomic_save, load_checkpoint
from skillmimic.sim.factory import make_simulator
from skillmimic.viewer.play import Playback

FINGERS = [d for d in range(NUM_DOFS) if BODY_NAMES[1 + d // 3][2:-1] in ("Index", "Middle", "Pinky", "Ring", "Thumb")]


def test_finger_and_body_hinges_partition_the_156():
    assert list(FINGER_DOFS) == FINGERS and len(FINGER_DOFS) == 90 and len(BODY_DOFS) == 66
    assert sorted(FINGER_DOFS + BODY_DOFS) == list(range(NUM_DOFS))
    # the wrists are the policy's: they aim the hand
    assert all(3 * (BODY_NAMES.index(w) - 1) in BODY_DOFS for w in ("L_Wrist", "R_Wrist"))


@pytest.mark.slow
def test_skill_finger_pose_is_each_skills_mean_over_valid_frames(library):
    pose = skill_finger_pose(library)
    assert pose.shape == (64, 90)
    skills = library.skill_ids[library.frame_clip]
    for s in sorted(set(library.skill_ids.tolist()))[:4]:
        rows = (skills == s) & library.valid
        expected = library.frames.dof_pos[rows][:, FINGERS].mean(0)
        assert torch.allclose(pose[s], expected, atol=1e-5)
    unused = next(s for s in range(64) if s not in set(library.skill_ids.tolist()))
    assert torch.allclose(pose[unused], library.frames.dof_pos[library.valid][:, FINGERS].mean(0), atol=1e-5)


def test_action_map_routes_body_actions_and_holds_fingers(library):
    full = ActionMap("policy", library)
    a = torch.rand(3, NUM_DOFS) * 2.4 - 1.2
    assert full.num_actions == NUM_DOFS
    assert torch.equal(full(a, torch.zeros(3, dtype=torch.long)), math.pi * a.clamp(-1, 1))
    held = ActionMap("skill_pose", library)
    b = torch.rand(3, 66) * 2 - 1
    skills = torch.tensor([31, 11, 4])
    t = held(b, skills)
    assert held.num_actions == 66 and t.shape == (3, NUM_DOFS)
    assert torch.allclose(t[:, list(BODY_DOFS)], math.pi * b)
    assert torch.equal(t[:, FINGERS], held.finger_pose[skills])
    assert not torch.equal(held.finger_pose[31], held.finger_pose[11])  # per skill, not one pose
    with pytest.raises(SkillMimicError, match="env.fingers"):
        ActionMap("hands", library)


def test_held_fingers_reach_the_skill_pose_in_simulation(ballplay):
    """Real physics: with the body following its reference, the PD-held fingers settle near the
    skill's finger pose (run left: BallPlay-M's layup clips have no finger capture, all zeros)."""
    lib = MotionLibrary.load(ballplay / "lrun")
    env = ImitationEnv(lib, make_simulator("mujoco", 8), EnvConfig(fingers="skill_pose"))
    assert env.num_actions == 66
    env.sampler.gen.manual_seed(0)
    env.reset()
    for _ in range(15):
        nxt = env.lib.get(env.clip, env.start + env.progress + 1).dof_pos
        env.step(nxt[:, list(BODY_DOFS)] / math.pi)
    fingers = env.read().state.dof_pos[:, FINGERS]
    target = env.actions.finger_pose[env.skill]
    err = (fingers - target).abs().mean()
    print(f"\nheld fingers: mean error {err:.3f} rad, pose magnitude {target.abs().mean():.3f} rad")
    assert err < 0.05 and target.abs().mean() > 0.08


@pytest.mark.slow
def test_train_resume_eval_and_play_carry_the_finger_pose(tmp_path, ballplay, capsys):
    motion = str(ballplay / "layup")
    args = ["--motion", motion, "--num-envs", "4", "--epochs", "1", "--run", "f", f"runs_dir={tmp_path}"]
    assert main(["train", *args, "env.fingers=skill_pose", "ppo.mu_init=mean_pose", "ppo.units=[64,64]"]) == 0
    ckpt = tmp_path / "f" / "nn" / "last.pth"
    state = load_checkpoint(ckpt)
    meta = state["skillmimic"]
    lib = MotionLibrary.load(motion)
    assert meta["num_actions"] == 66 and torch.allclose(meta["finger_pose"], skill_finger_pose(lib))
    assert state["model"]["a2c_network.mu.bias"].shape == (66,)
    assert main(["eval", "--checkpoint", str(ckpt), "--motion", motion, "--episodes", "2", "--steps", "10"]) == 0
    assert "success" in capsys.readouterr().out
    # the table travels with the policy: playback holds the checkpoint's pose, not one from the clips
    marked = {**state, "skillmimic": {**meta, "finger_pose": torch.full((64, 90), 0.3)}}
    atomic_save(marked, tmp_path / "marked.pth")
    assert torch.equal(SkillPolicy(tmp_path / "marked.pth").finger_pose, torch.full((64, 90), 0.3))
    playback = Playback(str(tmp_path / "marked.pth"), motion, None, 0.1, ghost=False)
    playback.step()
    assert playback.env.num_actions == 66 and bool((playback.env.actions.finger_pose == 0.3).all())
    # resume keeps the run's own table
    assert main(["train", "--run", "f", "--resume", "--epochs", "1", f"runs_dir={tmp_path}"]) == 0
    assert torch.equal(load_checkpoint(ckpt)["skillmimic"]["finger_pose"], meta["finger_pose"])
    # a checkpoint that lost its table is refused in one line
    del state["skillmimic"]["finger_pose"]
    atomic_save(state, tmp_path / "bad.pth")
    with pytest.raises(SkillMimicError, match="finger pose"):
        SkillPolicy(tmp_path / "bad.pth")


def test_unknown_finger_mode_is_a_config_error():
    with pytest.raises(SkillMimicError, match="env.fingers"):
        load_config([], ["env.fingers=hands"])


@pytest.mark.slow
def test_a_controller_drives_a_skill_policy_with_held_fingers(dribble_llc, tmp_path, capsys):
    """The task env takes the skill policy's finger mode and table (66 actions in, 156 targets out)."""
    motion, _ = dribble_llc
    args = ["train", "--motion", str(motion), "--num-envs", "4", "--epochs", "1", "--run", "llc"]
    assert main([*args, f"runs_dir={tmp_path}", "ppo.units=[64,64]", "env.fingers=skill_pose"]) == 0
    llc = tmp_path / "llc" / "nn" / "last.pth"
    capsys.readouterr()
    args = ["eval", "--task", "heading", "--llc", str(llc), "--scripted", "--episodes", "2", "--steps", "10"]
    assert main([*args, "--num-envs", "2"]) == 0
    assert "task heading (scripted controller" in capsys.readouterr().out
