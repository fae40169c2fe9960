"""Every configuration mistake a user can make is one `ConfigError` naming file, line, key and fix.

Each case below writes a small real project, loads it, and checks the exact file, line, the key
(or name) at fault and the hint. The same cases then go through the real CLI in a subprocess: one
`Error: ...` on stderr, exit code 2, no Python traceback (unless `--debug`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from headwater.errors import ConfigError
from tests.conftest import ProjectFactory, run_cli, write_files

BASE = "name: test\nthreads: 2\n"


@dataclass
class Case:
    """A broken project and what its error must say."""

    id: str
    files: dict[str, str]
    file: str
    line: int | None
    message: list[str]
    hint: str
    extra_message_absent: list[str] = field(default_factory=list)


def project_files(files: dict[str, str]) -> dict[str, str]:
    return files if "headwater.yml" in files else {"headwater.yml": BASE, **files}


CASES = [
    # -- YAML syntax ---------------------------------------------------------------------------
    Case(
        "yaml-syntax-project",
        {"headwater.yml": "name: test\nwarehouse: wh\n  threads: 2\n"},
        "headwater.yml",
        3,
        ["invalid YAML", "mapping values are not allowed"],
        "fix the syntax at that line",
    ),
    Case(
        "yaml-tab-project",
        {"headwater.yml": "name: test\n\tthreads: 2\n"},
        "headwater.yml",
        2,
        ["invalid YAML", "tab character"],
        "fix the syntax at that line",
    ),
    Case(
        "yaml-syntax-sidecar",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/staging/orders.yml": (
                "description: Orders\nmaterialized: table\n  unique_key: id\n"
            ),
        },
        "models/staging/orders.yml",
        3,
        ["invalid YAML"],
        "fix the syntax at that line",
    ),
    Case(
        "yaml-key-written-twice-in-a-sidecar",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/staging/orders.yml": (
                "checks:\n  - not_null: {column: id}\ndescription: Orders\n"
                "checks:\n  - unique: {column: id}\n"
            ),
        },
        "models/staging/orders.yml",
        4,
        ["invalid YAML", "the key 'checks' is written twice (first at line 1)"],
        "write each key once",
    ),
    Case(
        "yaml-not-a-mapping",
        {"headwater.yml": "- name\n- test\n"},
        "headwater.yml",
        1,
        ["expected a mapping of keys at the top level, found list"],
        "write the file as 'key: value' lines",
    ),
    # -- headwater.yml keys -----------------------------------------------------------------------
    Case(
        "unknown-key-project",
        {"headwater.yml": "name: test\nthreads: 2\nwarehose: wh\n"},
        "headwater.yml",
        3,
        ["line 3: unknown key 'warehose'; did you mean 'warehouse'?"],
        "see docs/project.md",
    ),
    Case(
        "two-unknown-keys-project",
        {"headwater.yml": "name: test\nwarehose: wh\nthreds: 2\n"},
        "headwater.yml",
        2,
        [
            "line 2: unknown key 'warehose'; did you mean 'warehouse'?",
            "line 3: unknown key 'threds'; did you mean 'threads'?",
        ],
        "correct the keys listed above",
    ),
    Case(
        "unknown-key-nothing-close",
        {"headwater.yml": "name: test\nzzzzzz: 1\n"},
        "headwater.yml",
        2,
        [
            "unknown key 'zzzzzz'; valid keys: alerts, catalog, defaults, engine, engines, "
            "governance, jobs,"
        ],
        "see docs/project.md",
    ),
    Case(
        "nested-unknown-key-project",
        {"headwater.yml": "name: test\ndefaults:\n  materialised: view\n"},
        "headwater.yml",
        3,
        ["unknown key 'defaults.materialised'; did you mean 'materialized'?"],
        "see docs/project.md",
    ),
    Case(
        "missing-name",
        {"headwater.yml": "threads: 2\n"},
        "headwater.yml",
        1,
        ["missing required key 'name'"],
        "see docs/project.md",
    ),
    Case(
        "empty-project-file",
        {"headwater.yml": ""},
        "headwater.yml",
        None,
        ["missing required key 'name'"],
        "see docs/project.md",
        extra_message_absent=["line None"],
    ),
    Case(
        "wrong-type",
        {"headwater.yml": "name: test\nthreads: many\n"},
        "headwater.yml",
        2,
        ["key 'threads'", "valid integer", "(got 'many')"],
        "see docs/project.md",
    ),
    Case(
        "out-of-range",
        {"headwater.yml": "name: test\nthreads: 0\n"},
        "headwater.yml",
        2,
        ["key 'threads'", "greater than or equal to 1", "(got 0)"],
        "see docs/project.md",
    ),
    Case(
        "invalid-project-name",
        {"headwater.yml": "name: my-project\n"},
        "headwater.yml",
        1,
        ["key 'name'", "(got 'my-project')"],
        "see docs/project.md",
    ),
    Case(
        "nested-enum-project",
        {"headwater.yml": "name: test\nengine:\n  type: flink\n"},
        "headwater.yml",
        3,
        ["key 'engine.type'", "'duckdb'", "'spark'", "(got 'flink')"],
        "see docs/project.md",
    ),
    # -- model sidecars ---------------------------------------------------------------------------
    Case(
        "unknown-key-sidecar",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/staging/orders.yml": "description: Orders\nmaterialised: table\n",
        },
        "models/staging/orders.yml",
        2,
        ["line 2: unknown key 'materialised'; did you mean 'materialized'?"],
        "see docs/project.md",
    ),
    Case(
        "enum-sidecar",
        {
            "models/orders.sql": "select 1 as id",
            "models/orders.yml": "description: Orders\nmaterialized: tabel\n",
        },
        "models/orders.yml",
        2,
        [
            "key 'materialized'",
            "'view', 'table', 'ephemeral', 'incremental' or 'snapshot'",
            "(got 'tabel')",
        ],
        "see docs/project.md",
    ),
    Case(
        "strategy-enum-sidecar",
        {
            "models/orders.sql": "select 1 as id",
            "models/orders.yml": (
                "materialized: incremental\nunique_key: id\nincremental_strategy: upsert\n"
            ),
        },
        "models/orders.yml",
        3,
        ["key 'incremental_strategy'", "'append' or 'merge'", "(got 'upsert')"],
        "see docs/project.md",
    ),
    Case(
        "nested-unknown-key-sidecar",
        {
            "models/dim.sql": "select 1 as id",
            "models/dim.yml": (
                "materialized: snapshot\nunique_key: id\nsnapshot:\n  stratgy: check\n"
            ),
        },
        "models/dim.yml",
        4,
        ["line 4: unknown key 'snapshot.stratgy'; did you mean 'strategy'?"],
        "see docs/project.md",
    ),
    Case(
        "unknown-key-in-list-item",
        {
            "models/dim.sql": "select 1 as id",
            "models/dim.yml": "columns:\n  - name: id\n    descripton: the key\n",
        },
        "models/dim.yml",
        3,
        ["unknown key 'columns.0.descripton'; did you mean 'description'?"],
        "see docs/project.md",
    ),
    Case(
        "snapshot-without-unique-key",
        {
            "models/dim.sql": "select 1 as id",
            "models/dim.yml": (
                "description: d\nmaterialized: snapshot\nsnapshot:\n  strategy: check\n"
            ),
        },
        "models/dim.yml",
        2,
        ["line 2: key 'materialized': a snapshot needs 'unique_key' (one column or a list)"],
        "see docs/project.md",
        extra_message_absent=["Value error", "(top level)"],
    ),
    Case(
        "merge-without-unique-key",
        {
            "models/fact.sql": "select 1 as id",
            "models/fact.yml": "materialized: incremental\nincremental_strategy: merge\n",
        },
        "models/fact.yml",
        2,
        ["key 'incremental_strategy': incremental_strategy 'merge' needs 'unique_key'"],
        "see docs/project.md",
        extra_message_absent=["Value error"],
    ),
    Case(
        "timestamp-without-updated-at",
        {
            "models/dim.sql": "select 1 as id",
            "models/dim.yml": (
                "materialized: snapshot\nunique_key: id\nsnapshot:\n  strategy: timestamp\n"
            ),
        },
        "models/dim.yml",
        4,
        ["key 'snapshot.strategy': strategy 'timestamp' needs 'updated_at: <column>'"],
        "see docs/project.md",
    ),
    Case(
        "default-timestamp-without-updated-at",
        {
            "models/dim.sql": "select 1 as id",
            "models/dim.yml": (
                "materialized: snapshot\nunique_key: id\n"
                "snapshot:\n  invalidate_hard_deletes: true\n"
            ),
        },
        "models/dim.yml",
        3,
        ["strategy 'timestamp' needs 'updated_at: <column>'"],
        "see docs/project.md",
    ),
    Case(
        "unknown-key-seed-sidecar",
        {"seeds/orders.csv": "id\n1\n", "seeds/orders.yml": "delimeter: ';'\n"},
        "seeds/orders.yml",
        1,
        ["unknown key 'delimeter'; did you mean 'delimiter'?"],
        "see docs/project.md",
    ),
    # -- file names -------------------------------------------------------------------------------
    Case(
        "invalid-model-file-name",
        {"models/1st-orders.sql": "select 1 as id"},
        "models/1st-orders.sql",
        None,
        ["'1st-orders' is not a valid table name"],
        "or set 'name:' in its sidecar",
    ),
    Case(
        "invalid-seed-file-name",
        {"seeds/my orders.csv": "id\n1\n"},
        "seeds/my orders.csv",
        None,
        ["'my orders' is not a valid table name"],
        "or set 'name:' in its sidecar",
    ),
    Case(
        "invalid-folder-namespace",
        {"models/my-folder/orders.sql": "select 1 as id"},
        "models/my-folder/orders.sql",
        None,
        ["folder 'my-folder' does not make a valid namespace"],
        "set 'namespace:' in the sidecar",
    ),
    Case(
        "duplicate-asset-names",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/other/copy.sql": "select 2 as id",
            "models/other/copy.yml": "name: orders\nnamespace: staging\n",
        },
        "models/staging/orders.sql",
        None,
        [
            "two assets are named staging.orders",
            "models/other/copy.sql",
            "models/staging/orders.sql",
        ],
        "give it another 'name:' or 'namespace:'",
    ),
    Case(
        "seed-and-model-same-name",
        {"seeds/orders.csv": "id\n1\n", "models/raw/orders.sql": "select 1 as id"},
        "models/raw/orders.sql",
        None,
        ["two assets are named raw.orders: seeds/orders.csv and models/raw/orders.sql"],
        "rename one",
    ),
    # -- model SQL --------------------------------------------------------------------------------
    Case(
        "sql-does-not-parse",
        {"models/orders.sql": "select 1 as id\nfrom\nwhere (\n"},
        "models/orders.sql",
        3,
        ["SQL does not parse", "'where'"],
        "a model is one SELECT statement in DuckDB SQL",
        extra_message_absent=["<Token", "TokenType"],
    ),
    Case(
        "sql-unterminated-string",
        {"models/orders.sql": "select 1 as id,\n  'abc as name\n"},
        "models/orders.sql",
        2,
        ["SQL does not parse", "unterminated string"],
        "close the quote",
    ),
    Case(
        "two-statements",
        {"models/orders.sql": "select 1 as id;\n\nselect 2 as id;\n"},
        "models/orders.sql",
        3,
        ["a model must hold exactly one statement, found 2"],
        "remove the extra statements",
    ),
    Case(
        "empty-model",
        {"models/orders.sql": "-- nothing yet\n"},
        "models/orders.sql",
        None,
        ["the model holds no SQL"],
        "write one SELECT statement",
    ),
    Case(
        "non-select-model",
        {"models/orders.sql": "insert into raw.orders values (1)\n"},
        "models/orders.sql",
        1,
        ["a model must be a SELECT query, found INSERT"],
        "Headwater writes the table itself",
    ),
    Case(
        "ddl-model",
        {"models/orders.sql": "create table x as select 1 as id\n"},
        "models/orders.sql",
        1,
        ["a model must be a SELECT query, found CREATE"],
        "write the model as a SELECT",
    ),
    # -- references and the graph ----------------------------------------------------------------
    Case(
        "unknown-table-qualified",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/marts/revenue.sql": "select *\nfrom\n  staging.order\n",
        },
        "models/marts/revenue.sql",
        3,
        ["model marts.revenue reads unknown table 'staging.order'"],
        "did you mean staging.orders?",
    ),
    Case(
        "unknown-table-unqualified",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/marts/revenue.sql": "select *\n\nfrom ordrs\n",
        },
        "models/marts/revenue.sql",
        3,
        ["model marts.revenue reads unknown table 'ordrs'"],
        "did you mean staging.orders?",
    ),
    Case(
        "unknown-table-in-join",
        {
            "seeds/customers.csv": "id\n1\n",
            "models/staging/orders.sql": "select 1 as id",
            "models/marts/revenue.sql": (
                "select *\nfrom staging.orders o\njoin raw.customer c on c.id = o.id\n"
            ),
        },
        "models/marts/revenue.sql",
        3,
        ["reads unknown table 'raw.customer'"],
        "did you mean raw.customers?",
    ),
    Case(
        "unknown-table-nothing-close",
        {"models/staging/orders.sql": "select 1 as id", "models/r.sql": "select * from zzz_qqq"},
        "models/r.sql",
        1,
        ["reads unknown table 'zzz_qqq'"],
        "no asset has a similar name",
    ),
    Case(
        "unknown-ref",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/revenue.sql": "select *\nfrom {{ ref('order') }}\n",
        },
        "models/revenue.sql",
        2,
        ["reads unknown table 'order'"],
        "did you mean staging.orders?",
    ),
    Case(
        "unknown-source",
        {
            "seeds/orders.csv": "id\n1\n",
            "models/r.sql": "select *\nfrom {{ source('raww', 'orders') }}\n",
        },
        "models/r.sql",
        2,
        ["reads unknown table 'raww.orders'"],
        "did you mean raw.orders?",
    ),
    Case(
        "ambiguous-unqualified-name",
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/archive/orders.sql": "select 1 as id",
            "models/marts/revenue.sql": "select *\nfrom orders\n",
        },
        "models/marts/revenue.sql",
        2,
        ["table 'orders' is ambiguous: archive.orders, staging.orders"],
        "qualify it with its namespace, e.g. archive.orders",
    ),
    Case(
        "cycle-of-two",
        {"models/a.sql": "select * from main.b", "models/b.sql": "select * from main.a"},
        "models/a.sql",
        None,
        ["dependency cycle: main.a reads main.b reads main.a"],
        "a model cannot read, directly or through others, a model that reads it",
    ),
    Case(
        "cycle-of-three",
        {
            "models/a.sql": "select * from c",
            "models/b.sql": "select * from a",
            "models/c.sql": "select * from b",
            "models/d.sql": "select * from a",
        },
        "models/a.sql",
        None,
        ["dependency cycle: main.a reads main.c reads main.b reads main.a"],
        "a model cannot read",
    ),
    Case(
        "reads-itself",
        {"models/orders.sql": "select 1 as id\nunion all\nselect * from main.orders\n"},
        "models/orders.sql",
        3,
        ["model main.orders reads itself"],
        "only incremental models may read their own table",
    ),
    Case(
        "reads-itself-through-this",
        {"models/orders.sql": "select * from {{ this }}\n"},
        "models/orders.sql",
        1,
        ["model main.orders reads itself"],
        "only incremental models may read their own table",
    ),
    # -- Jinja -----------------------------------------------------------------------------------
    Case(
        "jinja-syntax",
        {"models/orders.sql": "select 1 as id\n{% if is_incremental() %}\nwhere id > 0\n"},
        "models/orders.sql",
        2,
        ["template syntax error", "endif"],
        "check the {{ }} and {% %} tags on that line",
    ),
    Case(
        "jinja-unclosed-expression",
        {"models/orders.sql": "select 1 as id,\n  {{ var('x' as y\n"},
        "models/orders.sql",
        2,
        ["template syntax error"],
        "check the {{ }} and {% %} tags on that line",
    ),
    Case(
        "jinja-undefined-var",
        {"models/orders.sql": "select 1 as id,\n  {{ var('country') }} as country\n"},
        "models/orders.sql",
        2,
        ["var('country') is not defined"],
        "add 'country' under 'vars:' in headwater.yml",
    ),
    Case(
        "jinja-undefined-name",
        {"models/orders.sql": "select 1 as id,\n\n  {{ country }} as country\n"},
        "models/orders.sql",
        3,
        ["template error: 'country' is undefined"],
        "under 'vars:' in headwater.yml",
    ),
    Case(
        "jinja-bad-call",
        {"models/orders.sql": "select 1 as id\nfrom {{ source('shop') }}\n"},
        "models/orders.sql",
        2,
        ["template error: TypeError", "missing 1 required positional argument"],
        "check the expression on that line",
    ),
    Case(
        "jinja-config-unknown-key",
        {"models/orders.sql": "{{ config(materialised='view') }}\nselect 1 as id\n"},
        "models/orders.sql",
        1,
        ["config() does not accept materialised"],
        "did you mean 'materialized'?",
    ),
    # -- nested keys: the valid keys listed, the closest first -----------------------------------
    Case(
        "nested-typo-under-a-named-job",
        {"headwater.yml": "name: test\njobs:\n  nightly:\n    crn: '0 2 * * *'\n"},
        "headwater.yml",
        4,
        [
            "line 4: unknown key 'jobs.nightly.crn'; did you mean 'cron'? (valid keys: catch_up, "
            "cron, enabled, exclude, full_refresh, select, timezone)"
        ],
        "see docs/project.md",
    ),
    Case(
        "nested-typo-in-a-check",
        {
            "models/m.sql": "select 1 as id",
            "models/m.yml": "checks:\n  - {not_null: {column: id, severty: warn}}\n",
        },
        "models/m.yml",
        2,
        ["unknown key 'checks.0.not_null.severty'; did you mean 'severity'? (valid keys: column,"],
        "see docs/project.md",
    ),
    Case(
        "typo-under-project-defaults-at-its-line",
        {"headwater.yml": "name: test\ndefaults:\n  materialized: view\n  namspace: x\n"},
        "headwater.yml",
        4,
        ["line 4: unknown key 'defaults.namspace'; did you mean 'namespace'?"],
        "see docs/project.md",
    ),
    Case(
        "typo-under-source-defaults-at-its-line",
        {
            "sources/files.yml": (
                "kind: files\ndefaults:\n  formt: csv\ntables:\n  a:\n    path: data/a.csv\n"
                "  b:\n    path: data/b.csv\n"
            )
        },
        "sources/files.yml",
        3,
        ["line 3: unknown key 'defaults.formt'; did you mean 'format'?"],
        "see docs/sources.md",
        extra_message_absent=["tables.a", "tables.b"],
    ),
    # -- checks and keys name columns the model produces ----------------------------------------
    Case(
        "column-test-on-a-column-the-model-lacks",
        {
            "seeds/orders.csv": "id,customer_id,status\n1,1,open\n",
            "models/stg.sql": "select * from raw.orders",
            "models/stg.yml": (
                "columns:\n  - name: id\n    tests: [not_null]\n"
                "  - name: custmer_id\n    tests: [not_null]\n"
            ),
        },
        "models/stg.yml",
        4,
        ["check not_null_custmer_id of main.stg reads column 'custmer_id', which main.stg does"],
        "did you mean 'customer_id'? its columns: id, customer_id, status",
    ),
    Case(
        "table-check-on-a-column-the-model-lacks",
        {
            "models/m.sql": "select 1 as id, 'open' as status",
            "models/m.yml": (
                "description: x\nchecks:\n  - row_count: {min: 1}\n"
                "  - accepted_values: {column: stauts, values: [open]}\n"
            ),
        },
        "models/m.yml",
        4,
        ["check accepted_values_stauts of main.m reads column 'stauts'"],
        "did you mean 'status'?",
    ),
    Case(
        "expression-check-reads-a-column-the-model-lacks",
        {
            "models/m.sql": "select 1 as id, current_date as shipped, current_date as received",
            "models/m.yml": "checks:\n  - expression: 'shiped <= received'\n",
        },
        "models/m.yml",
        2,
        ["check expression of main.m reads column 'shiped'"],
        "did you mean 'shipped'?",
    ),
    Case(
        "relationship-field-the-parent-lacks",
        {
            "seeds/customers.csv": "id,name\n1,a\n",
            "models/m.sql": "select 1 as id, 1 as customer_id",
            "models/m.yml": (
                "columns:\n  - name: customer_id\n    checks:\n"
                "      - relationships: {to: raw.customers, field: idd}\n"
            ),
        },
        "models/m.yml",
        4,
        ["refers to raw.customers.idd, but raw.customers has no column 'idd'"],
        "did you mean 'id'?",
    ),
    Case(
        "unique-key-the-model-lacks",
        {
            "models/m.sql": "select 1 as order_id",
            "models/m.yml": "materialized: incremental\nunique_key: id\n",
        },
        "models/m.yml",
        2,
        ["unique_key of main.m names column 'id', which main.m does not produce"],
        "its columns: order_id",
    ),
    Case(
        "two-checks-named-alike",
        {
            "models/m.sql": "select 1 as id",
            "models/m.yml": (
                "checks:\n  - {not_null: {column: id, name: id_ok}}\n"
                "  - {unique: {column: id, name: id_ok}}\n"
            ),
        },
        "models/m.yml",
        3,
        ["two checks of main.m are named 'id_ok'"],
        "give each check a name of its own",
    ),
    Case(
        "jinja-config-invalid",
        {"models/orders.sql": "{{ config(materialized='snapshot') }}\nselect 1 as id\n"},
        "models/orders.sql",
        None,
        ["invalid config() in the SQL: a snapshot needs 'unique_key'"],
        "fix the arguments of {{ config(...) }}",
        extra_message_absent=["Value error"],
    ),
]


def load_error(make_project: ProjectFactory, files: dict[str, str]) -> ConfigError:
    project = make_project(project_files(files))
    with pytest.raises(ConfigError) as info:
        _ = project.definition
    return info.value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_config_error_names_file_line_key_and_fix(make_project: ProjectFactory, case: Case) -> None:
    error = load_error(make_project, case.files)

    assert error.location.file == case.file
    assert error.location.line == case.line
    for fragment in case.message:
        assert fragment in error.message, (fragment, error.message)
    for fragment in case.extra_message_absent:
        assert fragment not in str(error)
    assert error.hint is not None
    assert case.hint in error.hint, (case.hint, error.hint)
    assert error.exit_code == 2
    where = f"{case.file}:{case.line}" if case.line else case.file
    assert str(error) == f"{where}: {error.message}\n  hint: {error.hint}"


# one case of each kind goes through a real subprocess (the in-process test above covers them all)
CLI_CASES = [
    c
    for c in CASES
    if c.id
    in {
        "yaml-syntax-project",
        "yaml-syntax-sidecar",
        "unknown-key-project",
        "unknown-key-sidecar",
        "enum-sidecar",
        "nested-unknown-key-sidecar",
        "snapshot-without-unique-key",
        "invalid-model-file-name",
        "duplicate-asset-names",
        "sql-does-not-parse",
        "sql-unterminated-string",
        "non-select-model",
        "unknown-table-qualified",
        "cycle-of-two",
        "jinja-undefined-var",
    }
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_prints_config_error_without_traceback(tmp_path: Path, case: Case) -> None:
    write_files(tmp_path, project_files(case.files))

    result = run_cli(["dag"], cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    where = f"{case.file}:{case.line}" if case.line else case.file
    assert result.stderr.startswith(f"Error: {where}: "), result.stderr
    for fragment in case.message:
        assert fragment in result.stderr
    assert f"  hint: {case.hint}" in result.stderr or case.hint in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_debug_shows_the_traceback(tmp_path: Path) -> None:
    write_files(tmp_path, {"headwater.yml": "name: test\nwarehose: wh\n"})

    plain = run_cli(["dag"], cwd=tmp_path)
    debug = run_cli(["--debug", "dag"], cwd=tmp_path)

    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert "ConfigError" in debug.stderr
    assert "Error: headwater.yml:2: invalid configuration" in debug.stderr


def test_cli_run_with_config_error_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "headwater.yml": BASE,
            "seeds/orders.csv": "id\n1\n",
            "models/r.sql": "select * from raw.ordres\n",
        },
    )

    result = run_cli(["run"], cwd=tmp_path)

    assert result.returncode == 2
    assert "Error: models/r.sql:1: model main.r reads unknown table 'raw.ordres'" in result.stderr
    assert "hint: did you mean raw.orders?" in result.stderr
    assert not (tmp_path / "warehouse").exists()


def test_no_project_file(tmp_path: Path) -> None:
    empty = tmp_path / "nowhere"
    empty.mkdir()

    with pytest.raises(ConfigError) as info:
        Project(empty)

    assert "no headwater.yml found in" in info.value.message
    assert str(empty.resolve()) in info.value.message
    assert info.value.hint is not None
    assert "headwater init NAME" in info.value.hint
    assert "--project DIR" in info.value.hint


def test_cli_no_project_file(tmp_path: Path) -> None:
    result = run_cli(["run"], cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("Error: no headwater.yml found in ")
    assert "hint: run inside a project, pass --project DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_project_is_found_from_a_subfolder(make_project: ProjectFactory) -> None:
    project = make_project({"models/staging/orders.sql": "select 1 as id"})

    nested = Project(project.root / "models" / "staging")

    assert nested.root == project.root
    assert list(nested.definition.assets) == ["staging.orders"]
    nested.close()


# -- the valid forms next to each error: the rule is exactly as strict as it says -----------------


def test_sidecar_name_fixes_an_invalid_file_name(make_project: ProjectFactory) -> None:
    project = make_project(
        {"models/1st-orders.sql": "select 1 as id", "models/1st-orders.yml": "name: first_orders\n"}
    )

    assert list(project.definition.assets) == ["main.first_orders"]


def test_sidecar_namespace_fixes_an_invalid_folder(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/my-folder/orders.sql": "select 1 as id",
            "models/my-folder/orders.yml": "namespace: shop\n",
        }
    )

    assert list(project.definition.assets) == ["shop.orders"]


def test_incremental_model_may_read_itself(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/events.csv": "id\n1\n",
            "models/events.sql": (
                "select * from raw.events\n"
                "{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}\n"
            ),
            "models/events.yml": "materialized: incremental\n",
        }
    )

    assert project.definition.assets["main.events"].depends_on == ("raw.events",)


def test_table_model_may_use_an_incremental_block(make_project: ProjectFactory) -> None:
    """is_incremental() is always false for a table: {{ this }} in its block is no self-read."""
    project = make_project(
        {
            "seeds/events.csv": "id\n1\n",
            "models/events.sql": (
                "select * from raw.events\n"
                "{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}\n"
            ),
        }
    )

    assert project.definition.assets["main.events"].depends_on == ("raw.events",)


def test_own_name_unqualified_means_the_other_asset(make_project: ProjectFactory) -> None:
    """`orders` in staging.orders is raw.orders: the model itself is {{ this }}."""
    project = make_project(
        {
            "seeds/orders.csv": "id\n1\n",
            "models/staging/orders.sql": "select * from orders",
        }
    )

    assert project.definition.assets["staging.orders"].depends_on == ("raw.orders",)
    # anywhere else the same bare name is ambiguous
    (project.root / "models" / "summary.sql").write_text("select count(*) from orders")
    project.reload()
    with pytest.raises(ConfigError, match=r"'orders' is ambiguous: raw\.orders, staging\.orders"):
        _ = project.definition


def test_own_name_still_ambiguous_between_two_others(make_project: ProjectFactory) -> None:
    error = load_error(
        make_project,
        {
            "seeds/orders.csv": "id\n1\n",
            "models/archive/orders.sql": "select 1 as id",
            "models/staging/orders.sql": "select * from\norders",
        },
    )

    assert error.location.file == "models/staging/orders.sql"
    assert error.location.line == 2
    assert error.message == "table 'orders' is ambiguous: archive.orders, raw.orders"


def test_qualified_name_avoids_ambiguity(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/staging/orders.sql": "select 1 as id",
            "models/archive/orders.sql": "select 1 as id",
            "models/marts/revenue.sql": "select * from staging.orders",
        }
    )

    assert project.definition.assets["marts.revenue"].depends_on == ("staging.orders",)


def test_snapshot_with_key_and_updated_at_is_valid(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/dim.sql": "select 1 as id, now() as updated_at",
            "models/dim.yml": (
                "materialized: snapshot\nunique_key: [id]\nsnapshot:\n  updated_at: updated_at\n"
            ),
        }
    )

    asset = project.definition.assets["main.dim"]
    assert asset.materialized == "snapshot"
    assert asset.unique_key == ["id"]


def test_var_defined_in_project_renders(make_project: ProjectFactory) -> None:
    project = make_project(
        {"models/orders.sql": "select 1 as id, '{{ var(\"country\") }}' as country\n"},
        config="vars:\n  country: NL\n",
    )

    assert project.definition.assets["main.orders"].templated


def test_first_error_wins_deterministically(make_project: ProjectFactory) -> None:
    """Two broken models: the error names the first in path order, every time."""
    files = {"models/a.sql": "select * from nope_a", "models/b.sql": "select * from nope_b"}
    first = load_error(make_project, files)
    second = load_error(make_project, files)

    assert first.location.file == second.location.file == "models/a.sql"


# -- files that are not UTF-8 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text", "line", "offset"),
    [
        ("models/m.sql", b"select 1 as id,\n  'caf\xe9' as name\n", 2, 22),
        ("models/m.yml", b"description: caf\xe9\n", 1, 16),
    ],
    ids=["model-sql", "sidecar"],
)
def test_a_file_that_is_not_utf8_names_the_file_line_and_byte(
    tmp_path: Path, path: str, text: bytes, line: int, offset: int
) -> None:
    write_files(tmp_path, {"headwater.yml": BASE, "models/m.sql": "select 1 as id\n"})
    (tmp_path / path).write_bytes(text)

    with pytest.raises(ConfigError) as info:
        _ = Project(tmp_path).definition
    error = info.value
    assert (error.location.file, error.location.line) == (path, line)
    assert f"byte 0xe9 at byte offset {offset} (line {line})" in error.message
    assert "save the file as UTF-8" in (error.hint or "")

    result = run_cli(["dag"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: {path}:{line}: the file is not UTF-8 text")
    assert "Traceback" not in result.stderr


# -- dbt files Headwater does not read yet -----------------------------------------------------

DBT_FILES = {
    "headwater.yml": BASE,
    "seeds/orders.csv": "id\n1\n",
    "models/stg_orders.sql": "select id from raw.orders",
    "models/schema.yml": "version: 2\nmodels:\n  - name: stg_orders\n    columns:\n"
    "      - name: id\n        tests: [unique, not_null]\n",
    "models/sources.yml": "version: 2\nsources: []\n",
    "tests/assert_positive.sql": "select * from {{ ref('stg_orders') }} where id < 0\n",
}


def test_dbt_files_that_are_not_read_are_warnings_naming_them(tmp_path: Path) -> None:
    write_files(tmp_path, DBT_FILES)

    warnings = Project(tmp_path).definition.warnings

    assert [w.split(" is not read")[0] for w in warnings] == [
        "models/schema.yml",
        "models/sources.yml",
        "tests/assert_positive.sql",
    ]
    assert "sidecar named after its SQL file" in warnings[0]
    assert "sources/<name>.yml" in warnings[1]
    assert "`sql` check" in warnings[2]


def test_cli_shows_unread_dbt_files_before_saying_there_are_no_checks(tmp_path: Path) -> None:
    write_files(tmp_path, DBT_FILES)

    result = run_cli(["test"], cwd=tmp_path)

    assert "Warning: models/schema.yml is not read by Headwater: " in result.stderr
    assert "Warning: tests/assert_positive.sql is not read by Headwater: " in result.stderr
    assert result.stderr.count("models/schema.yml is not read") == 1


def test_files_headwater_reads_or_generates_are_not_warned_about(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "headwater.yml": BASE,
            "seeds/orders.csv": "id\n1\n",
            "seeds/orders.yml": "description: orders\n",
            "models/a/m.sql": "select id from raw.orders",
            "models/a/m.yml": "description: m\n",
            "sources/files.yml": "kind: files\ntables:\n  x:\n    path: data/x.csv\n",
            "warehouse/main/t/part.sql": "-- inside the warehouse\n",
            "target/compiled/m.sql": "-- dbt's build output\n",
            ".venv/lib/x.yml": "a: 1\n",
        },
    )
    project = Project(tmp_path)
    assert project.definition.warnings == []
    assert Project.init(tmp_path / "fresh", example="ecommerce").definition.warnings == []


def test_only_headwater_and_dbt_folders_are_looked_at_for_unread_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI, Docker and pre-commit files, scripts and a landing folder of data are the project's
    own: not warned about, and a folder outside models/, seeds/, sources/ and dbt's is never
    walked (a landing/ folder of 100,000 files cost every command 1.5 s)."""
    import headwater.project.unread as loader_module

    write_files(
        tmp_path,
        {
            **DBT_FILES,
            ".pre-commit-config.yaml": "repos: []\n",
            ".gitlab-ci.yml": "test:\n  script: [make]\n",
            "docker-compose.yml": "services: {}\n",
            "scripts/cleanup.sql": "delete from x\n",
            "landing/2024/batch.sql": "-- landed\n",
            "dbt_project.yml": "name: shop\n",
            "macros/cents.sql": "{% macro cents(x) %}{{ x }} / 100{% endmacro %}\n",
            "snapshots/orders.sql": "{% snapshot orders %}select 1{% endsnapshot %}\n",
            "models/.hidden.yml": "a: 1\n",
        },
    )
    walked: list[str] = []
    real_walk = os.walk

    def walk(top: Any, *args: Any, **kwargs: Any) -> Any:
        walked.append(Path(top).relative_to(tmp_path).as_posix())
        return real_walk(top, *args, **kwargs)

    monkeypatch.setattr(loader_module.os, "walk", walk)
    warnings = Project(tmp_path).definition.warnings

    assert [w.split(" is not read")[0] for w in warnings] == [
        "dbt_project.yml",
        "macros/cents.sql",
        "models/schema.yml",
        "models/sources.yml",
        "snapshots/orders.sql",
        "tests/assert_positive.sql",
    ]
    assert "Headwater's settings are in headwater.yml" in warnings[0]
    assert "dbt macros are not read" in warnings[1]
    assert "'materialized: snapshot'" in warnings[4]
    assert not any(w.startswith(("landing", "scripts")) for w in walked)
    assert set(walked) <= {"models", "seeds", "sources", "snapshots", "tests", "macros"}
