"""The webhook destination: an export's changed records POSTed to an HTTP endpoint as batches
of JSON records, each batch carrying an idempotency key.

A batch is confirmed when the endpoint answers 2xx; the position file records each confirmed
batch, so a run that was killed resumes at the next one, and a batch sent again (because its
answer was lost) carries the same key for the receiver to recognise. Passing failures
(connection errors, timeouts, 408, 429, 5xx) are retried with exponential backoff; a refused
batch (another 4xx) is split in halves until the records the endpoint refuses are found, and
those go to the export's quarantine.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import math
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.build.secrets import REFERENCE, redact, resolve
from headwater.errors import ExportError, Location
from headwater.exports.base import Changes, Position, Quarantine, Refused, Sent
from headwater.exports.position_file import PositionFile
from headwater.project.exports import NAMESPACE, ExportConfig, WebhookDestination
from headwater.version import __version__

if TYPE_CHECKING:
    import httpx
    import pyarrow as pa

_LOG = logging.getLogger(__name__)

RETRIED_STATUS = frozenset({408, 429})
"""Besides every 5xx: answers that say "not now" rather than "not these records"."""
CONFIGURATION_STATUS = frozenset({401, 403, 404, 405, 407, 410, 415})
"""Answers that would refuse every record alike: the URL, credentials or content type are
wrong, so splitting the batch to find a bad record would only quarantine them all."""
MAX_WAIT_S = 300.0
"""The longest wait before a retry, whatever the backoff or a `Retry-After` asks for."""
REASON_CHARS = 500
"""How much of a refusing answer's body a quarantined record keeps as its reason."""
NULL = "null"


