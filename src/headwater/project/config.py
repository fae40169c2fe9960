"""Typed configuration of a project: `headwater.yml`, model sidecars and seed sidecars.

Every model forbids unknown keys, so a typo is an error naming the closest valid key rather than
a setting silently ignored. Field docstrings are the reference for `docs/project.md`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from headwater.project.checks import Check, normalize_checks
from headwater.project.kinds import BuildKind
from headwater.project.masking import GovernanceConfig
from headwater.project.partitions import PartitionsConfig, known_zone
from headwater.project.personal_data import PiiKind
from headwater.project.retention import RetentionConfig
from headwater.project.serving import ServeConfig
from headwater.project.strict import (
    IDENTIFIER_PATTERN,
    Duration,
    FreshnessSla,
    Identifier,
    KeyValueError,
    StrictModel,
)

__all__ = ["IDENTIFIER_PATTERN", "Identifier", "KeyValueError", "StrictModel"]

Materialization = Literal["view", "table", "ephemeral", "incremental", "snapshot"]
"""How a model is built. Each value is a member of `kinds.BuildKind`, whose builder builds it;
kept a plain `Literal` so that a validation error lists the values as written in YAML."""


def _dbt_tests(data: Any, column: str | None = None) -> Any:
    """Accept dbt's `tests:`/`data_tests:` for `checks:`, and the short check forms."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for alias in ("data_tests", "tests"):
        if alias in data and "checks" not in data:
            data["checks"] = data.pop(alias)
    if "checks" in data:
        data["checks"] = normalize_checks(data["checks"], column)
    return data


class SnapshotDefaults(StrictModel):
    """Project-wide defaults for SCD2 snapshots."""

    max_close_share: float = Field(0.5, ge=0.0, le=1.0)
    """Refuse a run that would end-date more than this share of current rows (0.5 = half)."""


class Defaults(StrictModel):
    """Defaults applied to every model and seed unless its sidecar says otherwise."""

    materialized: Materialization = "table"
    """Materialization of a model without one of its own."""
    namespace: Identifier = "main"
    """Namespace of models at the top of `models/` (subfolders name their own)."""
    seed_namespace: Identifier = "raw"
    """Namespace of seeds at the top of `seeds/`."""
    snapshot: SnapshotDefaults = SnapshotDefaults.model_validate({})


EngineType = Literal["duckdb", "spark"]
"""The engines Headwater runs models on; each is registered in `headwater.engine.registry`."""


