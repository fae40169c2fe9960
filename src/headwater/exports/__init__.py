"""Exports (reverse ETL): an asset's changes pushed into PostgreSQL tables, webhooks or files,
as assets of the graph that run after the asset they read."""
