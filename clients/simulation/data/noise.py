"""Seeded multiplicative noise shared by the synthetic dataset and the paper's preparation."""
from __future__ import annotations

import numpy as np

__all__ = ["lognormal"]


def lognormal(rng: np.random.Generator, sigma: float, size) -> np.ndarray:
    """Multiplicative noise with mean 1: exp(N(-sigma²/2, sigma)), `size` draws from `rng`."""
    return np.exp(rng.normal(-sigma * sigma / 2.0, sigma, size))
