"""The plan of the day: who buys each parcel, what kind of parcel it is, and its injected defect.

Drawn once for all parcels, as compact numpy arrays (a few bytes per parcel), so that chunks can be
generated one after another with the same buyers recurring across them:

- Buyer activity is Zipf-like: most buyers buy once, a few buy often (counts from a Zipf law with
  exponent 2.5, capped at 25 parcels a day).
- About 0.08 % of parcels' worth of resellers ("daigou") each place enough near-limit declarations
  to pass the annual limit within the day (1.2 to 2.5 times the limit, at 55-95 % of the single
  limit each), so that some of their declarations are refused as `over_annual_limit`.
- About 0.2 % of the ordinary parcels are one indivisible luxury item above the single limit.
- `defect_rate` of all parcels (rounded) get exactly one injected defect, split by the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cbec.simulate.defects import CODE, INJECTED
from cbec.simulate.world import Limits

REGULAR, DAIGOU, LUXURY = 0, 1, 2
DAIGOU_SHARE = 0.0008
LUXURY_SHARE = 0.002
ZIPF_EXPONENT = 2.5
MAX_PARCELS_PER_BUYER = 25
MIN_POPULATION = 1000


@dataclass(frozen=True)
class Plan:
    buyer: npt.NDArray[np.int32]  # person index per parcel
    profile: npt.NDArray[np.int8]  # REGULAR, DAIGOU or LUXURY
    defect: npt.NDArray[np.int8]  # defects.CODE of the one defect known up front, 0 if none
    persons: int  # size of the population the buyers, payers and consignees come from

    def __len__(self) -> int:
        return len(self.buyer)


def _daigou_counts(rng: np.random.Generator, parcels: int, limits: Limits) -> npt.NDArray[np.int64]:
    resellers = int(parcels * DAIGOU_SHARE)
    typical = 0.75 * limits.single
    counts = np.ceil(rng.uniform(1.2, 2.5, resellers) * limits.annual / typical).astype(np.int64)
    room = parcels // 4
    keep = np.cumsum(counts) <= room
    return counts[keep]


def _regular_counts(rng: np.random.Generator, parcels: int) -> npt.NDArray[np.int64]:
    """Parcels per ordinary buyer, summing to exactly `parcels`."""
    if parcels == 0:
        return np.zeros(0, dtype=np.int64)
    drawn: list[npt.NDArray[np.int64]] = []
    total = 0
    while total < parcels:
        batch = np.minimum(rng.zipf(ZIPF_EXPONENT, parcels // 2 + 1000), MAX_PARCELS_PER_BUYER)
        drawn.append(batch.astype(np.int64))
        total += int(batch.sum())
    counts = np.concatenate(drawn)
    cumulative = np.cumsum(counts)
    last = int(np.searchsorted(cumulative, parcels))
    counts = counts[: last + 1]
    counts[last] -= int(cumulative[last]) - parcels
    return counts


def make_plan(
    parcels: int,
    seed: int,
    limits: Limits,
    defect_rate: float,
    weights: npt.NDArray[np.float64],
) -> Plan:
    """Assign buyers, profiles and injected defects to `parcels` parcels (see module docstring).

    `weights` are the injected defects' weights in the order of `defects.INJECTED`, already zero
    for those the day's goods cannot produce.
    """
    rng = np.random.default_rng([seed, 0x91A7])
    daigou = _daigou_counts(rng, parcels, limits)
    regular = _regular_counts(rng, parcels - int(daigou.sum()))
    persons = len(daigou) + len(regular)
    buyer = np.repeat(np.arange(persons, dtype=np.int32), np.concatenate([daigou, regular]))
    profile = np.repeat(
        np.array([DAIGOU, REGULAR], dtype=np.int8), [int(daigou.sum()), int(regular.sum())]
    )
    order = rng.permutation(parcels)
    buyer, profile = buyer[order], profile[order]
    del order

    defect = np.zeros(parcels, dtype=np.int8)
    defective = round(parcels * defect_rate)
    if defective:
        if not weights.sum() > 0:
            raise ValueError("no defect can be injected: every weight is 0 (or impossible today)")
        where = rng.choice(parcels, defective, replace=False)
        kinds = rng.choice(len(INJECTED), defective, p=weights / weights.sum())
        defect[where] = np.array([CODE[name] for name in INJECTED], dtype=np.int8)[kinds]

    luxury = (rng.random(parcels, dtype=np.float32) < LUXURY_SHARE) & (profile == REGULAR)
    luxury &= defect == 0
    profile[luxury] = LUXURY
    if not limits.indivisible_exception:
        defect[luxury] = CODE["over_single_limit"]
    return Plan(buyer, profile, defect, max(MIN_POPULATION, persons))
