"""The project and the probes of S5 (RELIABILITY.md): queries written to get at the raw value of
a masked column, and what they may answer.

The project holds `raw.people`, one row per synthetic person, whose personal columns carry one
kind each and so one masking rule each (hash, redact, partial, null, generalize, expression),
`raw.orders` to join with, a model deriving the personal columns (classified by lineage), an
ephemeral model over it and a view over that. Every personal value is built from a marker
unique to its row and column (`Quhovin07`, `Wembrick07`, `-807607-`, ...): a response that
holds one holds something of the raw value.

A probe is one query. Shape probes read the column in some form (select, subquery, CTE, join,
set operation, function, window, view...) and must answer masked values only. Predicate probes
come in pairs: the same query asking about the true raw value of a row and about a decoy (the
same value with the row's marker changed, so that what the rule shows of it is the same); a
masked reader must get the same answer to both, or a refusal, or the comparison tells something
of the raw value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

ROWS = 20
"""People in `raw.people`; person ROWS + 1 is set aside to the quarantine by a check."""
KEY = "s5-Key-q9Wv7Lx2Rk4Tz8"
"""The hash key the server gets in HEADWATER_MASKING_KEY: never to be seen in an answer."""
KEY_ENV = "HEADWATER_MASKING_KEY"
KEY_TABLE = "__headwater_masking_key"


def region(i: int) -> str:
    return "XX" if i > ROWS else ("EU" if i % 2 else "US")


@dataclass(frozen=True)
class Person:
    """One row of the seed, with the values of its personal columns."""

    i: int
    values: dict[str, str]
    """Column: the value as text (birth_date as ISO)."""

    @property
    def region(self) -> str:
        return region(self.i)


DAYS = [d for d in range(2, 29) if d % 10 != 1]
"""Days of birth: never a day whose last digit is the 1 of the first of the month (which
`generalize: month` shows), so that a character of the day never matches the masked one."""
LETTERS = "ghijklmnopqrstuvwxyz"
"""Letters that are no hexadecimal digit: the e-mail's marker is written in them, so that no
character of it matches one of a hash."""


def code(n: int) -> str:
    return LETTERS[n // 20] + LETTERS[n % 20]


def _birth(i: int) -> dt.date:
    return dt.date(1950 + i, i % 12 + 1, DAYS[(i * 5) % len(DAYS)])


def _other_day(day: int) -> int:
    """A day with the tens digit of `day` and another last digit (neither 0 nor 1)."""
    tens, units = divmod(day, 10)
    choices = [u for u in range(2, 10) if tens * 10 + u <= 28]
    return tens * 10 + choices[(choices.index(units) + 3) % len(choices)]


def person(i: int, marker: int | None = None, day: int | None = None) -> dict[str, str]:
    """The personal values of person `i`, built with marker `marker` (its own: `i`); a decoy
    has another marker and (for the date) another day, and shows the same under every rule."""
    m = i if marker is None else marker
    born = _birth(i)
    if day is not None:
        born = born.replace(day=day)
    return {
        "name": f"Ysolde Quhovin{m:02d}",
        "email": f"Ysolde.Wembrick{code(m)}@Jaxmail{m:02d}.example",
        "phone": f"+47-555-8{m:02d}6{m:02d}-{(i * 7919) % 9000 + 1000}",
        "national_id": f"NID{m:02d}-ZQX-{i * 7 + 100}",
        "birth_date": born.isoformat(),
        "address": f"{100 + i} Vexmoor{m:02d} Lane",
    }


def decoy(i: int) -> dict[str, str]:
    """The decoy of person `i`: no row holds it, and each rule shows of it what it shows of
    the person's own value (the last four characters of the phone, the first three of the
    address, the month of the birth date), and where it differs from the value, the masked
    value has no character it could match (a hash has no `g`, `[redacted]` is too short)."""
    return person(i, marker=i + 50, day=_other_day(_birth(i).day))


PEOPLE = [Person(i, person(i)) for i in range(1, ROWS + 2)]

COLUMNS = ("name", "email", "phone", "national_id", "birth_date", "address")
PEOPLE_COLUMNS = ("id", *COLUMNS, "region", "notes")
RULES = {
    "name": "redact",
    "email": "hash",
    "phone": "partial",
    "national_id": "null",
    "birth_date": "generalize",
    "address": "expression",
}
KINDS = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "national_id": "national_id",
    "birth_date": "date_of_birth",
    "address": "address",
}
DERIVED = {
    # column of raw.people: (column of staging.people_clean, of the ephemeral, of the view)
    "name": ("name", "full_name", "full_name"),
    "email": ("email", "mail", "mail"),
    "phone": ("phone_digits", "phone_digits", "phone_digits"),
    "national_id": ("national_id", "nid", "nid"),
    "birth_date": ("birth_date", "born", "born"),
    "address": ("address", "home", "home"),
}


def derive(column: str, value: str) -> str:
    """What staging.people_clean makes of `value` of `column`."""
    if column == "email":
        return value.lower()
    if column == "name":
        return value.upper()
    if column == "phone":
        return value[1:]
    return value


def people_csv() -> str:
    lines = [",".join(PEOPLE_COLUMNS)]
    for p in PEOPLE:
        v = p.values
        notes = f"{p.region.lower()}memo{p.i:02d}"
        lines.append(
            f"{p.i},{v['name']},{v['email']},{v['phone']},{v['national_id']},"
            f"{v['birth_date']},{v['address']},{p.region},{notes}"
        )
    return "\n".join(lines) + "\n"


def orders_csv() -> str:
    lines = ["id,person_id,region,amount"]
    for i in range(1, 31):
        owner = i % ROWS + 1
        lines.append(f"{i},{owner},{region(owner)},{i * 10}")
    return "\n".join(lines) + "\n"


HEADWATER_YML = """
name: s5
threads: 2
governance:
  masking:
    kinds:
      email: hash
      phone: {partial: 4}
      name: redact
      national_id: "null"
      date_of_birth: {generalize: month}
      address: {expression: "left(value, 3) || '...'"}
