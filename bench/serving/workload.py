"""The serving workload: parameters from a fixed seed, the timed phases (sequential latency,
8-client throughput), the peak-RSS sampler and the answer normalisation used to check every
system against the floor."""

from __future__ import annotations

import datetime
import decimal
import http.client
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUERIES = ("q1", "q2", "q3")
WHAT = {
    "q1": "point lookup `l_orderkey = ?`",
    "q2": "`sum(l_extendedprice)` by `l_returnflag`, one month of `l_shipdate`",
    "q3": "keyset page: AIR, `l_orderkey > ?`, 1,000 rows in key order",
}
FIRST_MONTH, LAST_MONTH = (1992, 1), (1998, 11)
"""The months q2 draws from (TPC-H ship dates run from 1992-01-02 to 1998-12-01)."""
MAX_ORDERKEY = 6_000_000
CHECK_MONTH = ("1995-06-01", "1995-07-01")


@dataclass(frozen=True)
class Params:
    """Each query's parameters, in the order every system is sent them."""

    q1: list[int]
    q2: list[tuple[str, str]]
    q3: list[int]

    def of(self, query: str) -> list[Any]:
        """The parameter list of `query`."""
        return list(getattr(self, query))

    def first(self, query: str) -> Any:
        """The parameters every system's answer is checked with."""
        return self.of(query)[0]


def make_params(files: list[str], count: int, seed: int) -> Params:
    """`count` parameters per query from `seed`: existing order keys for q1, months for q2,
    any key below the largest for q3 (each a page of 1,000 AIR rows after it)."""
    import duckdb

    keys = [
        int(k)
        for (k,) in duckdb.sql(
            f"select distinct l_orderkey from read_parquet({files!r}) order by 1"
        ).fetchall()
    ]
    chooser = random.Random(seed)
    months = [
        (year, month)
        for year in range(FIRST_MONTH[0], LAST_MONTH[0] + 1)
        for month in range(1, 13)
        if FIRST_MONTH <= (year, month) <= LAST_MONTH
    ]

    def month_range(year: int, month: int) -> tuple[str, str]:
        end = (year + 1, 1) if month == 12 else (year, month + 1)
        return f"{year:04d}-{month:02d}-01", f"{end[0]:04d}-{end[1]:02d}-01"

    return Params(
        q1=[chooser.choice(keys) for _ in range(count)],
        # The first (the answer every system is checked with) is the month in which the
        # return flags change, so all three (A, N, R) are in it.
        q2=[CHECK_MONTH] + [month_range(*chooser.choice(months)) for _ in range(count - 1)],
        # Keys low enough that a page always has its full 1,000 rows.
        q3=[chooser.randrange(0, MAX_ORDERKEY - 100_000) for _ in range(count)],
    )


# ---------------------------------------------------------------- timing


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `share` of samples <= it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Latency:
    """The sequential phase of one query on one system."""

    samples: list[float] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def p50_ms(self) -> float:
        """Median in ms."""
        return percentile(self.samples, 0.5) * 1000

    @property
    def p99_ms(self) -> float:
        """99th percentile in ms."""
        return percentile(self.samples, 0.99) * 1000


@dataclass
class Throughput:
    """The concurrent phase of one query on one system."""

    requests: int
    seconds: float
    clients: int
    stopped_early: bool = False

    @property
    def per_s(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds


Call = Callable[[Any], Any]
"""Sends one request with the given parameters and returns the parsed answer."""


def sequential(call: Call, params: list[Any], max_seconds: float) -> Latency:
    """Time each call in turn; stop after `max_seconds` (a slow system gets fewer samples)."""
    result = Latency()
    started = time.perf_counter()
    for value in params:
        begun = time.perf_counter()
        call(value)
        result.samples.append(time.perf_counter() - begun)
        if time.perf_counter() - started > max_seconds and len(result.samples) < len(params):
            result.stopped_early = True
            break
    return result


def concurrent(
    make_call: Callable[[], Call], params: list[Any], clients: int, max_seconds: float
) -> Throughput:
    """`clients` threads, each with its own connection (made before the clock starts), take
    the next parameters until all are sent or `max_seconds` passed; requests per second."""
    calls = [make_call() for _ in range(clients)]
    lock = threading.Lock()
    pending: Iterator[Any] = iter(params)
    done = [0]
    errors: list[BaseException] = []
    deadline = [math.inf]
    stopped = threading.Event()

    def worker(call: Call) -> None:
        while not stopped.is_set():
            with lock:
                value = next(pending, None)
            if value is None:
                return
            try:
                call(value)
            except BaseException as exc:
                errors.append(exc)
                stopped.set()
                return
            with lock:
                done[0] += 1
            if time.perf_counter() > deadline[0]:
                stopped.set()

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in calls]
    started = time.perf_counter()
    deadline[0] = started + max_seconds
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for call in calls:
        close = getattr(call, "close", None)
        if close is not None:
            close()
    if errors:
        raise errors[0]
    return Throughput(done[0], seconds, clients, stopped_early=done[0] < len(params))


