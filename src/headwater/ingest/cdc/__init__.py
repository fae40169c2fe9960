"""Change data capture sources: PostgreSQL logical replication (pgoutput) and Debezium
change events."""