serve:
  roles:
    masked: {read: ["*"]}
    email_ok: {read: ["*"], unmasked: [email]}
    auditor: {read: ["*"], unmasked: ["*"]}
    eu:
      read: ["*"]
      unmasked: ["*"]
      rows:
        raw.people: "region = 'EU'"
        raw.orders: "region = 'EU'"
        staging.people_clean: "region = 'EU'"
  limits:
    timeout: 30s
    max_rows: 1000
"""
CACHED = """
  tables:
    raw.orders: {keys: [id], cache: true}
"""

PEOPLE_YML = """
columns:
  - {name: name, pii: name}
  - {name: email, pii: email}
  - {name: phone, pii: phone}
  - {name: national_id, pii: national_id}
  - {name: birth_date, pii: date_of_birth, type: DATE}
  - {name: address, pii: address}
  - name: region
    checks: [{accepted_values: {values: [EU, US], on_fail: quarantine}}]
"""

FILES = {
    "seeds/people.yml": PEOPLE_YML,
    "models/staging/people_clean.sql": """
        select id, lower(email) as email, upper(name) as name, substr(phone, 2) as phone_digits,
          national_id, birth_date, address || '' as address, region,
          concat(name, ' <', email, '>') as contact
        from raw.people
    """,
    "models/staging/people_eph.sql": """
        select id, email as mail, name as full_name, phone_digits, national_id as nid,
          birth_date as born, address as home, region
        from staging.people_clean
    """,
    "models/staging/people_eph.yml": "materialized: ephemeral\n",
    "models/staging/people_view.sql": """
        select id, mail, full_name, phone_digits, nid, born, home, region
        from staging.people_eph
    """,
    "models/staging/people_view.yml": "materialized: view\n",
    # a view of the raw table's every column (lineage through `*`) and one more
    "models/staging/people_all.sql": "select *, email as email_again from raw.people",
    "models/staging/people_all.yml": "materialized: view\n",
}


def project_files(cached: bool = True) -> dict[str, str]:
    """The project's files (`headwater.yml` with the serving cache holding raw.orders)."""
    return {
        "headwater.yml": HEADWATER_YML + (CACHED if cached else ""),
        "seeds/people.csv": people_csv(),
        "seeds/orders.csv": orders_csv(),
        **FILES,
    }


# -- what may not be seen ------------------------------------------------------------------


def _day_forms(iso: str) -> list[str]:
    year, month, day = iso.split("-")
    return [iso, f"{day}/{month}/{year}", f"{month}/{day}/{year}", f"{year}{month}{day}"]


def hidden(column: str, value: str) -> str:
    """What the rule of `column` does not show of `value`."""
    if column == "phone":
        return value[:-4]
    if column == "address":
        return value[3:]
    return value


def secrets_of(column: str, value: str, i: int) -> list[str]:
    """Texts (lower case) an answer holds only if it holds something of the raw `value` of
    `column` of person `i` beyond what its rule shows."""
    m = f"{i:02d}"
    found: list[str] = []
    if column == "name":
        found = [value, f"quhovin{m}", "quhovin"]
    elif column == "email":
        found = [value, f"wembrick{code(i)}", f"jaxmail{m}", "wembrick", "jaxmail"]
        # what a hash keyed by the query (a relation named like the key's) would show: the
        # target of a dictionary attack
        for text in (value, value.lower()):
            for key in ("", "x"):
                found.append(hashlib.sha256((key + text).encode()).hexdigest())
    elif column == "phone":
        found = [hidden(column, value), f"-8{m}6{m}-"]
    elif column == "national_id":
        found = [value, f"nid{m}-zqx", "-zqx-"]
    elif column == "birth_date":
        found = _day_forms(value)
    elif column == "address":
        found = [hidden(column, value), f"vexmoor{m}", "vexmoor"]
    lowered = [s.lower() for s in found]
    hexed = [s.encode().hex() for s in lowered if len(s) >= 5 and not s.isdigit()]
    return lowered + [h for h in hexed if len(h) <= 40]


@dataclass(frozen=True)
class Secret:
    column: str
    i: int
    text: str


class Secrets:
    """Secrets, indexed by their first characters (an answer is searched for a thousand)."""

    PREFIX = 4

    def __init__(self, secrets: list[Secret]) -> None:
        self.all = secrets
        self.by_prefix: dict[str, list[Secret]] = {}
        for secret in secrets:
            assert len(secret.text) >= self.PREFIX, secret
            self.by_prefix.setdefault(secret.text[: self.PREFIX], []).append(secret)

    def found_in(self, lowered: str) -> list[Secret]:
        n = self.PREFIX
        grams = {lowered[i : i + n] for i in range(len(lowered) - n + 1)}
        return [
            s
            for gram in grams & self.by_prefix.keys()
            for s in self.by_prefix[gram]
            if s.text in lowered
        ]


