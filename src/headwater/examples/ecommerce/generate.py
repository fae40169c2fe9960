"""Generate the seeds of the `ecommerce` example for one "day" of a small web shop.

    python generate.py --day 1                # the shop after May 2024 (the committed seeds)
    python generate.py --day 2                # one day later: new orders, updates, deletions
    python generate.py --day 3 --out /tmp/seeds

Day N is an export of the shop's database taken at midnight after business day N, where day 1
is the end of 2024-05-31 and day N+1 is one day later. Day N+1 is day N plus one day of change:

* 50-100 new orders, with higher order ids and later timestamps;
* existing orders moving on through their life cycle (placed -> shipped -> delivered, a few
  returned or cancelled), each move stamping the order's `updated_at`;
* about 5% of customers updated (new city, segment or e-mail address), about 1% deleted, a few
  new sign-ups, and from day 3 on one customer deleted the day before restored (reactivated);
* a few product price changes, which later orders pay.

Every change happens inside that day, so each export's `updated_at` values are later than
everything in the export before it. The generator uses only the standard library and a fixed
random seed: the same day number always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import random
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 20240531
FIRST_ORDER_AT = datetime(2024, 5, 1)
DAY1_CUTOFF = datetime(2024, 6, 1)  # exports are taken at midnight: day N at DAY1_CUTOFF + N-1
INITIAL_CUSTOMERS = 500
INITIAL_PRODUCTS = 100
INITIAL_ORDERS = 2000
FIRST_ORDER_ID = 100001


def _words(text: str) -> list[str]:
    """Split a comma-separated word list written across several lines."""
    return [word.strip() for word in text.split(",") if word.strip()]


FIRST_NAMES = _words("""
    Anna, Ben, Clara, David, Elena, Felix, Greta, Hugo, Ines, Jonas, Katarzyna, Lars, Marta,
    Noah, Olivia, Pablo, Quentin, Rosa, Sven, Tomas, Ursula, Victor, Wiebke, Xavier, Yara, Zoe,
    Amélie, Bruno, Chiara, Diego, Emma, Finn, Giulia, Hannah, Ivan, Julia, Karim, Lena, Mateo,
    Nina, Oscar, Paula, Rafael, Sofia, Theo, Valentina, Wojciech, Zofia, Liam, Mia
""")
LAST_NAMES = _words("""
    Schmidt, Müller, Dubois, Martin, Rossi, Bianchi, García, Fernández, Jansen, de Vries, Nowak,
    Kowalski, Andersson, Nielsen, Hansen, O'Brien, Murphy, Smith, Jones, Silva, Santos, Novák,
    Horvat, Leroy, Moreau, Wagner, Becker, Hoffmann, Costa, Ferrari, Romano, Lindqvist, Berg,
    Peeters, Maes, Gruber, Huber, Keller, Weber, Laurent, Ricci, Marino, Lopez, Ruiz, Virtanen,
    Korhonen, Papadopoulos, Kelly, Walsh, Brown
