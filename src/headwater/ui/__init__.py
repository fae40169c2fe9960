"""The HTTP face of Headwater: the web UI, its JSON API and the Prometheus endpoint."""
