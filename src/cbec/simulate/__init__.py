"""A synthetic world of cross-border retail imports, with the ground truth of every defect.

`simulate_day(parcels, seed, day, out)` writes one day of traffic: orders, payments, waybills and
declaration lists (the canonical schemas of `cbec.documents.schemas`) and `truth.parquet`, which
names, for each declaration, the defect it was given (or, for `over_annual_limit`, the one its
buyer's own purchases produce). The simulator knows nothing of the clearance code (it never imports
`cbec.clearance` or `cbec.pipeline`): each defect is labelled by construction, so the simulator and
the clearance pipeline check each other.

Assumptions, stated once:
- Policy (single and annual limits, the indivisible-item exception) and the positive list and
  tariff are those in force on the simulated day (`cbec.policy`).
- Every buyer's annual ledger is empty before the simulated day: the day is the first of the year
  as far as the annual limit is concerned.
- Times are China Standard Time wall-clock timestamps without a zone; every declaration falls
  within the day, orders and payments up to about a day earlier.

Modules: world (enterprises, policy), goods (catalogue), people and identity (buyers), plan (who
buys what kind of parcel, injected defects), traffic (a chunk of parcels), documents (the six
tables), ledger (the annual limit), defects (names and weights), simulator (`simulate_day`).
"""

from cbec.simulate.defects import DEFECTS, INJECTED, DefectRates
from cbec.simulate.simulator import SimulationSummary, simulate_day

__all__ = ["DEFECTS", "INJECTED", "DefectRates", "SimulationSummary", "simulate_day"]