def all_secrets(columns: tuple[str, ...] = COLUMNS) -> Secrets:
    """Every secret of every person (the quarantined one too) in `columns`."""
    found: dict[str, Secret] = {}
    for p in PEOPLE:
        for column in columns:
            for text in secrets_of(column, p.values[column], p.i):
                found.setdefault(text, Secret(column, p.i, text))
    return Secrets(list(found.values()))


def leaks(text: str, sql: str, secrets: Secrets) -> list[Secret]:
    """The secrets in `text`, an answer to `sql`, but those `sql` itself holds (an error may
    quote the query; the decoy comparison judges those)."""
    query = sql.lower()
    return [s for s in secrets.found_in(text.lower()) if s.text not in query]


def raw_shown(text: str, column: str) -> bool:
    """Whether `text` holds a whole raw value of `column` (or of its derived columns)."""
    lowered = text.lower()
    return any(
        p.values[column].lower() in lowered or derive(column, p.values[column]).lower() in lowered
        for p in PEOPLE
    )


# -- probes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    column: str
    form: str
    sql: str
    shows: bool = False
    """A reader who reads the column raw sees a whole raw value in the answer."""
    literals: tuple[str, ...] = ()
    """The texts of the probed value in `sql` (blanked before answers are compared)."""
    numbers: tuple[str, ...] = ()
    """The numbers of the probed value in `sql` (its length, a position, a character's code:
    blanked in an error, which may quote the query)."""
    params: tuple[str, ...] = ()
    """Values of the query's placeholders (PostgreSQL's extended protocol)."""


@dataclass(frozen=True)
class Pair:
    """One predicate asked about the true value of a row and about its decoy."""

    column: str
    form: str
    true: Probe
    decoy: Probe
    discriminates: bool = True
    """A reader who reads the column raw gets different answers to the two."""


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


