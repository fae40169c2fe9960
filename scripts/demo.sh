#!/usr/bin/env bash
# Set everything up and run the bundled e-commerce example end to end: build day 1, show a
# mart, load day 2 (new orders, changed and deleted customers), build again incrementally,
# and show the SCD2 history and time travel that result; then a broken day-3 export that the
# checks keep out of every table, and the clean export that replaces it; then column lineage,
# impact analysis, the OpenLineage events of all those runs and a static docs site.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

demo=${HEADWATER_DEMO_DIR:-$(mktemp -d)/shop}
rm -rf "$demo"
headwater init "$demo" --example ecommerce
cd "$demo"

echo; echo "== Day 1: build everything"
headwater run
echo; echo "== Daily revenue (top 5 days)"
headwater query "select order_date, orders, items, revenue from marts.daily_revenue order by revenue desc limit 5"

echo; echo "== Day 2 arrives: new orders, updated and deleted customers"
python generate.py --day 2 >/dev/null
headwater run
echo; echo "== Customer 45 moved: SCD2 keeps both versions (dim_customer)"
headwater query "select customer_id, city, segment, valid_from, valid_to, is_current from marts.dim_customer where customer_id = 45 order by valid_from"
echo; echo "== fact_sales merged only the changed orders; its versions"
headwater history marts.fact_sales
echo; echo "== Time travel: fact_sales rows at version 0 and now"
headwater query "select count(*) as rows_at_version_0 from marts.fact_sales" --as-of 0
headwater query "select count(*) as rows_now from marts.fact_sales"
echo; echo "== Nothing changed: the next run is a no-op"
headwater run

echo; echo "== Day 3 arrives broken: a NULL key, a duplicate line, an orphan line, a negative quantity"
python generate.py --day 3 --broken | grep "broken on purpose"
headwater run || echo "(the run failed on purpose: the checks stopped the broken export)"
echo; echo "== Nothing downstream saw it: fact_sales is still at its last good version"
headwater query "select count(*) as rows_in_fact_sales from marts.fact_sales"
headwater query "select order_id, line_number, quantity from raw.order_items__failed where quantity < 0 or order_id is null or order_id = 999999"
echo; echo "== The export is fixed: day 3 again, clean"
python generate.py --day 3 >/dev/null
headwater run
headwater test --select marts.daily_revenue

echo; echo "== Metrics defined once (metrics/shop.yml), answered by day and by segment"
headwater metrics query --metrics revenue,order_count,average_order_value,revenue_7d --group-by metric_time__day --order-by -metric_time__day --limit 5 --round 2
headwater metrics query --metrics revenue,average_order_value --group-by customer__segment --round 2

echo; echo "== Reverse ETL: customer value pushed into the CRM's PostgreSQL table (exports/crm.yml)"
if [ -n "${SHOP_CRM_URL:-}" ]; then
  headwater lineage exports.customer_value_to_crm
else
  echo "(skipped: no CRM database configured; set SHOP_CRM_URL to a PostgreSQL database holding crm.customer_value, see exports/crm.yml)"
fi

echo; echo "== Column lineage: where fact_sales.recognized_revenue comes from"
headwater lineage marts.fact_sales.recognized_revenue --upstream --depth 2
echo; echo "== Impact: what changing raw.order_items.quantity would touch"
headwater impact raw.order_items.quantity
echo; echo "== Personal data: declared on raw.customers, found downstream through column lineage"
headwater governance report
echo; echo "== OpenLineage events written by the runs (START / COMPLETE / FAIL per asset)"
python -c "import collections, json; events = [json.loads(l) for l in open('.headwater/openlineage.jsonl')]; print(len(events), 'events:', dict(collections.Counter(e['eventType'] for e in events)))"
echo; echo "== A static documentation site that works offline"
headwater docs export site
echo "open $demo/site/index.html in a browser"
echo; echo "The project is in $demo — try 'cd $demo && headwater ui' (http://127.0.0.1:8765/)."
