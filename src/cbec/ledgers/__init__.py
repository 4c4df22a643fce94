"""The ledgers after the decision: returns and cancellations, tax bills (bonded stock next)."""
