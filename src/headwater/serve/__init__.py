"""`headwater serve`: the project's tables to applications over HTTP and to BI tools over the
PostgreSQL protocol, for users with roles (deny by default), within limits, every query
recorded."""
