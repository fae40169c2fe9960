"""Where an export's records go, as OpenLineage names the output dataset, read from its
configuration alone (no connection; user names and passwords left out)."""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from headwater.project.exports import ExportConfig

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def destination_dataset(config: ExportConfig, project_root: Path) -> tuple[str, str]:
    """The (namespace, name) of the dataset export `config` writes: `postgres://host:port`
    and `db.schema.table`, a webhook's origin and path, or `file` and the folder."""
    to = config.to
    if to.postgres is not None:
        table = to.postgres.table if "." in to.postgres.table else f"public.{to.postgres.table}"
        host, port, database = _database(_expanded(to.postgres.url))
        return f"postgres://{host}{f':{port}' if port else ''}", f"{database}.{table}"
    if to.webhook is not None:
        parts = urllib.parse.urlsplit(_expanded(to.webhook.url))
        port = f":{parts.port}" if _port(parts) else ""
        # the path as written: a secret set into it (a hook's token) stays a reference
        path = urllib.parse.urlsplit(to.webhook.url).path
        return f"{parts.scheme}://{parts.hostname or ''}{port}", path or "/"
    assert to.files is not None
    folder = Path(to.files.path)
    return "file", str(folder if folder.is_absolute() else project_root / folder)


def _database(url: str) -> tuple[str, str, str]:
    """The host, port and database a libpq URL or keyword string names (nothing else of
    it: a password never leaves)."""
    from psycopg.conninfo import conninfo_to_dict

    from headwater.exports.postgres import libpq_url

    try:
        found = conninfo_to_dict(libpq_url(url))
    except Exception:  # not parseable: the export itself reports it when it connects
        return "unknown", "", ""
    return (
        str(found.get("host") or "localhost"),
        str(found.get("port") or ""),
        str(found.get("dbname") or ""),
    )


def _expanded(text: str) -> str:
    """`text` with the `${VAR}`s that are set replaced (the others left as written)."""
    return _REFERENCE.sub(lambda m: os.environ.get(m.group(1), m.group(0)), text)


def _port(parts: urllib.parse.SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None
