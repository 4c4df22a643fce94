"""Statistics and reports from the store: what customs publishes about cross-border e-commerce.

Modules: periods (year, half, quarter, month, day labels and bounds), reference (provinces,
customs offices, the pilot-zone registry), facts (one row per declaration, or per declaration and
tariff chapter, named by the reference data), measures (counts, value, tax, growth on the year,
benchmark comparison, operations), report (a standalone HTML report with Plotly charts).

Every figure is computed by the engine over the store (Ibis on DuckDB); docs/statistics.md says
how each is defined. Imports and exports are both counted: the `direction` column (import/export,
from the list's `ieFlag`) tells them apart; export lists come from `export_facts`.
"""

from cbec.stats.facts import ADMITTED_STATUSES, DIMENSIONS
from cbec.stats.measures import (
    MEASURES,
    Benchmark,
    Headline,
    Operations,
    StatisticsError,
    headline,
    operations,
    statistics,
    with_growth,
)
from cbec.stats.periods import Period, PeriodError
from cbec.stats.reference import Reference, ReferenceDataError

__all__ = [
    "ADMITTED_STATUSES",
    "DIMENSIONS",
    "MEASURES",
    "Benchmark",
    "Headline",
    "Operations",
    "Period",
    "PeriodError",
    "Reference",
    "ReferenceDataError",
    "StatisticsError",
    "headline",
    "operations",
    "statistics",
    "with_growth",
]
