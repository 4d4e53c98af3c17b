"""A readable summary of a trajectory graph: how well each pair of skills connects."""

from __future__ import annotations

import torch

from skillmimic.graph.graph import TrajectoryGraph
from skillmimic.skills import SKILLS

QUANTILES = (0.1, 0.5, 0.9)


def _name(skill: int) -> str:
    return f"{skill:03d} {SKILLS.get(skill, '?')}"


def _row(src: str, dst: str, sims: torch.Tensor) -> str:
    if sims.numel() == 0:
        return f"{src:<26} {dst:<26} {0:>7}" + " " * 4 + "       -" * 4
    q = torch.quantile(sims.double(), torch.tensor(QUANTILES, dtype=torch.float64)).tolist()
    return f"{src:<26} {dst:<26} {sims.numel():>7}    " + "".join(f" {v:7.1e}" for v in (*q, sims.max().item()))


def summary(graph: TrajectoryGraph) -> str:
    """Per (source skill, target skill): edge count and similarity quantiles; then totals."""
    g = graph.to("cpu")
    src_skill = g.clip_skills[g.src_clip]
    head = f"{'source skill':<26} {'target skill':<26} {'edges':>7}     {'q10':>7} {'q50':>7} {'q90':>7} {'max':>7}"
    lines = [head]
    for s in src_skill.unique().tolist():
        for k, d in enumerate(g.skills.tolist()):
            if d == s:
                continue
            col = g.sim[src_skill == s, k]
            lines.append(_row(_name(s), _name(d), col[g.dst_clip[src_skill == s, k] >= 0]))
    edges = g.dst_clip >= 0
    lines.append(_row("all", "all", g.sim[edges]))
    missing = int((src_skill.unsqueeze(1) != g.skills).sum()) - g.num_edges
    lines.append(
        f"{g.num_frames} frames, {len(g.clip_names)} clips, {len(g.skills)} skills, {g.num_edges} edges "
        f"({missing} searches without an edge), key {g.key}"
    )
    return "\n".join(lines)
