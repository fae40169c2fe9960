"""Shared by the floor, the dbt generator and the runner: read the model SQL files once.

The Headwater project under `models/` is the single source of the SQL. A model is
`models/<namespace>/<name>.sql` with an optional `<name>.yml` sidecar giving `materialized`.
Staging models read raw Parquet through `{{ var("tpch_dir") }}`; marts refer to staging models
as `staging.<name>`. The floor and dbt run these same SELECT texts, substituting only those two
kinds of reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS_DIR = HERE / "models"
INCREMENTAL_DIR = HERE / "incremental"
VAR_PATTERN = re.compile(r"""\{\{\s*var\(\s*['"](\w+)['"]\s*\)\s*\}\}""")
STAGING_REF = re.compile(r"\bstaging\.(\w+)\b")
MATERIALIZED = re.compile(r"^materialized:\s*(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class Model:
    """One model file: `namespace.name`, its SELECT text and materialization."""

    namespace: str
    name: str
    sql: str
    materialized: str

    @property
    def key(self) -> str:
        """Qualified name, e.g. `staging.orders`."""
        return f"{self.namespace}.{self.name}"


def load_models(models_dir: Path = MODELS_DIR) -> list[Model]:
    """Return the models under `models_dir`, staging first, each group sorted by name."""
    models = []
    for path in sorted(models_dir.glob("*/*.sql")):
        sidecar = path.with_suffix(".yml")
        found = MATERIALIZED.search(sidecar.read_text()) if sidecar.exists() else None
        models.append(
            Model(
                namespace=path.parent.name,
                name=path.stem,
                sql=path.read_text().strip().rstrip(";"),
                materialized=found.group(1) if found else "table",
            )
        )
    return sorted(models, key=lambda m: (m.namespace != "staging", m.namespace, m.name))


def substitute_vars(sql: str, variables: dict[str, str]) -> str:
    """Replace `{{ var("name") }}` with its value (the only Jinja the 14 models use)."""
    return VAR_PATTERN.sub(lambda m: variables[m.group(1)], sql)