""")
EMAIL_DOMAINS = _words("example.com, example.org, example.net, mail.example, post.example")
CITIES = [  # (city, country)
    (pair.split("/")[0], pair.split("/")[1])
    for pair in _words("""
        Berlin/Germany, Hamburg/Germany, Munich/Germany, Cologne/Germany, Paris/France,
        Lyon/France, Marseille/France, Amsterdam/Netherlands, Rotterdam/Netherlands,
        Utrecht/Netherlands, Madrid/Spain, Barcelona/Spain, Málaga/Spain, Milan/Italy, Rome/Italy,
        Turin/Italy, Vienna/Austria, Zürich/Switzerland, Brussels/Belgium, Copenhagen/Denmark,
        Stockholm/Sweden, Warsaw/Poland, Kraków/Poland, Lisbon/Portugal, Dublin/Ireland,
        Prague/Czechia
    """)
]
SEGMENTS = ["consumer", "small_business", "corporate"]
SEGMENT_WEIGHTS = [70, 20, 10]
CATEGORIES = {
    "electronics": _words("Headphones, Charger, Speaker, Keyboard, Webcam, Power Bank"),
    "home": _words("Lamp, Cushion, Rug, Mirror, Vase, Blanket"),
    "kitchen": _words("Kettle, Knife Set, Frying Pan, Coffee Grinder, Teapot, Cutting Board"),
    "garden": _words("Watering Can, Planter, Hose, Pruning Shears, Bird Feeder, Lantern"),
    "toys": _words("Puzzle, Building Blocks, Kite, Board Game, Plush Bear, Train Set"),
    "books": _words("Cookbook, Travel Guide, Novel, Atlas, Notebook, Sketchbook"),
    "sports": _words("Yoga Mat, Water Bottle, Dumbbell Set, Running Belt, Jump Rope, Backpack"),
    "beauty": _words("Face Cream, Shampoo, Soap Bar, Hand Lotion, Lip Balm, Perfume"),
}
PRICE_RANGES = {  # list prices are drawn from these ranges, in cents
    "electronics": (1999, 24999),
    "home": (999, 14999),
    "kitchen": (899, 12999),
    "garden": (599, 8999),
    "toys": (799, 7999),
    "books": (699, 4999),
    "sports": (799, 9999),
    "beauty": (399, 5999),
}
ADJECTIVES = _words("""
    Classic, Compact, Deluxe, Eco, Essential, Nordic, Premium, Pro, Smart, Travel, Urban,
    Vintage, Everyday, Bamboo, Copper
""")
DISCOUNTS = [0, 5, 10, 15, 20, 25]  # percent
DISCOUNT_WEIGHTS = [78, 8, 7, 4, 2, 1]


@dataclass
class Customer:
    customer_id: int
    name: str
    email: str
    city: str
    country: str
    segment: str
    created_at: datetime
    updated_at: datetime
    weight: float  # how often this customer orders


@dataclass
class Product:
    product_id: int
    name: str
    category: str
    prices: list[tuple[datetime, int]]  # (effective from, price in cents), oldest first
    updated_at: datetime
    weight: float  # popularity

    def price_at(self, moment: datetime) -> int:
        """The price in cents a customer paid at `moment`."""
        index = bisect.bisect_right([start for start, _ in self.prices], moment) - 1
        return self.prices[max(index, 0)][1]


@dataclass
class Line:
    line_number: int
    product_id: int
    quantity: int
    unit_price: int  # cents
    discount: int  # percent


@dataclass
class Order:
    order_id: int
    customer_id: int
    events: list[tuple[datetime, str]]  # the order's whole life cycle, decided when it is placed
    lines: list[Line] = field(default_factory=list)

    def state_at(self, cutoff: datetime) -> tuple[str, datetime]:
        """The order's status and the time it was last updated, as exported at `cutoff`."""
        status, at = self.events[0][1], self.events[0][0]
        for moment, event in self.events:
            if moment < cutoff:
                status, at = event, moment
        return status, at


@dataclass
class DayChanges:
    """What one simulated day changed, for the summary printed after writing the seeds."""

    new_customers: list[int] = field(default_factory=list)
    updated_customers: list[int] = field(default_factory=list)
    deleted_customers: list[int] = field(default_factory=list)
    restored_customers: list[int] = field(default_factory=list)
    repriced_products: list[int] = field(default_factory=list)
    new_orders: list[int] = field(default_factory=list)


