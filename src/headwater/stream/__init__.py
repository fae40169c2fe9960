"""Streams: micro-batches of events, windowed in event time, committed to Delta exactly once."""
