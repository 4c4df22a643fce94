"""Risk targeting: features over declaration tables, a learned model, and its evaluation."""
