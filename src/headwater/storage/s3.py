"""Delta tables on S3-compatible object storage: `warehouse: s3://bucket/prefix`.

`S3DeltaStore` is the Delta store with its tables at `s3://bucket/prefix/<namespace>/<name>`.
Engines write a version's Parquet files into a local staging folder (the project's
`.headwater/stage/<bucket>/<prefix>/...`, which `location()` names); a commit uploads them to
the same relative paths under the table's URI, then commits their add actions with delta-rs,
then drops the local copies. A kill between upload and commit leaves files no version names,
which vacuum deletes: the local store's protocol. Two writers can never both commit version N:
delta-rs writes each commit with an S3 conditional put (`aws_conditional_put: etag`), so no
lock table is needed.

Credentials and the endpoint come only from the environment (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`), never from project files, and no repr or message shows
them. Engines reach the files through `S3Access`: a pyarrow `S3FileSystem`, an fsspec
filesystem over it for DuckDB, and S3A settings for Spark.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from headwater.errors import (
    ConfigError,
    HeadwaterError,
    Location,
    StorageError,
    TransientError,
    first_line,
)
from headwater.storage.base import ObjectStoreAccess, Snapshot, TableRef, WrittenFile
from headwater.storage.delta import DeltaStore
from headwater.storage.delta_files import LocalFiles, ObjectFiles, TableFiles
from headwater.storage.delta_log import LOG_DIR

SCHEME = "s3"
DEFAULT_REGION = "us-east-1"
CONNECT_TIMEOUT_S = 10.0
UPLOAD_THREADS = 8
UPLOAD_CHUNK_BYTES = 8 << 20
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
CREDENTIAL_VARIABLES = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)"
ENDPOINT_VARIABLES = "AWS_ENDPOINT_URL (and AWS_ALLOW_HTTP=true for an http:// endpoint)"
MASK = "***"
_NETWORK_FAILURES = (
    "network_connection",
    "curlcode",
    "connection refused",
    "couldn't connect",
    "could not connect",
    "timed out",
    "dns",
)
_DENIED = ("access_denied", "accessdenied", "forbidden", "signature")
_BAD_KEYS = ("invalid_access_key", "invalidaccesskey")


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """Where an S3 warehouse is and how to reach it, read from the environment.

    The credentials are fields of their own that neither `repr` nor `str` shows.
    """

    bucket: str
    prefix: str
    """The warehouse's key prefix inside the bucket, without slashes at either end ("": the
    bucket's top)."""
    region: str
    endpoint: str | None
    """An S3-compatible server's URL (`AWS_ENDPOINT_URL`); None: AWS itself."""
    allow_http: bool
    access_key: str = dataclasses.field(repr=False)
    secret_key: str = dataclasses.field(repr=False)
    session_token: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_environment(cls, uri: str, environ: Mapping[str, str] | None = None) -> S3Settings:
        """Read the settings of the warehouse at `uri` (`s3://bucket/prefix`) from `environ`
        (default: the process's environment).

        Raises:
            ConfigError: the URI names no (valid) bucket, the credentials are missing, or the
                endpoint is plain HTTP without `AWS_ALLOW_HTTP=true`; the message names the
                variables to set and shows no secret.
        """
        env = os.environ if environ is None else environ
        parsed = urllib.parse.urlparse(uri)
        where = Location(file="headwater.yml")
        if parsed.scheme != SCHEME:
            raise ValueError(f"not an s3:// warehouse URI: {uri}")
        bucket = parsed.netloc
        if not bucket:
            raise ConfigError(
                f"warehouse location {uri} names no bucket",
                where,
                "write the bucket and a prefix: warehouse: s3://my-bucket/warehouse",
            )
        if not BUCKET_NAME.match(bucket) or ".." in bucket:
            raise ConfigError(
                f"warehouse location {uri}: {bucket!r} is not a valid S3 bucket name",
                where,
                "a bucket name is 3 to 63 lower-case letters, digits, dots and hyphens",
            )
        prefix = "/".join(part for part in parsed.path.split("/") if part)
        access_key = env.get("AWS_ACCESS_KEY_ID") or ""
        secret_key = env.get("AWS_SECRET_ACCESS_KEY") or ""
        if not access_key or not secret_key:
            missing = [
                name
                for name, value in (
                    ("AWS_ACCESS_KEY_ID", access_key),
                    ("AWS_SECRET_ACCESS_KEY", secret_key),
                )
                if not value
            ]
            raise ConfigError(
                f"the warehouse {uri} is on S3, but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set",
                where,
                f"set {CREDENTIAL_VARIABLES} in the environment (never in project files); "
                f"for an S3-compatible server also {ENDPOINT_VARIABLES}",
            )
        endpoint = (env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "").strip()
        allow_http = (env.get("AWS_ALLOW_HTTP") or "").strip().lower() in ("1", "true", "yes")
        if endpoint:
            scheme = urllib.parse.urlparse(endpoint).scheme
            if scheme not in ("http", "https"):
                raise ConfigError(
                    f"AWS_ENDPOINT_URL {endpoint!r} is not an http:// or https:// URL",
                    where,
                    "set AWS_ENDPOINT_URL to the S3 server's URL, e.g. https://s3.example.com",
                )
            if scheme == "http" and not allow_http:
                raise ConfigError(
                    f"AWS_ENDPOINT_URL {endpoint} is plain HTTP, which is refused unless "
                    "AWS_ALLOW_HTTP=true",
                    where,
                    "use an https:// endpoint, or set AWS_ALLOW_HTTP=true for a server you "
                    "trust on a private network",
                )
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return cls(
            bucket=bucket,
            prefix=prefix,
            region=region,
            endpoint=endpoint or None,
            allow_http=allow_http,
            access_key=access_key,
            secret_key=secret_key,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
        )

    @property
    def uri(self) -> str:
        """The warehouse's URI, normalised (`s3://bucket/prefix`)."""
        return f"{SCHEME}://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def key(self) -> str:
        """The warehouse as pyarrow's filesystem names it (`bucket/prefix`)."""
        return f"{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def uses_http(self) -> bool:
        """True when the endpoint is plain HTTP."""
        return self.endpoint is not None and self.endpoint.startswith("http://")

    def storage_options(self) -> dict[str, str]:
        """delta-rs's `storage_options` for the warehouse (they hold the credentials)."""
        options = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            # commits are conditional puts: of two writers of version N, one fails
            "aws_conditional_put": "etag",
        }
        if self.session_token:
            options["AWS_SESSION_TOKEN"] = self.session_token
        if self.endpoint:
            options["AWS_ENDPOINT_URL"] = self.endpoint
        if self.allow_http:
            options["AWS_ALLOW_HTTP"] = "true"
        return options

    def redact(self, text: str) -> str:
        """`text` with the credentials replaced by `***` (library messages may echo them)."""
        for secret in (self.secret_key, self.session_token, self.access_key):
            if secret and len(secret) >= 4:
                text = text.replace(secret, MASK)
        return text


