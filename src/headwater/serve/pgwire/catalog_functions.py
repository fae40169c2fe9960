"""PostgreSQL's functions and types in a catalog query, and what the catalog database
answers them with: a macro of schema `hw` for each catalog function (`catalog_db` defines
them), a DuckDB type for each type a query casts to, and the plain SQL functions a query may
call besides (an allowlist: nothing that reads, writes or sets anything).
"""

from __future__ import annotations

import re

CAST_TYPES = {
    "text": "VARCHAR",
    "varchar": "VARCHAR",
    "bpchar": "VARCHAR",
    "name": "VARCHAR",
    "char": "VARCHAR",
    "citext": "VARCHAR",
    "regproc": "VARCHAR",
    "regprocedure": "VARCHAR",
    "unknown": "VARCHAR",
    "pg_node_tree": "VARCHAR",
    "int2": "SMALLINT",
    "int4": "INTEGER",
    "int8": "BIGINT",
    "oid": "BIGINT",
    "xid": "BIGINT",
    "cid": "BIGINT",
    "tid": "VARCHAR",
    "regoper": "BIGINT",
    "regoperator": "BIGINT",
    "regconfig": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "numeric": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "time": "TIME",
    "timetz": "TIMETZ",
    "interval": "INTERVAL",
    "bytea": "BLOB",
    "json": "JSON",
    "jsonb": "JSON",
    "uuid": "UUID",
    "int2vector": "SMALLINT[]",
    "oidvector": "INTEGER[]",
    "aclitem": "VARCHAR",
}
"""The DuckDB type of a cast to a PostgreSQL type (the `reg*` types are rewritten apart)."""
REG_TYPES = ("regclass", "regtype", "regnamespace", "regrole", "regproc", "regprocedure")
"""The types whose values are oids shown as names; a cast to one is rewritten apart."""

