"""`${ENV_VAR}` references in source settings: resolved at connection time, never shown.

Resolved values are remembered so that every message leaving an extractor can be scrubbed of
them (`redact`), whatever library produced the message (a driver's connection error, an HTTP
client's URL).
"""

from __future__ import annotations

import os
import re
import threading

from headwater.errors import SOURCES_DOCS, ConfigError, Location

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"
_KNOWN: set[str] = set()
_LOCK = threading.Lock()


def resolve(text: str, where: Location, key: str) -> str:
    """Replace each `${VAR}` in `text` with the environment's value.

    Raises:
        ConfigError: a referenced variable is not set (names the variable and the key).
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise ConfigError(
                f"environment variable {name} (used by '{key}') is not set",
                where,
                f"export {name}=... before running, or change '{key}'; see {SOURCES_DOCS}",
            )
        if found:
            with _LOCK:
                _KNOWN.add(found)
        return found

    return REFERENCE.sub(value, text)


def redact(text: str) -> str:
    """Return `text` with every secret value resolved so far replaced by `***`."""
    with _LOCK:
        known = sorted(_KNOWN, key=len, reverse=True)
    for secret in known:
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text