SHAPES: list[tuple[str, str, bool]] = [
    # (form, SQL with {c} the column, {s} it as text, {d}/{e}/{w} its derived columns, shows)
    ("plain", "select {c} from raw.people order by id", True),
    ("star", "select *, {c} as probe from raw.people order by id", True),
    ("alias", "select {c} as x from raw.people order by 1", True),
    ("table alias", "select p.{c} from raw.people p order by p.id", True),
    ("as alias", "select pp.{c} as v from raw.people as pp order by id", True),
    ("quoted", 'select "people"."{c}" from "raw"."people" order by "id"', True),
    ("upper case", "SELECT {C} FROM RAW.PEOPLE ORDER BY ID", True),
    ("unqualified table", "select {c} from people order by id", True),
    ("from first", "from raw.people select {c}, id order by id", True),
    ("column alias list", "select {alias} from raw.people as t({aliases}) order by c0", True),
    ("columns()", "select columns('{c}') from raw.people order by id", True),
    ("star exclude", "select * exclude (id) from raw.people where {c} is not null or true", True),
    ("star replace", "select * replace ({s} as {c}) from raw.people order by id", True),
    ("derived table", "select x from (select {c} as x, id from raw.people) s order by id", True),
    (
        "nested derived",
        "select * from (select * from (select id, {c} from raw.people) a) b order by id",
        True,
    ),
    ("parenthesized from", "select * from (from raw.people select id, {c}) order by id", True),
    ("scalar subquery", "select (select {c} from raw.people where id = 3) as x", True),
    (
        "correlated scalar",
        "select o.id, (select p.{c} from raw.people p where p.id = o.person_id) from raw.orders o "
        "order by o.id",
        True,
    ),
    (
        "where in subquery",
        "select {c} from raw.people where id in (select person_id from raw.orders) order by id",
        True,
    ),
    (
        "in on column",
        "select id from raw.people where {c} in (select {c} from raw.people) order by id",
        False,
    ),
    (
        "exists correlated",
        "select p.{c} from raw.people p where exists (select 1 from raw.orders o where "
        "o.person_id = p.id) order by p.id",
        True,
    ),
    ("cte", "with t as (select {c} from raw.people) select * from t", True),
    (
        "cte chain",
        "with a as (select * from raw.people), b as (select id, {c} from a) select {c} from b "
        "order by id",
        True,
    ),
    (
        "cte shadowing a table name",
        "with people as (select * from raw.people) select {c} from people order by id",
        True,
    ),
    (
        "nested cte",
        "select * from (with x as (select {c} from raw.people) select * from x) y",
        True,
    ),
    (
        "recursive cte",
        "with recursive r(n, x) as (select 1, (select max({s}) from raw.people) union all select "
        "n + 1, x from r where n < 3) select * from r",
        True,
    ),
    (
        "recursive walk",
        "with recursive r(id, x) as (select id, {s} from raw.people where id = 1 union all select "
        "p.id, p.{c}::varchar from raw.people p join r on p.id = r.id + 1) select * from r order "
        "by id",
        True,
    ),
    (
        "self join",
        "select a.{c}, b.{c} from raw.people a join raw.people b on a.id = b.id order by a.id",
        True,
    ),
    (
        "join on masked",
        "select a.id, b.{c} from raw.people a join raw.people b on a.{c} = b.{c} order by a.id",
        False,
    ),
    (
        "join orders",
        "select o.id, p.{c} from raw.orders o join raw.people p on p.id = o.person_id order by "
        "o.id",
        True,
    ),
    (
        "left join",
        "select o.id, p.{c} from raw.orders o left join raw.people p on p.id = o.person_id order "
        "by o.id",
        True,
    ),
    (
        "full join",
        "select p.{c} from raw.people p full outer join raw.orders o on o.person_id = p.id order "
        "by p.id",
        True,
    ),
    ("cross join", "select p.{c} from raw.people p cross join (select 1) x order by p.id", True),
    (
        "using",
        "select p.{c}, c.{d} from raw.people p join staging.people_clean c using (id) order by id",
        True,
    ),
    (
        "natural",
        "select * from raw.people natural join (select id, {c} from raw.people) x order by id",
        True,
    ),
    ("positional", "select * from (select {c} from raw.people) positional join raw.orders", True),
    ("lateral", "select x.v from raw.people p, lateral (select p.{c} as v) x order by p.id", True),
    ("lateral unnest", "select u from raw.people p, unnest([p.{s}]) t(u)", True),
    ("union", "select {s} from raw.people union select {s} from raw.people", True),
    (
        "union all model",
        "select {s} from raw.people union all select {d}::varchar from staging.people_clean",
        True,
    ),
    (
        "union by name",
        "select {c} from raw.people union all by name select {c} from raw.people",
        True,
    ),
    ("intersect", "select {s} from raw.people intersect select {s} from raw.people", True),
    ("except", "select {s} from raw.people except select 'x'", True),
    (
        "except all",
        "select {s} from raw.people except all select {d}::varchar from staging.people_clean "
        "where id > 10",
        True,
    ),
    ("lower", "select lower({s}) from raw.people", True),
    ("upper", "select upper({s}) from raw.people", True),
    ("substr", "select substr({s}, 4) from raw.people", False),
    ("substr prefix", "select substr({s}, 1, 12) from raw.people", False),
    ("right", "select right({s}, 9) from raw.people", False),
    ("reverse", "select reverse(reverse({s})) from raw.people", True),
    ("regexp_extract", "select regexp_extract({s}, '(.*)', 1) from raw.people", True),
    ("regexp_replace", "select regexp_replace({s}, '^', '>') from raw.people", True),
    ("replace", "select replace({s}, '-', '-') from raw.people", True),
    ("md5", "select md5({s}) from raw.people", False),
    ("cast", "select cast({c} as varchar) from raw.people", True),
    ("try_cast", "select try_cast({c} as varchar) from raw.people", True),
    ("cast to blob", "select {s}::blob from raw.people", False),
    ("hex", "select hex({s}) from raw.people", False),
    ("concat", "select concat('<', {c}, '>') from raw.people", True),
    ("pipes", "select '<' || {s} || '>' from raw.people", True),
    ("format", "select format('{{}}', {c}) from raw.people", True),
    ("printf", "select printf('%s', {s}) from raw.people", True),
    ("list", "select [{c}] from raw.people", True),
    ("struct", "select {{'v': {c}}} from raw.people", True),
    ("struct_pack", "select struct_pack(v := {c}) from raw.people", True),
    ("row", "select row({c}, id) from raw.people", True),
    ("list agg", "select list({c} order by id) from raw.people", True),
    ("array_agg", "select array_agg({c}) from raw.people", True),
    ("string_agg", "select string_agg({s}, ',') from raw.people", True),
    ("min max", "select min({c}), max({c}) from raw.people", True),
    ("first any_value", "select first({c}), any_value({c}), last({c}) from raw.people", True),
    ("arg_max", "select arg_max({c}, id), arg_min({c}, id) from raw.people", True),
    ("mode", "select mode({c}) from raw.people", True),
    ("histogram", "select histogram({s}) from raw.people", True),
    ("to_json", "select to_json({c}) from raw.people", True),
    ("json_object", "select json_object('v', {c}) from raw.people", True),
    (
        "json extract",
        "select json_extract_string(to_json({{'v': {c}}}), '$.v') from raw.people",
        True,
    ),
    ("whole row", "select people from raw.people order by id", True),
    ("whole row json", "select to_json(people), people.{c} from raw.people order by id", True),
    ("whole row alias", "select to_json(q) from raw.people q order by q.id", True),
    ("whole row list", "select list(p) from raw.people p where p.{c} is not null or true", True),
    ("unnest list", "select unnest(list({c})) from raw.people", True),
    (
        "unpivot",
        "select * from (unpivot (select id, {s} as {c} from raw.people) on {c} into name k value "
        "v) order by id",
        True,
    ),
    (
        "pivot",
        "select * from (pivot (select id, {s} as {c} from raw.people) on id in (1, 2, 3) using "
        "first({c}))",
        True,
    ),
    (
        "table pivot",
        "select {c}, \"EU\", \"US\" from raw.people pivot (count(*) for region in ('EU', 'US')) "
        "order by id",
        True,
    ),
    (
        "table pivot alias",
        "select * from raw.people p pivot (first({c}) for region in ('EU', 'US')) as x order by id",
        True,
    ),
    (
        "table unpivot",
        "select id, k, v, {c} from raw.people unpivot (v for k in (notes, region)) order by id, k",
        True,
    ),
    (
        "table unpivot all",
        "select k, v from raw.people unpivot include nulls (v for k in (name, email, phone, "
        "national_id, address)) where k = '{c}' order by id",
        False,
    ),
    ("window row_number", "select {c}, row_number() over (order by {c}) from raw.people", True),
    ("window lag", "select lag({c}) over (order by id) from raw.people", True),
    (
        "window first_value",
        "select first_value({c}) over (partition by region order by id) from raw.people",
        True,
    ),
    (
        "window count by",
        "select id, count(*) over (partition by {c}) from raw.people order by id",
        False,
    ),
    (
        "window list",
        "select list({c}) over (order by id rows between unbounded preceding and current row) "
        "from raw.people",
        True,
    ),
    ("group by", "select {c}, count(*) from raw.people group by {c} order by 1", True),
    (
        "group by all",
        "select {c}, region, count(*) from raw.people group by all order by all",
        True,
    ),
    ("having", "select {c} from raw.people group by {c} having count(*) >= 1 order by 1", True),
    ("order by", "select id from raw.people order by {c}, id", False),
    ("distinct", "select distinct {c} from raw.people", True),
    ("distinct on", "select distinct on ({c}) {c}, id from raw.people order by {c}, id", True),
    ("qualify", "select {c} from raw.people qualify row_number() over (order by id) <= 5", True),
    ("case", "select case when {c} is null then 'none' else {s} end from raw.people", True),
    ("coalesce", "select coalesce({s}, 'none') from raw.people", True),
    ("limit offset", "select {c} from raw.people order by id limit 3 offset 2", True),
    ("sample", "select {c} from raw.people using sample 100%", True),
    ("tablesample", "select {c} from raw.people tablesample 100%", True),
    ("values", "select * from (values ((select max({c}) from raw.people))) v(x)", True),
    ("at version", "select {c} from raw.people at (version => 0) order by id", False),
    (
        "orders semi",
        "select {c} from raw.people semi join raw.orders o on o.person_id = people.id",
        True,
    ),
    (
        "anti",
        "select {c} from raw.people anti join raw.orders o on o.person_id = people.id and "
        "o.amount > 250",
        True,
    ),
    ("model", "select {d} from staging.people_clean order by id", True),
    ("model star", "select * from staging.people_clean order by id", True),
    ("model contact", "select contact, {d} from staging.people_clean order by id", True),
    (
        "model join raw",
        "select c.{d}, p.{c} from staging.people_clean c join raw.people p on p.id = c.id",
        True,
    ),
    ("ephemeral", "select {e} from staging.people_eph order by id", True),
    ("ephemeral star", "select * from staging.people_eph where {e} is not null or true", True),
    (
        "ephemeral join",
        "select e.{e}, o.amount from staging.people_eph e join raw.orders o on o.person_id = e.id",
        True,
    ),
    ("view", "select {w} from staging.people_view order by id", True),
    ("view star", "select *, {w} as again from staging.people_view", True),
    ("view json", "select to_json(v), v.{w} from staging.people_view v", True),
    (
        "view union",
        "select {w}::varchar from staging.people_view union all select {e}::varchar from "
        "staging.people_eph",
        True,
    ),
    ("view of star", "select {c} from staging.people_all order by id", True),
    ("view of star all", "select *, {c} as again from staging.people_all order by id", True),
    (
        "view of star joined",
        "select a.{c}, p.{c} from staging.people_all a join raw.people p using (id)",
        True,
    ),
    # refused to everyone: it would show the SQL that runs, with what masking added
    ("current_query", "select current_query(), {c} from raw.people", False),
    # several statements in one message: the PostgreSQL face runs each through the rewrite
    ("two statements", "select 1; select {c} from raw.people", False),
    ("pg catalog join", "select p.{c}, c.relname from raw.people p, pg_catalog.pg_class c", False),
    (
        "pg catalog scalar",
        "select (select max({s}) from raw.people) as x, relname from pg_catalog.pg_class",
        False,
    ),
    (
        "information_schema mix",
        "select {c} from raw.people where exists (select 1 from information_schema.tables)",
        True,
    ),
    (
        "information_schema scalar",
        "select (select list({c}) from raw.people) as n from information_schema.schemata",
        True,
    ),
    ("describe", "describe select {c} from raw.people", False),
    ("describe table", "describe raw.people", False),
    (
        "information_schema",
        "select column_name, data_type from information_schema.columns where column_name = '{c}'",
        False,
    ),
    ("quarantine", "select * from raw.people__quarantine", False),
    ("quarantine column", "select raw from raw.people__quarantine where raw like '%{c}%'", False),
    ("quarantine join", "select p.{c}, q.* from raw.people p, raw.people__quarantine q", False),
    ("key table", "select * from " + KEY_TABLE, False),
    ("key table joined", "select k, {c} from raw.people, " + KEY_TABLE, False),
    (
        "key shadowed",
        "with " + KEY_TABLE + " as (select '' as k) select {c} from raw.people order by id",
        False,
    ),
    (
        "key shadowed upper",
        "with "
        + KEY_TABLE.upper()
        + " as (select '' as k) select {c} from staging.people_clean order by id",
        False,
    ),
    (
        "key shadowed alias",
        "select p.{c} from raw.orders as " + KEY_TABLE + ", raw.people p",
        False,
    ),
    (
        "key shadowed values",
        "select p.{c} from (values ('')) " + KEY_TABLE + "(k), raw.people p",
        False,
    ),
    (
        "recursive without union",
        "with recursive people as (select * from people) select {c} from people",
        False,
    ),
    (
        "recursive without union key",
        "with recursive "
        + KEY_TABLE
        + " as (select * from "
        + KEY_TABLE
        + ") select k, {c} from "
        + KEY_TABLE
        + ", raw.people",
        False,
    ),
    (
        "key shadowed nested",
        "select * from (with " + KEY_TABLE + " as (select 'x' as k) select {c} from raw.people)",
        False,
    ),
]