class S3Access(ObjectStoreAccess):
    """How engines reach an S3 warehouse: a pyarrow filesystem, an fsspec one for DuckDB
    and S3A settings for Spark."""

    scheme = SCHEME

    def __init__(self, settings: S3Settings) -> None:
        self._settings = settings
        self._arrow: Any = None
        self._fsspec: Any = None

    def __repr__(self) -> str:
        return f"S3Access({self._settings.uri!r}, endpoint={self._settings.endpoint!r})"

    def arrow_filesystem(self) -> Any:
        """A pyarrow `S3FileSystem` of the warehouse's bucket (paths `bucket/key`)."""
        if self._arrow is None:
            from pyarrow.fs import S3FileSystem

            settings = self._settings
            endpoint = settings.endpoint
            self._arrow = S3FileSystem(
                access_key=settings.access_key,
                secret_key=settings.secret_key,
                session_token=settings.session_token,
                region=settings.region,
                endpoint_override=endpoint,
                scheme="http" if settings.uses_http else "https",
                connect_timeout=CONNECT_TIMEOUT_S,
            )
        return self._arrow

    def fsspec_filesystem(self) -> Any:
        """An fsspec filesystem for `s3://` (and `s3a://`) URIs over the pyarrow one, for
        DuckDB's `register_filesystem` (no s3fs needed).

        Raises:
            ConfigError: fsspec is not installed.
        """
        if self._fsspec is None:
            self._fsspec = _fsspec_wrapper(self.arrow_filesystem())
        return self._fsspec

    def spark_settings(self) -> dict[str, str]:
        """S3A settings reaching the warehouse (they hold the credentials: never log them)."""
        settings = self._settings
        out = {
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3a.access.key": settings.access_key,
            "spark.hadoop.fs.s3a.secret.key": settings.secret_key,
            "spark.hadoop.fs.s3a.endpoint.region": settings.region,
            "spark.hadoop.fs.s3a.aws.credentials.provider": (
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
                if settings.session_token
                else "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
            ),
        }
        if settings.session_token:
            out["spark.hadoop.fs.s3a.session.token"] = settings.session_token
        if settings.endpoint:
            out["spark.hadoop.fs.s3a.endpoint"] = settings.endpoint
            # S3-compatible servers name buckets in the path, not the host
            out["spark.hadoop.fs.s3a.path.style.access"] = "true"
            out["spark.hadoop.fs.s3a.connection.ssl.enabled"] = (
                "false" if settings.uses_http else "true"
            )
        return out

    def spark_path(self, uri: str) -> str:
        """`uri` (`s3://bucket/key`) as S3A names it (`s3a://bucket/key`)."""
        if uri.startswith(f"{SCHEME}://"):
            return "s3a://" + uri[len(SCHEME) + 3 :]
        return uri


