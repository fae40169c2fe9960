"""The load-time check of the columns a sidecar names never rejects a valid project.

Where an asset's columns cannot be known for certain before it is built, they are unknown and
the same check runs at build time on the real output; each case here is a valid project that
was once refused at load.
"""

from __future__ import annotations

import pytest

from headwater.errors import ConfigError
from tests.conftest import ProjectFactory, rows

SALES = "id,year,q,amt\n1,2023,q1,5\n1,2024,q1,6\n2,2023,q2,7\n"


def test_a_list_comprehension_variable_is_not_a_column(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/m.sql": "select 1 as id, [1, 2, 3] as arr",
            "models/m.yml": (
                "checks:\n  - expression: {sql: 'len([x for x in arr if x > 0]) = len(arr)'}\n"
                "  - expression: {sql: 'list_sum([x * i for x, i in arr]) > 0'}\n"
            ),
        }
    )
    assert project.definition.columns["main.m"] == ["id", "arr"]
    assert project.run().status == "success"


def test_an_expression_on_a_column_the_model_lacks_is_still_refused(
    make_project: ProjectFactory,
) -> None:
    """Names a comprehension binds are not columns; the names it iterates still are."""
    project = make_project(
        {
            "models/m.sql": "select 1 as id, [1, 2, 3] as arr",
            "models/m.yml": "checks:\n  - expression: 'len([x for x in arrr]) = 3'\n",
        }
    )
    with pytest.raises(ConfigError, match="reads column 'arrr'"):
        _ = project.definition


def test_a_seed_with_a_line_before_its_header(make_project: ProjectFactory) -> None:
    """DuckDB's CSV sniffer skips the preamble: the columns are those of the header after it,
    as the seed's build finds them."""
    project = make_project(
        {
            "seeds/s.csv": "exported from the shop\nid,name,amount\n1,a,3\n2,b,4\n",
            "seeds/s.yml": "checks:\n  - unique: {column: id}\n",
        }
    )
    assert project.definition.columns["raw.s"] == ["id", "name", "amount"]
    assert project.run().status == "success"
    assert rows(project, "select id, name from raw.s order by id") == [(1, "a"), (2, "b")]


def test_a_seed_check_on_a_missing_column_is_refused_with_the_sniffed_columns(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/s.csv": "exported from the shop\nid,name\n1,a\n",
            "seeds/s.yml": "checks:\n  - unique: {column: idd}\n",
        }
    )
    with pytest.raises(ConfigError, match="reads column 'idd'") as caught:
        _ = project.definition
    assert "did you mean 'id'?" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("sql", "column"),
    [
        ("select * from (select id, count(*) from raw.sales group by id)", "count_star()"),
        ("with x as (select id, sum(amt) from raw.sales group by 1) select * from x", "sum(amt)"),
        ("with x as (select id, amt + 1 from raw.sales) select * from x", "(amt + 1)"),
        ("select * from (values (1, 2)) t", "col0"),
        ("select s.*, t.* from raw.sales s, (select max(amt) from raw.sales) t", "max(amt)"),
    ],
)
def test_a_star_over_an_unnamed_projection_is_left_to_the_build(
    make_project: ProjectFactory, sql: str, column: str
) -> None:
    """DuckDB names `count(*)` `count_star()` and a VALUES column `col0`, where sqlglot would
    make up `_col_1`: the columns are unknown at load, and the check runs on the built ones."""
    project = make_project(
        {
            "seeds/sales.csv": SALES,
            "models/m.sql": sql,
            "models/m.yml": f"checks:\n  - not_null: {{column: '{column}'}}\n",
        }
    )
    assert "main.m" not in project.definition.columns
    run = project.run()
    assert run.status == "success", run.outcome("main.m").message


def test_a_star_over_named_projections_is_still_checked_at_load(
    make_project: ProjectFactory,
) -> None:
    """A scalar subquery's unnamed projection is not an output column: the star is known."""
    project = make_project(
        {
            "seeds/sales.csv": SALES,
            "models/m.sql": (
                "with x as (select id, sum(amt) as total from raw.sales group by 1) "
                "select * from x where total > (select min(amt) from raw.sales)"
            ),
            "models/m.yml": "checks:\n  - not_null: {column: totl}\n",
        }
    )
    with pytest.raises(ConfigError, match="reads column 'totl'"):
        _ = project.definition
