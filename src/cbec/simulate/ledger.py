"""The simulator's own annual-allowance ledger: which clean declarations go over the annual limit.

Per buyer identity number and calendar year (DESIGN.md, "The annual allowance, precisely"):
declarations are judged in order of declaration time, then application time, then declaration
number (`copNo`); one with any other defect consumes nothing and is not judged; a clean one is
admitted when the value already used plus its dutiable value stays within the limit (inclusive),
and then consumes its value; otherwise it is `over_annual_limit` and consumes nothing.

The ledger is empty before the simulated day. All declarations fall on one day, hence in one
calendar year, and each person has one identity number, so a person index stands for the key.
A bulk sum shows which buyers could reach the limit at all; only their declarations are walked in
order, in plain Python (a few per thousand declarations).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def over_annual_limit(
    buyer: npt.NDArray[np.integer],
    order_keys: tuple[npt.NDArray[np.integer], ...],
    value: npt.NDArray[np.integer],
    judged: npt.NDArray[np.bool_],
    limit: int,
) -> npt.NDArray[np.bool_]:
    """True for each declaration refused for the annual limit.

    `order_keys` are the sort keys after the buyer, most significant first (declaration time,
    application time, declaration number rank); `value` is the dutiable value in fen; only the
    `judged` declarations (no other defect) are considered.
    """
    candidates = np.flatnonzero(judged)
    persons = int(buyer.max()) + 1 if len(buyer) else 0
    # Float sums are exact here: every total is an integer far below 2**53 fen.
    totals = np.bincount(
        buyer[candidates], weights=value[candidates].astype(np.float64), minlength=persons
    )
    contested = candidates[totals[buyer[candidates]] > limit]
    keys = [key[contested] for key in reversed(order_keys)]
    contested = contested[np.lexsort((*keys, buyer[contested]))]

    over = np.zeros(len(buyer), dtype=np.bool_)
    owners = buyer[contested].tolist()
    amounts = value[contested].tolist()
    current, used = -1, 0
    for row, owner, amount in zip(contested.tolist(), owners, amounts, strict=True):
        if owner != current:
            current, used = owner, 0
        if used + amount <= limit:
            used += amount
        else:
            over[row] = True
    return over