def _fsspec_wrapper(filesystem: Any) -> Any:
    """fsspec's `ArrowFSWrapper` over `filesystem`, answering to `s3://` and `s3a://`."""
    try:
        from fsspec.implementations.arrow import (  # type: ignore[import-untyped]
            ArrowFile,
            ArrowFSWrapper,
        )
    except ImportError:
        raise ConfigError(
            "reading an s3:// warehouse with DuckDB needs fsspec, which is not installed",
            Location(file="headwater.yml"),
            "install it: pip install 'headwater[s3]'",
        ) from None

    class FullReads(ArrowFile):  # type: ignore[misc]
        """A file whose `read(n)` returns n bytes unless the file ends first: pyarrow's S3
        file may return fewer from one ranged GET, and DuckDB takes a short read for an
        error."""

        def read(self, length: int = -1) -> bytes:
            if length is None or length < 0:
                return bytes(self.stream.read())
            chunks: list[bytes] = []
            remaining = length
            while remaining > 0:
                chunk = self.stream.read(remaining)
                if not chunk:
                    break
                chunks.append(bytes(chunk))
                remaining -= len(chunk)
            return b"".join(chunks)

    class S3ArrowFS(ArrowFSWrapper):  # type: ignore[misc]
        """fsspec over pyarrow's S3 filesystem, for `s3://` paths."""

        protocol = (SCHEME, "s3a")
        cachable = False  # one per store; fsspec's instance cache would keep them all

        def _open(
            self,
            path: str,
            mode: str = "rb",
            block_size: int | None = None,
            seekable: bool = True,
            **kwargs: Any,
        ) -> Any:
            if mode != "rb":
                return super()._open(path, mode, block_size, seekable, **kwargs)
            stream = (
                self.fs.open_input_file(path)
                if seekable
                else self.fs.open_input_stream(path, compression=None)
            )
            return FullReads(self, stream, path, mode, block_size, **kwargs)

        def __repr__(self) -> str:
            return "S3ArrowFS()"

    return S3ArrowFS(filesystem)