class EngineConfig(StrictModel):
    """Settings of one compute engine (`engine:` in headwater.yml, or one of `engines:`)."""

    type: EngineType = "duckdb"
    """The engine (`engine: spark` is short for `engine: {type: spark}`): `duckdb`, embedded,
    or `spark`, PySpark in local mode, on a cluster or through Spark Connect."""
    threads: int | None = Field(None, ge=1)
    """DuckDB: threads per query (default: all cores). Spark: with no `master`, the N of
    `local[N]`."""
    memory_limit: str | None = None
    """DuckDB: memory it may use before spilling to disk, e.g. '2GB' (default: 80% of RAM).
    Spark: the driver's memory (`spark.driver.memory`) in local mode."""
    master: str | None = None
    """Spark only: where Spark runs. `local[N]` (this machine, N cores; the default is
    `local[2]`), a cluster's master URL (`spark://host:7077`, `yarn`, `k8s://...`), or a
    Spark Connect server (`sc://host:15002`)."""
    settings: dict[str, str | int | float | bool] = {}
    """Spark only: Spark settings passed through as they are (`spark.executor.memory: 8g`);
    values may be `${ENV_VAR}`."""

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_as_map(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _settings_of_this_engine(self) -> EngineConfig:
        if self.type != "spark":
            for key in ("master", "settings"):
                if getattr(self, key):
                    raise KeyValueError(
                        key, f"'{key}' is a Spark setting; this engine is {self.type}"
                    )
        return self


def _engine_by_name(value: Any) -> Any:
    """`engine: spark` is short for `engine: {type: spark}`."""
    return {"type": value} if isinstance(value, str) else value


class FolderConfig(StrictModel):
    """Settings of every model in one folder under `models/` (and its subfolders)."""

    engine: str | None = None
    """The engine these models build on: `duckdb`, `spark` or a name under `engines:`."""


class AssetRetries(StrictModel):
    """How an asset's build is tried again after a transient failure (a lost connection, a
    commit conflict, a source that stayed unreachable); other failures are never retried."""

    attempts: int = Field(1, ge=1, le=100)
    """Tries in all, the first included (1: no retry)."""
    backoff: float = Field(1.0, ge=0.0)
    """Seconds before the first retry; doubled each time, with random jitter."""
    max_delay: float = Field(60.0, ge=0.0)
    """Longest wait between two tries, in seconds."""


class JobConfig(StrictModel):
    """A job: a selection of assets run on a cron schedule by `headwater scheduler`."""

    select: list[str] = []
    """Assets to run, in the selector grammar of `headwater run -s` (default: all)."""
    exclude: list[str] = []
    """Assets to leave out."""
    cron: str | None = None
    """When to run, as a cron expression (`0 2 * * *`: at 02:00); none: only sensors run it."""
    timezone: str = "UTC"
    """The time zone the cron expression is read in (an IANA name)."""
    catch_up: Literal["latest", "all", "none"] = "latest"
    """Ticks missed while the scheduler was down: `latest` runs the job once for them, `all`
    runs it once per missed tick, `none` skips them."""
    full_refresh: bool = False
    """Run with `--full-refresh`."""
    enabled: bool = True
    """`false` keeps the job defined but never runs it on its schedule."""

    @field_validator("select", "exclude", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(
                f"'{value}' is not a cron expression (minute hour day month weekday, e.g. "
                "'0 2 * * *')"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class WebhookChannel(StrictModel):
    """Alerts POSTed as Slack-compatible JSON (`{"text": ...}` plus the details)."""

    type: Literal["webhook"]
    url: str
    """Where to post (values may be `${ENV_VAR}`, e.g. a Slack incoming-webhook URL)."""
    headers: dict[str, str] = {}
    """Extra request headers (values may be `${ENV_VAR}`)."""


class EmailChannel(StrictModel):
    """Alerts sent as e-mail over SMTP."""

    type: Literal["email"]
    host: str
    port: int = 25
    sender: str
    """The From address."""
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    """Write it as `${ENV_VAR}`."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS before logging in."""


class CommandChannel(StrictModel):
    """Alerts handed to a command: the alert as JSON on its standard input, and its fields in
    `HEADWATER_ALERT_*` environment variables."""

    type: Literal["command"]
    command: list[str] = Field(min_length=1)
    """The program and its arguments (run in the project folder)."""


AlertKind = Literal[
    "run_failure",
    "check_failure",
    "sla_breach",
    "stream_stopped",
    "stream_lag",
    "slot_wal",
    "cdc_lag",
]


class AlertsConfig(StrictModel):
    """Where alerts go and which ones: one message per incident, and one when it resolves."""

    channels: list[
        Annotated[WebhookChannel | EmailChannel | CommandChannel, Field(discriminator="type")]
    ] = []
    on: list[AlertKind] = [
        "run_failure",
        "check_failure",
        "sla_breach",
        "stream_stopped",
        "stream_lag",
        "slot_wal",
        "cdc_lag",
    ]
    """Which incidents alert: a run that failed, a check that failed, a freshness SLA breach,
    a stream stopped or behind, a cdc slot holding too much WAL, cdc mirrors behind."""


class SensorConfig(StrictModel):
    """Something `headwater scheduler` watches, running a job when it sees a change."""

    type: Literal["files", "asset", "python"]
    """`files`: new or changed files under `path`; `asset`: a new version of any of
    `assets`; `python`: a function deciding (see docs/orchestration.md)."""
    job: str | None = None
    """The job to run (a `python` sensor may name jobs in its run requests instead)."""
    interval: Duration = 30
    """How often it is evaluated (`30s`, `5m`, or seconds)."""
    path: str | None = None
    """files: a path or glob, relative to the project."""
    assets: list[str] = []
    """asset: the assets whose new versions trigger the job."""
    function: str | None = None
    """python: `file.py:function` relative to the project."""

    @model_validator(mode="after")
    def _needs(self) -> SensorConfig:
        wanted = {"files": "path", "asset": "assets", "python": "function"}[self.type]
        if not getattr(self, wanted):
            raise KeyValueError(wanted, f"a '{self.type}' sensor needs '{wanted}'")
        if self.type != "python" and not self.job:
            raise KeyValueError("job", f"a '{self.type}' sensor needs 'job' (what it runs)")
        return self


class FileTransport(StrictModel):
    """OpenLineage events appended to a file, one JSON document per line."""

    type: Literal["file"]
    path: str = ".headwater/openlineage.jsonl"
    """Relative to the project."""


class HttpTransport(StrictModel):
    """OpenLineage events POSTed to an HTTP endpoint, as Marquez accepts them."""

    type: Literal["http"]
    url: str
    """The server, e.g. `http://localhost:5000` (may use `${ENV_VAR}`)."""
    endpoint: str = "api/v1/lineage"
    """Path of the lineage endpoint under `url`."""
    api_key: str | None = None
    """Sent as `Authorization: Bearer ...`; write it as `${ENV_VAR}`."""
    headers: dict[str, str] = {}
    """Extra request headers (values may be `${ENV_VAR}`)."""
    timeout: float = Field(5.0, gt=0)
    """Seconds to wait for the server."""


class OpenLineageConfig(StrictModel):
    """Where each asset build's OpenLineage run events (START, COMPLETE, FAIL) go."""

    namespace: str | None = None
    """The jobs' namespace (default: the project's name)."""
    transports: list[Annotated[FileTransport | HttpTransport, Field(discriminator="type")]] = []


class QualityConfig(StrictModel):
    """Project-wide data quality settings."""

    metrics: bool = True
    """Record the row count and per-column metrics (null fraction, distinct count, min, max,
    mean) of every stored asset each time it is published, in the same scan as its checks;
    anomaly checks learn from this history."""


class ProjectConfig(StrictModel):
    """The contents of `headwater.yml`."""

    name: Identifier
    """Project name."""
    warehouse: str = "warehouse"
    """Where Delta tables live: a folder (relative to the project) holding `<namespace>/<table>`."""
    catalog: str = "sqlite:///.headwater/catalog.db"
    """SQLAlchemy URL of the catalog database; relative SQLite paths are inside the project;
    `${VAR}` is read from the environment (a password)."""
    threads: int = Field(4, ge=1, le=256)
    """How many models build at once."""
    defaults: Defaults = Defaults.model_validate({})
    engine: EngineConfig = EngineConfig.model_validate({})
    """The engine models build on unless they name another (`engine: duckdb`)."""
    engines: dict[Identifier, EngineConfig] = {}
    """Engines that models and folders may name besides `engine:`, e.g.
    `{spark: {type: spark, master: "local[4]"}}`. `duckdb` and `spark` with their defaults
    need no entry."""
    models: dict[str, FolderConfig] = {}
    """Settings by folder under `models/` (`marts/finance: {engine: spark}`); the deepest
    folder holding a model wins, and a model's own sidecar wins over its folder."""
    quality: QualityConfig = QualityConfig.model_validate({})
    retries: AssetRetries = AssetRetries.model_validate({})
    """Retries of every asset's build that does not set its own."""
    pools: dict[Identifier, Annotated[int, Field(ge=1)]] = {}
    """Named limits on how many builds run at once, e.g. `{shop_db: 2}`; an asset names its
    pool with `pool:`."""
    jobs: dict[Identifier, JobConfig] = {}
    """Jobs that `headwater scheduler` runs on their cron schedules (and sensors trigger)."""
    sensors: dict[Identifier, SensorConfig] = {}
    """What `headwater scheduler` watches to run jobs on arrival of data."""
    alerts: AlertsConfig = AlertsConfig.model_validate({})
    """Where the scheduler sends alerts (failed runs and checks, freshness SLA breaches)."""
    openlineage: OpenLineageConfig = OpenLineageConfig.model_validate({})
    """Where OpenLineage run events go (none by default; `OPENLINEAGE_URL` in the
    environment adds an HTTP transport)."""
    serve: ServeConfig = ServeConfig.model_validate({})
    """`headwater serve`: the HTTP API, the web UI and the PostgreSQL protocol, users' roles."""
    governance: GovernanceConfig = GovernanceConfig.model_validate({})
    """How personal data is masked for readers without unmasked access."""
    vars: dict[str, Any] = {}
    """Values available to templated SQL as `{{ var('name') }}`."""
    version: Literal[1] = 1
    """Format version of this file."""

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_by_name(cls, value: Any) -> Any:
        return _engine_by_name(value)

    @field_validator("engines", mode="before")
    @classmethod
    def _engines_by_name(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {name: _engine_by_name(config) for name, config in value.items()}
        return value

    @model_validator(mode="after")
    def _sensors_name_jobs(self) -> ProjectConfig:
        for name, sensor in self.sensors.items():
            if sensor.job is not None and sensor.job not in self.jobs:
                raise KeyValueError(
                    "sensors",
                    f"sensor {name} runs job '{sensor.job}', which is not under 'jobs:'",
                )
        return self


class ColumnConfig(StrictModel):
    """Documentation, declared type and checks of one column."""

    name: str
    description: str | None = None
    type: str | None = None
    """DuckDB type; for seeds it is the type the CSV column is read as. Under an enforced
    contract the output column must have it."""
    nullable: bool = True
    """`false`: under an enforced contract the column may hold no NULL."""
    tags: list[str] = []
    pii: PiiKind | None = None
    """The kind of personal data the column holds (`email`, `name`, ...); columns derived
    from it are classified through lineage."""
    checks: list[Check] = []
    """Checks of this column (`not_null`, `unique`, `accepted_values: {values: [...]}`, ...)."""

    @model_validator(mode="before")
    @classmethod
    def _short_checks(cls, data: Any) -> Any:
        return _dbt_tests(data, data.get("name") if isinstance(data, dict) else None)


class SnapshotConfig(StrictModel):
    """How an SCD type 2 snapshot detects change."""

    strategy: Literal["timestamp", "check"] = "timestamp"
    """`timestamp`: a row changed when `updated_at` grew; `check`: when any `check_cols` differ."""
    updated_at: str | None = None
    """Column holding the source row's last update time (strategy `timestamp`)."""
    check_cols: list[str] | Literal["all"] = "all"
    """Columns compared for strategy `check`; `all` compares every non-key column."""
    invalidate_hard_deletes: bool = True
    """Close out the current row of a key that disappeared from the source."""
    max_close_share: float | None = Field(None, ge=0.0, le=1.0)
    """Refuse to end-date more than this share of current rows in one run (project default 0.5)."""

    @model_validator(mode="after")
    def _needs_updated_at(self) -> SnapshotConfig:
        if self.strategy == "timestamp" and not self.updated_at:
            raise KeyValueError("strategy", "strategy 'timestamp' needs 'updated_at: <column>'")
        return self


class ModelConfig(StrictModel):
    """A model's YAML sidecar (`models/<ns>/<name>.yml`), all keys optional."""

    name: Identifier | None = None
    """Table name; defaults to the SQL file's name."""
    namespace: Identifier | None = None
    """Namespace; defaults to the model's folder under `models/`."""
    description: str | None = None
    materialized: Materialization | None = None
    unique_key: list[str] | None = None
    """Key of an incremental merge or a snapshot; one column or a list."""
    incremental_strategy: Literal["append", "merge"] | None = None
    """`merge` when a unique key is set, otherwise `append`."""
    partition_by: list[str] = []
    """Delta partition columns."""
    tags: list[str] = []
    owner: str | None = None
    columns: list[ColumnConfig] = []
    snapshot: SnapshotConfig | None = None
    """SCD2 settings, for `materialized: snapshot`."""
    checks: list[Check] = []
    """Checks of the table (`row_count`, `unique: {columns: [...]}`, `expression`, ...); a
    failing `error` check keeps the new version from being published."""
    contract: Literal["enforced"] | None = None
    """`enforced`: the output must have exactly the declared `columns`, with their `type` and
    `nullable`; otherwise nothing is committed."""
    retries: AssetRetries | None = None
    """Try the build again after a transient failure (default: the project's `retries`)."""
    timeout: Duration | None = None
    """Stop the build when it runs longer than this (`10m`, or seconds); it fails as timed out."""
    pool: Identifier | None = None
    """The pool (`pools:` in headwater.yml) whose slot the build takes while it runs."""
    engine: str | None = None
    """The engine the model builds on: `duckdb`, `spark` or a name under `engines:` in
    headwater.yml (default: its folder's under `models:`, else the project's `engine:`)."""
    freshness: FreshnessSla | None = None
    """How stale the table may get before the scheduler alerts (`{max_lag: 2h}`)."""
    retention: RetentionConfig | None = None
    """How long versions stay readable and when rows expire (`headwater maintain`)."""
    partitions: PartitionsConfig | None = None
    """Build the table one partition at a time: by time (`grain`, `start`) or by `keys`, on
    `column`; see docs/orchestration.md."""

    @model_validator(mode="before")
    @classmethod
    def _short_checks(cls, data: Any) -> Any:
        data = _dbt_tests(data)
        if isinstance(data, dict) and isinstance(data.get("contract"), dict):
            # dbt writes `contract: {enforced: true}`
            enforced = data["contract"].get("enforced")
            data = {**data, "contract": "enforced" if enforced else None}
        return data

    @field_validator("unique_key", "partition_by", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.materialized == BuildKind.SNAPSHOT.value and not self.unique_key:
            raise KeyValueError(
                "materialized", "a snapshot needs 'unique_key' (one column or a list)"
            )
        if self.incremental_strategy == "merge" and not self.unique_key:
            raise KeyValueError(
                "incremental_strategy", "incremental_strategy 'merge' needs 'unique_key'"
            )
        return self


class SeedConfig(StrictModel):
    """A seed's YAML sidecar (`seeds/<name>.yml`)."""

    name: Identifier | None = None
    namespace: Identifier | None = None
    description: str | None = None
    delimiter: str = ","
    tags: list[str] = []
    columns: list[ColumnConfig] = []
    partition_by: list[str] = []
    checks: list[Check] = []
    """Checks of the seed's table (column checks go under `columns`)."""
    retention: RetentionConfig | None = None
    """How long versions stay readable and when rows expire (`headwater maintain`)."""

    @model_validator(mode="before")
    @classmethod
    def _short_checks(cls, data: Any) -> Any:
        return _dbt_tests(data)

    @field_validator("tags", "partition_by", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