PREDICATES: list[tuple[str, str, bool]] = [
    # (form, condition with {c} the column, {s} it as text, literals of the probed value, and
    # whether a raw reader's answers to the true value and the decoy differ)
    ("=", "{c} = {v}", True),
    ("<>", "{c} <> {v}", True),
    ("is not distinct from", "{c} is not distinct from {v}", True),
    ("like prefix", "{s} like {pre_like}", True),
    ("ilike prefix", "{s} ilike {pre_like}", True),
    ("starts_with", "starts_with({s}, {pre})", True),
    ("^@", "{s} ^@ {pre}", True),
    ("glob", "{s} glob {pre_glob}", True),
    ("like fragment", "{s} like {frag_like}", True),
    ("contains", "contains({s}, {frag})", True),
    ("position", "position({frag} in {s}) > 0", True),
    ("instr", "instr({s}, {frag}) > 0", True),
    ("regexp_matches", "regexp_matches({s}, {rx})", True),
    ("regexp_full_match", "regexp_full_match({s}, {rx_full})", True),
    ("length", "length({s}) = {len}", True),
    ("<", "{c} < {v}", False),
    (">=", "{c} >= {v}", False),
    ("between", "{s} between {str} and {str} || '~'", True),
    ("in list", "{c} in ({v}, {v2})", True),
    ("list_contains", "list_contains([{v}], {c})", True),
    ("lower =", "lower({s}) = lower({str})", True),
    ("md5 =", "md5({s}) = md5({str})", True),
    ("hash =", "hash({c}) = hash({v})", True),
    ("sha256 unkeyed", "{c}::varchar = sha256({str})", False),
    ("levenshtein", "levenshtein({s}, {str}) <= 1", True),
    ("jaro_winkler", "jaro_winkler_similarity({s}, {str}) > 0.99", True),
    ("char at", "substr({s}, {k}, 1) = {ch}", True),
    ("ascii at", "ascii(substr({s}, {k}, 1)) = {code}", True),
    ("case", "case when {c} = {v} then true else false end", True),
    ("not not", "not ({c} <> {v})", True),
]