class S3DeltaStore(DeltaStore):
    """Delta tables at `s3://bucket/prefix/<namespace>/<name>`, files staged locally.

    `warehouse` (and so `location(ref)`) is the local staging folder where engines write a
    version's files; `table_uri(ref)` is where the table is.
    """

    def __init__(self, settings: S3Settings, scratch: Path) -> None:
        super().__init__(scratch / settings.bucket / settings.prefix)
        self.settings = settings
        self.object_store: S3Access = S3Access(settings)
        self.storage_options = settings.storage_options()

    @classmethod
    def from_uri(cls, uri: str, scratch: Path | None = None) -> S3DeltaStore:
        """The store of the warehouse at `uri` (`s3://bucket/prefix`), staging engines' files
        in the local folder `scratch` (a project's `.headwater/stage`; None: a new temporary
        folder), once the bucket answered.

        Raises:
            ConfigError: a bad URI or missing credentials (see `S3Settings.from_environment`).
            StorageError: the endpoint cannot be reached, refuses the credentials, or has no
                such bucket.
        """
        if scratch is None:
            import tempfile

            scratch = Path(tempfile.mkdtemp(prefix="headwater-stage-"))
        store = cls(S3Settings.from_environment(uri), scratch)
        store.check_access()
        return store

    def __repr__(self) -> str:
        return f"S3DeltaStore({self.settings.uri!r})"

    @property
    def uri(self) -> str:
        """The warehouse's URI."""
        return self.settings.uri

    def check_access(self) -> None:
        """Make sure the bucket exists and answers with these credentials.

        Raises:
            StorageError: it does not; the message says which and how to fix it.
        """
        from pyarrow.fs import FileType

        try:
            info = self.object_store.arrow_filesystem().get_file_info(self.settings.bucket)
        except OSError as exc:
            raise self.access_error(exc) from exc
        if info.type == FileType.NotFound:
            raise StorageError(
                f"the bucket {self.settings.bucket} of the warehouse {self.uri} does not exist",
                Location(file="headwater.yml"),
                "create the bucket, or point 'warehouse:' at an existing one"
                + (f" (endpoint {self.settings.endpoint})" if self.settings.endpoint else ""),
            )

    def access_error(self, exc: BaseException, doing: str = "") -> HeadwaterError:
        """The error for a failed request to the warehouse, with no secret in it: refused
        credentials are a `StorageError`, an unreachable endpoint a `TransientError` (a
        build's `retries:` try it again)."""
        text = self.settings.redact(first_line(exc))
        lowered = text.lower()
        endpoint = self.settings.endpoint or "AWS S3"
        # A network failure is looked for first, and a status 403 only as a whole number:
        # the message may carry the endpoint's port (":40312" once made a refused connection
        # read as refused credentials).
        unreachable = any(w in lowered for w in _NETWORK_FAILURES)
        if not unreachable and any(w in lowered for w in _DENIED):
            what = "refused the credentials"
            hint = f"check {CREDENTIAL_VARIABLES} and the bucket's permissions"
        elif not unreachable and (
            any(w in lowered for w in _BAD_KEYS) or re.search(r"(?<![\d:.])403(?!\d)", lowered)
        ):
            what = "refused the credentials"
            hint = f"check {CREDENTIAL_VARIABLES}"
        else:
            return TransientError(
                f"the warehouse {self.uri} could not be reached"
                f"{f' while {doing}' if doing else ''} (endpoint {endpoint}): {text}",
                Location(file="headwater.yml"),
                f"check {ENDPOINT_VARIABLES} and that the server is up",
            )
        return StorageError(
            f"the warehouse {self.uri} {what}{f' while {doing}' if doing else ''} "
            f"(endpoint {endpoint}): {text}",
            Location(file="headwater.yml"),
            hint,
        )

    # -- where tables are ------------------------------------------------------------------

    def table_uri(self, ref: TableRef) -> str:
        self.location(ref)  # refuses a name that is not one
        return f"{self.uri}/{ref.namespace}/{ref.name}"

    def _table_key(self, ref: TableRef) -> str:
        self.location(ref)
        return f"{self.settings.key}/{ref.namespace}/{ref.name}"

    def table_files(self, ref: TableRef) -> TableFiles:
        return ObjectFiles(
            self.object_store.arrow_filesystem(),
            SCHEME,
            self._table_key(ref),
            self.settings.storage_options(),
            self.access_error,
        )

    def list_tables(self) -> list[TableRef]:
        refs: list[TableRef] = []
        try:
            for namespace in self._folders(self.settings.key):
                for name in self._folders(f"{self.settings.key}/{namespace}"):
                    ref = TableRef(namespace, name)
                    if self.table_files(ref).names(LOG_DIR):
                        refs.append(ref)
        except OSError as exc:
            raise self.access_error(exc, "listing its tables") from exc
        return refs

    def _folders(self, key: str) -> list[str]:
        """The names of the "folders" (common prefixes) right under `key`, sorted."""
        from pyarrow.fs import FileSelector, FileType

        infos = self.object_store.arrow_filesystem().get_file_info(
            FileSelector(key, allow_not_found=True)
        )
        return sorted(i.base_name for i in infos if i.type == FileType.Directory)

    # -- staged files ----------------------------------------------------------------------

    def publish_staged(self, ref: TableRef, files: Sequence[tuple[str, str]]) -> None:
        """Upload each staged file to its path under the table's URI (in parallel).

        Raises:
            StorageError: an upload failed (nothing is committed; what was uploaded is
                vacuumed like any uncommitted file).
        """
        if not files:
            return
        from concurrent.futures import ThreadPoolExecutor

        key = self._table_key(ref)
        uploads = [(local, f"{key}/{relative}") for local, relative in files]
        if len(uploads) == 1:
            self._upload(ref, *uploads[0])
            return
        with ThreadPoolExecutor(max_workers=min(UPLOAD_THREADS, len(uploads))) as pool:
            for future in [pool.submit(self._upload, ref, *u) for u in uploads]:
                future.result()

    def _upload(self, ref: TableRef, local: str, key: str) -> None:
        # a plain stream, not pyarrow's copy_files, which makes folder marker objects
        try:
            with (
                open(local, "rb") as source,
                self.object_store.arrow_filesystem().open_output_stream(key) as target,
            ):
                while chunk := source.read(UPLOAD_CHUNK_BYTES):
                    target.write(chunk)
        except OSError as exc:
            raise self.access_error(exc, f"uploading a file of table {ref}") from exc

    def release_staged(self, ref: TableRef, files: Sequence[WrittenFile]) -> None:
        """Delete the local copies of files now in the table, and the staging folders they
        leave empty."""
        root = self.location(ref)
        LocalFiles(root).remove(os.path.relpath(f.path, root) for f in files)

    def vacuum(self, ref: TableRef, retain_hours: float, dry_run: bool) -> list[str]:
        """Vacuum the table on S3 (see `DeltaStore.vacuum`); a real run also deletes staged
        local files older than the in-flight grace, which a killed writer left behind."""
        chosen = super().vacuum(ref, retain_hours, dry_run)
        if not dry_run:
            self._forget_stale_staging(ref)
        return chosen

    def _forget_stale_staging(self, ref: TableRef) -> None:
        from headwater.storage.delta_maintenance import IN_FLIGHT_GRACE_SECONDS

        root = self.location(ref)
        cutoff = time.time() - IN_FLIGHT_GRACE_SECONDS
        stale: list[str] = []
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_mtime < cutoff:
                        stale.append(os.path.relpath(path, root))
        LocalFiles(root).remove(stale)

    # -- reading ---------------------------------------------------------------------------

    def arrow_dataset(self, snapshot: Snapshot) -> Any:
        """A pyarrow dataset of `snapshot` read straight from S3 through pyarrow's
        filesystem (one fragment per file, partition values from the log); a table with
        deletion vectors or column mapping goes through delta-rs's own dataset."""
        if snapshot.needs_arrow_reader:
            return super().arrow_dataset(snapshot)
        return object_dataset(snapshot, self.object_store.arrow_filesystem())


