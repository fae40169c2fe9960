"""Governance: which columns hold personal data (declared, and found along column lineage)
and who may read them."""