# ---------------------------------------------------------------- HTTP


class HttpFailed(Exception):
    """A request was answered with an error status."""


class HttpClient:
    """One keep-alive HTTP/1.1 connection (the standard library's: the lightest client, so
    the client's own time weighs as little as it can in the latency)."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        host, port = base.removeprefix("http://").rstrip("/").split(":")
        self.host, self.port = host, int(port)
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=600)
        self.last_headers: dict[str, str] = {}
        """The headers of the last response, names in lower case."""

    def request(self, method: str, path: str, body: bytes | None = None, kind: str = "") -> Any:
        """Send one request; the parsed JSON answer (HttpFailed on a status >= 400)."""
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = kind or "application/json"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A server may close an idle keep-alive connection: reconnect once.
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=600)
                if attempt:
                    raise
        self.last_headers = {k.lower(): v for k, v in response.getheaders()}
        if response.status >= 400:
            raise HttpFailed(f"{method} {path} -> {response.status}: {data[:500]!r}")
        return json.loads(data)

    def get(self, path: str) -> Any:
        """GET `path`, parsed JSON."""
        return self.request("GET", path)

    def post_json(self, path: str, payload: Any) -> Any:
        """POST `payload` as JSON, parsed JSON."""
        return self.request("POST", path, json.dumps(payload).encode())

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def wait_http(
    url: str, path: str = "/", deadline_s: float = 300, alive: Callable[[], bool] | None = None
) -> None:
    """Wait until `url + path` answers at all (any status): a guard, not a measurement."""
    end = time.monotonic() + deadline_s
    base = HttpClient(url)
    while time.monotonic() < end:
        if alive is not None and not alive():
            raise RuntimeError(f"the server at {url} exited while starting")
        try:
            base.connection.request("GET", path)
            base.connection.getresponse().read()
            return
        except OSError:
            base.close()
            base = HttpClient(url)
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {deadline_s} s")


# ---------------------------------------------------------------- memory


class PeakRss:
    """Polls the resident set of a process tree (the process and its children) every 50 ms
    on a thread of its own; `peak_mib` is the largest seen so far."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                total = 0
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        continue
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self._stop.wait(0.05)

    @property
    def peak_mib(self) -> float:
        """The largest resident set seen, MiB."""
        return self.peak / 2**20

    def stop(self) -> float:
        """Stop polling; the peak in MiB."""
        self._stop.set()
        self._thread.join()
        return self.peak_mib


class LoadWatch:
    """The 1-minute load average, sampled every 5 s while the benchmark runs."""

    def __init__(self) -> None:
        import os

        self.first = os.getloadavg()[0]
        self.samples = [self.first]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import os

        while not self._stop.wait(5):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> tuple[float, float, float]:
        """(first, median, max) of the samples."""
        import statistics

        self._stop.set()
        return self.first, statistics.median(self.samples), max(self.samples)


# ---------------------------------------------------------------- answers

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _value(value: Any) -> Any:
    """One value as every system's JSON or driver can give it: numbers (ints, floats,
    decimals, numeric text) as floats, dates (objects or text, with or without a time of
    midnight) as ISO dates."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()[:10]
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return float(value)
        if _DATE.match(value) and (len(value) == 10 or value[10:].strip("T0:. Z") == ""):
            return value[:10]
        return value
    return value


def normalise(
    rows: list[list[Any]] | list[tuple[Any, ...]], ordered: bool
) -> list[tuple[Any, ...]]:
    """Rows as comparable tuples; sorted unless the query's order is part of its answer."""
    out = [tuple(_value(v) for v in row) for row in rows]
    return out if ordered else sorted(out, key=repr)


def same_rows(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> str | None:
    """None when the normalised answers are equal (floats to 1e-9 relative), else why not."""
    if len(a) != len(b):
        return f"{len(a)} rows, the floor {len(b)}"
    for index, (left, right) in enumerate(zip(a, b, strict=True)):
        if len(left) != len(right):
            return f"row {index}: {len(left)} columns, the floor {len(right)}"
        for x, y in zip(left, right, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6):
                    return f"row {index}: {left} != the floor's {right}"
            elif x != y:
                return f"row {index}: {left} != the floor's {right}"
    return None


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path`, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
