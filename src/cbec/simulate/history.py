"""A history of days, scaled down, with seasons and sales peaks: one folder per simulated day.

`simulate_history(start, end, parcels_per_day, seed, out)` writes `out/YYYY-MM-DD/` for each day
from `start` to `end` (both included), each the output of `simulate_day` for that day with its own
seed, so that the statistics and the report show months, quarters and growth on the year.

The number of parcels of a day is `parcels_per_day` x a seasonal factor of its month x a factor
of its weekday x a sales-peak factor, with a little noise, scaled so that the range holds
`parcels_per_day` parcels a day on average (with `yearly_growth`, later years hold more). The
shape is an illustration, not a measurement: the peaks are the two well-known online sales days,
11 November ("Double 11", the largest) and 18 June ("618"), each with a run-up, and 12 December;
February dips with the Spring Festival. `PEAKS` and `MONTHS` hold the factors.

Each day also has its defective parcels and its export lists, each drawn parcel by parcel (a
binomial draw of `defect_rate`, of `export_share`), so that a day of a few parcels still has a
defect now and then, and the export lists (9610 retail only: the 9710 and 9810 modes need a
registry loaded first, `cbec exports registry`) are written under `out/YYYY-MM-DD/exports/` as
`cbec simulate --exports` writes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cbec.simulate.exports import simulate_exports
from cbec.simulate.hashing import salt, uniform
from cbec.simulate.simulator import simulate_day

# Month -> relative volume (illustrative): a Spring Festival dip, the 618 and Double 11 seasons.
MONTHS = {
    1: 0.95,
    2: 0.75,
    3: 0.90,
    4: 0.92,
    5: 0.98,
    6: 1.15,
    7: 0.92,
    8: 0.92,
    9: 0.95,
    10: 1.00,
    11: 1.35,
    12: 1.10,
}
# Weekday (Monday 0) -> relative volume: people buy a little more at the weekend.
WEEKDAYS = (0.97, 0.96, 0.97, 0.98, 1.00, 1.06, 1.06)
# (month, day) -> factor on the day itself, and the run-up: (days before, factor on those days).
PEAKS: dict[tuple[int, int], tuple[float, int, float]] = {
    (11, 11): (6.0, 10, 1.5),
    (6, 18): (4.0, 17, 1.3),
    (12, 12): (2.0, 0, 1.0),
}
NOISE = 0.08  # +/- share of day-to-day noise
# Export lists a day, as a share of the day's imported parcels (illustrative, an assumption).
EXPORT_SHARE = 0.05
RETAIL_EXPORTS = (("9610", 1.0),)


@dataclass(frozen=True)
class HistorySummary:
    days: int
    parcels: int
    by_day: dict[dt.date, int]
    defects_by_day: dict[dt.date, int] = field(default_factory=dict)
    exports_by_day: dict[dt.date, int] = field(default_factory=dict)

    @property
    def exports(self) -> int:
        return sum(self.exports_by_day.values())

    @property
    def busiest(self) -> tuple[dt.date, int]:
        day = max(self.by_day, key=lambda d: (self.by_day[d], -d.toordinal()))
        return day, self.by_day[day]


def day_factor(day: dt.date) -> float:
    """The relative volume of `day` before noise: month x weekday x peak (see module doc)."""
    factor = MONTHS[day.month] * WEEKDAYS[day.weekday()]
    for (month, peak_day), (on_the_day, run_up, before) in PEAKS.items():
        peak = dt.date(day.year, month, peak_day)
        if day == peak:
            factor *= on_the_day
        elif 0 < (peak - day).days <= run_up:
            factor *= before
    return factor


def daily_volumes(
    start: dt.date,
    end: dt.date,
    parcels_per_day: int,
    seed: int,
    yearly_growth: float = 0.0,
) -> dict[dt.date, int]:
    """Parcels per day from `start` to `end`, `parcels_per_day` on average (at least 1 a day)."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    if parcels_per_day < 1:
        raise ValueError("parcels per day must be at least 1")
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    noise = 1 + NOISE * (2 * uniform(np.arange(len(days)), salt(seed, "history-noise")) - 1)
    growth = np.array([(1 + yearly_growth) ** ((d - start).days / 365.25) for d in days])
    factors = np.array([day_factor(d) for d in days]) * noise * growth
    volumes = factors / factors.mean() * parcels_per_day
    return {d: max(1, round(float(v))) for d, v in zip(days, volumes, strict=True)}


def day_draws(
    parcels: int, day: dt.date, seed: int, defect_rate: float, export_share: float
) -> tuple[int, int]:
    """The defective parcels and the export lists of a day of `parcels` parcels: binomial draws
    (each parcel defective with probability `defect_rate`; as many chances of an export list
    with `export_share`), the same for the same arguments."""
    rng = np.random.default_rng([seed, day.toordinal(), 618])
    return int(rng.binomial(parcels, defect_rate)), int(rng.binomial(parcels, export_share))


def simulate_history(
    start: dt.date,
    end: dt.date,
    parcels_per_day: int,
    seed: int,
    out: Path,
    defect_rate: float = 0.05,
    yearly_growth: float = 0.0,
    progress: Callable[[dt.date, int], None] | None = None,
    export_share: float = EXPORT_SHARE,
) -> HistorySummary:
    """Write one folder per day, `out/YYYY-MM-DD/`, each a `simulate_day` of that day with its
    export lists under `exports/` (see the module docstring).

    The same arguments always give the same files. `progress(day, parcels)` is called after each
    day is written.
    """
    volumes = daily_volumes(start, end, parcels_per_day, seed, yearly_growth)
    defects: dict[dt.date, int] = {}
    exports: dict[dt.date, int] = {}
    for day, parcels in volumes.items():
        day_seed = seed * 100_003 + day.toordinal()
        defects[day], exports[day] = day_draws(parcels, day, seed, defect_rate, export_share)
        folder = out / day.isoformat()
        simulate_day(
            parcels=parcels,
            seed=day_seed,
            day=day,
            out=folder,
            # simulate_day injects round(parcels x rate) defects: exactly the number drawn.
            defect_rate=defects[day] / parcels,
        )
        if exports[day]:
            simulate_exports(exports[day], day_seed, day, folder, modes=RETAIL_EXPORTS)
        if progress is not None:
            progress(day, parcels)
    return HistorySummary(
        days=len(volumes),
        parcels=sum(volumes.values()),
        by_day=volumes,
        defects_by_day=defects,
        exports_by_day=exports,
    )
