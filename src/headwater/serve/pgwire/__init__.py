"""The PostgreSQL protocol of `headwater serve`."""
