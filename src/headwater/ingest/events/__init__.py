"""Event sources streams read: each module registers its kind in `ingest/event_sources.py`."""
