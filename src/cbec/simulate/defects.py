"""The defects the simulator injects, and how the defective share is split among them.

Each injected defect is built so that exactly that reason is the one a correct clearance finds,
and no other (no cascade): traffic.py documents the construction of each. Their names are the
clearance reason codes, so the truth and the decisions can be compared directly.
`over_annual_limit` is never injected: it arises from the buyers' own purchases (ledger.py), and
`over_single_limit` also arises naturally from indivisible items when the exception is not in force.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

INJECTED: tuple[str, ...] = (
    "order_missing",
    "payment_missing",
    "waybill_missing",
    "amount_paid_mismatch",
    "actural_paid_mismatch",
    "payer_not_buyer",
    "consignee_mismatch",
    "buyer_mismatch",
    "lines_mismatch",
    "line_total_mismatch",
    "buyer_id_number_invalid",
    "currency_not_cny",
    "required_field_missing",
    "not_on_positive_list",
    "bonded_only_goods",
    "excluded_goods",
    "over_single_limit",
)
NATURAL: tuple[str, ...] = ("over_annual_limit",)
DEFECTS: tuple[str, ...] = INJECTED + NATURAL
"""Every name the truth's `defects` list may hold."""

CODE: dict[str, int] = {name: i + 1 for i, name in enumerate(DEFECTS)}
"""A defect's small-integer code in the simulator's compact arrays (0: clean)."""


@dataclass(frozen=True)
class DefectRates:
    """Relative weights of the injected defects among the defective declarations.

    Only the ratios matter (they are normalised); a weight of 0 turns a defect off. The defaults
    favour the frequent real-world faults: companion documents missing or late, amounts and
    identities that do not agree.
    """

    order_missing: float = 0.08
    payment_missing: float = 0.08
    waybill_missing: float = 0.07
    amount_paid_mismatch: float = 0.07
    actural_paid_mismatch: float = 0.05
    payer_not_buyer: float = 0.08
    consignee_mismatch: float = 0.06
    buyer_mismatch: float = 0.05
    lines_mismatch: float = 0.05
    line_total_mismatch: float = 0.04
    buyer_id_number_invalid: float = 0.08
    currency_not_cny: float = 0.03
    required_field_missing: float = 0.05
    not_on_positive_list: float = 0.06
    bonded_only_goods: float = 0.03
    excluded_goods: float = 0.05
    over_single_limit: float = 0.07

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not value >= 0:  # also rejects NaN
                raise ValueError(f"defect weight {item.name} must be >= 0, not {value}")

    def weights(self) -> npt.NDArray[np.float64]:
        """The weights in the order of `INJECTED`."""
        return np.array([getattr(self, name) for name in INJECTED], dtype=np.float64)
