"""The ledgers after the decision: bonded stock, returns and cancellations, yearly quantities,
the guarantee, tax bills and payments (issue 6, docs/ledgers.md)."""
