select
    r_regionkey as regionkey,
    r_name as name,
    r_comment as comment
from read_parquet('{{ var("tpch_dir") }}/region.parquet')
