"""The columns a query reads, by table, as the audit trail records them."""

from __future__ import annotations

import pytest

from headwater.lineage.column_sources import LineageError
from headwater.lineage.columns_read import columns_read

SCHEMAS = {
    "raw.customers": {
        "customer_id": "INT",
        "email": "VARCHAR",
        "name": "VARCHAR",
        "city": "VARCHAR",
    },
    "raw.orders": {"order_id": "INT", "customer_id": "INT", "amount": "DOUBLE"},
}
EVERY_CUSTOMER_COLUMN = ["city", "customer_id", "email", "name"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select * from raw.customers", {"raw.customers": EVERY_CUSTOMER_COLUMN}),
        ("select count(*) from raw.orders", {"raw.orders": []}),
        ("select Email from RAW.Customers", {"raw.customers": ["email"]}),
        (
            "select c.name, sum(o.amount) from raw.customers c join raw.orders o "
            "on c.customer_id = o.customer_id where c.city = 'Oslo' group by 1 order by 2",
            {
                "raw.customers": ["city", "customer_id", "name"],
                "raw.orders": ["amount", "customer_id"],
            },
        ),
        (
            "with t as (select * from raw.customers) select email from t where name like 'a%'",
            {"raw.customers": EVERY_CUSTOMER_COLUMN},
        ),
        (
            "select email from raw.customers union all select cast(amount as varchar) "
            "from raw.orders",
            {"raw.customers": ["email"], "raw.orders": ["amount"]},
        ),
        (
            "select (select max(amount) from raw.orders o where o.customer_id = c.customer_id) "
            "as top from raw.customers c",
            {"raw.customers": ["customer_id"], "raw.orders": ["amount", "customer_id"]},
        ),
        (
            "select customer_id from raw.customers where email in "
            "(select email from raw.customers where city = 'Rome')",
            {"raw.customers": ["city", "customer_id", "email"]},
        ),
        (
            "select a.customer_id, b.customer_id from raw.customers a, raw.orders b",
            {"raw.customers": ["customer_id"], "raw.orders": ["customer_id"]},
        ),
    ],
)
def test_columns_read(sql: str, expected: dict[str, list[str]]) -> None:
    assert columns_read(sql, SCHEMAS) == expected


def test_sql_that_does_not_parse_is_an_error() -> None:
    with pytest.raises(LineageError):
        columns_read("select from where", SCHEMAS)
