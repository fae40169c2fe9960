-- Glob: the incremental benchmark adds orders_new.parquet beside orders.parquet.
select
    o_orderkey as orderkey,
    o_custkey as custkey,
    o_orderstatus as orderstatus,
    o_totalprice as totalprice,
    cast(o_orderdate as date) as orderdate,
    o_orderpriority as orderpriority,
    o_clerk as clerk,
    o_shippriority as shippriority,
    o_comment as comment
from read_parquet('{{ var("tpch_dir") }}/orders*.parquet')
