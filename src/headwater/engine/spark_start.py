"""Starting the Spark session an engine runs on, from `engine:` in headwater.yml.

`master` says where: `local[N]` (this machine; the default `local[N]` takes N from `threads`,
else 2), a cluster's master URL, or `sc://host:port` for a Spark Connect server. Headwater's
defaults make Spark agree with the DuckDB engine where results could differ (UTC session time,
microsecond Parquet timestamps, ANSI arithmetic that fails rather than wrapping or nulling), keep
it quiet (no UI, no progress bars, errors only in its log) and small in local mode; `settings`
are passed through last, so any of them can be changed. A process that already runs a Spark
context (a notebook, a test session) is reused through a session of its own rather than started
a second time, and is left running when the engine closes.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.errors import ConfigError, Location

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from headwater.engine.registry import EnginePlace
    from headwater.project.config import EngineConfig

DEFAULT_LOCAL_THREADS = 2
S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_QUIET_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
"""PySpark's Python loggers that print every failed query's error (with its Java stack) to
stderr; the engine reports those errors itself."""

SESSION_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    # DuckDB writes (and delta-rs expects) INT64 microseconds, not Spark's legacy INT96
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # dates and times before 1582 as DuckDB keeps them (proleptic Gregorian), never rebased
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    # like DuckDB, a failed cast or an overflow is an error, not a NULL or a wrapped number
    "spark.sql.ansi.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
}
"""Settings of every Spark session the engine runs SQL in (runtime settings: they apply to a
session of a running Spark too)."""

LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # storage lists what the writer wrote; a marker file would linger in the table's folder
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}
"""Settings of a Spark the engine starts itself (a cluster's driver or local mode)."""


@dataclass(frozen=True)
class StartedSpark:
    """A Spark session for an engine, and whether the engine stops it when it closes."""

    spark: SparkSession
    owned: bool
    remote: bool
    """A Spark Connect session (no JVM in this process)."""


def start_spark(config: EngineConfig, place: EnginePlace) -> StartedSpark:
    """Start (or join) the Spark that `config` describes, for a project at `place`.

    Raises:
        ConfigError: Java is missing, Spark did not start, a `${VAR}` in `settings` is not set,
            another Spark with a different master runs in this process, or the warehouse is on
            object storage and Hadoop's S3A connector is not on Spark's classpath.
    """
    # `headwater.*` settings are Headwater's own (the functions a cluster registers), not Spark's
    settings = {
        key: _resolved(key, value)
        for key, value in config.settings.items()
        if not key.startswith("headwater.")
    }
    master = config.master or f"local[{config.threads or DEFAULT_LOCAL_THREADS}]"
    _quiet_python_loggers()
    if master.startswith("sc://"):
        started = _connect(master, settings, place)
    else:
        started = _classic(config, master, settings, place)
    if place.object_store is not None and not started.remote:
        _require_s3a(started)
    return started


def _connect(url: str, settings: dict[str, str], place: EnginePlace) -> StartedSpark:
    """A new session on the Spark Connect server at `url`."""
    from pyspark.sql import SparkSession

    options = dict(SESSION_DEFAULTS)
    if place.object_store is not None:
        options.update(place.object_store.spark_settings())
    options.update(settings)
    try:
        builder = SparkSession.builder.remote(url)
        for key, value in options.items():
            builder = builder.config(key, value)
        spark = builder.create()
        spark.range(1).collect()  # a server that cannot be reached fails here, not mid-build
    except Exception as exc:
        raise ConfigError(
            f"cannot open a Spark Connect session at {url}: {_first_line(exc)}",
            Location(file="headwater.yml"),
            "start the Spark Connect server (sbin/start-connect-server.sh) or fix 'master' "
            "of the Spark engine in headwater.yml",
        ) from None
    return StartedSpark(spark, owned=True, remote=True)


def _classic(
    config: EngineConfig, master: str, settings: dict[str, str], place: EnginePlace
) -> StartedSpark:
    """A session of this process's Spark context, starting the context when there is none."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    runtime = dict(SESSION_DEFAULTS)
    if place.object_store is not None:
        runtime.update(place.object_store.spark_settings())
    running = SparkContext._active_spark_context
    if running is not None:
        if config.master and running.master != config.master:
            raise ConfigError(
                f"this process already runs Spark with master {running.master}, and the Spark "
                f"engine asks for {config.master}",
                Location(file="headwater.yml"),
                "use one Spark master per process, or run the project in a process of its own",
            )
        # a session of its own: separate settings and views, the context is the caller's
        spark = SparkSession.builder.getOrCreate().newSession()
        for key, value in {**runtime, **settings}.items():
            if key.startswith(("spark.sql.", "spark.hadoop.")):
                spark.conf.set(key, value)
        return StartedSpark(spark, owned=False, remote=False)
    _require_java()
    options = {**LOCAL_DEFAULTS, **runtime}
    if master.startswith("local"):
        options["spark.sql.shuffle.partitions"] = str(max(2, _local_cores(master)))
        if config.memory_limit:
            options["spark.driver.memory"] = _jvm_memory(config.memory_limit)
        if place.temp_directory is not None:
            place.temp_directory.mkdir(parents=True, exist_ok=True)
            options["spark.local.dir"] = str(place.temp_directory)
            options["spark.sql.warehouse.dir"] = str(place.temp_directory / "spark-warehouse")
    options.update(settings)
    try:
        builder = SparkSession.builder.master(master).appName("headwater")
        for key, value in options.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    except Exception as exc:
        raise ConfigError(
            f"Spark did not start (master {master}): {_first_line(exc)}",
            Location(file="headwater.yml"),
            "check 'master' and 'settings' of the Spark engine in headwater.yml, and that "
            "Java 17 or later is installed (JAVA_HOME)",
        ) from None
    return StartedSpark(spark, owned=True, remote=False)


def _require_java() -> None:
    """Raise `ConfigError` when no Java runtime is found (PySpark starts Spark's JVM)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return
    if shutil.which("java"):
        return
    raise ConfigError(
        "the Spark engine needs a Java runtime, and none was found (no JAVA_HOME, no java on PATH)",
        Location(file="headwater.yml"),
        "install Java 17 or later (Debian: apt-get install openjdk-17-jre-headless) or set "
        "JAVA_HOME",
    )


def _require_s3a(started: StartedSpark) -> None:
    """Raise `ConfigError` when Hadoop's S3A connector, through which Spark reads an `s3://`
    warehouse, is not on Spark's classpath (it is not part of PySpark's jars)."""
    spark = started.spark
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    try:
        jvm.java.lang.Class.forName(S3A_CLASS)
    except Exception:
        version = str(jvm.org.apache.hadoop.util.VersionInfo.getVersion())
        if started.owned:
            spark.stop()
        raise ConfigError(
            "the warehouse is on S3, and the Spark engine reads it through Hadoop's S3A "
            f"connector ({S3A_CLASS}), which is not on Spark's classpath",
            Location(file="headwater.yml"),
            f"add the package org.apache.hadoop:hadoop-aws:{version} (with its AWS SDK bundle) "
            f"to Spark: 'spark.jars.packages: org.apache.hadoop:hadoop-aws:{version}' under the "
            "Spark engine's settings, or its jars in Spark's jars folder",
        ) from None


def s3a_missing_hint(message: str) -> str | None:
    """The fix for a Spark error saying the S3A connector is missing (None: it says not)."""
    if S3A_CLASS in message or 'scheme "s3a"' in message:
        return (
            "add Hadoop's S3A connector to Spark: the package org.apache.hadoop:hadoop-aws "
            "(the version of Spark's Hadoop) with its AWS SDK bundle"
        )
    return None


def _resolved(key: str, value: object) -> str:
    """A setting's value as Spark takes it: text, booleans lower case, `${VAR}` replaced by
    the environment's value."""
    text = str(value).lower() if isinstance(value, bool) else str(value)

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise ConfigError(
                f"environment variable {name} (used by the Spark setting '{key}') is not set",
                Location(file="headwater.yml"),
                f"export {name}=... before running, or change the setting",
            )
        return found

    return _REFERENCE.sub(variable, text)


def _local_cores(master: str) -> int:
    """N of `local[N]` (the machine's cores for `local[*]` and plain `local`: 1)."""
    found = re.fullmatch(r"local\[(\d+|\*)(?:,\s*\d+)?\]", master.strip())
    if found is None:
        return 1
    if found.group(1) == "*":
        return os.cpu_count() or 1
    return int(found.group(1))


def _jvm_memory(limit: str) -> str:
    """`memory_limit` ('2GB', '512MB', '4g') as the JVM spells it ('2g', '512m')."""
    found = re.fullmatch(r"\s*(\d+)\s*([KMGT])I?B?\s*", limit.upper())
    if found is None:
        raise ConfigError(
            f"memory_limit {limit!r} is not a size the Spark engine understands",
            Location(file="headwater.yml"),
            "write it as a whole number of KB, MB, GB or TB, e.g. '4GB'",
        )
    return f"{found.group(1)}{found.group(2).lower()}"


def _quiet_python_loggers() -> None:
    # made by PySpark's own logger class: PySpark logs to them with fields a plain logger lacks
    from pyspark.logger import PySparkLogger

    for name in _QUIET_LOGGERS:
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
