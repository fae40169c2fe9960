"""The semantic layer: metrics defined once in `metrics/*.yml` and compiled to SQL for every
face (CLI, Python, HTTP, the PostgreSQL port)."""