POSITIONS: list[tuple[str, str]] = [
    # (form, query with {p} the condition over raw.people's columns, {pq} over p.<column>)
    ("where count", "select count(*) from raw.people where {p}"),
    ("where ids", "select id from raw.people where {p} order by id"),
    ("group by", "select ({p}) as hit, count(*) from raw.people group by hit order by hit"),
    (
        "having",
        "select region, count(*) from raw.people group by region having bool_or({p}) order by "
        "region",
    ),
    ("order by", "select id from raw.people order by ({p}) desc nulls last, id limit 3"),
    (
        "join on",
        "select count(*) from raw.orders o join raw.people p on o.person_id = p.id and {pq}",
    ),
    ("case sum", "select sum(case when {p} then 1 else 0 end) from raw.people"),
    ("exists", "select exists (select 1 from raw.people where {p})"),
    (
        "in subquery",
        "select count(*) from raw.orders where person_id in (select id from raw.people where {p})",
    ),
    ("cte", "with hits as (select * from raw.people where {p}) select count(*) from hits"),
    ("filter", "select count(*) filter (where {p}) from raw.people"),
    ("count_if", "select count_if({p}) from raw.people"),
    ("scalar", "select (select count(*) from raw.people where {p}) as n"),
    ("derived", "select count(*) from (select * from raw.people where {p}) s"),
    ("union", "select id from raw.people where {p} union select 0 order by 1"),
    (
        "intersect",
        "select id from raw.people intersect select id from raw.people where {p} order by 1",
    ),
    ("except", "select id from raw.people except select id from raw.people where {p} order by 1"),
    (
        "lateral",
        "select count(*) from raw.orders o, lateral (select 1 from raw.people p where p.id = "
        "o.person_id and {pq}) x",
    ),
    ("self join", "select count(*) from raw.people q join raw.people p on p.id = q.id where {pq}"),
    (
        "window",
        "select max(x) from (select sum(({p})::int) over (order by id) as x from raw.people)",
    ),
    (
        "qualify",
        "select id from raw.people qualify ({p}) and row_number() over (order by id) > 0 order by "
        "id",
    ),
    (
        "not exists",
        "select count(*) from raw.orders o where not exists (select 1 from raw.people p where "
        "p.id = o.person_id and {pq})",
    ),
    (
        "join using",
        "select count(*) from raw.people p join raw.orders o on o.person_id = p.id where {pq}",
    ),
    ("model", "select count(*) from staging.people_clean where {pd}"),
    ("ephemeral", "select count(*) from staging.people_eph where {pe}"),
    ("view", "select count(*) from staging.people_view where {pw}"),
    (
        "model join",
        "select count(*) from staging.people_clean c join raw.people p using (id) where {pq} or "
        "{pcd}",
    ),
]


