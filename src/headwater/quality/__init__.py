"""Data quality: checks, contracts, write-audit-publish, metrics history and anomalies."""
