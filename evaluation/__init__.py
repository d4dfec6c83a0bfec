"""Evaluation metrics for generators: distribution distances, manifold
precision/recall/density/coverage, mode collapse, memorisation, reconstruction."""
