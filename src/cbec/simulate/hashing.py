"""Counter-based randomness: a value drawn from (seed, purpose, index) without any state.

A person's name, number and address must be the same in every chunk the person appears in, so they
are functions of the person's index (SplitMix64 finalizer, vectorized), not draws from a stream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix(value: int) -> int:
    z = (value + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def salt(seed: int, purpose: str) -> int:
    """A 64-bit key for one purpose ("surname", "phone", ...) under one seed."""
    key = _splitmix(seed & _MASK)
    for byte in purpose.encode("utf-8"):
        key = _splitmix(key ^ byte)
    return key


def mix(index: npt.ArrayLike, key: int) -> U64:
    """A well-mixed 64-bit value per index."""
    z = np.asarray(index, dtype=np.int64).astype(np.uint64)
    z = z * np.uint64(_GOLDEN) + np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(index: npt.ArrayLike, key: int) -> npt.NDArray[np.float64]:
    """A number in [0, 1) per index."""
    return (mix(index, key) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def below(index: npt.ArrayLike, key: int, bound: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """An integer in [0, bound) per index (`bound` a positive scalar or array)."""
    bounds = np.asarray(bound, dtype=np.int64).astype(np.uint64)
    return (mix(index, key) % bounds).astype(np.int64)


def weighted(index: npt.ArrayLike, key: int, weights: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """An index into `weights`, drawn in proportion to them, per index."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    draws = uniform(index, key) * cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, draws, side="right"), len(cumulative) - 1)
