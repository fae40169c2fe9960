select
    n_nationkey as nationkey,
    n_name as name,
    n_regionkey as regionkey,
    n_comment as comment
from read_parquet('{{ var("tpch_dir") }}/nation.parquet')
