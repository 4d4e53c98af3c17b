"""The per-frame state the history encoder reads (SkillMimic-V2), one function for both sides.

316 values per frame, all from the true root quaternion's heading (upstream built the offline
and reset-time frames from an exp-map read as a quaternion: a different heading than at run
time, 45 degrees off on average over BallPlay-M):

| slice   | size | part                                                          |
|---------|------|---------------------------------------------------------------|
| 0:1     | 1    | root height (world z)                                         |
| 1:157   | 156  | heading-local positions of bodies 1..52 relative to the root  |
| 157:313 | 156  | joint angles (the 156 hinges)                                 |
| 313:316 | 3    | ball: heading-local horizontal offset from the root, height   |

The ball part is zero for skills without a ball (getup 0, run without ball 10), as upstream.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import torch

from skillmimic import rotations as rot
from skillmimic.envs.observations import heading_inverse
from skillmimic.humanoid import NUM_BODIES, NUM_DOFS

if TYPE_CHECKING:
    from skillmimic.envs.history_encoder import HistoryEncoder

FRAME_SIZE = 1 + 3 * (NUM_BODIES - 1) + NUM_DOFS + 3  # 316
WINDOW = 60  # frames of history (upstream hist_length), the current one not included
NO_BALL_SKILLS = (0, 10)


def frame_state(
    body_pos: torch.Tensor, root_rot: torch.Tensor, dof_pos: torch.Tensor, ball_pos: torch.Tensor, skills: torch.Tensor
) -> torch.Tensor:
    """[N, 316] from body positions [N, 53, 3], root rotation [N, 4], hinges [N, 156], ball
    position [N, 3] and skill ids [N] (simulated or reference frames alike)."""
    n = body_pos.shape[0]
    inv = heading_inverse(root_rot)
    root = body_pos[:, 0]
    local = rot.quat_rotate(inv.unsqueeze(1), body_pos[:, 1:] - root.unsqueeze(1))
    offset = ball_pos - root
    offset = torch.cat((offset[:, :2], torch.zeros_like(offset[:, 2:])), dim=1)
    ball = torch.cat((rot.quat_rotate(inv, offset)[:, :2], ball_pos[:, 2:3]), dim=1)
    has_ball = ~torch.isin(skills, torch.tensor(NO_BALL_SKILLS, device=skills.device))
    ball = ball * has_ball.unsqueeze(1).to(ball.dtype)
    return torch.cat((root[:, 2:3], local.reshape(n, -1), dof_pos, ball), dim=1)


_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def frame_table(lib) -> torch.Tensor:
    """[F + 1, 316]: row 0 zeros (padding), row r + 1 the state of flat row r (zeros if missing).
    Computed once per library: resets gather from it every time."""
    tab = _TABLES.get(lib)
    if tab is None:
        f = lib.frames
        states = frame_state(f.body_pos, f.root_rot, f.dof_pos, f.ball_pos, lib.skill_ids[lib.frame_clip])
        states = states * lib.valid.unsqueeze(1).to(states.dtype)
        tab = torch.cat((states.new_zeros(1, states.shape[1]), states))
        _TABLES[lib] = tab
    return tab


def window_index(rows: torch.Tensor, clip_start: torch.Tensor) -> torch.Tensor:
    """[B, 60] table rows of the 60 frames before each row; 0 (the zero row) before its clip start."""
    j = rows.unsqueeze(1) + torch.arange(-WINDOW, 0, device=rows.device)
    return torch.where(j >= clip_start.unsqueeze(1), j + 1, 0)


def history_windows(lib, rows: torch.Tensor) -> torch.Tensor:
    """[len(rows), 60, 316]: the frames before each flat row of ``lib``, oldest first, zero rows
    before the row's clip start (never another clip's frames) and on missing frames. One gather."""
    rows = torch.as_tensor(rows, device=lib.device).long()
    return frame_table(lib)[window_index(rows, lib.starts[lib.frame_clip[rows]])]


class HistoryStream:
    """The history encoder's embedding of the last ``window`` frames of N envs, updated as frames
    arrive instead of re-running the whole encoder every step.

    The encoder (``learning/history_encoder.py``) is a stack of kernel-3, padding-1 convolutions
    with ReLUs, then a linear layer over the flattened [channels x window] output. When the window
    slides by one frame, a layer's output changes only near the window's two ends (the new frame
    and the padding that moved); everything else is the same numbers at shifted positions. Each
    layer's outputs are kept in ring buffers aligned with the frames, and a push recomputes the
    positions {0..l-1} and {59-l..59} of layer l (7 of 60 at most): at 64 envs this turns ~560 M
    multiply-adds per step into ~35 M. ``embedding()`` equals ``encoder(ordered())`` (tested).
    """

    def __init__(self, encoder: HistoryEncoder, n: int, device: torch.device):
        self.enc = encoder
        self.window = encoder.window
        convs = [m for m in encoder.conv if isinstance(m, torch.nn.Conv1d)]
        biases = [c.bias for c in convs if c.bias is not None]
        assert len(biases) == len(convs), "every convolution has a bias"
        self.weights = [(c.weight, b) for c, b in zip(convs, biases, strict=True)]  # [out, in, 3], [out]
        # the same weights as plain matrices for the per-position updates: taps [3 x in] -> out
        self.matrices = [(w.permute(2, 1, 0).reshape(-1, w.shape[0]), b) for w, b in self.weights]
        out = encoder.out
        assert out.bias is not None
        self.out_bias = out.bias
        self.out_matrix = (
            out.weight.view(out.out_features, -1, self.window).permute(2, 1, 0).reshape(-1, out.out_features)
        )
        sizes = [encoder.frame_size] + [c.out_channels for c in convs]
        self.raw = torch.zeros(n, self.window, encoder.frame_size, device=device)
        self.layers = [torch.zeros(n, self.window, c, device=device) for c in sizes]  # 0: normalised frames
        self.pos = 0  # slot of the oldest frame (the next to be overwritten)
        # per layer l: the window positions a push recomputes, their three input taps, and which
        # taps fall inside the window (the rest is the zero padding); fixed, so built once
        last = self.window - 1
        self.updates = []
        for layer in range(1, len(sizes)):
            js = torch.tensor(sorted({*range(layer), *range(last - layer, last + 1)}), device=device)
            taps = js.unsqueeze(1) + torch.arange(-1, 2, device=device)
            inside = ((taps >= 0) & (taps <= last)).unsqueeze(-1).float()
            self.updates.append((js, taps.clamp(0, last), inside))
        self._orders = (
            torch.arange(self.window, device=device) + torch.arange(self.window, device=device).unsqueeze(1)
        ) % self.window

    def order(self) -> torch.Tensor:
        """Slots of the window positions, oldest first."""
        return self._orders[self.pos]

    def ordered(self) -> torch.Tensor:
        """[N, window, frame] raw frames, oldest first."""
        return self.raw[:, self.order()]

    @torch.no_grad()
    def fill(self, ids: torch.Tensor, frames: torch.Tensor) -> None:
        """Replace the windows of envs ``ids`` by ``frames`` [n, window, frame] (oldest first)."""
        order = self.order()
        slots = (ids.unsqueeze(1), order.unsqueeze(0))
        self.raw[slots] = frames
        x = self.enc.normalise(frames)
        self.layers[0][slots] = x
        h = x.transpose(1, 2)
        for layer, (w, b) in enumerate(self.weights, start=1):
            h = torch.relu(torch.nn.functional.conv1d(h, w, b, padding=1))
            self.layers[layer][slots] = h.transpose(1, 2)

    @torch.no_grad()
    def push(self, frame: torch.Tensor) -> None:
        """Append one frame [N, frame] to every env's window (the oldest drops out)."""
        slot = self.pos
        self.raw[:, slot] = frame
        self.layers[0][:, slot] = self.enc.normalise(frame.unsqueeze(1)).squeeze(1)
        self.pos = (self.pos + 1) % self.window
        order = self.order()
        n = self.raw.shape[0]
        for layer, ((m, b), (js, taps, inside)) in enumerate(zip(self.matrices, self.updates, strict=True), start=1):
            x = self.layers[layer - 1][:, order[taps]] * inside  # [N, J, 3, C]
            y = torch.relu(torch.addmm(b, x.reshape(n * len(js), -1), m))
            self.layers[layer][:, order[js]] = y.view(n, len(js), -1)

    @torch.no_grad()
    def embedding(self) -> torch.Tensor:
        """[N, embed]: the encoder's output for the current windows."""
        top = self.layers[-1][:, self.order()]  # [N, window, C]
        return torch.addmm(self.out_bias, top.reshape(top.shape[0], -1), self.out_matrix)
