"""Retry transient failures with exponential backoff and full jitter; fail permanent ones."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from headwater.errors import HeadwaterError, Location, TransientError
from headwater.project.sources import RetryConfig

T = TypeVar("T")
GIVE_UP_HINT = "the source may be down or overloaded; raise 'retries: attempts' or try again later"
_LOG = logging.getLogger(__name__)


def backoff_delay(config: RetryConfig, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed try number `attempt` (1-based): full jitter over an
    exponentially growing ceiling, capped by `max_delay`."""
    ceiling = min(config.max_delay, config.backoff * (2 ** (attempt - 1)))
    return (rng or random).uniform(0, ceiling)


def with_retries(
    action: Callable[[], T],
    config: RetryConfig,
    is_transient: Callable[[BaseException], bool],
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    wait_hint: Callable[[BaseException], float | None] = lambda exc: None,
) -> T:
    """Run `action`, retrying it while it fails transiently, at most `config.attempts` tries.

    `wait_hint` may name the wait a failure asked for (HTTP `Retry-After`); it is honoured up to
    `max_delay`. Raises the last failure as a `TransientError` when tries run out; a permanent
    failure is raised unchanged at once.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt >= config.attempts:
                last = exc if isinstance(exc, HeadwaterError) else None
                raise TransientError(
                    f"{what} failed {attempt} time{'s' if attempt > 1 else ''}; last error: "
                    f"{last.message if last else exc}",
                    last.location if last else Location(),
                    (last.hint if last else None) or GIVE_UP_HINT,
                ) from exc
            hinted = wait_hint(exc)
            delay = (
                min(config.max_delay, hinted)
                if hinted is not None
                else backoff_delay(config, attempt)
            )
            _LOG.warning(
                "%s failed (%s); try %d of %d in %.2fs",
                what,
                exc,
                attempt + 1,
                config.attempts,
                delay,
            )
            sleep(delay)
