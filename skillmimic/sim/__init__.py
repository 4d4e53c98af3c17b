"""Batched physics: N worlds of the same scene behind one interface (see ``base.Simulator``)."""
