"""The user's SMPL-X model: finding the file, loading it with ``smplx``, and a batched forward pass
that returns only what conversion needs (joints, hand and foot vertices)."""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skillmimic.errors import SkillMimicError
from skillmimic.io.joint_map import FOOT_JOINTS, HAND_JOINTS, NUM_SMPLX_JOINTS

GENDERS = ("neutral", "female", "male")
_CHUNK = 128  # frames per forward pass: the skinning transforms are [B, N, 4, 4]


def find_model_file(model_dir: str | Path, gender: str = "neutral") -> Path:
    """``SMPLX_<GENDER>.npz`` in ``model_dir`` or its ``smplx/`` folder; a file path is taken as is.
    The files come from https://smpl-x.is.tue.mpg.de and are never shipped with us. (The ``.pkl``
    variant holds the same arrays; we read only ``.npz``, which needs no unpickling to inspect.)"""
    d = Path(model_dir)
    if gender not in GENDERS:
        raise SkillMimicError(f"gender {gender!r}: expected one of {', '.join(GENDERS)}")
    if d.is_file():
        return d
    name = f"SMPLX_{gender.upper()}.npz"
    for folder in (d, d / "smplx"):
        if (folder / name).is_file():
            return folder / name
    raise SkillMimicError(
        f"{d}: no SMPL-X model file {name} there or in {d / 'smplx'}; "
        "download SMPL-X from https://smpl-x.is.tue.mpg.de and pass its folder as --model-dir"
    )


@dataclass
class SmplxBody:
    """A loaded SMPL-X model and the vertex sets conversion uses."""

    path: Path
    model: Any  # an smplx.SMPLX torch.nn.Module: num_betas, v_template, ... (smplx has no type information)
    hand_vertices: torch.Tensor  # [H] vertices skinned mostly to a wrist or finger joint
    foot_vertices: torch.Tensor  # [F] vertices skinned mostly to an ankle or foot joint
    hands_components: tuple[np.ndarray, np.ndarray]  # left, right: [45, 45] PCA bases (rows)
    hands_mean: tuple[np.ndarray, np.ndarray]  # left, right: [45] the "relaxed hand" mean pose

    @property
    def num_betas(self) -> int:
        return int(self.model.num_betas)

    @torch.no_grad()
    def forward(
        self, pose: torch.Tensor, betas: torch.Tensor, transl: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """World joints ``[T, 55, 3]``, hand vertices ``[T, H, 3]`` and foot vertices ``[T, F, 3]``
        (float64) of a pose sequence: ``pose`` ``[T, 55, 3]`` rotation vectors with a flat hand mean,
        ``betas`` ``[nb]``, ``transl`` ``[T, 3]``."""
        m = self.model
        dt = m.v_template.dtype
        nb = min(len(betas), self.num_betas)
        b = torch.zeros(self.num_betas, dtype=dt)
        b[:nb] = betas[:nb].to(dt)
        joints, hands, feet = [], [], []
        for s in range(0, len(pose), _CHUNK):
            p = pose[s : s + _CHUNK].to(dt)
            n = len(p)
            out = m(
                betas=b.expand(n, -1),
                global_orient=p[:, 0],
                body_pose=p[:, 1:22].reshape(n, -1),
                jaw_pose=p[:, 22],
                leye_pose=p[:, 23],
                reye_pose=p[:, 24],
                left_hand_pose=p[:, 25:40].reshape(n, -1),
                right_hand_pose=p[:, 40:55].reshape(n, -1),
                expression=torch.zeros(n, m.num_expression_coeffs, dtype=dt),
                transl=transl[s : s + _CHUNK].to(dt),
            )
            joints.append(out.joints[:, :NUM_SMPLX_JOINTS].double())
            hands.append(out.vertices[:, self.hand_vertices].double())
            feet.append(out.vertices[:, self.foot_vertices].double())
        return torch.cat(joints), torch.cat(hands), torch.cat(feet)

    def pelvis_rest(self, betas: torch.Tensor) -> torch.Tensor:
        """The pelvis joint ``[3]`` of the unposed body: SMPL-X puts the pelvis at this point plus
        ``transl`` (the global rotation turns about it), so ``transl`` is not the pelvis position."""
        pose = torch.zeros(1, NUM_SMPLX_JOINTS, 3, dtype=torch.float64)
        joints, _, _ = self.forward(pose, betas, torch.zeros(1, 3, dtype=torch.float64))
        return joints[0, 0]


def load_body(model_dir: str | Path, gender: str = "neutral", num_betas: int = 10) -> SmplxBody:
    """Load the SMPL-X model for ``gender`` with full (non-PCA) hand poses and a flat hand mean;
    PCA hand coefficients and the relaxed-hand mean are expanded by the caller from
    ``hands_components`` and ``hands_mean``."""
    import smplx

    path = find_model_file(model_dir, gender)
    try:
        raw = _read_arrays(path)
        # smplx loads the file it is given with pickles allowed: give it a copy of the plain arrays
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            plain = Path(tmp) / path.name  # (smplx prints warnings for small shape spaces)
            np.savez(plain, **raw)  # type: ignore[arg-type]  # numpy's stub: a key could be allow_pickle
            model = smplx.SMPLX(
                str(plain),
                ext="npz",
                gender=gender,
                num_betas=max(1, num_betas),
                use_pca=False,
                flat_hand_mean=True,
                num_pca_comps=45,
            )
    except SkillMimicError:
        raise
    except Exception as e:  # truncated archive, missing key, foreign file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SkillMimicError(f"{path}: not a usable SMPL-X model file: {type(e).__name__}: {reason[:160]}") from None
    weights = model.lbs_weights.argmax(dim=1)
    if model.lbs_weights.shape[1] != NUM_SMPLX_JOINTS:
        raise SkillMimicError(
            f"{path}: has {model.lbs_weights.shape[1]} joints, an SMPL-X model has {NUM_SMPLX_JOINTS}"
        )
    return SmplxBody(
        path=path,
        model=model.eval(),
        hand_vertices=torch.isin(weights, torch.tensor(HAND_JOINTS)).nonzero().flatten(),
        foot_vertices=torch.isin(weights, torch.tensor(FOOT_JOINTS)).nonzero().flatten(),
        hands_components=(_f64(raw["hands_componentsl"]), _f64(raw["hands_componentsr"])),
        hands_mean=(_f64(raw["hands_meanl"]).reshape(-1), _f64(raw["hands_meanr"]).reshape(-1)),
    )


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a model file, read without unpickling: numpy would run the code an object
    array carries, so a file holding one is refused before ``smplx`` (which loads with pickles
    allowed) ever sees it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as e:
        if "allow_pickle" not in str(e):
            raise
        raise SkillMimicError(
            f"{path}: holds Python objects (a pickled array, which could run code when loaded): refused; "
            "an SMPL-X model file holds plain numeric arrays"
        ) from None
    keys = ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr")
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise SkillMimicError(f"{path}: not an SMPL-X model file (no {', '.join(missing)})")
    return arrays


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)