class Webhook:
    """Sends an export's changes to `to.webhook`, keeping its position in
    `state_dir / "position.json"`."""

    label: str
    namespace: str
    name: str

    def __init__(self, export: ExportConfig, state_dir: Path) -> None:
        """Resolve the URL and headers (`${VAR}` from the environment) and open a client.

        Raises:
            ConfigError: a referenced environment variable is not set.
            ExportError: the URL is not an http(s) URL, or a header cannot be sent.
        """
        import httpx

        config = export.to.webhook
        if config is None:
            raise ExportError(
                redact(
                    f"export {export.name} does not send to a webhook (its 'to:' is "
                    f"{export.to.kind})"
                ),
                self._where(export.name),
            )
        self._export = export.name
        self._config: WebhookDestination = config
        where = self._where(export.name)
        key = f"exports.{export.name}.to.webhook"
        self._url = resolve(config.url, where, f"{key}.url")
        headers = {
            name: resolve(value, where, f"{key}.headers.{name}")
            for name, value in config.headers.items()
        }
        self.label, self.namespace, self.name = public_address(config.url, self._url)
        self._secrets = _secrets_of(config.url, self._url, headers)
        parts = urllib.parse.urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ExportError(
                self._scrub(
                    f"export {export.name}: the webhook URL {self.label} is not an http(s) URL"
                ),
                where,
                "set 'url:' to the endpoint's full address, e.g. https://host/path",
            )
        self._positions = PositionFile(state_dir / "position.json")
        self._limiter = RateLimiter(config.rate)
        self._random = random.Random()
        self._sleep: Callable[[float], None] = time.sleep
        self._retries = 0
        try:
            self._client = httpx.Client(
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": f"headwater/{__version__}",
                    **headers,
                },
                timeout=config.timeout_s,
            )
        except (ValueError, TypeError) as exc:
            # httpx names the offending header value in its message
            raise ExportError(
                self._scrub(f"export {export.name}: a webhook header cannot be sent: {exc}"),
                where,
                "header names and values must be ASCII text without line breaks",
            ) from None

    def check(self, schema: pa.Schema, key: list[str]) -> None:
        """Check that every column of `schema` has a JSON encoding and that the key columns
        are among them; returns nothing.

        Raises:
            ExportError: names the column and its type.
        """
        where = self._where(self._export)
        seen: set[str] = set()
        for field in schema:
            if field.name in seen:
                raise ExportError(
                    self._scrub(
                        f"export {self._export}: two destination columns are named "
                        f"{field.name}; a JSON record holds each name once"
                    ),
                    Location(asset=where.asset, column=field.name),
                    "map each destination column once in 'columns:'",
                )
            seen.add(field.name)
            problem = unsupported(field.type)
            if problem is not None:
                raise ExportError(
                    self._scrub(
                        f"export {self._export}: column {field.name} is {field.type}, which a "
                        f"JSON record cannot hold ({problem})"
                    ),
                    Location(asset=where.asset, column=field.name),
                    "leave the column out of 'columns:', or cast it in the asset",
                )
        missing = [k for k in key if k not in seen]
        if missing:
            raise ExportError(
                self._scrub(
                    f"export {self._export}: the key column {', '.join(missing)} is not among "
                    f"the records' columns ({', '.join(schema.names)})"
                ),
                where,
                "map the key columns in 'columns:'",
            )

    def position(self) -> Position:
        """Return the position recorded in the position file."""
        return self._positions.read()

    def send(self, changes: Changes, resume_at: int, quarantine: Quarantine) -> Sent:
        """POST `changes` batch by batch from batch `resume_at` on (upserts, then deletes),
        record each confirmed batch and finally `changes.until`; returns what was sent.

        Raises:
            ExportError: the endpoint refused the configuration (401, 403, 404...), or a batch
                still failed after `retries`; the position stays at the last confirmed batch.
        """
        self.check(changes.schema, changes.key)
        position = self._positions.read()
        pending = position.pending
        size = self._config.batch_size
        if pending is not None and (pending.since, pending.until) == (changes.since, changes.until):
            if pending.batch_size is not None and pending.batch_size != size:
                _LOG.warning(
                    "export %s: resuming %s in batches of %d as it began (batch_size is now %d)",
                    self._export,
                    changes.range_label,
                    pending.batch_size,
                    size,
                )
                size = pending.batch_size
            if resume_at > pending.batches_done:
                # re-sending a batch is harmless (same key); skipping an unconfirmed one loses it
                _LOG.warning(
                    "export %s: asked to resume %s at batch %d but only %d are confirmed; "
                    "resuming at %d",
                    self._export,
                    changes.range_label,
                    resume_at,
                    pending.batches_done,
                    pending.batches_done,
                )
                resume_at = pending.batches_done
        else:
            if resume_at > 0:
                _LOG.warning(
                    "export %s: asked to resume %s at batch %d but the position file has no "
                    "such range pending; sending it all",
                    self._export,
                    changes.range_label,
                    resume_at,
                )
                resume_at = 0
            pending = self._positions.begin(position, changes.since, changes.until, size)
        sent = Sent()
        retries_before = self._retries
        upsert_operation = "append" if changes.mode == "append" else "upsert"
        number = 0
        try:
            for operation, batches in (
                (upsert_operation, changes.upsert_batches),
                ("delete", changes.delete_batches),
            ):
                for batch in batches(size):
                    if number >= resume_at and batch.num_rows:
                        key = batch_key(changes, number)
                        accepted, refused = self._deliver(
                            changes, operation, number, key, encode_records(batch)
                        )
                        if refused:
                            quarantine.add(key, refused)
                        # the position moves only after the endpoint and the quarantine have
                        # every record of the batch
                        self._positions.confirm(position, pending, number + 1)
                        sent.batches += 1
                        sent.refused += len(refused)
                        if operation == "delete":
                            sent.deleted += accepted
                        else:
                            sent.upserted += accepted
                    number += 1
        finally:
            sent.retries = self._retries - retries_before
        self._positions.finish(changes.until, changes.source)
        return sent

    def close(self) -> None:
        """Close the HTTP client; returns nothing."""
        self._client.close()

    def _deliver(
        self, changes: Changes, operation: str, number: int, key: str, records: list[str]
    ) -> tuple[int, list[Refused]]:
        """POST `records` under `key`; return how many the endpoint took and the ones it
        refused, found by splitting a refused request in halves down to single records."""
        response = self._post(changes, operation, number, key, records)
        if response.is_success:
            return len(records), []
        reason = self._scrub(f"HTTP {response.status_code}: {response.text[:REASON_CHARS]}")
        if len(records) == 1:
            return 0, [
                Refused(
                    json.loads(records[0], parse_float=Decimal),
                    reason,
                    error_class=f"http_{response.status_code}",
                )
            ]
        # each half gets a key derived from its parent's, so a batch split again after a
        # restart splits the same way under the same keys
        middle = len(records) // 2
        taken, refused = self._deliver(changes, operation, number, f"{key}.0", records[:middle])
        more, refused_more = self._deliver(changes, operation, number, f"{key}.1", records[middle:])
        return taken + more, refused + refused_more

    def _post(
        self, changes: Changes, operation: str, number: int, key: str, records: list[str]
    ) -> httpx.Response:
        """POST one request, retrying passing failures; return a 2xx answer or one refusing
        the records (a 4xx other than the configuration ones).

        Raises:
            ExportError: the configuration was refused, or the retries ran out.
        """
        import httpx

        head = json.dumps(
            {
                "export": changes.export,
                "source": changes.source,
                "operation": operation,
                "batch": number,
                "idempotency_key": key,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        body = (head[:-1] + ',"records":[' + ",".join(records) + "]}").encode()
        headers = {"Idempotency-Key": key}
        retries = self._config.retries
        attempt = 0
        while True:
            self._limiter.wait()
            wait: float | None = None
            try:
                response = self._client.post(self._url, content=body, headers=headers)
            except httpx.LocalProtocolError as exc:
                # our own request is malformed (a header with a line break): no retry mends it
                raise ExportError(
                    self._scrub(
                        f"export {self._export}: the request for batch {number} cannot be "
                        f"sent to {self.label}: {exc}"
                    ),
                    self._where(self._export),
                    "header names and values must be ASCII text without line breaks",
                ) from None
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except httpx.HTTPError as exc:
                raise ExportError(
                    self._scrub(
                        f"export {self._export}: batch {number} of {changes.range_label} "
                        f"could not be sent to {self.label}: {exc}"
                    ),
                    self._where(self._export),
                ) from None
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status in RETRIED_STATUS or status >= 500:
                    problem = f"HTTP {status}: {response.text[:200]}"
                    wait = retry_after(response.headers.get("Retry-After"))
                elif status in CONFIGURATION_STATUS or status < 400:
                    raise self._configuration_error(response, number, changes)
                else:
                    return response
            problem = self._scrub(problem)
            if attempt >= retries:
                raise ExportError(
                    self._scrub(
                        f"export {self._export}: batch {number} of {changes.range_label} to "
                        f"{self.label} failed {attempt + 1} time{'s' if attempt else ''}; "
                        f"last: {problem}. The position stays at the last confirmed batch "
                        f"({number} of the range confirmed), so the next run resumes at "
                        "this batch"
                    ),
                    self._where(self._export),
                    "the endpoint may be down or overloaded: run again later, or raise "
                    "'retries:' or 'backoff_s:'",
                )
            attempt += 1
            self._retries += 1
            delay = (
                wait if wait is not None else backoff(self._config.backoff_s, attempt, self._random)
            )
            _LOG.warning(
                "export %s: batch %d (%s) to %s failed (%s); try %d of %d in %.2fs",
                self._export,
                number,
                key,
                self.label,
                problem,
                attempt + 1,
                retries + 1,
                delay,
            )
            self._sleep(delay)

    def _configuration_error(
        self, response: httpx.Response, number: int, changes: Changes
    ) -> ExportError:
        status = response.status_code
        if status in (401, 403, 407):
            hint = (
                "the endpoint refused the credentials: check the Authorization (or API key) "
                "header in 'headers:' and the environment variables it reads"
            )
        elif status in (404, 405, 410):
            hint = "check 'url:': the endpoint does not exist or does not take POST"
        elif status == 415:
            hint = "the endpoint does not take JSON bodies; point 'url:' at one that does"
        else:
            location = response.headers.get("Location")
            hint = (
                "the endpoint redirects"
                + (f" to {self._scrub(location)}" if location else "")
                + "; set 'url:' to the final address"
            )
        return ExportError(
            self._scrub(
                f"export {self._export}: {self.label} answered HTTP {status} to batch {number} "
                f"of {changes.range_label} ({response.text[:200].strip() or 'no body'}); this "
                "is a configuration problem, not one of the records, so nothing was retried; "
                f"the position stays at the last confirmed batch ({number} of the range "
                "confirmed)"
            ),
            self._where(self._export),
            hint,
        )

    def _scrub(self, text: str) -> str:
        """`text` with the resolved URL shown as its label and every secret masked."""
        text = text.replace(self._url, self.label)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact(text)

    @staticmethod
    def _where(export: str) -> Location:
        return Location(asset=f"{NAMESPACE}.{export}")


def batch_key(changes: Changes, number: int) -> str:
    """Return the idempotency key of batch `number` of `changes`, e.g. `ltv:v3..v7:4`: the
    same for the same batch of the same range, however often it is sent."""
    return f"{changes.export}:{changes.range_label}:{number}"


def public_address(written: str, resolved: str) -> tuple[str, str, str]:
    """Return the label, OpenLineage namespace and name of a webhook URL, none holding a
    credential, a query string or the value of a `${VAR}`.

    A URL written with its scheme and host shows its parts as written (`${VAR}` by name). A
    URL whose origin comes from a variable (`${CRM_HOOK}`, whose path is often the secret)
    shows the resolved scheme, host and port only, and its path by the variable's name.
    """
    shown = urllib.parse.urlsplit(written)
    if shown.scheme and shown.netloc and not REFERENCE.search(shown.scheme):
        scheme, hostport = shown.scheme.lower(), shown.netloc.rpartition("@")[2]
        name = shown.path or "/"
        label_path = shown.path
    else:
        actual = urllib.parse.urlsplit(resolved)
        scheme, hostport = actual.scheme.lower(), actual.netloc.rpartition("@")[2]
        name = re.split(r"[?#]", written, maxsplit=1)[0]
        label_path = f"/... ({name})"
    explicit = re.fullmatch(r"(.*):(\d+|\$\{\w+\})", hostport)
    if explicit is not None and not hostport.endswith("]"):
        namespace = f"{scheme}://{hostport}"
    else:
        namespace = f"{scheme}://{hostport}:{443 if scheme == 'https' else 80}"
    return f"{scheme}://{hostport}{label_path}", namespace, name


def _secrets_of(written: str, resolved: str, headers: dict[str, str]) -> list[str]:
    """The texts no message may show: header values (and their token part), the URL's
    credentials and query, and its path when the whole URL came from a variable."""
    found: set[str] = set()
    for value in headers.values():
        found.add(value)
        words = value.split()
        if len(words) > 1:
            found.add(words[-1])
    parts = urllib.parse.urlsplit(resolved)
    found.update(p for p in (parts.username, parts.password) if p)
    if parts.query:
        found.add(parts.query)
        found.update(v for _, v in urllib.parse.parse_qsl(parts.query) if v)
    if not urllib.parse.urlsplit(written).netloc and parts.path not in ("", "/"):
        found.add(parts.path)
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def backoff(first: float, attempt: int, rng: random.Random | None = None) -> float:
    """Return the wait in seconds before retry number `attempt` (1-based): `first` doubled
    each time, with jitter over its upper half, at most `MAX_WAIT_S`."""
    ceiling = min(MAX_WAIT_S, first * 2 ** (attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_after(value: str | None) -> float | None:
    """Return the wait a `Retry-After` header asks for in seconds (a number of seconds or an
    HTTP date), at most `MAX_WAIT_S`; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return min(MAX_WAIT_S, max(0.0, seconds))


class RateLimiter:
    """Spaces calls of `wait` at least `1 / per_second` seconds apart."""

    def __init__(
        self,
        per_second: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._gap = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        """Sleep until the next call is allowed; returns nothing."""
        if not self._gap:
            return
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
        self._next = max(now, self._next) + self._gap


# --- records as JSON text -------------------------------------------------------------------


def unsupported(kind: pa.DataType) -> str | None:
    """Return why values of Arrow type `kind` have no JSON encoding here, or None when they
    have one."""
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(kind):
        return unsupported(kind.value_type)
    if isinstance(kind, pa.ExtensionType):
        return unsupported(kind.storage_type)
    if types.is_run_end_encoded(kind):
        return unsupported(kind.value_type)
    if _scalar(kind):
        return None
    if _list_like(kind):
        return unsupported(kind.value_type)
    if types.is_map(kind):
        return unsupported(kind.key_type) or unsupported(kind.item_type)
    if types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        if len(set(names)) != len(names):
            return "two of its fields share a name"
        for i in range(kind.num_fields):
            problem = unsupported(kind.field(i).type)
            if problem is not None:
                return problem
        return None
    return f"no JSON encoding for {kind}"


def encode_records(batch: pa.RecordBatch) -> list[str]:
    """Return each row of `batch` as the text of a JSON object of its columns: dates and
    timestamps as ISO 8601 strings (a zoned timestamp in UTC, ending in `Z`), decimals as
    numbers with all their digits, binary as base64, NaN and the infinities as null, lists
    and structs as arrays and objects, maps as objects (arrays of key/value objects when the
    keys are not scalars)."""
    names = [json.dumps(name, ensure_ascii=False) + ":" for name in batch.schema.names]
    if not names:
        return ["{}"] * batch.num_rows
    columns = [_texts(batch.column(i)) for i in range(batch.num_columns)]
    return [
        "{" + ",".join(name + value for name, value in zip(names, row, strict=True)) + "}"
        for row in zip(*columns, strict=True)
    ]


def _scalar(kind: pa.DataType) -> bool:
    import pyarrow as pa

    types = pa.types
    return bool(
        types.is_null(kind)
        or types.is_boolean(kind)
        or types.is_integer(kind)
        or types.is_floating(kind)
        or types.is_decimal(kind)
        or _textual(kind)
        or _binary(kind)
        or types.is_date(kind)
        or types.is_time(kind)
        or types.is_timestamp(kind)
        or types.is_duration(kind)
        or types.is_interval(kind)
    )


def _textual(kind: pa.DataType) -> bool:
    import pyarrow as pa

    types = pa.types
    return bool(types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind))


def _binary(kind: pa.DataType) -> bool:
    import pyarrow as pa

    types = pa.types
    return bool(
        types.is_binary(kind)
        or types.is_large_binary(kind)
        or types.is_fixed_size_binary(kind)
        or types.is_binary_view(kind)
    )


def _list_like(kind: pa.DataType) -> bool:
    import pyarrow as pa

    types = pa.types
    return bool(
        types.is_list(kind)
        or types.is_large_list(kind)
        or types.is_fixed_size_list(kind)
        or types.is_list_view(kind)
        or types.is_large_list_view(kind)
    )


def _texts(array: pa.Array) -> list[str]:
    """The JSON text of each value of `array`, converted column-wise in Arrow where a type
    allows it and exactly (no value passes through a float it was not)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    types = pa.types
    if types.is_dictionary(kind):
        return _texts(array.dictionary_decode())
    if isinstance(kind, pa.ExtensionType):
        return _texts(array.storage)
    if types.is_run_end_encoded(kind):
        return _texts(pc.run_end_decode(array))
    if types.is_null(kind):
        return [NULL] * len(array)
    if types.is_boolean(kind) or types.is_integer(kind):
        return _or_null(array.cast(pa.string()).to_pylist())
    if types.is_floating(kind):
        # Arrow writes the shortest text that reads back as the same float of its width
        texts = array.cast(pa.string()).to_pylist()
        return [NULL if t is None or t in ("nan", "inf", "-inf") else t for t in texts]
    if types.is_decimal(kind):
        return [NULL if v is None else format(v, "f") for v in array.to_pylist()]
    if _textual(kind):
        return [NULL if v is None else json.dumps(v, ensure_ascii=False) for v in array.to_pylist()]
    if _binary(kind):
        return [
            NULL if v is None else f'"{base64.b64encode(v).decode()}"' for v in array.to_pylist()
        ]
    if types.is_date(kind) or types.is_time(kind):
        return _quoted(array.cast(pa.string()).to_pylist())
    if types.is_timestamp(kind):
        if kind.tz is None:
            return _quoted(pc.strftime(array, format="%Y-%m-%dT%H:%M:%S").to_pylist())
        utc = array.cast(pa.timestamp(kind.unit, "UTC"))
        return _quoted(pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ").to_pylist())
    if types.is_duration(kind):
        units = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[kind.unit]
        counts = array.cast(pa.int64()).to_pylist()
        return [NULL if c is None else f'"{_duration_text(c, units)}"' for c in counts]
    if types.is_interval(kind):
        return [NULL if v is None else f'"{_interval_text(v)}"' for v in array.to_pylist()]
    if _list_like(kind):
        children = _texts(pc.list_flatten(array))
        parents = pc.list_parent_indices(array).to_pylist()
        return _grouped(array, parents, children, "[", "]")
    if types.is_map(kind):
        entries_type = pa.list_(pa.struct([kind.key_field, kind.item_field]))
        as_list = array.cast(entries_type)
        entries = pc.list_flatten(as_list)
        keys, values = (_texts(child) for child in entries.flatten())
        parents = pc.list_parent_indices(as_list).to_pylist()
        if _scalar(kind.key_type):
            pairs = [
                (k if k.startswith('"') else json.dumps(k)) + ":" + v
                for k, v in zip(keys, values, strict=True)
            ]
            return _grouped(array, parents, pairs, "{", "}")
        pairs = ['{"key":' + k + ',"value":' + v + "}" for k, v in zip(keys, values, strict=True)]
        return _grouped(array, parents, pairs, "[", "]")
    if types.is_struct(kind):
        names = [
            json.dumps(kind.field(i).name, ensure_ascii=False) + ":" for i in range(kind.num_fields)
        ]
        fields = [_texts(child) for child in array.flatten()]
        valid = array.is_valid().to_pylist()
        rows: Iterator[tuple[str, ...]] = (
            zip(*fields, strict=True) if fields else iter([()] * len(array))
        )
        return [
            "{" + ",".join(n + v for n, v in zip(names, row, strict=True)) + "}" if ok else NULL
            for ok, row in zip(valid, rows, strict=True)
        ]
    raise TypeError(f"no JSON encoding for {kind}")  # check() refuses these before sending


def _grouped(
    array: pa.Array, parents: list[int], children: list[str], opening: str, closing: str
) -> list[str]:
    groups: list[list[str]] = [[] for _ in range(len(array))]
    for parent, text in zip(parents, children, strict=True):
        groups[parent].append(text)
    valid = array.is_valid().to_pylist()
    return [
        opening + ",".join(group) + closing if ok else NULL
        for group, ok in zip(groups, valid, strict=True)
    ]


def _or_null(texts: list[str | None]) -> list[str]:
    return [NULL if t is None else t for t in texts]


def _quoted(texts: list[str | None]) -> list[str]:
    return [NULL if t is None else f'"{t}"' for t in texts]


def _duration_text(count: int, per_second: int) -> str:
    """An ISO 8601 duration (`PT90.5S`, `-PT1S`) of `count` units, `per_second` to a second."""
    seconds, fraction = divmod(abs(count), per_second)
    digits = len(str(per_second)) - 1
    clock = f"{seconds}.{fraction:0{digits}d}".rstrip("0").rstrip(".") if fraction else str(seconds)
    return f"{'-' if count < 0 else ''}PT{clock}S"


def _interval_text(value: Any) -> str:
    """An Arrow month-day-nanosecond interval as an ISO 8601 duration (`P1M2DT3.5S`)."""
    nanos = value.nanoseconds
    seconds, fraction = divmod(abs(nanos), 1_000_000_000)
    clock = f"{seconds}.{fraction:09d}".rstrip("0").rstrip(".")
    return f"P{value.months}M{value.days}DT{'-' if nanos < 0 else ''}{clock}S"
