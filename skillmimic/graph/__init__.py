"""The stitched trajectory graph: similar frames across skills, for skill transitions."""

from skillmimic.graph.graph import TrajectoryGraph, build_graph, graph_key, load_or_build
from skillmimic.graph.inspect import summary
from skillmimic.graph.similarity import (
    BALL_WEIGHTS,
    NO_BALL_WEIGHTS,
    RETIME_BALL_WEIGHTS,
    RETIME_NO_BALL_WEIGHTS,
    SimilarityWeights,
    frame_features,
    retime_similarity,
    similarity,
    state_features,
)

__all__ = [
    "BALL_WEIGHTS",
    "NO_BALL_WEIGHTS",
    "RETIME_BALL_WEIGHTS",
    "RETIME_NO_BALL_WEIGHTS",
    "SimilarityWeights",
    "TrajectoryGraph",
    "build_graph",
    "frame_features",
    "graph_key",
    "load_or_build",
    "retime_similarity",
    "similarity",
    "state_features",
    "summary",
]
