"""How fresh an asset is: when it was last built successfully, how long ago that is, and
whether that breaks its freshness SLA (`freshness: max_lag`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from headwater.catalog.store import Catalog


@dataclass(frozen=True)
class AssetFreshness:
    """An asset's last successful build measured against its freshness SLA."""

    last_success: dt.datetime | None
    """When it was last built successfully (None: never)."""
    lag_s: float | None
    """Seconds since then (None: never built)."""
    sla_s: float | None
    """The most seconds it may lag (None: no SLA)."""

    @property
    def breached(self) -> bool:
        """Whether it has an SLA and lags more than it allows (or was never built)."""
        return bool(self.sla_s and (self.lag_s is None or self.lag_s > self.sla_s))


def asset_freshness(catalog: Catalog, key: str, sla_s: float | None) -> AssetFreshness:
    """How fresh asset `key` is now, against an SLA of `sla_s` seconds (None: none)."""
    last = catalog.last_success(key)
    lag = (dt.datetime.now(dt.UTC) - last).total_seconds() if last else None
    return AssetFreshness(last, lag, sla_s)
