-- Glob: the incremental benchmark adds lineitem_new.parquet beside lineitem.parquet.
select
    l_orderkey as orderkey,
    l_partkey as partkey,
    l_suppkey as suppkey,
    l_linenumber as linenumber,
    l_quantity as quantity,
    l_extendedprice as extendedprice,
    l_discount as discount,
    l_tax as tax,
    l_returnflag as returnflag,
    l_linestatus as linestatus,
    cast(l_shipdate as date) as shipdate,
    cast(l_commitdate as date) as commitdate,
    cast(l_receiptdate as date) as receiptdate,
    l_shipinstruct as shipinstruct,
    l_shipmode as shipmode,
    l_comment as comment
from read_parquet('{{ var("tpch_dir") }}/lineitem*.parquet')
