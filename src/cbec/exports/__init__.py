"""Export clearance (9610 retail exports; issue 7)."""
