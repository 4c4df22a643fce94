"""Where cbec keeps what it decided: the embedded DuckDB store (`embedded.py`)."""

# What the engine may hold before it spills to `<db>.tmp`: room for Python and the OS beside it
# on a 16 GB machine (DESIGN.md's national day target).
DEFAULT_MEMORY_LIMIT = "12GB"