def literals(
    value: str, true: str, lookalike: str, other: str, date: bool, delta: int
) -> dict[str, str]:
    """The literals a predicate about `value` is written with: `value` is `true` (a raw value)
    or `lookalike` (its decoy); `other` is another row's (or its decoy's); `delta` is added to
    the length (so that a length probe's decoy is another length)."""
    # the first character where the value and its decoy differ: the prefix up to it tells
    # them apart, and so does the character there
    k = next(n for n, (a, b) in enumerate(zip(true, lookalike, strict=True)) if a != b)
    prefix = value[: k + 1]
    frag = value[max(0, k - 4) : k + 2]
    typed, other_typed = _q(value), _q(other)
    if date:
        typed, other_typed = f"DATE {typed}", f"DATE {other_typed}"
    return {
        "v": typed,
        "v2": other_typed,
        "str": _q(value),
        "pre": _q(prefix),
        "pre_like": _q(prefix + "%"),
        "pre_glob": _q(prefix + "*"),
        "frag": _q(frag),
        "frag_like": _q("%" + frag + "%"),
        "rx": _q(re.escape(frag)),
        "rx_full": _q(re.escape(value)),
        "len": str(len(value) + delta),
        "k": str(k + 1),
        "ch": _q(value[k]),
        "code": str(ord(value[k])),
    }


def _texts(values: dict[str, str]) -> set[str]:
    """The texts of the probed value in a query (its literals, unquoted)."""
    found: set[str] = set()
    for key, literal in values.items():
        if key in ("len", "k", "code"):
            continue
        text = literal.removeprefix("DATE ").strip("'").replace("''", "'")
        found |= {text, text.strip("%*")}
    return {t for t in found if len(t) >= 2}


def shape_probes(column: str) -> list[Probe]:
    d, e, w = DERIVED[column]
    position = PEOPLE_COLUMNS.index(column)
    aliases = ", ".join(f"c{n}" for n in range(position + 1))
    found = []
    for form, template, shows in SHAPES:
        sql = template.format(
            c=column,
            C=column.upper(),
            s=f"{column}::varchar",
            d=d,
            e=e,
            w=w,
            alias=f"c{position}",
            aliases=aliases,
        )
        found.append(Probe(column, form, sql, shows))
    return found


def _condition(template: str, target: str, values: dict[str, str]) -> str:
    return template.format(c=target, s=f"{target}::varchar", **values)


def predicate_pairs(column: str) -> list[Pair]:
    """Predicates about the raw value, each in several positions: every predicate in a WHERE,
    equality in every position, and every third predicate in one more position in turn."""
    d, e, w = DERIVED[column]
    chosen: list[tuple[int, int]] = []
    for n in range(len(PREDICATES)):
        chosen.append((n, 0))
    for m in range(len(POSITIONS)):
        chosen.append((0, m))
    for n in range(1, len(PREDICATES), 3):
        chosen.append((n, 1 + (n * 5) % (len(POSITIONS) - 1)))
    pairs: list[Pair] = []
    for index, (n, m) in enumerate(dict.fromkeys(chosen)):
        form, condition, discriminates = PREDICATES[n]
        position, query = POSITIONS[m]
        date = column == "birth_date"
        if date and form == "length":
            continue  # every date has the same length
        # whose value is probed: neither among the first three ids nor the last (an answer
        # of ids in order then tells the value from its decoy) nor next to the other
        i = 4 + (index * 5) % 14
        j = 1 + (i + 4) % ROWS
        probes = []
        for variant in ("true", "decoy"):
            values = person(i) if variant == "true" else decoy(i)
            other = (person(j) if variant == "true" else decoy(j))[column]
            # a length probe asks about another length (but a date's length is no secret)
            delta = 1 if variant == "decoy" and not date else 0
            lits = literals(values[column], person(i)[column], decoy(i)[column], other, date, delta)
            drv = literals(
                derive(column, values[column]),
                derive(column, person(i)[column]),
                derive(column, decoy(i)[column]),
                derive(column, other),
                date,
                delta,
            )
            sql = query.format(
                p=_condition(condition, column, lits),
                pq=_condition(condition, f"p.{column}", lits),
                pd=_condition(condition, d, drv),
                pe=_condition(condition, e, drv),
                pw=_condition(condition, w, drv),
                pcd=_condition(condition, f"c.{d}", drv),
            )
            texts = tuple(sorted(_texts(lits) | _texts(drv), key=len, reverse=True))
            numbers = tuple({lv[k] for lv in (lits, drv) for k in ("len", "k", "code")})
            probes.append(
                Probe(column, f"{form} @ {position}", sql, literals=texts, numbers=numbers)
            )
        pairs.append(Pair(column, f"{form} @ {position}", probes[0], probes[1], discriminates))
    return pairs


