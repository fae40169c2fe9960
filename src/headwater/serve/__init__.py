"""Serving the lakehouse to readers: the guarded query path behind the SQL box and query API."""
