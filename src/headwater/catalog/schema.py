"""Tables of the catalog database (SQLAlchemy Core), at the latest migration."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

schema_version = Table(
    "hw_schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", String(200), nullable=False),
    Column("applied_at", String(32), nullable=False),
)

runs = Table(
    "hw_runs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False, unique=True),
    Column("command", String(40), nullable=False),
    Column("selector", Text),
    Column("status", String(20), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("pid", Integer),
    Column("hostname", String(200)),
    Column("threads", Integer),
    Column("full_refresh", Integer, nullable=False, default=0),
    Column("error", Text),
)

asset_results = Table(
    "hw_asset_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("hw_runs.run_id"), nullable=False),
    Column("asset", String(300), nullable=False),
    Column("status", String(20), nullable=False),
    Column("materialization", String(20)),
    Column("rows_written", Integer),
    Column("delta_version", Integer),
    Column("duration_s", Float),
    Column("started_at", String(32)),
    Column("finished_at", String(32)),
    Column("fingerprint", String(64)),
    Column("message", Text),
    Index("ix_hw_asset_results_run", "run_id"),
    Index("ix_hw_asset_results_asset", "asset", "id"),
)

asset_state = Table(
    "hw_asset_state",
    metadata,
    Column("asset", String(300), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("delta_version", Integer),
    Column("materialization", String(20)),
    Column("run_id", String(40)),
    Column("updated_at", String(32), nullable=False),
    Column("state_json", Text),
)
