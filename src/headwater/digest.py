"""Content digests: one way to fingerprint a sequence of strings."""

from __future__ import annotations

import hashlib


def content_hash(*parts: str) -> str:
    """A SHA-256 hex digest of `parts`, kept apart so ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