MACROS = {
    "version": "version",
    "current_version": "version",
    "current_schemas": "current_schemas",
    "current_setting": "current_setting",
    "set_config": "set_config",
    "pg_backend_pid": "pg_backend_pid",
    "format_type": "format_type",
    "obj_description": "obj_description",
    "col_description": "col_description",
    "shobj_description": "shobj_description",
    "pg_get_userbyid": "pg_get_userbyid",
    "pg_get_expr": "pg_get_expr",
    "pg_get_constraintdef": "pg_get_constraintdef",
    "pg_get_indexdef": "pg_get_indexdef",
    "pg_get_viewdef": "pg_get_viewdef",
    "pg_get_serial_sequence": "null_text",
    "pg_get_partkeydef": "null_text",
    "pg_get_statisticsobjdef_columns": "null_text",
    "pg_get_function_result": "null_text",
    "pg_get_function_arguments": "null_text",
    "pg_get_function_identity_arguments": "null_text",
    "pg_get_triggerdef": "null_text",
    "pg_get_ruledef": "null_text",
    "pg_get_functiondef": "null_text",
    "pg_get_partition_constraintdef": "null_text",
    "pg_table_is_visible": "pg_table_is_visible",
    "pg_type_is_visible": "always",
    "pg_function_is_visible": "always",
    "pg_collation_is_visible": "always",
    "pg_opclass_is_visible": "always",
    "pg_operator_is_visible": "always",
    "pg_conversion_is_visible": "always",
    "pg_ts_config_is_visible": "always",
    "pg_has_role": "pg_has_role",
    "has_table_privilege": "has_table_privilege",
    "has_any_column_privilege": "has_table_privilege",
    "has_column_privilege": "has_column_privilege",
    "has_schema_privilege": "has_schema_privilege",
    "has_database_privilege": "has_database_privilege",
    "has_function_privilege": "has_usage_privilege",
    "has_sequence_privilege": "never",
    "has_language_privilege": "has_usage_privilege",
    "has_type_privilege": "has_usage_privilege",
    "has_tablespace_privilege": "has_usage_privilege",
    "has_foreign_data_wrapper_privilege": "never",
    "has_server_privilege": "never",
    "to_regclass": "regclass_in",
    "to_regtype": "regtype_in",
    "to_regnamespace": "regnamespace_in",
    "to_regproc": "null_int",
    "to_regprocedure": "null_int",
    "to_regrole": "regrole_in",
    "pg_encoding_to_char": "pg_encoding_to_char",
    "pg_char_to_encoding": "pg_char_to_encoding",
    "pg_is_in_recovery": "never",
    "pg_postmaster_start_time": "start_time",
    "pg_conf_load_time": "start_time",
    "pg_total_relation_size": "zero",
    "pg_relation_size": "zero",
    "pg_table_size": "zero",
    "pg_indexes_size": "zero",
    "pg_database_size": "zero",
    "pg_stat_get_numscans": "zero",
    "pg_relation_is_publishable": "never",
    "pg_size_pretty": "pg_size_pretty",
    "txid_current": "txid_current",
    "pg_current_xact_id": "txid_current",
    "inet_server_addr": "null_text",
    "inet_server_port": "null_int",
    "inet_client_addr": "null_text",
    "inet_client_port": "null_int",
    "pg_my_temp_schema": "zero",
    "pg_is_other_temp_schema": "never",
    "array_upper": "array_upper",
    "array_lower": "array_lower",
    "array_length": "array_upper",
    "array_ndims": "array_ndims",
    "quote_ident": "quote_ident",
    "quote_literal": "quote_literal",
    "pg_typeof": "pg_typeof",
    "current_database": "current_database",
    "current_catalog": "current_database",
    "current_schema": "current_schema",
    "current_user": "current_user",
    "session_user": "current_user",
    "current_role": "current_user",
    "user": "current_user",
    "pg_get_keywords": "pg_get_keywords",
    "_pg_expandarray": "expandarray",
    "pg_tablespace_location": "null_text",
    "pg_jit_available": "never",
    "row_security_active": "never",
    "pg_trigger_depth": "zero",
}
"""PostgreSQL's functions that the catalog database answers with a macro of schema `hw`, by
the name they are called by."""
TABLE_FUNCTIONS = {"generate_series", "unnest", "pg_get_keywords", "generate_subscripts"}
"""Functions a catalog query may call in FROM."""
SQL_FUNCTIONS = re.compile(
    r"(?:all|any|array_to_string|array_agg|string_agg|count|sum|min|max|avg|bool_and|bool_or|every|"
    r"coalesce|nullif|greatest|least|lower|upper|length|char_length|substr|substring|replace|"
    r"trim|btrim|ltrim|rtrim|concat|concat_ws|split_part|starts_with|strpos|position|left|"
    r"right|abs|round|floor|ceil|row_number|rank|dense_rank|unnest|generate_series|"
    r"generate_subscripts|regexp_replace|regexp_matches|regexp_full_match|lpad|rpad|"
    r"string_to_array|cardinality|array_position|array_cat|array_append|list_contains|"
    r"json_object|to_json|json_agg|now|age|date_trunc|extract|date_part|md5|translate|"
    r"format|repeat|reverse|initcap|ascii|chr|to_char|bit_length|octet_length|mod|power|"
    r"sqrt|sign|trunc|random|lag|lead|first_value|last_value|ntile|percent_rank|cume_dist|"
    r"string_agg|list_transform|range|len|contains|ends_with|like_escape|not_like_escape|"
    r"ilike_escape|not_ilike_escape|regexp_split_to_array|array_contains|array_has|"
    r"list_has_any|array_length|struct_extract|list_extract|array_extract|list_value|"
    r"list_sort|array_sort|any_value|first|last|current_date|current_timestamp|"
    r"localtimestamp|typeof|isnan|isinf)"
)
"""DuckDB functions a translated catalog query may call besides the `hw` macros: the SQL
every catalog query of a client is made of, and nothing that reads or sets anything."""
