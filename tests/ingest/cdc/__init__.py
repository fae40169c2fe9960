"""Change data capture: the pgoutput decoder, PostgreSQL type conversions, collapsing."""