def probes_of(column: str) -> tuple[list[Probe], list[Pair]]:
    return shape_probes(column), predicate_pairs(column)


def blank(text: str, texts: tuple[str, ...], numbers: tuple[str, ...] = ()) -> str:
    """`text` with each of `texts` (as written, in lower and upper case, escaped for JSON)
    and of `numbers` (as whole numbers) replaced by a mark."""
    import json

    for t in texts:
        for form in sorted({t, t.lower(), t.upper()}, key=len, reverse=True):
            text = text.replace(json.dumps(form)[1:-1], "<V>").replace(form, "<V>")
    for number in numbers:
        text = re.sub(rf"(?<![0-9]){number}(?![0-9])", "<N>", text)
    return text


# -- the row filter ------------------------------------------------------------------------

EU_PROBES = [
    "select * from raw.people",
    "select id, region, notes from raw.people order by id",
    "select count(*) from raw.people",
    "select region, count(*) from raw.people group by region",
    "select * from raw.orders",
    "select region, count(*), sum(amount) from raw.orders group by region",
    "select * from raw.people p join raw.orders o on o.person_id = p.id",
    "select * from raw.orders o left join raw.people p on o.person_id = p.id",
    "select * from raw.people p left join raw.orders o on o.person_id = p.id",
    "select * from raw.people p full outer join raw.orders o on o.person_id = p.id",
    "select * from raw.people p, raw.orders o",
    "select * from raw.people natural join raw.orders",
    "select * from raw.people join raw.orders using (region)",
    "select * from raw.people p, lateral (select * from raw.orders o where o.person_id = p.id) x",
    "select region, notes from raw.people union select region, cast(amount as varchar) from "
    "raw.orders",
    "select region from raw.people union all select region from raw.orders",
    "select region from raw.people intersect select region from raw.orders",
    "select id from raw.people except select person_id from raw.orders",
    "select * from raw.people where id in (select person_id from raw.orders)",
    "select * from raw.people where id not in (select id from raw.people where region = 'EU')",
    "select * from raw.people where region <> 'EU'",
    "select * from raw.people where region = 'US' or true",
    "select (select list(notes) from raw.people) as all_notes",
    "select (select max(notes) from raw.people where region = 'US') as other",
    "with x as (select * from raw.people) select * from x",
    "with x as (select * from raw.orders), y as (select * from x where region <> 'EU') select * "
    "from y",
    "with recursive r(i) as (select min(id) from raw.people union all select i + 1 from r where i "
    "< 20) "
    "select r.i, p.* from r left join raw.people p on p.id = r.i",
    "select * from staging.people_clean",
    "select * from staging.people_eph",
    "select e.*, o.* from staging.people_eph e join raw.orders o on o.person_id = e.id",
    "select c.*, p.notes from staging.people_clean c join raw.people p using (id)",
    "select list(people) from raw.people",
    "select to_json(o) from raw.orders o",
    "select *, count(*) over () from raw.people",
    "select * from raw.people qualify count(*) over () > 0",
    "select * from raw.people at (version => 0)",
    "select * from raw.people positional join raw.orders",
    "select * from (unpivot raw.people on notes, region into name k value v)",
    "select * from raw.people__quarantine",
    # an error about a row names its value: the row filter must hold before any of it
    "select count(*) from raw.people where error(notes)",
    "select count(*) from raw.people where id = 2 and error(notes)",
    "select count(*) from raw.people where case when region <> 'EU' then error(notes) else false "
    "end",
    "select count(*) from raw.people where cast(notes as integer) = 1",
    "select count(*) from raw.people where id % 2 = 0 and cast(notes as integer) = 1",
    "select count(*) from raw.orders where error(region || amount)",
    "select count(*) from raw.orders where cast(region as integer) = 1",
    "select count(*) from raw.orders o join raw.people p on error(p.notes || o.region)",
    "select count(*) from raw.people p, lateral (select error(p.notes)) x",
    "select error(notes) from raw.people where id = 2",
    "select error(list(notes)::varchar) from raw.people",
    "select count(*) from staging.people_clean where error(region || name)",
    "select count(*) from staging.people_eph where error(region || full_name)",
]


def eu_leaks(text: str) -> list[str]:
    """What of another region than EU the answer `text` holds."""
    lowered = text.lower()
    found = []
    for p in PEOPLE:
        if p.region == "EU":
            continue
        markers = [f"{p.region.lower()}memo{p.i:02d}", *[p.values[c].lower() for c in COLUMNS]]
        found += [m for m in markers if m in lowered]
    found += [
        m for m in ('"us"', "'us'", ",us,", "\nus\n", "usmemo", "'xx'", '"xx"') if m in lowered
    ]
    return found


def every_probe() -> Iterator[tuple[str, Probe]]:
    for column in COLUMNS:
        shapes, pairs = probes_of(column)
        for probe in shapes:
            yield column, probe
        for pair in pairs:
            yield column, pair.true
            yield column, pair.decoy


Judge = Callable[[str, str], list[str]]


@dataclass
class Tally:
    """Outcomes by route and kind, and what went wrong."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, route: str, kind: str) -> None:
        self.counts[(route, kind)] = self.counts.get((route, kind), 0) + 1
