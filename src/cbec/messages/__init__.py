"""The CEB message standard: hardened parsing, building, receipts, signatures, DXP envelope."""
