"""Ingestion: load files, databases and REST APIs into Delta tables, only what is new.

A source's extractor writes the new rows as Parquet files into the table's folder and says what
it could not read (quarantine rows) and where it got to (state: cursor, files seen). `load.py`
then applies the table's load mode and schema contract and commits everything in one Delta
commit that carries that state, so the table and its cursor can never disagree.
"""
