"""Personal data found along column lineage: a declared column's kind reaches every column
derived from it that still carries its value, and no other.

On the e-commerce example (`pii: name` and `pii: email` on `raw.customers` only), and on small
projects for the cases the example lacks: aggregates that keep or drop the value, a join on a
personal column, several kinds meeting in one column, a model whose lineage is unknown.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from headwater import Project
from headwater.lineage.graph import ColumnRef
from tests.conftest import HEADWATER, ProjectFactory

EXAMPLE_PERSONAL = {
    ("raw.customers", "email"): ("email",),
    ("raw.customers", "name"): ("name",),
    ("staging.stg_customers", "email"): ("email",),
    ("staging.stg_customers", "customer_name"): ("name",),
    ("marts.dim_customer", "email"): ("email",),
    ("marts.dim_customer", "customer_name"): ("name",),
    ("marts.customer_lifetime_value", "customer_name"): ("name",),
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project.init(tmp_path_factory.mktemp("governance") / "shop", example="ecommerce")
    assert project.run().status == "success"
    return project


def _found(project: Project) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(c.column.asset, c.column.column): c.kinds for c in project.classification()}


def test_the_example_s_names_and_emails_reach_exactly_the_columns_derived_from_them(
    shop: Project,
) -> None:
    classification = shop.classification()
    assert _found(shop) == EXAMPLE_PERSONAL
    assert classification.unanalysed == {}
    declared = {(c.column.asset, c.column.column) for c in classification if c.declared}
    assert declared == {("raw.customers", "email"), ("raw.customers", "name")}
    ltv = classification.columns[ColumnRef("marts.customer_lifetime_value", "customer_name")]
    assert ltv.origins == (ColumnRef("raw.customers", "name"),)
    assert str(ltv.path[0]) == "raw.customers.name"
    assert str(ltv.path[-1]) == "marts.customer_lifetime_value.customer_name"
    # the key the marts join on is no personal data, nor is anything computed from orders
    assert classification.kinds("marts.fact_sales", "customer_id") == ()
    assert classification.kinds("staging.stg_customers", "customer_id") == ()


def test_the_example_before_any_build_is_classified_the_same(tmp_path: Path) -> None:
    project = Project.init(tmp_path / "shop", example="ecommerce")
    assert _found(project) == EXAMPLE_PERSONAL


def test_the_report_says_where_each_classification_came_from_and_who_reads_it(
    shop: Project,
) -> None:
    (shop.root / "headwater.yml").write_text(
        (shop.root / "headwater.yml").read_text()
        + "serve:\n  roles:\n    analyst: {read: ['marts.*']}\n"
        + "    support: {read: [raw.customers], unmasked: [email]}\n"
        + "governance:\n  masking:\n    kinds: {email: hash}\n"
    )
    shop.reload()
    done = subprocess.run(
        [*HEADWATER, "governance", "report", "--json"],
        cwd=shop.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {(c["asset"], c["column"]): c for c in report["columns"]}
    assert set(rows) == set(EXAMPLE_PERSONAL)
    assert rows["raw.customers", "email"]["source"] == "declared"
    assert rows["raw.customers", "email"]["readers"] == ["admin", "support"]
    assert rows["raw.customers", "email"]["masked_for"] == []
    assert rows["raw.customers", "name"]["readers"] == ["admin"]
    assert rows["raw.customers", "name"]["masked_for"] == ["support"]
    assert rows["raw.customers", "name"]["mask"] == "redact"  # a kind without a rule
    dim = rows["marts.dim_customer", "email"]
    assert dim["source"] == "lineage" and dim["from"] == ["raw.customers.email"]
    assert (dim["readers"], dim["masked_for"], dim["mask"]) == (["admin"], ["analyst"], "hash")
    assert rows["staging.stg_customers", "customer_name"]["readers"] == ["admin"]
    assert rows["staging.stg_customers", "customer_name"]["masked_for"] == []
    assert report["unanalysed"] == []
    table = subprocess.run(
        [*HEADWATER, "governance", "report"],
        cwd=shop.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert table.returncode == 0, table.stderr
    assert "marts.customer_lifetime_value.customer_name" in table.stdout


PEOPLE = "id,email,name,region\n1,a@example.com,Ann,EU\n2,b@example.com,Bob,US\n"


def test_value_keeping_aggregates_carry_the_kind_and_counts_do_not(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/people.csv": PEOPLE,
            "seeds/people.yml": (
                "columns:\n  - name: email\n    pii: email\n  - name: name\n    pii: name\n"
            ),
            "models/by_region.sql": (
                "select region, count(email) as emails, max(email) as last_email,\n"
                "  string_agg(name, ',') as names, length(min(name)) as shortest\n"
                "from raw.people group by region"
            ),
            "models/joined.sql": (
                "select a.id, a.region from raw.people a join raw.people b on a.email = b.email"
            ),
            "models/contact.sql": (
                "select id, name || ' <' || email || '>' as contact from raw.people"
            ),
        }
    )
    assert project.run().status == "success"  # the seed's columns are known once it is loaded
    found = _found(project)
    assert found[("main.by_region", "last_email")] == ("email",)
    assert found[("main.by_region", "names")] == ("name",)
    assert ("main.by_region", "emails") not in found
    assert ("main.by_region", "shortest") not in found
    assert ("main.by_region", "region") not in found
    # joining on an e-mail does not put it in the joined columns
    assert not [key for key in found if key[0] == "main.joined"]
    # several kinds meet in one column
    assert found[("main.contact", "contact")] == ("email", "name")


def test_a_model_whose_lineage_is_unknown_is_listed_not_called_clean(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/people.csv": PEOPLE,
            "seeds/people.yml": "columns:\n  - name: email\n    pii: email\n",
            # the columns of a table function's output are unknown before it runs
            "models/opaque.sql": "select p.email, t.x from raw.people p, range(3) as t(x)",
            "models/after.sql": "select * from main.opaque",
        }
    )
    classification = project.classification()
    assert "whose columns are unknown" in classification.unanalysed["main.opaque"].reason
    assert classification.unanalysed["main.opaque"].reads == ("raw.people",)
    assert classification.unanalysed["main.after"].reads == ("main.opaque",)


def test_a_cdc_change_log_holds_its_mirror_s_personal_data(make_project: ProjectFactory) -> None:
    # the change log keeps every value the mirror's columns ever held
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: sql\nurl: postgresql://reader@127.0.0.1:1/shop\ntables:\n  customers:\n"
                "    mode: cdc\n    primary_key: id\n    changelog: true\n    columns:\n"
                "      id: BIGINT\n      email: {type: VARCHAR, pii: email}\n"
            ),
            "models/c.sql": "select id, lower(email) as mail from shop.customers__changes",
        }
    )
    changes = project.definition.assets["shop.customers__changes"]
    assert changes.is_change_log
    assert changes.personal_data == {"email": "email"}
    found = _found(project)
    assert found[("shop.customers__changes", "email")] == ("email",)
    assert found[("main.c", "mail")] == ("email",)


def test_a_stream_reading_personal_data_is_unanalysed_and_so_is_what_reads_it(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/people.csv": "id,email\n0,a@example.com\n1,b@example.com\n",
            "seeds/people.yml": "columns:\n  - name: email\n    pii: email\n",
            "streams/clicks.yml": (
                "source: {kind: generator, keys: 2, events: 30, spacing: 1}\n"
                "sql: |\n  select e.event_time, e.amount, p.email\n"
                "  from events as e join raw.people as p on p.id = e.key\n"
                "event_time: event_time\nwatermark: 1s\nwindow:\n"
                "  {type: tumbling, size: 1m, key: email, aggregates: {revenue: sum(amount)}}\n"
            ),
            "models/per_mail.sql": "select email, revenue from streams.clicks",
        }
    )
    unanalysed = project.classification().unanalysed
    assert unanalysed["streams.clicks"].reads == ("raw.people",)
    assert "stream" in unanalysed["streams.clicks"].reason
    assert unanalysed["main.per_mail"].reads == ("streams.clicks",)


def test_without_authentication_the_report_says_anyone_reads_it(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/people.csv": PEOPLE,
            "seeds/people.yml": "columns:\n  - name: email\n    pii: email\n",
        },
        config="serve: {auth: false}\n",
    )
    (column,) = project.governance_report()["columns"]
    assert column["readers"] == ["anyone (serve.auth: false)", "admin"]
