"""cbec: open clearance of cross-border e-commerce parcels through customs."""

__version__ = "0.1.0"
