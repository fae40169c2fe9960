"""Give a query's CTEs names no relation of the engine has.

Headwater qualifies every table a query names (`raw.customers`) and leaves alone the names it
takes for CTEs. Where the engine disagrees about what a name means, it reads a relation of its
own catalog in place of the CTE: DuckDB reads `WITH RECURSIVE x AS (SELECT * FROM x)`, whose
body is no UNION, as the relation `x` of its catalog (a table the reader may not read, the
serving cache's copy, the hash key of masking), and a CTE named like one of the relations a
query reads internally would be read in its place. Renaming every CTE, with each reference
Headwater took for it, to a fresh name makes any such reference name nothing: the query fails
instead of reading what it should not.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from headwater.query.policy import QueryRejected

if TYPE_CHECKING:
    from sqlglot import exp

CTE_PREFIX = "hw_cte_"


def isolate_ctes(tree: exp.Query) -> exp.Query:
    """Rename every CTE of the compiled query `tree` (its tables qualified) and every
    unqualified table name, each of which names a CTE, to `hw_cte_<n>_<random>` (a name no
    query can guess, so no relation has it); a reference keeps its old name as its alias, so
    columns qualified by it still bind.

    Returns:
        `tree`, changed in place.

    Raises:
        QueryRejected: an unqualified table name names no CTE of the query.
    """
    from sqlglot import exp

    token = secrets.token_hex(4)
    renamed: dict[str, str] = {}
    for cte in tree.find_all(exp.CTE):
        renamed.setdefault(cte.alias_or_name.lower(), f"{CTE_PREFIX}{len(renamed)}_{token}")
    if not renamed:
        return tree
    for table in list(tree.find_all(exp.Table)):
        if table.args.get("db") or table.args.get("catalog"):
            continue
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function
        fresh = renamed.get(table.name.lower())
        if fresh is None:
            raise QueryRejected(
                f"the name {table.name}", "it is neither a table of the project nor a CTE"
            )
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=table.this.copy()))
        table.set("this", exp.to_identifier(fresh, quoted=True))
    for cte in tree.find_all(exp.CTE):
        alias = cte.args.get("alias")
        name = exp.to_identifier(renamed[cte.alias_or_name.lower()], quoted=True)
        if isinstance(alias, exp.TableAlias):
            alias.set("this", name)
        else:
            cte.set("alias", exp.TableAlias(this=name))
    return tree
