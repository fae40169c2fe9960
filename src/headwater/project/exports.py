"""Exports (reverse ETL) as declared in `exports/*.yml`: an asset's rows pushed into an
operational system after the asset is built.

```yaml
exports:
  - name: customer_ltv_to_crm
    from: marts.customer_ltv          # the asset exported (namespace.name or its name)
    mode: upsert                      # upsert | mirror | append
    key: [customer_id]                # upsert and mirror match rows on it
    columns:                          # destination column: asset column (default: all, same names)
      customer_id: customer_id
      lifetime_value: ltv
    to:
      postgres:
        url: ${CRM_DATABASE_URL}
        table: crm.customer_ltv
```

`to:` names one destination: `postgres` (a table), `webhook` (batches of JSON records over
HTTP) or `files` (CSV, Parquet or NDJSON files in a folder). Each export is an asset of the
graph, `exports.<name>`, downstream of the asset it reads.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import Field, model_validator

from headwater.project.strict import Identifier, StrictModel

FOLDER = "exports"
NAMESPACE = "exports"
"""The namespace of every export's asset key (`exports.<name>`)."""
DOCS = "docs/exports.md"
ExportMode = Literal["upsert", "mirror", "append"]
_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class PostgresDestination(StrictModel):
    """A PostgreSQL table. The export's position is kept in `position_table` in the same
    database and written in the same transaction as the rows."""

    url: str
    """A libpq URL; `${VAR}` is read from the environment when the export runs."""
    table: str
    """The destination table, `schema.table` or `table` (schema `public`). It must exist."""
    position_table: str = "headwater_export_positions"
    """Where the export's position is kept (created when missing), in the table's schema
    unless qualified."""


class WebhookDestination(StrictModel):
    """An HTTP endpoint that receives POSTed batches of JSON records."""

    url: str
    """`${VAR}` is read from the environment when the export runs."""
    headers: dict[str, str] = {}
    """Extra request headers (`Authorization: Bearer ${TOKEN}`)."""
    batch_size: int = Field(default=500, ge=1, le=100_000)
    """Records per request."""
    rate: float | None = Field(default=None, gt=0)
    """At most this many requests per second (default: as fast as the endpoint answers)."""
    retries: int = Field(default=6, ge=0, le=50)
    """How many times a request that failed for a passing reason (a connection error, a
    timeout, 429, 5xx) is sent again, with exponential backoff, before the export fails."""
    backoff_s: float = Field(default=0.5, gt=0, le=60)
    """The first wait before a retry; it doubles each time (with jitter), and a 429's
    `Retry-After` is honoured."""
    timeout_s: float = Field(default=30.0, gt=0)
    """How long one request may take."""


class FilesDestination(StrictModel):
    """A folder receiving one file per batch of changed records."""

    path: str
    """The folder, relative to the project or absolute; created when missing."""
    format: Literal["csv", "parquet", "ndjson"] = "csv"
    batch_size: int = Field(default=1_000_000, ge=1)
    """At most this many records per file."""


class Destination(StrictModel):
    """Where an export sends its records: exactly one of these."""

    postgres: PostgresDestination | None = None
    webhook: WebhookDestination | None = None
    files: FilesDestination | None = None

    @model_validator(mode="after")
    def _one(self) -> Destination:
        named = [n for n in ("postgres", "webhook", "files") if getattr(self, n) is not None]
        if len(named) != 1:
            raise ValueError(
                "name exactly one destination under 'to:': postgres, webhook or files"
                + (f" (found {', '.join(named)})" if named else "")
            )
        return self

    @property
    def kind(self) -> Literal["postgres", "webhook", "files"]:
        """Which destination this is."""
        if self.postgres is not None:
            return "postgres"
        if self.webhook is not None:
            return "webhook"
        return "files"


class ExportConfig(StrictModel):
    """One export: an asset's rows, sent where `to:` says, only what changed since the last
    successful export."""

    name: Identifier
    from_: str = Field(alias="from")
    """The asset exported, as `namespace.name`, its name, or `ref('name')`."""
    mode: ExportMode = "upsert"
    """`upsert`: insert new rows and update changed ones by `key`; `mirror`: upsert and also
    delete rows gone from the asset; `append`: insert rows the asset gained, never update."""
    key: list[str] = []
    """The asset columns identifying a row (required by `upsert` and `mirror`)."""
    columns: dict[str, str] | None = None
    """Destination column: asset column. Default: every asset column under its own name."""
    to: Destination
    role: str | None = None
    """The role of `serve.roles` the export reads its asset as: its masking and row filters
    apply to what is sent (default: the asset as the project holds it)."""
    description: str | None = None
    tags: list[str] = []
    enabled: bool | str = True
    """`false` leaves the export out of the project; `${VAR}` keeps it only where that
    environment variable is set and not empty (a destination only some environments have)."""

    @model_validator(mode="after")
    def _keyed(self) -> ExportConfig:
        if isinstance(self.enabled, str) and not _VARIABLE.match(self.enabled):
            raise ValueError("'enabled:' is true, false or one environment variable, ${NAME}")
        if self.mode in ("upsert", "mirror") and not self.key:
            raise ValueError(
                f"mode '{self.mode}' matches rows on a key: set 'key:' to the asset's key "
                "columns, or use mode 'append'"
            )
        if self.mode == "append" and self.key:
            raise ValueError("mode 'append' takes no 'key:' (it never updates a row)")
        if self.columns is not None:
            sources = set(self.columns.values())
            missing = [k for k in self.key if k not in sources]
            if missing:
                raise ValueError(
                    f"key column {', '.join(missing)} is not among 'columns:'; map it to a "
                    "destination column"
                )
        return self

    @property
    def is_enabled(self) -> bool:
        """Whether the export is part of the project in this environment."""
        if isinstance(self.enabled, bool):
            return self.enabled
        found = _VARIABLE.match(self.enabled)
        assert found is not None
        return bool(os.environ.get(found.group(1)))

    def column_map(self, asset_columns: list[str]) -> dict[str, str]:
        """Destination column -> asset column, given the asset's columns."""
        if self.columns is not None:
            return dict(self.columns)
        return {name: name for name in asset_columns}


class ExportsFile(StrictModel):
    """An `exports/*.yml` file."""

    exports: list[ExportConfig] = []
