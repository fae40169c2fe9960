"""Lineage: which upstream columns each model's columns and rows come from."""