class Shop:
    """The simulated shop: its state after each business day."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.customers: dict[int, Customer] = {}
        self.deleted: dict[int, Customer] = {}
        self.deleted_on: dict[int, int] = {}
        self.products: dict[int, Product] = {}
        self.orders: dict[int, Order] = {}
        self.emails: set[str] = set()
        self.day = 0
        self.changes = DayChanges()

    # ---------------------------------------------------------------- helpers

    def moment(self, start: datetime, end: datetime) -> datetime:
        """A random whole second in [start, end)."""
        seconds = int((end - start).total_seconds())
        return start + timedelta(seconds=self.rng.randrange(seconds))

    def new_email(self, name: str) -> str:
        first, last = name.split(" ", 1)
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
        for _ in range(1000):
            email = f"{local}{self.rng.randrange(1, 100)}@{self.rng.choice(EMAIL_DOMAINS)}"
            if email not in self.emails:
                self.emails.add(email)
                return email
        raise RuntimeError("ran out of e-mail addresses")

    def new_customer(self, customer_id: int, created_at: datetime) -> Customer:
        rng = self.rng
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        email = self.new_email(name)
        city, country = rng.choice(CITIES)
        segment = rng.choices(SEGMENTS, SEGMENT_WEIGHTS)[0]
        # the source system is not perfectly clean: staging trims and lower-cases these
        if rng.random() < 0.04:
            email = email.upper() if rng.random() < 0.5 else f" {email}"
        if rng.random() < 0.03:
            name = f"{name} "
        if rng.random() < 0.03:
            segment = segment.upper()
        return Customer(
            customer_id,
            name,
            email,
            city,
            country,
            segment,
            created_at,
            created_at,
            weight=min(rng.paretovariate(1.6), 8.0),
        )

    def place_order(self, order_id: int, customer_id: int, placed_at: datetime) -> Order:
        rng = self.rng
        events = [(placed_at, "placed")]
        if rng.random() < 0.03:
            events.append((placed_at + timedelta(minutes=rng.randrange(20, 1200)), "cancelled"))
        else:
            shipped = placed_at + timedelta(minutes=rng.randrange(12 * 60, 72 * 60))
            delivered = shipped + timedelta(minutes=rng.randrange(24 * 60, 120 * 60))
            events += [(shipped, "shipped"), (delivered, "delivered")]
            if rng.random() < 0.06:
                events.append(
                    (delivered + timedelta(minutes=rng.randrange(1440, 14 * 1440)), "returned")
                )
        order = Order(order_id, customer_id, events)
        products = sorted(self.products.values(), key=lambda p: p.product_id)
        count = rng.choices([1, 2, 3, 4], [45, 30, 15, 10])[0]
        chosen: list[Product] = []
        while len(chosen) < count:
            product = rng.choices(products, [p.weight for p in products])[0]
            if product not in chosen:
                chosen.append(product)
        for number, product in enumerate(chosen, start=1):
            order.lines.append(
                Line(
                    number,
                    product.product_id,
                    rng.choices([1, 2, 3, 4], [70, 20, 7, 3])[0],
                    product.price_at(placed_at),
                    rng.choices(DISCOUNTS, DISCOUNT_WEIGHTS)[0],
                )
            )
        self.orders[order_id] = order
        return order

    def place_orders(self, count: int, start: datetime, end: datetime) -> list[int]:
        """Place `count` orders at random times in [start, end) by customers existing then."""
        times = sorted(self.moment(start, end) for _ in range(count))
        next_id = max(self.orders, default=FIRST_ORDER_ID - 1) + 1
        active = sorted(self.customers.values(), key=lambda c: c.created_at)
        created = [c.created_at for c in active]
        placed: list[int] = []
        for offset, placed_at in enumerate(times):
            eligible = active[: bisect.bisect_right(created, placed_at)]
            customer = self.rng.choices(eligible, [c.weight for c in eligible])[0]
            self.place_order(next_id + offset, customer.customer_id, placed_at)
            placed.append(next_id + offset)
        return placed

    # ---------------------------------------------------------------- days

    def first_day(self) -> None:
        """The shop as exported after 2024-05-31: its history up to then."""
        rng = self.rng
        self.day = 1
        first_signup = datetime(2022, 1, 1)
        signups = sorted(
            [self.moment(first_signup, FIRST_ORDER_AT) for _ in range(INITIAL_CUSTOMERS - 40)]
            + [self.moment(FIRST_ORDER_AT, DAY1_CUTOFF) for _ in range(40)]
        )
        for customer_id, created_at in enumerate(signups, start=1):
            customer = self.new_customer(customer_id, created_at)
            if rng.random() < 0.3:  # some customers changed their details before May's export
                customer.updated_at = self.moment(created_at, DAY1_CUTOFF)
            self.customers[customer_id] = customer

        used_names: set[str] = set()
        categories = sorted(CATEGORIES)
        for product_id in range(1, INITIAL_PRODUCTS + 1):
            category = categories[(product_id - 1) % len(categories)]
            while True:
                name = f"{rng.choice(ADJECTIVES)} {rng.choice(CATEGORIES[category])}"
                if name not in used_names:
                    used_names.add(name)
                    break
            low, high = PRICE_RANGES[category]
            price = rng.randrange(low // 100, high // 100 + 1) * 100 - 1
            listed = self.moment(datetime(2023, 1, 1), FIRST_ORDER_AT)
            self.products[product_id] = Product(
                product_id,
                name,
                category,
                [(listed, price)],
                listed,
                weight=rng.paretovariate(1.2),
            )

        self.place_orders(INITIAL_ORDERS, FIRST_ORDER_AT, DAY1_CUTOFF)

    def next_day(self) -> None:
        """Simulate one more business day on top of the current state."""
        rng = self.rng
        self.day += 1
        start = DAY1_CUTOFF + timedelta(days=self.day - 2)
        end = start + timedelta(days=1)
        changes = self.changes = DayChanges()

        # a few price changes, paid by orders placed after them
        for product_id in sorted(rng.sample(sorted(self.products), rng.randint(3, 5))):
            product = self.products[product_id]
            old = product.prices[-1][1]
            new = max(199, round(old * rng.uniform(0.85, 1.15) / 100) * 100 - 1)
            if new == old:
                new += 100
            changed_at = self.moment(start, end)
            product.prices.append((changed_at, new))
            product.updated_at = changed_at
            changes.repriced_products.append(product_id)

        existing = sorted(self.customers)

        # one customer deleted earlier comes back (account reactivated), from day 3 on
        if self.day >= 3:
            candidates = sorted(c for c, day in self.deleted_on.items() if day == self.day - 1)
            candidates = candidates or sorted(self.deleted)
            if candidates:
                customer_id = candidates[0]
                customer = self.deleted.pop(customer_id)
                del self.deleted_on[customer_id]
                customer.updated_at = self.moment(start, end)
                self.customers[customer_id] = customer
                changes.restored_customers.append(customer_id)

        # ~5% of customers change their details
        updated = sorted(rng.sample(existing, round(len(existing) * rng.uniform(0.04, 0.06))))
        for customer_id in updated:
            customer = self.customers[customer_id]
            change = rng.choices(["city", "segment", "email", "city+segment"], [45, 25, 20, 10])[0]
            if "city" in change:
                customer.city, customer.country = rng.choice(
                    [c for c in CITIES if c[0] != customer.city]
                )
            if "segment" in change:
                current = customer.segment.strip().lower()
                customer.segment = rng.choice([s for s in SEGMENTS if s != current])
            if change == "email":
                customer.email = self.new_email(customer.name.strip())
            customer.updated_at = self.moment(start, end)
            changes.updated_customers.append(customer_id)

        # ~1% of customers close their account
        keep = set(updated) | set(changes.restored_customers)
        deletable = [c for c in existing if c not in keep]
        for customer_id in sorted(rng.sample(deletable, round(len(existing) * 0.01))):
            self.deleted[customer_id] = self.customers.pop(customer_id)
            self.deleted_on[customer_id] = self.day
            changes.deleted_customers.append(customer_id)

        # a few sign-ups (ids are never reused)
        next_id = max([*self.customers, *self.deleted]) + 1
        for offset, created_at in enumerate(
            sorted(self.moment(start, end) for _ in range(rng.randint(3, 8)))
        ):
            customer = self.new_customer(next_id + offset, created_at)
            self.customers[customer.customer_id] = customer
            changes.new_customers.append(customer.customer_id)

        changes.new_orders = self.place_orders(rng.randint(50, 100), start, end)

    # ---------------------------------------------------------------- export

    def cutoff(self) -> datetime:
        return DAY1_CUTOFF + timedelta(days=self.day - 1)

    def write(self, out: Path) -> dict[str, int]:
        """Write the four seed files into `out`; return their row counts."""
        out.mkdir(parents=True, exist_ok=True)
        cutoff = self.cutoff()
        customers = [
            [
                c.customer_id,
                c.name,
                c.email,
                c.city,
                c.country,
                c.segment,
                _ts(c.created_at),
                _ts(c.updated_at),
            ]
            for c in sorted(self.customers.values(), key=lambda c: c.customer_id)
        ]
        products = [
            [p.product_id, p.name, p.category, _money(p.prices[-1][1]), _ts(p.updated_at)]
            for p in sorted(self.products.values(), key=lambda p: p.product_id)
        ]
        orders: list[list[object]] = []
        items: list[list[object]] = []
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            status, updated_at = order.state_at(cutoff)
            orders.append(
                [
                    order.order_id,
                    order.customer_id,
                    _day(order.events[0][0]),
                    status,
                    _ts(updated_at),
                ]
            )
            for line in order.lines:
                items.append(
                    [
                        order.order_id,
                        line.line_number,
                        line.product_id,
                        line.quantity,
                        _money(line.unit_price),
                        f"0.{line.discount:02d}",
                    ]
                )
        files = {
            "customers": (
                [
                    "customer_id",
                    "name",
                    "email",
                    "city",
                    "country",
                    "segment",
                    "created_at",
                    "updated_at",
                ],
                customers,
            ),
            "products": (["product_id", "name", "category", "price", "updated_at"], products),
            "orders": (["order_id", "customer_id", "order_date", "status", "updated_at"], orders),
            "order_items": (
                ["order_id", "line_number", "product_id", "quantity", "unit_price", "discount"],
                items,
            ),
        }
        counts: dict[str, int] = {}
        for name, (header, rows) in files.items():
            with (out / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
            counts[name] = len(rows)
        return counts

    def status_changes(self) -> int:
        """How many orders that existed yesterday changed status today."""
        today, yesterday = self.cutoff(), self.cutoff() - timedelta(days=1)
        return sum(
            1
            for order in self.orders.values()
            if order.events[0][0] < yesterday and order.state_at(today) != order.state_at(yesterday)
        )


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _day(moment: datetime | date) -> str:
    return moment.strftime("%Y-%m-%d")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def build(day: int) -> Shop:
    """Return the shop as exported after business day `day` (1 = 2024-05-31)."""
    shop = Shop()
    shop.first_day()
    for _ in range(day - 1):
        shop.next_day()
    return shop


def _ids(values: list[int]) -> str:
    if not values:
        return "none"
    if len(values) > 12:
        return ", ".join(map(str, values[:12])) + f", ... ({len(values)} in all)"
    return ", ".join(map(str, values))


BROKEN_LINES = (
    # (what is wrong, the order line as CSV)
    ("an order line with no order", ",1,5,1,9.99,0.00"),
    ("the same order line twice", "{order},1,5,1,9.99,0.00"),
    ("a line of an order that does not exist", "999999,1,5,1,9.99,0.00"),
    ("a negative quantity", "{order},9,5,-3,9.99,0.00"),
)


def break_export(out: Path) -> list[str]:
    """Spoil the order lines in `out` the way a bad export would; return what was done."""
    path = out / "order_items.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    first_order = lines[1].split(",", 1)[0]
    extra = [line.format(order=first_order) for _, line in BROKEN_LINES]
    path.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    return [what for what, _ in BROKEN_LINES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--day", type=int, required=True, help="business day to export (1, 2, 3, ...)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "seeds",
        help="folder to write the CSV files into (default: seeds/ next to this script)",
    )
    parser.add_argument(
        "--broken",
        action="store_true",
        help="spoil the export on purpose (a NULL key, a duplicate line, an orphan line, a "
        "negative quantity), to see the checks stop it",
    )
    args = parser.parse_args(argv)
    if args.day < 1:
        parser.error("--day must be 1 or more")
    shop = build(args.day)
    counts = shop.write(args.out)
    print(f"day {args.day}: export taken at {_ts(shop.cutoff())}, written to {args.out}")
    if args.broken:
        for what in break_export(args.out):
            print(f"  broken on purpose: {what}")
    for name, count in counts.items():
        print(f"  {name + '.csv':<16} {count:>6} rows")
    if args.day > 1:
        changes = shop.changes
        print(f"changes since day {args.day - 1}:")
        print(f"  new orders:          {_ids(changes.new_orders)}")
        print(f"  orders re-statused:  {shop.status_changes()}")
        print(f"  updated customers:   {_ids(changes.updated_customers)}")
        print(f"  deleted customers:   {_ids(changes.deleted_customers)}")
        print(f"  restored customers:  {_ids(changes.restored_customers)}")
        print(f"  new customers:       {_ids(changes.new_customers)}")
        print(f"  repriced products:   {_ids(changes.repriced_products)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
