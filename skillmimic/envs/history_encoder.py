"""SkillMimic-V2's history encoder as the observation uses it: 60 past frames -> a 3-d embedding,
frozen, and its file format. Training it is ``skillmimic/learning/history_encoder.py``'s job; a
policy checkpoint embeds the encoder (``encoder_state``), so acting needs only this module.

File format (``save_encoder``; a plain dict read with ``torch.load(weights_only=True)``):

| key        | value                                                         |
|------------|---------------------------------------------------------------|
| format     | ``"skillmimic-history-encoder"``                              |
| version    | 1                                                             |
| state_dict | the encoder's tensors (conv/linear weights, input mean/std)   |
| window     | 60                                                            |
| embed      | 3                                                             |
| frame_size | 316                                                           |
| key        | ``history_key`` of the clips it was trained on (or "")        |
| metrics    | dict of plain numbers from ``train_history_encoder``          |
"""

from __future__ import annotations

import torch
from torch import nn

from skillmimic.envs.history import FRAME_SIZE, WINDOW
from skillmimic.errors import SkillMimicError
from skillmimic.storage import atomic_save, load_plain

EMBED = 3
FORMAT = "skillmimic-history-encoder"
VERSION = 1


class HistoryEncoder(nn.Module):
    """[B, 60, 316] raw frames (zero rows = no frame) -> [B, 3]. Standardises inside, so the env
    feeds it the same raw ``frame_state`` rows it keeps in its ring buffer."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, window: int = WINDOW, frame_size: int = FRAME_SIZE, embed: int = EMBED):
        super().__init__()
        self.window, self.frame_size, self.embed = window, frame_size, embed
        self.register_buffer("mean", torch.zeros(frame_size))
        self.register_buffer("std", torch.ones(frame_size))
        self.conv = nn.Sequential(
            nn.Conv1d(frame_size, 128, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(128, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(64, 32, 3, padding=1),
            nn.ReLU(),
        )
        self.out = nn.Linear(32 * window, embed)

    def normalise(self, history: torch.Tensor) -> torch.Tensor:
        # a zero row stays zero: padding and missing frames must not look like a real frame
        present = (history != 0).any(dim=-1, keepdim=True)
        return (history - self.mean) / self.std * present

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.normalise(history).transpose(1, 2))
        return self.out(x.flatten(1))


def encoder_state(encoder: HistoryEncoder, metrics: dict | None = None, key: str = "") -> dict:
    """The encoder as a plain dict (tensors and plain data): what the file holds, and what a
    policy checkpoint embeds."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "state_dict": {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()},
        "window": encoder.window,
        "embed": encoder.embed,
        "frame_size": encoder.frame_size,
        "key": key,
        "metrics": {k: (float(v) if isinstance(v, float) else v) for k, v in (metrics or {}).items()},
    }


def encoder_from_state(d, where: str = "history encoder state") -> HistoryEncoder:
    """Rebuild an encoder (eval mode, CPU) from :func:`encoder_state`'s dict."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise SkillMimicError(f"{where}: not a history encoder (expected format {FORMAT!r})")
    if d.get("version") != VERSION:
        raise SkillMimicError(f"{where}: history encoder version {d.get('version')}, expected {VERSION}")
    shape = (d.get("window"), d.get("frame_size"), d.get("embed"))
    if shape != (WINDOW, FRAME_SIZE, EMBED):
        raise SkillMimicError(
            f"{where}: history encoder for window/frame/embed {shape}, expected {(WINDOW, FRAME_SIZE, EMBED)}"
        )
    enc = HistoryEncoder()
    try:
        enc.load_state_dict(d.get("state_dict"))  # type: ignore[arg-type]  # None: torch's TypeError, reported below
    except (RuntimeError, TypeError, AttributeError) as e:
        raise SkillMimicError(f"{where}: history encoder weights do not fit: {str(e).splitlines()[0][:160]}") from None
    return enc.eval()


def save_encoder(path, encoder: HistoryEncoder, metrics: dict | None = None, key: str = "") -> None:
    """Write atomically (temp file + rename): a reader never sees half a file."""
    atomic_save(encoder_state(encoder, metrics, key), path)


def load_encoder(path, map_location="cpu") -> HistoryEncoder:
    return encoder_from_state(load_plain(path, "history encoder"), str(path)).to(map_location)