def object_dataset(snapshot: Snapshot, filesystem: Any) -> Any:
    """A pyarrow dataset over the Parquet files of `snapshot` on `filesystem`, with the
    snapshot's schema (columns a file lacks read as NULL) and each file's partition values."""
    import pyarrow.dataset as ds

    file_format = ds.ParquetFileFormat()
    schema = snapshot.schema
    fragments = []
    prefix = f"{SCHEME}://"
    for file in snapshot.files:
        path = file.path[len(prefix) :] if file.path.startswith(prefix) else file.path
        fragments.append(
            file_format.make_fragment(
                path,
                filesystem=filesystem,
                partition_expression=_partition_expression(schema, file.partition_values),
                file_size=file.size,
            )
        )
    return ds.FileSystemDataset(fragments, schema, file_format, filesystem)


def _partition_expression(schema: Any, values: Mapping[str, str | None]) -> Any:
    """The expression a file's partition values make (each column equal to its value)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    expression: Any = None
    for name, value in values.items():
        if name not in schema.names:
            continue
        kind = schema.field(name).type
        term = (
            ds.field(name).is_null()
            if value is None
            else ds.field(name) == pa.scalar(value, pa.string()).cast(kind)
        )
        expression = term if expression is None else expression & term
    return ds.scalar(True) if expression is None else expression
