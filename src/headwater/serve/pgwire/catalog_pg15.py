"""PostgreSQL 15's own catalog as data: the columns of every `pg_catalog` table and view
and every `information_schema` view, and the rows of the catalogs that describe PostgreSQL
itself (built-in types, access methods, collations, tablespaces, languages, keywords).

Generated from a PostgreSQL 15 server; `tests/serve/test_pg_catalog.py` compares it with one.
Column types are PostgreSQL type names (`oid`, `name`, `_text`, `sql_identifier`...).
"""

# ruff: noqa: E501
# fmt: off
INFORMATION_SCHEMA_OID = 13207

RELATIONS: dict[str, str] = {
    'information_schema._pg_foreign_data_wrappers': (
        "oid oid, fdwowner oid, fdwoptions _text, foreign_data_wrapper_catalog sql_identifier, "
        "foreign_data_wrapper_name sql_identifier, authorization_identifier sql_identifier, "
        "foreign_data_wrapper_language character_data"
    ),
    'information_schema._pg_foreign_servers': (
        "oid oid, srvoptions _text, foreign_server_catalog sql_identifier, "
        "foreign_server_name sql_identifier, foreign_data_wrapper_catalog sql_identifier, "
        "foreign_data_wrapper_name sql_identifier, foreign_server_type character_data, "
        "foreign_server_version character_data, authorization_identifier sql_identifier"
    ),
    'information_schema._pg_foreign_table_columns': (
        "nspname name, relname name, attname name, attfdwoptions _text"
    ),
    'information_schema._pg_foreign_tables': (
        "foreign_table_catalog sql_identifier, foreign_table_schema sql_identifier, "
        "foreign_table_name sql_identifier, ftoptions _text, "
        "foreign_server_catalog sql_identifier, foreign_server_name sql_identifier, "
        "authorization_identifier sql_identifier"
    ),
    'information_schema._pg_user_mappings': (
        "oid oid, umoptions _text, umuser oid, authorization_identifier sql_identifier, "
        "foreign_server_catalog sql_identifier, foreign_server_name sql_identifier, "
        "srvowner sql_identifier"
    ),
    'information_schema.administrable_role_authorizations': (
        "grantee sql_identifier, role_name sql_identifier, is_grantable yes_or_no"
    ),
    'information_schema.applicable_roles': (
        "grantee sql_identifier, role_name sql_identifier, is_grantable yes_or_no"
    ),
    'information_schema.attributes': (
        "udt_catalog sql_identifier, udt_schema sql_identifier, udt_name sql_identifier, "
        "attribute_name sql_identifier, ordinal_position cardinal_number, "
        "attribute_default character_data, is_nullable yes_or_no, data_type character_data, "
        "character_maximum_length cardinal_number, character_octet_length cardinal_number, "
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, collation_catalog sql_identifier, "
        "collation_schema sql_identifier, collation_name sql_identifier, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, datetime_precision cardinal_number, "
        "interval_type character_data, interval_precision cardinal_number, "
        "attribute_udt_catalog sql_identifier, attribute_udt_schema sql_identifier, "
        "attribute_udt_name sql_identifier, scope_catalog sql_identifier, "
        "scope_schema sql_identifier, scope_name sql_identifier, "
        "maximum_cardinality cardinal_number, dtd_identifier sql_identifier, "
        "is_derived_reference_attribute yes_or_no"
    ),
    'information_schema.character_sets': (
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, character_repertoire sql_identifier, "
        "form_of_use sql_identifier, default_collate_catalog sql_identifier, "
        "default_collate_schema sql_identifier, default_collate_name sql_identifier"
    ),
    'information_schema.check_constraint_routine_usage': (
        "constraint_catalog sql_identifier, constraint_schema sql_identifier, "
        "constraint_name sql_identifier, specific_catalog sql_identifier, "
        "specific_schema sql_identifier, specific_name sql_identifier"
    ),
    'information_schema.check_constraints': (
        "constraint_catalog sql_identifier, constraint_schema sql_identifier, "
        "constraint_name sql_identifier, check_clause character_data"
    ),
    'information_schema.collation_character_set_applicability': (
        "collation_catalog sql_identifier, collation_schema sql_identifier, "
        "collation_name sql_identifier, character_set_catalog sql_identifier, "
        "character_set_schema sql_identifier, character_set_name sql_identifier"
    ),
    'information_schema.collations': (
        "collation_catalog sql_identifier, collation_schema sql_identifier, "
        "collation_name sql_identifier, pad_attribute character_data"
    ),
    'information_schema.column_column_usage': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "column_name sql_identifier, dependent_column sql_identifier"
    ),
    'information_schema.column_domain_usage': (
        "domain_catalog sql_identifier, domain_schema sql_identifier, "
        "domain_name sql_identifier, table_catalog sql_identifier, table_schema sql_identifier, "
        "table_name sql_identifier, column_name sql_identifier"
    ),
    'information_schema.column_options': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "column_name sql_identifier, option_name sql_identifier, option_value character_data"
    ),
    'information_schema.column_privileges': (
        "grantor sql_identifier, grantee sql_identifier, table_catalog sql_identifier, "
        "table_schema sql_identifier, table_name sql_identifier, column_name sql_identifier, "
        "privilege_type character_data, is_grantable yes_or_no"
    ),
    'information_schema.column_udt_usage': (
        "udt_catalog sql_identifier, udt_schema sql_identifier, udt_name sql_identifier, "
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "column_name sql_identifier"
    ),
    'information_schema.columns': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "column_name sql_identifier, ordinal_position cardinal_number, "
        "column_default character_data, is_nullable yes_or_no, data_type character_data, "
        "character_maximum_length cardinal_number, character_octet_length cardinal_number, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, datetime_precision cardinal_number, "
        "interval_type character_data, interval_precision cardinal_number, "
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, collation_catalog sql_identifier, "
        "collation_schema sql_identifier, collation_name sql_identifier, "
        "domain_catalog sql_identifier, domain_schema sql_identifier, "
        "domain_name sql_identifier, udt_catalog sql_identifier, udt_schema sql_identifier, "
        "udt_name sql_identifier, scope_catalog sql_identifier, scope_schema sql_identifier, "
        "scope_name sql_identifier, maximum_cardinality cardinal_number, "
        "dtd_identifier sql_identifier, is_self_referencing yes_or_no, is_identity yes_or_no, "
        "identity_generation character_data, identity_start character_data, "
        "identity_increment character_data, identity_maximum character_data, "
        "identity_minimum character_data, identity_cycle yes_or_no, is_generated character_data, "
        "generation_expression character_data, is_updatable yes_or_no"
    ),
    'information_schema.constraint_column_usage': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "column_name sql_identifier, constraint_catalog sql_identifier, "
        "constraint_schema sql_identifier, constraint_name sql_identifier"
    ),
    'information_schema.constraint_table_usage': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "constraint_catalog sql_identifier, constraint_schema sql_identifier, "
        "constraint_name sql_identifier"
    ),
    'information_schema.data_type_privileges': (
        "object_catalog sql_identifier, object_schema sql_identifier, "
        "object_name sql_identifier, object_type character_data, dtd_identifier sql_identifier"
    ),
    'information_schema.domain_constraints': (
        "constraint_catalog sql_identifier, constraint_schema sql_identifier, "
        "constraint_name sql_identifier, domain_catalog sql_identifier, "
        "domain_schema sql_identifier, domain_name sql_identifier, is_deferrable yes_or_no, "
        "initially_deferred yes_or_no"
    ),
    'information_schema.domain_udt_usage': (
        "udt_catalog sql_identifier, udt_schema sql_identifier, udt_name sql_identifier, "
        "domain_catalog sql_identifier, domain_schema sql_identifier, domain_name sql_identifier"
    ),
    'information_schema.domains': (
        "domain_catalog sql_identifier, domain_schema sql_identifier, "
        "domain_name sql_identifier, data_type character_data, "
        "character_maximum_length cardinal_number, character_octet_length cardinal_number, "
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, collation_catalog sql_identifier, "
        "collation_schema sql_identifier, collation_name sql_identifier, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, datetime_precision cardinal_number, "
        "interval_type character_data, interval_precision cardinal_number, "
        "domain_default character_data, udt_catalog sql_identifier, udt_schema sql_identifier, "
        "udt_name sql_identifier, scope_catalog sql_identifier, scope_schema sql_identifier, "
        "scope_name sql_identifier, maximum_cardinality cardinal_number, "
        "dtd_identifier sql_identifier"
    ),
    'information_schema.element_types': (
        "object_catalog sql_identifier, object_schema sql_identifier, "
        "object_name sql_identifier, object_type character_data, "
        "collection_type_identifier sql_identifier, data_type character_data, "
        "character_maximum_length cardinal_number, character_octet_length cardinal_number, "
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, collation_catalog sql_identifier, "
        "collation_schema sql_identifier, collation_name sql_identifier, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, datetime_precision cardinal_number, "
        "interval_type character_data, interval_precision cardinal_number, "
        "domain_default character_data, udt_catalog sql_identifier, udt_schema sql_identifier, "
        "udt_name sql_identifier, scope_catalog sql_identifier, scope_schema sql_identifier, "
        "scope_name sql_identifier, maximum_cardinality cardinal_number, "
        "dtd_identifier sql_identifier"
    ),
    'information_schema.enabled_roles': (
        "role_name sql_identifier"
    ),
    'information_schema.foreign_data_wrapper_options': (
        "foreign_data_wrapper_catalog sql_identifier, foreign_data_wrapper_name sql_identifier, "
        "option_name sql_identifier, option_value character_data"
    ),
    'information_schema.foreign_data_wrappers': (
        "foreign_data_wrapper_catalog sql_identifier, foreign_data_wrapper_name sql_identifier, "
        "authorization_identifier sql_identifier, library_name character_data, "
        "foreign_data_wrapper_language character_data"
    ),
    'information_schema.foreign_server_options': (
        "foreign_server_catalog sql_identifier, foreign_server_name sql_identifier, "
        "option_name sql_identifier, option_value character_data"
    ),
    'information_schema.foreign_servers': (
        "foreign_server_catalog sql_identifier, foreign_server_name sql_identifier, "
        "foreign_data_wrapper_catalog sql_identifier, foreign_data_wrapper_name sql_identifier, "
        "foreign_server_type character_data, foreign_server_version character_data, "
        "authorization_identifier sql_identifier"
    ),
    'information_schema.foreign_table_options': (
        "foreign_table_catalog sql_identifier, foreign_table_schema sql_identifier, "
        "foreign_table_name sql_identifier, option_name sql_identifier, "
        "option_value character_data"
    ),
    'information_schema.foreign_tables': (
        "foreign_table_catalog sql_identifier, foreign_table_schema sql_identifier, "
        "foreign_table_name sql_identifier, foreign_server_catalog sql_identifier, "
        "foreign_server_name sql_identifier"
    ),
    'information_schema.information_schema_catalog_name': (
        "catalog_name sql_identifier"
    ),
    'information_schema.key_column_usage': (
        "constraint_catalog sql_identifier, constraint_schema sql_identifier, "
        "constraint_name sql_identifier, table_catalog sql_identifier, "
        "table_schema sql_identifier, table_name sql_identifier, column_name sql_identifier, "
        "ordinal_position cardinal_number, position_in_unique_constraint cardinal_number"
    ),
    'information_schema.parameters': (
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier, ordinal_position cardinal_number, "
        "parameter_mode character_data, is_result yes_or_no, as_locator yes_or_no, "
        "parameter_name sql_identifier, data_type character_data, "
        "character_maximum_length cardinal_number, character_octet_length cardinal_number, "
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, collation_catalog sql_identifier, "
        "collation_schema sql_identifier, collation_name sql_identifier, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, datetime_precision cardinal_number, "
        "interval_type character_data, interval_precision cardinal_number, "
        "udt_catalog sql_identifier, udt_schema sql_identifier, udt_name sql_identifier, "
        "scope_catalog sql_identifier, scope_schema sql_identifier, scope_name sql_identifier, "
        "maximum_cardinality cardinal_number, dtd_identifier sql_identifier, "
        "parameter_default character_data"
    ),
    'information_schema.referential_constraints': (
        "constraint_catalog sql_identifier, constraint_schema sql_identifier, "
        "constraint_name sql_identifier, unique_constraint_catalog sql_identifier, "
        "unique_constraint_schema sql_identifier, unique_constraint_name sql_identifier, "
        "match_option character_data, update_rule character_data, delete_rule character_data"
    ),
    'information_schema.role_column_grants': (
        "grantor sql_identifier, grantee sql_identifier, table_catalog sql_identifier, "
        "table_schema sql_identifier, table_name sql_identifier, column_name sql_identifier, "
        "privilege_type character_data, is_grantable yes_or_no"
    ),
    'information_schema.role_routine_grants': (
        "grantor sql_identifier, grantee sql_identifier, specific_catalog sql_identifier, "
        "specific_schema sql_identifier, specific_name sql_identifier, "
        "routine_catalog sql_identifier, routine_schema sql_identifier, "
        "routine_name sql_identifier, privilege_type character_data, is_grantable yes_or_no"
    ),
    'information_schema.role_table_grants': (
        "grantor sql_identifier, grantee sql_identifier, table_catalog sql_identifier, "
        "table_schema sql_identifier, table_name sql_identifier, privilege_type character_data, "
        "is_grantable yes_or_no, with_hierarchy yes_or_no"
    ),
    'information_schema.role_udt_grants': (
        "grantor sql_identifier, grantee sql_identifier, udt_catalog sql_identifier, "
        "udt_schema sql_identifier, udt_name sql_identifier, privilege_type character_data, "
        "is_grantable yes_or_no"
    ),
    'information_schema.role_usage_grants': (
        "grantor sql_identifier, grantee sql_identifier, object_catalog sql_identifier, "
        "object_schema sql_identifier, object_name sql_identifier, object_type character_data, "
        "privilege_type character_data, is_grantable yes_or_no"
    ),
    'information_schema.routine_column_usage': (
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier, routine_catalog sql_identifier, "
        "routine_schema sql_identifier, routine_name sql_identifier, "
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "column_name sql_identifier"
    ),
    'information_schema.routine_privileges': (
        "grantor sql_identifier, grantee sql_identifier, specific_catalog sql_identifier, "
        "specific_schema sql_identifier, specific_name sql_identifier, "
        "routine_catalog sql_identifier, routine_schema sql_identifier, "
        "routine_name sql_identifier, privilege_type character_data, is_grantable yes_or_no"
    ),
    'information_schema.routine_routine_usage': (
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier, routine_catalog sql_identifier, "
        "routine_schema sql_identifier, routine_name sql_identifier"
    ),
    'information_schema.routine_sequence_usage': (
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier, routine_catalog sql_identifier, "
        "routine_schema sql_identifier, routine_name sql_identifier, "
        "sequence_catalog sql_identifier, sequence_schema sql_identifier, "
        "sequence_name sql_identifier"
    ),
    'information_schema.routine_table_usage': (
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier, routine_catalog sql_identifier, "
        "routine_schema sql_identifier, routine_name sql_identifier, "
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier"
    ),
    'information_schema.routines': (
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier, routine_catalog sql_identifier, "
        "routine_schema sql_identifier, routine_name sql_identifier, "
        "routine_type character_data, module_catalog sql_identifier, "
        "module_schema sql_identifier, module_name sql_identifier, udt_catalog sql_identifier, "
        "udt_schema sql_identifier, udt_name sql_identifier, data_type character_data, "
        "character_maximum_length cardinal_number, character_octet_length cardinal_number, "
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, collation_catalog sql_identifier, "
        "collation_schema sql_identifier, collation_name sql_identifier, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, datetime_precision cardinal_number, "
        "interval_type character_data, interval_precision cardinal_number, "
        "type_udt_catalog sql_identifier, type_udt_schema sql_identifier, "
        "type_udt_name sql_identifier, scope_catalog sql_identifier, "
        "scope_schema sql_identifier, scope_name sql_identifier, "
        "maximum_cardinality cardinal_number, dtd_identifier sql_identifier, "
        "routine_body character_data, routine_definition character_data, "
        "external_name character_data, external_language character_data, "
        "parameter_style character_data, is_deterministic yes_or_no, "
        "sql_data_access character_data, is_null_call yes_or_no, sql_path character_data, "
        "schema_level_routine yes_or_no, max_dynamic_result_sets cardinal_number, "
        "is_user_defined_cast yes_or_no, is_implicitly_invocable yes_or_no, "
        "security_type character_data, to_sql_specific_catalog sql_identifier, "
        "to_sql_specific_schema sql_identifier, to_sql_specific_name sql_identifier, "
        "as_locator yes_or_no, created time_stamp, last_altered time_stamp, "
        "new_savepoint_level yes_or_no, is_udt_dependent yes_or_no, "
        "result_cast_from_data_type character_data, result_cast_as_locator yes_or_no, "
        "result_cast_char_max_length cardinal_number, "
        "result_cast_char_octet_length cardinal_number, "
        "result_cast_char_set_catalog sql_identifier, "
        "result_cast_char_set_schema sql_identifier, result_cast_char_set_name sql_identifier, "
        "result_cast_collation_catalog sql_identifier, "
        "result_cast_collation_schema sql_identifier, result_cast_collation_name sql_identifier, "
        "result_cast_numeric_precision cardinal_number, "
        "result_cast_numeric_precision_radix cardinal_number, "
        "result_cast_numeric_scale cardinal_number, "
        "result_cast_datetime_precision cardinal_number, "
        "result_cast_interval_type character_data, "
        "result_cast_interval_precision cardinal_number, "
        "result_cast_type_udt_catalog sql_identifier, "
        "result_cast_type_udt_schema sql_identifier, result_cast_type_udt_name sql_identifier, "
        "result_cast_scope_catalog sql_identifier, result_cast_scope_schema sql_identifier, "
        "result_cast_scope_name sql_identifier, result_cast_maximum_cardinality cardinal_number, "
        "result_cast_dtd_identifier sql_identifier"
    ),
    'information_schema.schemata': (
        "catalog_name sql_identifier, schema_name sql_identifier, schema_owner sql_identifier, "
        "default_character_set_catalog sql_identifier, "
        "default_character_set_schema sql_identifier, default_character_set_name sql_identifier, "
        "sql_path character_data"
    ),
    'information_schema.sequences': (
        "sequence_catalog sql_identifier, sequence_schema sql_identifier, "
        "sequence_name sql_identifier, data_type character_data, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, start_value character_data, "
        "minimum_value character_data, maximum_value character_data, increment character_data, "
        "cycle_option yes_or_no"
    ),
    'information_schema.sql_features': (
        "feature_id character_data, feature_name character_data, sub_feature_id character_data, "
        "sub_feature_name character_data, is_supported yes_or_no, is_verified_by character_data, "
        "comments character_data"
    ),
    'information_schema.sql_implementation_info': (
        "implementation_info_id character_data, implementation_info_name character_data, "
        "integer_value cardinal_number, character_value character_data, comments character_data"
    ),
    'information_schema.sql_parts': (
        "feature_id character_data, feature_name character_data, is_supported yes_or_no, "
        "is_verified_by character_data, comments character_data"
    ),
    'information_schema.sql_sizing': (
        "sizing_id cardinal_number, sizing_name character_data, supported_value cardinal_number, "
        "comments character_data"
    ),
    'information_schema.table_constraints': (
        "constraint_catalog sql_identifier, constraint_schema sql_identifier, "
        "constraint_name sql_identifier, table_catalog sql_identifier, "
        "table_schema sql_identifier, table_name sql_identifier, constraint_type character_data, "
        "is_deferrable yes_or_no, initially_deferred yes_or_no, enforced yes_or_no, "
        "nulls_distinct yes_or_no"
    ),
    'information_schema.table_privileges': (
        "grantor sql_identifier, grantee sql_identifier, table_catalog sql_identifier, "
        "table_schema sql_identifier, table_name sql_identifier, privilege_type character_data, "
        "is_grantable yes_or_no, with_hierarchy yes_or_no"
    ),
    'information_schema.tables': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "table_type character_data, self_referencing_column_name sql_identifier, "
        "reference_generation character_data, user_defined_type_catalog sql_identifier, "
        "user_defined_type_schema sql_identifier, user_defined_type_name sql_identifier, "
        "is_insertable_into yes_or_no, is_typed yes_or_no, commit_action character_data"
    ),
    'information_schema.transforms': (
        "udt_catalog sql_identifier, udt_schema sql_identifier, udt_name sql_identifier, "
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier, group_name sql_identifier, transform_type character_data"
    ),
    'information_schema.triggered_update_columns': (
        "trigger_catalog sql_identifier, trigger_schema sql_identifier, "
        "trigger_name sql_identifier, event_object_catalog sql_identifier, "
        "event_object_schema sql_identifier, event_object_table sql_identifier, "
        "event_object_column sql_identifier"
    ),
    'information_schema.triggers': (
        "trigger_catalog sql_identifier, trigger_schema sql_identifier, "
        "trigger_name sql_identifier, event_manipulation character_data, "
        "event_object_catalog sql_identifier, event_object_schema sql_identifier, "
        "event_object_table sql_identifier, action_order cardinal_number, "
        "action_condition character_data, action_statement character_data, "
        "action_orientation character_data, action_timing character_data, "
        "action_reference_old_table sql_identifier, action_reference_new_table sql_identifier, "
        "action_reference_old_row sql_identifier, action_reference_new_row sql_identifier, "
        "created time_stamp"
    ),
    'information_schema.udt_privileges': (
        "grantor sql_identifier, grantee sql_identifier, udt_catalog sql_identifier, "
        "udt_schema sql_identifier, udt_name sql_identifier, privilege_type character_data, "
        "is_grantable yes_or_no"
    ),
    'information_schema.usage_privileges': (
        "grantor sql_identifier, grantee sql_identifier, object_catalog sql_identifier, "
        "object_schema sql_identifier, object_name sql_identifier, object_type character_data, "
        "privilege_type character_data, is_grantable yes_or_no"
    ),
    'information_schema.user_defined_types': (
        "user_defined_type_catalog sql_identifier, user_defined_type_schema sql_identifier, "
        "user_defined_type_name sql_identifier, user_defined_type_category character_data, "
        "is_instantiable yes_or_no, is_final yes_or_no, ordering_form character_data, "
        "ordering_category character_data, ordering_routine_catalog sql_identifier, "
        "ordering_routine_schema sql_identifier, ordering_routine_name sql_identifier, "
        "reference_type character_data, data_type character_data, "
        "character_maximum_length cardinal_number, character_octet_length cardinal_number, "
        "character_set_catalog sql_identifier, character_set_schema sql_identifier, "
        "character_set_name sql_identifier, collation_catalog sql_identifier, "
        "collation_schema sql_identifier, collation_name sql_identifier, "
        "numeric_precision cardinal_number, numeric_precision_radix cardinal_number, "
        "numeric_scale cardinal_number, datetime_precision cardinal_number, "
        "interval_type character_data, interval_precision cardinal_number, "
        "source_dtd_identifier sql_identifier, ref_dtd_identifier sql_identifier"
    ),
    'information_schema.user_mapping_options': (
        "authorization_identifier sql_identifier, foreign_server_catalog sql_identifier, "
        "foreign_server_name sql_identifier, option_name sql_identifier, "
        "option_value character_data"
    ),
    'information_schema.user_mappings': (
        "authorization_identifier sql_identifier, foreign_server_catalog sql_identifier, "
        "foreign_server_name sql_identifier"
    ),
    'information_schema.view_column_usage': (
        "view_catalog sql_identifier, view_schema sql_identifier, view_name sql_identifier, "
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "column_name sql_identifier"
    ),
    'information_schema.view_routine_usage': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "specific_catalog sql_identifier, specific_schema sql_identifier, "
        "specific_name sql_identifier"
    ),
    'information_schema.view_table_usage': (
        "view_catalog sql_identifier, view_schema sql_identifier, view_name sql_identifier, "
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier"
    ),
    'information_schema.views': (
        "table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier, "
        "view_definition character_data, check_option character_data, is_updatable yes_or_no, "
        "is_insertable_into yes_or_no, is_trigger_updatable yes_or_no, "
        "is_trigger_deletable yes_or_no, is_trigger_insertable_into yes_or_no"
    ),
    'pg_catalog.pg_aggregate': (
        "aggfnoid regproc, aggkind char, aggnumdirectargs int2, aggtransfn regproc, "
        "aggfinalfn regproc, aggcombinefn regproc, aggserialfn regproc, aggdeserialfn regproc, "
        "aggmtransfn regproc, aggminvtransfn regproc, aggmfinalfn regproc, aggfinalextra bool, "
        "aggmfinalextra bool, aggfinalmodify char, aggmfinalmodify char, aggsortop oid, "
        "aggtranstype oid, aggtransspace int4, aggmtranstype oid, aggmtransspace int4, "
        "agginitval text, aggminitval text"
    ),
    'pg_catalog.pg_am': (
        "oid oid, amname name, amhandler regproc, amtype char"
    ),
    'pg_catalog.pg_amop': (
        "oid oid, amopfamily oid, amoplefttype oid, amoprighttype oid, amopstrategy int2, "
        "amoppurpose char, amopopr oid, amopmethod oid, amopsortfamily oid"
    ),
    'pg_catalog.pg_amproc': (
        "oid oid, amprocfamily oid, amproclefttype oid, amprocrighttype oid, amprocnum int2, "
        "amproc regproc"
    ),
    'pg_catalog.pg_attrdef': (
        "oid oid, adrelid oid, adnum int2, adbin pg_node_tree"
    ),
    'pg_catalog.pg_attribute': (
        "attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, "
        "attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign char, "
        "attstorage char, attcompression char, attnotnull bool, atthasdef bool, "
        "atthasmissing bool, attidentity char, attgenerated char, attisdropped bool, "
        "attislocal bool, attinhcount int4, attcollation oid, attacl _aclitem, attoptions _text, "
        "attfdwoptions _text, attmissingval anyarray"
    ),
    'pg_catalog.pg_auth_members': (
        "roleid oid, member oid, grantor oid, admin_option bool"
    ),
    'pg_catalog.pg_authid': (
        "oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, "
        "rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolbypassrls bool, "
        "rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz"
    ),
    'pg_catalog.pg_available_extension_versions': (
        "name name, version text, installed bool, superuser bool, trusted bool, "
        "relocatable bool, schema name, requires _name, comment text"
    ),
    'pg_catalog.pg_available_extensions': (
        "name name, default_version text, installed_version text, comment text"
    ),
    'pg_catalog.pg_backend_memory_contexts': (
        "name text, ident text, parent text, level int4, total_bytes int8, total_nblocks int8, "
        "free_bytes int8, free_chunks int8, used_bytes int8"
    ),
    'pg_catalog.pg_cast': (
        "oid oid, castsource oid, casttarget oid, castfunc oid, castcontext char, castmethod char"
    ),
    'pg_catalog.pg_class': (
        "oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, "
        "relam oid, relfilenode oid, reltablespace oid, relpages int4, reltuples float4, "
        "relallvisible int4, reltoastrelid oid, relhasindex bool, relisshared bool, "
        "relpersistence char, relkind char, relnatts int2, relchecks int2, relhasrules bool, "
        "relhastriggers bool, relhassubclass bool, relrowsecurity bool, "
        "relforcerowsecurity bool, relispopulated bool, relreplident char, relispartition bool, "
        "relrewrite oid, relfrozenxid xid, relminmxid xid, relacl _aclitem, reloptions _text, "
        "relpartbound pg_node_tree"
    ),
    'pg_catalog.pg_collation': (
        "oid oid, collname name, collnamespace oid, collowner oid, collprovider char, "
        "collisdeterministic bool, collencoding int4, collcollate text, collctype text, "
        "colliculocale text, collversion text"
    ),
    'pg_catalog.pg_config': (
        "name text, setting text"
    ),
    'pg_catalog.pg_constraint': (
        "oid oid, conname name, connamespace oid, contype char, condeferrable bool, "
        "condeferred bool, convalidated bool, conrelid oid, contypid oid, conindid oid, "
        "conparentid oid, confrelid oid, confupdtype char, confdeltype char, confmatchtype char, "
        "conislocal bool, coninhcount int4, connoinherit bool, conkey _int2, confkey _int2, "
        "conpfeqop _oid, conppeqop _oid, conffeqop _oid, confdelsetcols _int2, conexclop _oid, "
        "conbin pg_node_tree"
    ),
    'pg_catalog.pg_conversion': (
        "oid oid, conname name, connamespace oid, conowner oid, conforencoding int4, "
        "contoencoding int4, conproc regproc, condefault bool"
    ),
    'pg_catalog.pg_cursors': (
        "name text, statement text, is_holdable bool, is_binary bool, is_scrollable bool, "
        "creation_time timestamptz"
    ),
    'pg_catalog.pg_database': (
        "oid oid, datname name, datdba oid, encoding int4, datlocprovider char, "
        "datistemplate bool, datallowconn bool, datconnlimit int4, datfrozenxid xid, "
        "datminmxid xid, dattablespace oid, datcollate text, datctype text, daticulocale text, "
        "datcollversion text, datacl _aclitem"
    ),
    'pg_catalog.pg_db_role_setting': (
        "setdatabase oid, setrole oid, setconfig _text"
    ),
    'pg_catalog.pg_default_acl': (
        "oid oid, defaclrole oid, defaclnamespace oid, defaclobjtype char, defaclacl _aclitem"
    ),
    'pg_catalog.pg_depend': (
        "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, "
        "deptype char"
    ),
    'pg_catalog.pg_description': (
        "objoid oid, classoid oid, objsubid int4, description text"
    ),
    'pg_catalog.pg_enum': (
        "oid oid, enumtypid oid, enumsortorder float4, enumlabel name"
    ),
    'pg_catalog.pg_event_trigger': (
        "oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid, evtenabled char, "
        "evttags _text"
    ),
    'pg_catalog.pg_extension': (
        "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, "
        "extversion text, extconfig _oid, extcondition _text"
    ),
    'pg_catalog.pg_file_settings': (
        "sourcefile text, sourceline int4, seqno int4, name text, setting text, applied bool, "
        "error text"
    ),
    'pg_catalog.pg_foreign_data_wrapper': (
        "oid oid, fdwname name, fdwowner oid, fdwhandler oid, fdwvalidator oid, fdwacl _aclitem, "
        "fdwoptions _text"
    ),
    'pg_catalog.pg_foreign_server': (
        "oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text, srvversion text, "
        "srvacl _aclitem, srvoptions _text"
    ),
    'pg_catalog.pg_foreign_table': (
        "ftrelid oid, ftserver oid, ftoptions _text"
    ),
    'pg_catalog.pg_group': (
        "groname name, grosysid oid, grolist _oid"
    ),
    'pg_catalog.pg_hba_file_rules': (
        "line_number int4, type text, database _text, user_name _text, address text, "
        "netmask text, auth_method text, options _text, error text"
    ),
    'pg_catalog.pg_ident_file_mappings': (
        "line_number int4, map_name text, sys_name text, pg_username text, error text"
    ),
    'pg_catalog.pg_index': (
        "indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, "
        "indnullsnotdistinct bool, indisprimary bool, indisexclusion bool, indimmediate bool, "
        "indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, "
        "indislive bool, indisreplident bool, indkey int2vector, indcollation oidvector, "
        "indclass oidvector, indoption int2vector, indexprs pg_node_tree, indpred pg_node_tree"
    ),
    'pg_catalog.pg_indexes': (
        "schemaname name, tablename name, indexname name, tablespace name, indexdef text"
    ),
    'pg_catalog.pg_inherits': (
        "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool"
    ),
    'pg_catalog.pg_init_privs': (
        "objoid oid, classoid oid, objsubid int4, privtype char, initprivs _aclitem"
    ),
    'pg_catalog.pg_language': (
        "oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool, "
        "lanplcallfoid oid, laninline oid, lanvalidator oid, lanacl _aclitem"
    ),
    'pg_catalog.pg_largeobject': (
        "loid oid, pageno int4, data bytea"
    ),
    'pg_catalog.pg_largeobject_metadata': (
        "oid oid, lomowner oid, lomacl _aclitem"
    ),
    'pg_catalog.pg_locks': (
        "locktype text, database oid, relation oid, page int4, tuple int2, virtualxid text, "
        "transactionid xid, classid oid, objid oid, objsubid int2, virtualtransaction text, "
        "pid int4, mode text, granted bool, fastpath bool, waitstart timestamptz"
    ),
    'pg_catalog.pg_matviews': (
        "schemaname name, matviewname name, matviewowner name, tablespace name, hasindexes bool, "
        "ispopulated bool, definition text"
    ),
    'pg_catalog.pg_namespace': (
        "oid oid, nspname name, nspowner oid, nspacl _aclitem"
    ),
    'pg_catalog.pg_opclass': (
        "oid oid, opcmethod oid, opcname name, opcnamespace oid, opcowner oid, opcfamily oid, "
        "opcintype oid, opcdefault bool, opckeytype oid"
    ),
    'pg_catalog.pg_operator': (
        "oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind char, oprcanmerge bool, "
        "oprcanhash bool, oprleft oid, oprright oid, oprresult oid, oprcom oid, oprnegate oid, "
        "oprcode regproc, oprrest regproc, oprjoin regproc"
    ),
    'pg_catalog.pg_opfamily': (
        "oid oid, opfmethod oid, opfname name, opfnamespace oid, opfowner oid"
    ),
    'pg_catalog.pg_parameter_acl': (
        "oid oid, parname text, paracl _aclitem"
    ),
    'pg_catalog.pg_partitioned_table': (
        "partrelid oid, partstrat char, partnatts int2, partdefid oid, partattrs int2vector, "
        "partclass oidvector, partcollation oidvector, partexprs pg_node_tree"
    ),
    'pg_catalog.pg_policies': (
        "schemaname name, tablename name, policyname name, permissive text, roles _name, "
        "cmd text, qual text, with_check text"
    ),
    'pg_catalog.pg_policy': (
        "oid oid, polname name, polrelid oid, polcmd char, polpermissive bool, polroles _oid, "
        "polqual pg_node_tree, polwithcheck pg_node_tree"
    ),
    'pg_catalog.pg_prepared_statements': (
        "name text, statement text, prepare_time timestamptz, parameter_types _regtype, "
        "from_sql bool, generic_plans int8, custom_plans int8"
    ),
    'pg_catalog.pg_prepared_xacts': (
        "transaction xid, gid text, prepared timestamptz, owner name, database name"
    ),
    'pg_catalog.pg_proc': (
        "oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, "
        "prorows float4, provariadic oid, prosupport regproc, prokind char, prosecdef bool, "
        "proleakproof bool, proisstrict bool, proretset bool, provolatile char, "
        "proparallel char, pronargs int2, pronargdefaults int2, prorettype oid, "
        "proargtypes oidvector, proallargtypes _oid, proargmodes _char, proargnames _text, "
        "proargdefaults pg_node_tree, protrftypes _oid, prosrc text, probin text, "
        "prosqlbody pg_node_tree, proconfig _text, proacl _aclitem"
    ),
    'pg_catalog.pg_publication': (
        "oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, "
        "pubdelete bool, pubtruncate bool, pubviaroot bool"
    ),
    'pg_catalog.pg_publication_namespace': (
        "oid oid, pnpubid oid, pnnspid oid"
    ),
    'pg_catalog.pg_publication_rel': (
        "oid oid, prpubid oid, prrelid oid, prqual pg_node_tree, prattrs int2vector"
    ),
    'pg_catalog.pg_publication_tables': (
        "pubname name, schemaname name, tablename name, attnames _name, rowfilter text"
    ),
    'pg_catalog.pg_range': (
        "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc oid, "
        "rngcanonical regproc, rngsubdiff regproc"
    ),
    'pg_catalog.pg_replication_origin': (
        "roident oid, roname text"
    ),
    'pg_catalog.pg_replication_origin_status': (
        "local_id oid, external_id text, remote_lsn pg_lsn, local_lsn pg_lsn"
    ),
    'pg_catalog.pg_replication_slots': (
        "slot_name name, plugin name, slot_type text, datoid oid, database name, temporary bool, "
        "active bool, active_pid int4, xmin xid, catalog_xmin xid, restart_lsn pg_lsn, "
        "confirmed_flush_lsn pg_lsn, wal_status text, safe_wal_size int8, two_phase bool"
    ),
    'pg_catalog.pg_rewrite': (
        "oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char, is_instead bool, "
        "ev_qual pg_node_tree, ev_action pg_node_tree"
    ),
    'pg_catalog.pg_roles': (
        "rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, "
        "rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text, "
        "rolvaliduntil timestamptz, rolbypassrls bool, rolconfig _text, oid oid"
    ),
    'pg_catalog.pg_rules': (
        "schemaname name, tablename name, rulename name, definition text"
    ),
    'pg_catalog.pg_seclabel': (
        "objoid oid, classoid oid, objsubid int4, provider text, label text"
    ),
    'pg_catalog.pg_seclabels': (
        "objoid oid, classoid oid, objsubid int4, objtype text, objnamespace oid, objname text, "
        "provider text, label text"
    ),
    'pg_catalog.pg_sequence': (
        "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, "
        "seqcache int8, seqcycle bool"
    ),
    'pg_catalog.pg_sequences': (
        "schemaname name, sequencename name, sequenceowner name, data_type regtype, "
        "start_value int8, min_value int8, max_value int8, increment_by int8, cycle bool, "
        "cache_size int8, last_value int8"
    ),
    'pg_catalog.pg_settings': (
        "name text, setting text, unit text, category text, short_desc text, extra_desc text, "
        "context text, vartype text, source text, min_val text, max_val text, enumvals _text, "
        "boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool"
    ),
    'pg_catalog.pg_shadow': (
        "usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, "
        "usebypassrls bool, passwd text, valuntil timestamptz, useconfig _text"
    ),
    'pg_catalog.pg_shdepend': (
        "dbid oid, classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, "
        "deptype char"
    ),
    'pg_catalog.pg_shdescription': (
        "objoid oid, classoid oid, description text"
    ),
    'pg_catalog.pg_shmem_allocations': (
        "name text, off int8, size int8, allocated_size int8"
    ),
    'pg_catalog.pg_shseclabel': (
        "objoid oid, classoid oid, provider text, label text"
    ),
    'pg_catalog.pg_stat_activity': (
        "datid oid, datname name, pid int4, leader_pid int4, usesysid oid, usename name, "
        "application_name text, client_addr inet, client_hostname text, client_port int4, "
        "backend_start timestamptz, xact_start timestamptz, query_start timestamptz, "
        "state_change timestamptz, wait_event_type text, wait_event text, state text, "
        "backend_xid xid, backend_xmin xid, query_id int8, query text, backend_type text"
    ),
    'pg_catalog.pg_stat_all_indexes': (
        "relid oid, indexrelid oid, schemaname name, relname name, indexrelname name, "
        "idx_scan int8, idx_tup_read int8, idx_tup_fetch int8"
    ),
    'pg_catalog.pg_stat_all_tables': (
        "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, "
        "idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, "
        "n_tup_hot_upd int8, n_live_tup int8, n_dead_tup int8, n_mod_since_analyze int8, "
        "n_ins_since_vacuum int8, last_vacuum timestamptz, last_autovacuum timestamptz, "
        "last_analyze timestamptz, last_autoanalyze timestamptz, vacuum_count int8, "
        "autovacuum_count int8, analyze_count int8, autoanalyze_count int8"
    ),
    'pg_catalog.pg_stat_archiver': (
        "archived_count int8, last_archived_wal text, last_archived_time timestamptz, "
        "failed_count int8, last_failed_wal text, last_failed_time timestamptz, "
        "stats_reset timestamptz"
    ),
    'pg_catalog.pg_stat_bgwriter': (
        "checkpoints_timed int8, checkpoints_req int8, checkpoint_write_time float8, "
        "checkpoint_sync_time float8, buffers_checkpoint int8, buffers_clean int8, "
        "maxwritten_clean int8, buffers_backend int8, buffers_backend_fsync int8, "
        "buffers_alloc int8, stats_reset timestamptz"
    ),
    'pg_catalog.pg_stat_database': (
        "datid oid, datname name, numbackends int4, xact_commit int8, xact_rollback int8, "
        "blks_read int8, blks_hit int8, tup_returned int8, tup_fetched int8, tup_inserted int8, "
        "tup_updated int8, tup_deleted int8, conflicts int8, temp_files int8, temp_bytes int8, "
        "deadlocks int8, checksum_failures int8, checksum_last_failure timestamptz, "
        "blk_read_time float8, blk_write_time float8, session_time float8, active_time float8, "
        "idle_in_transaction_time float8, sessions int8, sessions_abandoned int8, "
        "sessions_fatal int8, sessions_killed int8, stats_reset timestamptz"
    ),
    'pg_catalog.pg_stat_database_conflicts': (
        "datid oid, datname name, confl_tablespace int8, confl_lock int8, confl_snapshot int8, "
        "confl_bufferpin int8, confl_deadlock int8"
    ),
    'pg_catalog.pg_stat_gssapi': (
        "pid int4, gss_authenticated bool, principal text, encrypted bool"
    ),
    'pg_catalog.pg_stat_progress_analyze': (
        "pid int4, datid oid, datname name, relid oid, phase text, sample_blks_total int8, "
        "sample_blks_scanned int8, ext_stats_total int8, ext_stats_computed int8, "
        "child_tables_total int8, child_tables_done int8, current_child_table_relid oid"
    ),
    'pg_catalog.pg_stat_progress_basebackup': (
        "pid int4, phase text, backup_total int8, backup_streamed int8, tablespaces_total int8, "
        "tablespaces_streamed int8"
    ),
    'pg_catalog.pg_stat_progress_cluster': (
        "pid int4, datid oid, datname name, relid oid, command text, phase text, "
        "cluster_index_relid oid, heap_tuples_scanned int8, heap_tuples_written int8, "
        "heap_blks_total int8, heap_blks_scanned int8, index_rebuild_count int8"
    ),
    'pg_catalog.pg_stat_progress_copy': (
        "pid int4, datid oid, datname name, relid oid, command text, type text, "
        "bytes_processed int8, bytes_total int8, tuples_processed int8, tuples_excluded int8"
    ),
    'pg_catalog.pg_stat_progress_create_index': (
        "pid int4, datid oid, datname name, relid oid, index_relid oid, command text, "
        "phase text, lockers_total int8, lockers_done int8, current_locker_pid int8, "
        "blocks_total int8, blocks_done int8, tuples_total int8, tuples_done int8, "
        "partitions_total int8, partitions_done int8"
    ),
    'pg_catalog.pg_stat_progress_vacuum': (
        "pid int4, datid oid, datname name, relid oid, phase text, heap_blks_total int8, "
        "heap_blks_scanned int8, heap_blks_vacuumed int8, index_vacuum_count int8, "
        "max_dead_tuples int8, num_dead_tuples int8"
    ),
    'pg_catalog.pg_stat_recovery_prefetch': (
        "stats_reset timestamptz, prefetch int8, hit int8, skip_init int8, skip_new int8, "
        "skip_fpw int8, skip_rep int8, wal_distance int4, block_distance int4, io_depth int4"
    ),
    'pg_catalog.pg_stat_replication': (
        "pid int4, usesysid oid, usename name, application_name text, client_addr inet, "
        "client_hostname text, client_port int4, backend_start timestamptz, backend_xmin xid, "
        "state text, sent_lsn pg_lsn, write_lsn pg_lsn, flush_lsn pg_lsn, replay_lsn pg_lsn, "
        "write_lag interval, flush_lag interval, replay_lag interval, sync_priority int4, "
        "sync_state text, reply_time timestamptz"
    ),
    'pg_catalog.pg_stat_replication_slots': (
        "slot_name text, spill_txns int8, spill_count int8, spill_bytes int8, stream_txns int8, "
        "stream_count int8, stream_bytes int8, total_txns int8, total_bytes int8, "
        "stats_reset timestamptz"
    ),
    'pg_catalog.pg_stat_slru': (
        "name text, blks_zeroed int8, blks_hit int8, blks_read int8, blks_written int8, "
        "blks_exists int8, flushes int8, truncates int8, stats_reset timestamptz"
    ),
    'pg_catalog.pg_stat_ssl': (
        "pid int4, ssl bool, version text, cipher text, bits int4, client_dn text, "
        "client_serial numeric, issuer_dn text"
    ),
    'pg_catalog.pg_stat_subscription': (
        "subid oid, subname name, pid int4, relid oid, received_lsn pg_lsn, "
        "last_msg_send_time timestamptz, last_msg_receipt_time timestamptz, "
        "latest_end_lsn pg_lsn, latest_end_time timestamptz"
    ),
    'pg_catalog.pg_stat_subscription_stats': (
        "subid oid, subname name, apply_error_count int8, sync_error_count int8, "
        "stats_reset timestamptz"
    ),
    'pg_catalog.pg_stat_sys_indexes': (
        "relid oid, indexrelid oid, schemaname name, relname name, indexrelname name, "
        "idx_scan int8, idx_tup_read int8, idx_tup_fetch int8"
    ),
    'pg_catalog.pg_stat_sys_tables': (
        "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, "
        "idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, "
        "n_tup_hot_upd int8, n_live_tup int8, n_dead_tup int8, n_mod_since_analyze int8, "
        "n_ins_since_vacuum int8, last_vacuum timestamptz, last_autovacuum timestamptz, "
        "last_analyze timestamptz, last_autoanalyze timestamptz, vacuum_count int8, "
        "autovacuum_count int8, analyze_count int8, autoanalyze_count int8"
    ),
    'pg_catalog.pg_stat_user_functions': (
        "funcid oid, schemaname name, funcname name, calls int8, total_time float8, "
        "self_time float8"
    ),
    'pg_catalog.pg_stat_user_indexes': (
        "relid oid, indexrelid oid, schemaname name, relname name, indexrelname name, "
        "idx_scan int8, idx_tup_read int8, idx_tup_fetch int8"
    ),
    'pg_catalog.pg_stat_user_tables': (
        "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, "
        "idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, "
        "n_tup_hot_upd int8, n_live_tup int8, n_dead_tup int8, n_mod_since_analyze int8, "
        "n_ins_since_vacuum int8, last_vacuum timestamptz, last_autovacuum timestamptz, "
        "last_analyze timestamptz, last_autoanalyze timestamptz, vacuum_count int8, "
        "autovacuum_count int8, analyze_count int8, autoanalyze_count int8"
    ),
    'pg_catalog.pg_stat_wal': (
        "wal_records int8, wal_fpi int8, wal_bytes numeric, wal_buffers_full int8, "
        "wal_write int8, wal_sync int8, wal_write_time float8, wal_sync_time float8, "
        "stats_reset timestamptz"
    ),
    'pg_catalog.pg_stat_wal_receiver': (
        "pid int4, status text, receive_start_lsn pg_lsn, receive_start_tli int4, "
        "written_lsn pg_lsn, flushed_lsn pg_lsn, received_tli int4, "
        "last_msg_send_time timestamptz, last_msg_receipt_time timestamptz, "
        "latest_end_lsn pg_lsn, latest_end_time timestamptz, slot_name text, sender_host text, "
        "sender_port int4, conninfo text"
    ),
    'pg_catalog.pg_stat_xact_all_tables': (
        "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, "
        "idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, "
        "n_tup_hot_upd int8"
    ),
    'pg_catalog.pg_stat_xact_sys_tables': (
        "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, "
        "idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, "
        "n_tup_hot_upd int8"
    ),
    'pg_catalog.pg_stat_xact_user_functions': (
        "funcid oid, schemaname name, funcname name, calls int8, total_time float8, "
        "self_time float8"
    ),
    'pg_catalog.pg_stat_xact_user_tables': (
        "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, "
        "idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, "
        "n_tup_hot_upd int8"
    ),
    'pg_catalog.pg_statio_all_indexes': (
        "relid oid, indexrelid oid, schemaname name, relname name, indexrelname name, "
        "idx_blks_read int8, idx_blks_hit int8"
    ),
    'pg_catalog.pg_statio_all_sequences': (
        "relid oid, schemaname name, relname name, blks_read int8, blks_hit int8"
    ),
    'pg_catalog.pg_statio_all_tables': (
        "relid oid, schemaname name, relname name, heap_blks_read int8, heap_blks_hit int8, "
        "idx_blks_read int8, idx_blks_hit int8, toast_blks_read int8, toast_blks_hit int8, "
        "tidx_blks_read int8, tidx_blks_hit int8"
    ),
    'pg_catalog.pg_statio_sys_indexes': (
        "relid oid, indexrelid oid, schemaname name, relname name, indexrelname name, "
        "idx_blks_read int8, idx_blks_hit int8"
    ),
    'pg_catalog.pg_statio_sys_sequences': (
        "relid oid, schemaname name, relname name, blks_read int8, blks_hit int8"
    ),
    'pg_catalog.pg_statio_sys_tables': (
        "relid oid, schemaname name, relname name, heap_blks_read int8, heap_blks_hit int8, "
        "idx_blks_read int8, idx_blks_hit int8, toast_blks_read int8, toast_blks_hit int8, "
        "tidx_blks_read int8, tidx_blks_hit int8"
    ),
    'pg_catalog.pg_statio_user_indexes': (
        "relid oid, indexrelid oid, schemaname name, relname name, indexrelname name, "
        "idx_blks_read int8, idx_blks_hit int8"
    ),
    'pg_catalog.pg_statio_user_sequences': (
        "relid oid, schemaname name, relname name, blks_read int8, blks_hit int8"
    ),
    'pg_catalog.pg_statio_user_tables': (
        "relid oid, schemaname name, relname name, heap_blks_read int8, heap_blks_hit int8, "
        "idx_blks_read int8, idx_blks_hit int8, toast_blks_read int8, toast_blks_hit int8, "
        "tidx_blks_read int8, tidx_blks_hit int8"
    ),
    'pg_catalog.pg_statistic': (
        "starelid oid, staattnum int2, stainherit bool, stanullfrac float4, stawidth int4, "
        "stadistinct float4, stakind1 int2, stakind2 int2, stakind3 int2, stakind4 int2, "
        "stakind5 int2, staop1 oid, staop2 oid, staop3 oid, staop4 oid, staop5 oid, "
        "stacoll1 oid, stacoll2 oid, stacoll3 oid, stacoll4 oid, stacoll5 oid, "
        "stanumbers1 _float4, stanumbers2 _float4, stanumbers3 _float4, stanumbers4 _float4, "
        "stanumbers5 _float4, stavalues1 anyarray, stavalues2 anyarray, stavalues3 anyarray, "
        "stavalues4 anyarray, stavalues5 anyarray"
    ),
    'pg_catalog.pg_statistic_ext': (
        "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, "
        "stxstattarget int4, stxkeys int2vector, stxkind _char, stxexprs pg_node_tree"
    ),
    'pg_catalog.pg_statistic_ext_data': (
        "stxoid oid, stxdinherit bool, stxdndistinct pg_ndistinct, "
        "stxddependencies pg_dependencies, stxdmcv pg_mcv_list, stxdexpr _pg_statistic"
    ),
    'pg_catalog.pg_stats': (
        "schemaname name, tablename name, attname name, inherited bool, null_frac float4, "
        "avg_width int4, n_distinct float4, most_common_vals anyarray, "
        "most_common_freqs _float4, histogram_bounds anyarray, correlation float4, "
        "most_common_elems anyarray, most_common_elem_freqs _float4, elem_count_histogram _float4"
    ),
    'pg_catalog.pg_stats_ext': (
        "schemaname name, tablename name, statistics_schemaname name, statistics_name name, "
        "statistics_owner name, attnames _name, exprs _text, kinds _char, inherited bool, "
        "n_distinct pg_ndistinct, dependencies pg_dependencies, most_common_vals _text, "
        "most_common_val_nulls _bool, most_common_freqs _float8, most_common_base_freqs _float8"
    ),
    'pg_catalog.pg_stats_ext_exprs': (
        "schemaname name, tablename name, statistics_schemaname name, statistics_name name, "
        "statistics_owner name, expr text, inherited bool, null_frac float4, avg_width int4, "
        "n_distinct float4, most_common_vals anyarray, most_common_freqs _float4, "
        "histogram_bounds anyarray, correlation float4, most_common_elems anyarray, "
        "most_common_elem_freqs _float4, elem_count_histogram _float4"
    ),
    'pg_catalog.pg_subscription': (
        "oid oid, subdbid oid, subskiplsn pg_lsn, subname name, subowner oid, subenabled bool, "
        "subbinary bool, substream bool, subtwophasestate char, subdisableonerr bool, "
        "subconninfo text, subslotname name, subsynccommit text, subpublications _text"
    ),
    'pg_catalog.pg_subscription_rel': (
        "srsubid oid, srrelid oid, srsubstate char, srsublsn pg_lsn"
    ),
    'pg_catalog.pg_tables': (
        "schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, "
        "hasrules bool, hastriggers bool, rowsecurity bool"
    ),
    'pg_catalog.pg_tablespace': (
        "oid oid, spcname name, spcowner oid, spcacl _aclitem, spcoptions _text"
    ),
    'pg_catalog.pg_timezone_abbrevs': (
        "abbrev text, utc_offset interval, is_dst bool"
    ),
    'pg_catalog.pg_timezone_names': (
        "name text, abbrev text, utc_offset interval, is_dst bool"
    ),
    'pg_catalog.pg_transform': (
        "oid oid, trftype oid, trflang oid, trffromsql regproc, trftosql regproc"
    ),
    'pg_catalog.pg_trigger': (
        "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, "
        "tgenabled char, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, "
        "tgconstraint oid, tgdeferrable bool, tginitdeferred bool, tgnargs int2, "
        "tgattr int2vector, tgargs bytea, tgqual pg_node_tree, tgoldtable name, tgnewtable name"
    ),
    'pg_catalog.pg_ts_config': (
        "oid oid, cfgname name, cfgnamespace oid, cfgowner oid, cfgparser oid"
    ),
    'pg_catalog.pg_ts_config_map': (
        "mapcfg oid, maptokentype int4, mapseqno int4, mapdict oid"
    ),
    'pg_catalog.pg_ts_dict': (
        "oid oid, dictname name, dictnamespace oid, dictowner oid, dicttemplate oid, "
        "dictinitoption text"
    ),
    'pg_catalog.pg_ts_parser': (
        "oid oid, prsname name, prsnamespace oid, prsstart regproc, prstoken regproc, "
        "prsend regproc, prsheadline regproc, prslextype regproc"
    ),
    'pg_catalog.pg_ts_template': (
        "oid oid, tmplname name, tmplnamespace oid, tmplinit regproc, tmpllexize regproc"
    ),
    'pg_catalog.pg_type': (
        "oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, "
        "typtype char, typcategory char, typispreferred bool, typisdefined bool, typdelim char, "
        "typrelid oid, typsubscript regproc, typelem oid, typarray oid, typinput regproc, "
        "typoutput regproc, typreceive regproc, typsend regproc, typmodin regproc, "
        "typmodout regproc, typanalyze regproc, typalign char, typstorage char, typnotnull bool, "
        "typbasetype oid, typtypmod int4, typndims int4, typcollation oid, "
        "typdefaultbin pg_node_tree, typdefault text, typacl _aclitem"
    ),
    'pg_catalog.pg_user': (
        "usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, "
        "usebypassrls bool, passwd text, valuntil timestamptz, useconfig _text"
    ),
    'pg_catalog.pg_user_mapping': (
        "oid oid, umuser oid, umserver oid, umoptions _text"
    ),
    'pg_catalog.pg_user_mappings': (
        "umid oid, srvid oid, srvname name, umuser oid, usename name, umoptions _text"
    ),
    'pg_catalog.pg_views': (
        "schemaname name, viewname name, viewowner name, definition text"
    ),
}
"""The columns of each relation (`schema.name`) in order, `name type, ...` (PostgreSQL types)."""

RELATION_OIDS: dict[str, tuple[int, str]] = {
    'information_schema._pg_foreign_data_wrappers': (13507, 'v'),
    'information_schema._pg_foreign_servers': (13519, 'v'),
    'information_schema._pg_foreign_table_columns': (13498, 'v'),
    'information_schema._pg_foreign_tables': (13532, 'v'),
    'information_schema._pg_user_mappings': (13545, 'v'),
    'information_schema.administrable_role_authorizations': (13241, 'v'),
    'information_schema.applicable_roles': (13236, 'v'),
    'information_schema.attributes': (13245, 'v'),
    'information_schema.character_sets': (13250, 'v'),
    'information_schema.check_constraint_routine_usage': (13255, 'v'),
    'information_schema.check_constraints': (13260, 'v'),
    'information_schema.collation_character_set_applicability': (13270, 'v'),
    'information_schema.collations': (13265, 'v'),
    'information_schema.column_column_usage': (13275, 'v'),
    'information_schema.column_domain_usage': (13280, 'v'),
    'information_schema.column_options': (13503, 'v'),
    'information_schema.column_privileges': (13285, 'v'),
    'information_schema.column_udt_usage': (13290, 'v'),
    'information_schema.columns': (13295, 'v'),
    'information_schema.constraint_column_usage': (13300, 'v'),
    'information_schema.constraint_table_usage': (13305, 'v'),
    'information_schema.data_type_privileges': (13488, 'v'),
    'information_schema.domain_constraints': (13310, 'v'),
    'information_schema.domain_udt_usage': (13315, 'v'),
    'information_schema.domains': (13320, 'v'),
    'information_schema.element_types': (13493, 'v'),
    'information_schema.enabled_roles': (13325, 'v'),
    'information_schema.foreign_data_wrapper_options': (13511, 'v'),
    'information_schema.foreign_data_wrappers': (13515, 'v'),
    'information_schema.foreign_server_options': (13524, 'v'),
    'information_schema.foreign_servers': (13528, 'v'),
    'information_schema.foreign_table_options': (13537, 'v'),
    'information_schema.foreign_tables': (13541, 'v'),
    'information_schema.information_schema_catalog_name': (13227, 'v'),
    'information_schema.key_column_usage': (13329, 'v'),
    'information_schema.parameters': (13334, 'v'),
    'information_schema.referential_constraints': (13339, 'v'),
    'information_schema.role_column_grants': (13344, 'v'),
    'information_schema.role_routine_grants': (13358, 'v'),
    'information_schema.role_table_grants': (13421, 'v'),
    'information_schema.role_udt_grants': (13450, 'v'),
    'information_schema.role_usage_grants': (13459, 'v'),
    'information_schema.routine_column_usage': (13348, 'v'),
    'information_schema.routine_privileges': (13353, 'v'),
    'information_schema.routine_routine_usage': (13362, 'v'),
    'information_schema.routine_sequence_usage': (13367, 'v'),
    'information_schema.routine_table_usage': (13372, 'v'),
    'information_schema.routines': (13377, 'v'),
    'information_schema.schemata': (13382, 'v'),
    'information_schema.sequences': (13386, 'v'),
    'information_schema.sql_features': (13391, 'r'),
    'information_schema.sql_implementation_info': (13396, 'r'),
    'information_schema.sql_parts': (13401, 'r'),
    'information_schema.sql_sizing': (13406, 'r'),
    'information_schema.table_constraints': (13411, 'v'),
    'information_schema.table_privileges': (13416, 'v'),
    'information_schema.tables': (13425, 'v'),
    'information_schema.transforms': (13430, 'v'),
    'information_schema.triggered_update_columns': (13435, 'v'),
    'information_schema.triggers': (13440, 'v'),
    'information_schema.udt_privileges': (13445, 'v'),
    'information_schema.usage_privileges': (13454, 'v'),
    'information_schema.user_defined_types': (13463, 'v'),
    'information_schema.user_mapping_options': (13550, 'v'),
    'information_schema.user_mappings': (13555, 'v'),
    'information_schema.view_column_usage': (13468, 'v'),
    'information_schema.view_routine_usage': (13473, 'v'),
    'information_schema.view_table_usage': (13478, 'v'),
    'information_schema.views': (13483, 'v'),
    'pg_catalog.pg_aggregate': (2600, 'r'),
    'pg_catalog.pg_am': (2601, 'r'),
    'pg_catalog.pg_amop': (2602, 'r'),
    'pg_catalog.pg_amproc': (2603, 'r'),
    'pg_catalog.pg_attrdef': (2604, 'r'),
    'pg_catalog.pg_attribute': (1249, 'r'),
    'pg_catalog.pg_auth_members': (1261, 'r'),
    'pg_catalog.pg_authid': (1260, 'r'),
    'pg_catalog.pg_available_extension_versions': (12085, 'v'),
    'pg_catalog.pg_available_extensions': (12081, 'v'),
    'pg_catalog.pg_backend_memory_contexts': (12138, 'v'),
    'pg_catalog.pg_cast': (2605, 'r'),
    'pg_catalog.pg_class': (1259, 'r'),
    'pg_catalog.pg_collation': (3456, 'r'),
    'pg_catalog.pg_config': (12130, 'v'),
    'pg_catalog.pg_constraint': (2606, 'r'),
    'pg_catalog.pg_conversion': (2607, 'r'),
    'pg_catalog.pg_cursors': (12077, 'v'),
    'pg_catalog.pg_database': (1262, 'r'),
    'pg_catalog.pg_db_role_setting': (2964, 'r'),
    'pg_catalog.pg_default_acl': (826, 'r'),
    'pg_catalog.pg_depend': (2608, 'r'),
    'pg_catalog.pg_description': (2609, 'r'),
    'pg_catalog.pg_enum': (3501, 'r'),
    'pg_catalog.pg_event_trigger': (3466, 'r'),
    'pg_catalog.pg_extension': (3079, 'r'),
    'pg_catalog.pg_file_settings': (12110, 'v'),
    'pg_catalog.pg_foreign_data_wrapper': (2328, 'r'),
    'pg_catalog.pg_foreign_server': (1417, 'r'),
    'pg_catalog.pg_foreign_table': (3118, 'r'),
    'pg_catalog.pg_group': (12010, 'v'),
    'pg_catalog.pg_hba_file_rules': (12114, 'v'),
    'pg_catalog.pg_ident_file_mappings': (12118, 'v'),
    'pg_catalog.pg_index': (2610, 'r'),
    'pg_catalog.pg_indexes': (12043, 'v'),
    'pg_catalog.pg_inherits': (2611, 'r'),
    'pg_catalog.pg_init_privs': (3394, 'r'),
    'pg_catalog.pg_language': (2612, 'r'),
    'pg_catalog.pg_largeobject': (2613, 'r'),
    'pg_catalog.pg_largeobject_metadata': (2995, 'r'),
    'pg_catalog.pg_locks': (12073, 'v'),
    'pg_catalog.pg_matviews': (12038, 'v'),
    'pg_catalog.pg_namespace': (2615, 'r'),
    'pg_catalog.pg_opclass': (2616, 'r'),
    'pg_catalog.pg_operator': (2617, 'r'),
    'pg_catalog.pg_opfamily': (2753, 'r'),
    'pg_catalog.pg_parameter_acl': (6243, 'r'),
    'pg_catalog.pg_partitioned_table': (3350, 'r'),
    'pg_catalog.pg_policies': (12018, 'v'),
    'pg_catalog.pg_policy': (3256, 'r'),
    'pg_catalog.pg_prepared_statements': (12095, 'v'),
    'pg_catalog.pg_prepared_xacts': (12090, 'v'),
    'pg_catalog.pg_proc': (1255, 'r'),
    'pg_catalog.pg_publication': (6104, 'r'),
    'pg_catalog.pg_publication_namespace': (6237, 'r'),
    'pg_catalog.pg_publication_rel': (6106, 'r'),
    'pg_catalog.pg_publication_tables': (12068, 'v'),
    'pg_catalog.pg_range': (3541, 'r'),
    'pg_catalog.pg_replication_origin': (6000, 'r'),
    'pg_catalog.pg_replication_origin_status': (12332, 'v'),
    'pg_catalog.pg_replication_slots': (12257, 'v'),
    'pg_catalog.pg_rewrite': (2618, 'r'),
    'pg_catalog.pg_roles': (12000, 'v'),
    'pg_catalog.pg_rules': (12023, 'v'),
    'pg_catalog.pg_seclabel': (3596, 'r'),
    'pg_catalog.pg_seclabels': (12099, 'v'),
    'pg_catalog.pg_sequence': (2224, 'r'),
    'pg_catalog.pg_sequences': (12048, 'v'),
    'pg_catalog.pg_settings': (12104, 'v'),
    'pg_catalog.pg_shadow': (12005, 'v'),
    'pg_catalog.pg_shdepend': (1214, 'r'),
    'pg_catalog.pg_shdescription': (2396, 'r'),
    'pg_catalog.pg_shmem_allocations': (12134, 'v'),
    'pg_catalog.pg_shseclabel': (3592, 'r'),
    'pg_catalog.pg_stat_activity': (12222, 'v'),
    'pg_catalog.pg_stat_all_indexes': (12183, 'v'),
    'pg_catalog.pg_stat_all_tables': (12142, 'v'),
    'pg_catalog.pg_stat_archiver': (12285, 'v'),
    'pg_catalog.pg_stat_bgwriter': (12289, 'v'),
    'pg_catalog.pg_stat_database': (12266, 'v'),
    'pg_catalog.pg_stat_database_conflicts': (12271, 'v'),
    'pg_catalog.pg_stat_gssapi': (12253, 'v'),
    'pg_catalog.pg_stat_progress_analyze': (12297, 'v'),
    'pg_catalog.pg_stat_progress_basebackup': (12317, 'v'),
    'pg_catalog.pg_stat_progress_cluster': (12307, 'v'),
    'pg_catalog.pg_stat_progress_copy': (12322, 'v'),
    'pg_catalog.pg_stat_progress_create_index': (12312, 'v'),
    'pg_catalog.pg_stat_progress_vacuum': (12302, 'v'),
    'pg_catalog.pg_stat_recovery_prefetch': (12240, 'v'),
    'pg_catalog.pg_stat_replication': (12227, 'v'),
    'pg_catalog.pg_stat_replication_slots': (12262, 'v'),
    'pg_catalog.pg_stat_slru': (12232, 'v'),
    'pg_catalog.pg_stat_ssl': (12249, 'v'),
    'pg_catalog.pg_stat_subscription': (12244, 'v'),
    'pg_catalog.pg_stat_subscription_stats': (12336, 'v'),
    'pg_catalog.pg_stat_sys_indexes': (12188, 'v'),
    'pg_catalog.pg_stat_sys_tables': (12152, 'v'),
    'pg_catalog.pg_stat_user_functions': (12275, 'v'),
    'pg_catalog.pg_stat_user_indexes': (12192, 'v'),
    'pg_catalog.pg_stat_user_tables': (12161, 'v'),
    'pg_catalog.pg_stat_wal': (12293, 'v'),
    'pg_catalog.pg_stat_wal_receiver': (12236, 'v'),
    'pg_catalog.pg_stat_xact_all_tables': (12147, 'v'),
    'pg_catalog.pg_stat_xact_sys_tables': (12157, 'v'),
    'pg_catalog.pg_stat_xact_user_functions': (12280, 'v'),
    'pg_catalog.pg_stat_xact_user_tables': (12166, 'v'),
    'pg_catalog.pg_statio_all_indexes': (12196, 'v'),
    'pg_catalog.pg_statio_all_sequences': (12209, 'v'),
    'pg_catalog.pg_statio_all_tables': (12170, 'v'),
    'pg_catalog.pg_statio_sys_indexes': (12201, 'v'),
    'pg_catalog.pg_statio_sys_sequences': (12214, 'v'),
    'pg_catalog.pg_statio_sys_tables': (12175, 'v'),
    'pg_catalog.pg_statio_user_indexes': (12205, 'v'),
    'pg_catalog.pg_statio_user_sequences': (12218, 'v'),
    'pg_catalog.pg_statio_user_tables': (12179, 'v'),
    'pg_catalog.pg_statistic': (2619, 'r'),
    'pg_catalog.pg_statistic_ext': (3381, 'r'),
    'pg_catalog.pg_statistic_ext_data': (3429, 'r'),
    'pg_catalog.pg_stats': (12053, 'v'),
    'pg_catalog.pg_stats_ext': (12058, 'v'),
    'pg_catalog.pg_stats_ext_exprs': (12063, 'v'),
    'pg_catalog.pg_subscription': (6100, 'r'),
    'pg_catalog.pg_subscription_rel': (6102, 'r'),
    'pg_catalog.pg_tables': (12033, 'v'),
    'pg_catalog.pg_tablespace': (1213, 'r'),
    'pg_catalog.pg_timezone_abbrevs': (12122, 'v'),
    'pg_catalog.pg_timezone_names': (12126, 'v'),
    'pg_catalog.pg_transform': (3576, 'r'),
    'pg_catalog.pg_trigger': (2620, 'r'),
    'pg_catalog.pg_ts_config': (3602, 'r'),
    'pg_catalog.pg_ts_config_map': (3603, 'r'),
    'pg_catalog.pg_ts_dict': (3600, 'r'),
    'pg_catalog.pg_ts_parser': (3601, 'r'),
    'pg_catalog.pg_ts_template': (3764, 'r'),
    'pg_catalog.pg_type': (1247, 'r'),
    'pg_catalog.pg_user': (12014, 'v'),
    'pg_catalog.pg_user_mapping': (1418, 'r'),
    'pg_catalog.pg_user_mappings': (12327, 'v'),
    'pg_catalog.pg_views': (12028, 'v'),
}
"""The oid and relkind (`r` table, `v` view) of each relation."""

TYPES: tuple[tuple[object, ...], ...] = (
    (16, 'bool', 11, 10, 1, True, 'b', 'B', True, True, ',', 0, '-', 0, 1000, 'boolin', 'boolout', 'boolrecv', 'boolsend', '-', '-', '-', 'c', 'p', False, 0, -1, 0, 0, None, None, None,),
    (17, 'bytea', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 1001, 'byteain', 'byteaout', 'bytearecv', 'byteasend', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (18, 'char', 11, 10, 1, True, 'b', 'Z', False, True, ',', 0, '-', 0, 1002, 'charin', 'charout', 'charrecv', 'charsend', '-', '-', '-', 'c', 'p', False, 0, -1, 0, 0, None, None, None,),
    (19, 'name', 11, 10, 64, False, 'b', 'S', False, True, ',', 0, 'raw_array_subscript_handler', 18, 1003, 'namein', 'nameout', 'namerecv', 'namesend', '-', '-', '-', 'c', 'p', False, 0, -1, 0, 950, None, None, None,),
    (20, 'int8', 11, 10, 8, True, 'b', 'N', False, True, ',', 0, '-', 0, 1016, 'int8in', 'int8out', 'int8recv', 'int8send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (21, 'int2', 11, 10, 2, True, 'b', 'N', False, True, ',', 0, '-', 0, 1005, 'int2in', 'int2out', 'int2recv', 'int2send', '-', '-', '-', 's', 'p', False, 0, -1, 0, 0, None, None, None,),
    (22, 'int2vector', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 21, 1006, 'int2vectorin', 'int2vectorout', 'int2vectorrecv', 'int2vectorsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (23, 'int4', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 1007, 'int4in', 'int4out', 'int4recv', 'int4send', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (24, 'regproc', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 1008, 'regprocin', 'regprocout', 'regprocrecv', 'regprocsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (25, 'text', 11, 10, -1, False, 'b', 'S', True, True, ',', 0, '-', 0, 1009, 'textin', 'textout', 'textrecv', 'textsend', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (26, 'oid', 11, 10, 4, True, 'b', 'N', True, True, ',', 0, '-', 0, 1028, 'oidin', 'oidout', 'oidrecv', 'oidsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (27, 'tid', 11, 10, 6, False, 'b', 'U', False, True, ',', 0, '-', 0, 1010, 'tidin', 'tidout', 'tidrecv', 'tidsend', '-', '-', '-', 's', 'p', False, 0, -1, 0, 0, None, None, None,),
    (28, 'xid', 11, 10, 4, True, 'b', 'U', False, True, ',', 0, '-', 0, 1011, 'xidin', 'xidout', 'xidrecv', 'xidsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (29, 'cid', 11, 10, 4, True, 'b', 'U', False, True, ',', 0, '-', 0, 1012, 'cidin', 'cidout', 'cidrecv', 'cidsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (30, 'oidvector', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 26, 1013, 'oidvectorin', 'oidvectorout', 'oidvectorrecv', 'oidvectorsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (32, 'pg_ddl_command', 11, 10, 8, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'pg_ddl_command_in', 'pg_ddl_command_out', 'pg_ddl_command_recv', 'pg_ddl_command_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (114, 'json', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 199, 'json_in', 'json_out', 'json_recv', 'json_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (142, 'xml', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 143, 'xml_in', 'xml_out', 'xml_recv', 'xml_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (143, '_xml', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 142, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (194, 'pg_node_tree', 11, 10, -1, False, 'b', 'Z', False, True, ',', 0, '-', 0, 0, 'pg_node_tree_in', 'pg_node_tree_out', 'pg_node_tree_recv', 'pg_node_tree_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (199, '_json', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 114, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (269, 'table_am_handler', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'table_am_handler_in', 'table_am_handler_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (271, '_xid8', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 5069, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (325, 'index_am_handler', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'index_am_handler_in', 'index_am_handler_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (600, 'point', 11, 10, 16, False, 'b', 'G', False, True, ',', 0, 'raw_array_subscript_handler', 701, 1017, 'point_in', 'point_out', 'point_recv', 'point_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (601, 'lseg', 11, 10, 32, False, 'b', 'G', False, True, ',', 0, 'raw_array_subscript_handler', 600, 1018, 'lseg_in', 'lseg_out', 'lseg_recv', 'lseg_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (602, 'path', 11, 10, -1, False, 'b', 'G', False, True, ',', 0, '-', 0, 1019, 'path_in', 'path_out', 'path_recv', 'path_send', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (603, 'box', 11, 10, 32, False, 'b', 'G', False, True, ';', 0, 'raw_array_subscript_handler', 600, 1020, 'box_in', 'box_out', 'box_recv', 'box_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (604, 'polygon', 11, 10, -1, False, 'b', 'G', False, True, ',', 0, '-', 0, 1027, 'poly_in', 'poly_out', 'poly_recv', 'poly_send', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (628, 'line', 11, 10, 24, False, 'b', 'G', False, True, ',', 0, 'raw_array_subscript_handler', 701, 629, 'line_in', 'line_out', 'line_recv', 'line_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (629, '_line', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 628, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (650, 'cidr', 11, 10, -1, False, 'b', 'I', False, True, ',', 0, '-', 0, 651, 'cidr_in', 'cidr_out', 'cidr_recv', 'cidr_send', '-', '-', '-', 'i', 'm', False, 0, -1, 0, 0, None, None, None,),
    (651, '_cidr', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 650, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (700, 'float4', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 1021, 'float4in', 'float4out', 'float4recv', 'float4send', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (701, 'float8', 11, 10, 8, True, 'b', 'N', True, True, ',', 0, '-', 0, 1022, 'float8in', 'float8out', 'float8recv', 'float8send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (705, 'unknown', 11, 10, -2, False, 'p', 'X', False, True, ',', 0, '-', 0, 0, 'unknownin', 'unknownout', 'unknownrecv', 'unknownsend', '-', '-', '-', 'c', 'p', False, 0, -1, 0, 0, None, None, None,),
    (718, 'circle', 11, 10, 24, False, 'b', 'G', False, True, ',', 0, '-', 0, 719, 'circle_in', 'circle_out', 'circle_recv', 'circle_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (719, '_circle', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 718, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (774, 'macaddr8', 11, 10, 8, False, 'b', 'U', False, True, ',', 0, '-', 0, 775, 'macaddr8_in', 'macaddr8_out', 'macaddr8_recv', 'macaddr8_send', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (775, '_macaddr8', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 774, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (790, 'money', 11, 10, 8, True, 'b', 'N', False, True, ',', 0, '-', 0, 791, 'cash_in', 'cash_out', 'cash_recv', 'cash_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (791, '_money', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 790, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (829, 'macaddr', 11, 10, 6, False, 'b', 'U', False, True, ',', 0, '-', 0, 1040, 'macaddr_in', 'macaddr_out', 'macaddr_recv', 'macaddr_send', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (869, 'inet', 11, 10, -1, False, 'b', 'I', True, True, ',', 0, '-', 0, 1041, 'inet_in', 'inet_out', 'inet_recv', 'inet_send', '-', '-', '-', 'i', 'm', False, 0, -1, 0, 0, None, None, None,),
    (1000, '_bool', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 16, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1001, '_bytea', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 17, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1002, '_char', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 18, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1003, '_name', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 19, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 950, None, None, None,),
    (1005, '_int2', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 21, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1006, '_int2vector', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 22, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1007, '_int4', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 23, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1008, '_regproc', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 24, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1009, '_text', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 25, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (1010, '_tid', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 27, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1011, '_xid', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 28, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1012, '_cid', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 29, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1013, '_oidvector', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 30, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1014, '_bpchar', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1042, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'bpchartypmodin', 'bpchartypmodout', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (1015, '_varchar', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1043, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'varchartypmodin', 'varchartypmodout', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (1016, '_int8', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 20, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1017, '_point', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 600, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1018, '_lseg', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 601, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1019, '_path', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 602, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1020, '_box', 11, 10, -1, False, 'b', 'A', False, True, ';', 0, 'array_subscript_handler', 603, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1021, '_float4', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 700, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1022, '_float8', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 701, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1027, '_polygon', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 604, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1028, '_oid', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 26, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1033, 'aclitem', 11, 10, 12, False, 'b', 'U', False, True, ',', 0, '-', 0, 1034, 'aclitemin', 'aclitemout', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (1034, '_aclitem', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1033, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1040, '_macaddr', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 829, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1041, '_inet', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 869, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1042, 'bpchar', 11, 10, -1, False, 'b', 'S', False, True, ',', 0, '-', 0, 1014, 'bpcharin', 'bpcharout', 'bpcharrecv', 'bpcharsend', 'bpchartypmodin', 'bpchartypmodout', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (1043, 'varchar', 11, 10, -1, False, 'b', 'S', False, True, ',', 0, '-', 0, 1015, 'varcharin', 'varcharout', 'varcharrecv', 'varcharsend', 'varchartypmodin', 'varchartypmodout', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (1082, 'date', 11, 10, 4, True, 'b', 'D', False, True, ',', 0, '-', 0, 1182, 'date_in', 'date_out', 'date_recv', 'date_send', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (1083, 'time', 11, 10, 8, True, 'b', 'D', False, True, ',', 0, '-', 0, 1183, 'time_in', 'time_out', 'time_recv', 'time_send', 'timetypmodin', 'timetypmodout', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (1114, 'timestamp', 11, 10, 8, True, 'b', 'D', False, True, ',', 0, '-', 0, 1115, 'timestamp_in', 'timestamp_out', 'timestamp_recv', 'timestamp_send', 'timestamptypmodin', 'timestamptypmodout', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (1115, '_timestamp', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1114, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'timestamptypmodin', 'timestamptypmodout', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1182, '_date', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1082, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1183, '_time', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1083, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'timetypmodin', 'timetypmodout', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1184, 'timestamptz', 11, 10, 8, True, 'b', 'D', True, True, ',', 0, '-', 0, 1185, 'timestamptz_in', 'timestamptz_out', 'timestamptz_recv', 'timestamptz_send', 'timestamptztypmodin', 'timestamptztypmodout', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (1185, '_timestamptz', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1184, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'timestamptztypmodin', 'timestamptztypmodout', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1186, 'interval', 11, 10, 16, False, 'b', 'T', True, True, ',', 0, '-', 0, 1187, 'interval_in', 'interval_out', 'interval_recv', 'interval_send', 'intervaltypmodin', 'intervaltypmodout', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (1187, '_interval', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1186, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'intervaltypmodin', 'intervaltypmodout', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1231, '_numeric', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1700, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'numerictypmodin', 'numerictypmodout', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1263, '_cstring', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2275, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1266, 'timetz', 11, 10, 12, False, 'b', 'D', False, True, ',', 0, '-', 0, 1270, 'timetz_in', 'timetz_out', 'timetz_recv', 'timetz_send', 'timetztypmodin', 'timetztypmodout', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (1270, '_timetz', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1266, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'timetztypmodin', 'timetztypmodout', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1560, 'bit', 11, 10, -1, False, 'b', 'V', False, True, ',', 0, '-', 0, 1561, 'bit_in', 'bit_out', 'bit_recv', 'bit_send', 'bittypmodin', 'bittypmodout', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1561, '_bit', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1560, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'bittypmodin', 'bittypmodout', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1562, 'varbit', 11, 10, -1, False, 'b', 'V', True, True, ',', 0, '-', 0, 1563, 'varbit_in', 'varbit_out', 'varbit_recv', 'varbit_send', 'varbittypmodin', 'varbittypmodout', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1563, '_varbit', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1562, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 'varbittypmodin', 'varbittypmodout', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (1700, 'numeric', 11, 10, -1, False, 'b', 'N', False, True, ',', 0, '-', 0, 1231, 'numeric_in', 'numeric_out', 'numeric_recv', 'numeric_send', 'numerictypmodin', 'numerictypmodout', '-', 'i', 'm', False, 0, -1, 0, 0, None, None, None,),
    (1790, 'refcursor', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 2201, 'textin', 'textout', 'textrecv', 'textsend', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2201, '_refcursor', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 1790, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2202, 'regprocedure', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 2207, 'regprocedurein', 'regprocedureout', 'regprocedurerecv', 'regproceduresend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2203, 'regoper', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 2208, 'regoperin', 'regoperout', 'regoperrecv', 'regopersend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2204, 'regoperator', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 2209, 'regoperatorin', 'regoperatorout', 'regoperatorrecv', 'regoperatorsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2205, 'regclass', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 2210, 'regclassin', 'regclassout', 'regclassrecv', 'regclasssend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2206, 'regtype', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 2211, 'regtypein', 'regtypeout', 'regtyperecv', 'regtypesend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2207, '_regprocedure', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2202, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2208, '_regoper', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2203, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2209, '_regoperator', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2204, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2210, '_regclass', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2205, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2211, '_regtype', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2206, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2249, 'record', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, '-', 0, 2287, 'record_in', 'record_out', 'record_recv', 'record_send', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2275, 'cstring', 11, 10, -2, False, 'p', 'P', False, True, ',', 0, '-', 0, 1263, 'cstring_in', 'cstring_out', 'cstring_recv', 'cstring_send', '-', '-', '-', 'c', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2276, 'any', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'any_in', 'any_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2277, 'anyarray', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anyarray_in', 'anyarray_out', 'anyarray_recv', 'anyarray_send', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2278, 'void', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'void_in', 'void_out', 'void_recv', 'void_send', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2279, 'trigger', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'trigger_in', 'trigger_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2280, 'language_handler', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'language_handler_in', 'language_handler_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2281, 'internal', 11, 10, 8, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'internal_in', 'internal_out', '-', '-', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2283, 'anyelement', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anyelement_in', 'anyelement_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2287, '_record', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, 'array_subscript_handler', 2249, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2776, 'anynonarray', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anynonarray_in', 'anynonarray_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2949, '_txid_snapshot', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2970, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2950, 'uuid', 11, 10, 16, False, 'b', 'U', False, True, ',', 0, '-', 0, 2951, 'uuid_in', 'uuid_out', 'uuid_recv', 'uuid_send', '-', '-', '-', 'c', 'p', False, 0, -1, 0, 0, None, None, None,),
    (2951, '_uuid', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 2950, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (2970, 'txid_snapshot', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 2949, 'txid_snapshot_in', 'txid_snapshot_out', 'txid_snapshot_recv', 'txid_snapshot_send', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3115, 'fdw_handler', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'fdw_handler_in', 'fdw_handler_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3220, 'pg_lsn', 11, 10, 8, True, 'b', 'U', False, True, ',', 0, '-', 0, 3221, 'pg_lsn_in', 'pg_lsn_out', 'pg_lsn_recv', 'pg_lsn_send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3221, '_pg_lsn', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 3220, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3310, 'tsm_handler', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'tsm_handler_in', 'tsm_handler_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3361, 'pg_ndistinct', 11, 10, -1, False, 'b', 'Z', False, True, ',', 0, '-', 0, 0, 'pg_ndistinct_in', 'pg_ndistinct_out', 'pg_ndistinct_recv', 'pg_ndistinct_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (3402, 'pg_dependencies', 11, 10, -1, False, 'b', 'Z', False, True, ',', 0, '-', 0, 0, 'pg_dependencies_in', 'pg_dependencies_out', 'pg_dependencies_recv', 'pg_dependencies_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (3500, 'anyenum', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anyenum_in', 'anyenum_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3614, 'tsvector', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 3643, 'tsvectorin', 'tsvectorout', 'tsvectorrecv', 'tsvectorsend', '-', '-', 'ts_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3615, 'tsquery', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 3645, 'tsqueryin', 'tsqueryout', 'tsqueryrecv', 'tsquerysend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3642, 'gtsvector', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 3644, 'gtsvectorin', 'gtsvectorout', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3643, '_tsvector', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 3614, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3644, '_gtsvector', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 3642, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3645, '_tsquery', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 3615, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3734, 'regconfig', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 3735, 'regconfigin', 'regconfigout', 'regconfigrecv', 'regconfigsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3735, '_regconfig', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 3734, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3769, 'regdictionary', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 3770, 'regdictionaryin', 'regdictionaryout', 'regdictionaryrecv', 'regdictionarysend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (3770, '_regdictionary', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 3769, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3802, 'jsonb', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, 'jsonb_subscript_handler', 0, 3807, 'jsonb_in', 'jsonb_out', 'jsonb_recv', 'jsonb_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3807, '_jsonb', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 3802, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3831, 'anyrange', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anyrange_in', 'anyrange_out', '-', '-', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (3838, 'event_trigger', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'event_trigger_in', 'event_trigger_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (4072, 'jsonpath', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 4073, 'jsonpath_in', 'jsonpath_out', 'jsonpath_recv', 'jsonpath_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (4073, '_jsonpath', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 4072, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (4089, 'regnamespace', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 4090, 'regnamespacein', 'regnamespaceout', 'regnamespacerecv', 'regnamespacesend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (4090, '_regnamespace', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 4089, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (4096, 'regrole', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 4097, 'regrolein', 'regroleout', 'regrolerecv', 'regrolesend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (4097, '_regrole', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 4096, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (4191, 'regcollation', 11, 10, 4, True, 'b', 'N', False, True, ',', 0, '-', 0, 4192, 'regcollationin', 'regcollationout', 'regcollationrecv', 'regcollationsend', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (4192, '_regcollation', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 4191, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'i', 'x', False, 0, -1, 0, 0, None, None, None,),
    (4537, 'anymultirange', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anymultirange_in', 'anymultirange_out', '-', '-', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (4538, 'anycompatiblemultirange', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anycompatiblemultirange_in', 'anycompatiblemultirange_out', '-', '-', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (4600, 'pg_brin_bloom_summary', 11, 10, -1, False, 'b', 'Z', False, True, ',', 0, '-', 0, 0, 'brin_bloom_summary_in', 'brin_bloom_summary_out', 'brin_bloom_summary_recv', 'brin_bloom_summary_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (4601, 'pg_brin_minmax_multi_summary', 11, 10, -1, False, 'b', 'Z', False, True, ',', 0, '-', 0, 0, 'brin_minmax_multi_summary_in', 'brin_minmax_multi_summary_out', 'brin_minmax_multi_summary_recv', 'brin_minmax_multi_summary_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (5017, 'pg_mcv_list', 11, 10, -1, False, 'b', 'Z', False, True, ',', 0, '-', 0, 0, 'pg_mcv_list_in', 'pg_mcv_list_out', 'pg_mcv_list_recv', 'pg_mcv_list_send', '-', '-', '-', 'i', 'x', False, 0, -1, 0, 100, None, None, None,),
    (5038, 'pg_snapshot', 11, 10, -1, False, 'b', 'U', False, True, ',', 0, '-', 0, 5039, 'pg_snapshot_in', 'pg_snapshot_out', 'pg_snapshot_recv', 'pg_snapshot_send', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (5039, '_pg_snapshot', 11, 10, -1, False, 'b', 'A', False, True, ',', 0, 'array_subscript_handler', 5038, 0, 'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', 'array_typanalyze', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (5069, 'xid8', 11, 10, 8, True, 'b', 'U', False, True, ',', 0, '-', 0, 271, 'xid8in', 'xid8out', 'xid8recv', 'xid8send', '-', '-', '-', 'd', 'p', False, 0, -1, 0, 0, None, None, None,),
    (5077, 'anycompatible', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anycompatible_in', 'anycompatible_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (5078, 'anycompatiblearray', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anycompatiblearray_in', 'anycompatiblearray_out', 'anycompatiblearray_recv', 'anycompatiblearray_send', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
    (5079, 'anycompatiblenonarray', 11, 10, 4, True, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anycompatiblenonarray_in', 'anycompatiblenonarray_out', '-', '-', '-', '-', '-', 'i', 'p', False, 0, -1, 0, 0, None, None, None,),
    (5080, 'anycompatiblerange', 11, 10, -1, False, 'p', 'P', False, True, ',', 0, '-', 0, 0, 'anycompatiblerange_in', 'anycompatiblerange_out', '-', '-', '-', '-', '-', 'd', 'x', False, 0, -1, 0, 0, None, None, None,),
)
"""Rows of pg_catalog.pg_type: the built-in base and pseudo types."""

ACCESS_METHODS: tuple[tuple[object, ...], ...] = (
    (2, 'heap', 'heap_tableam_handler', 't',),
    (403, 'btree', 'bthandler', 'i',),
    (405, 'hash', 'hashhandler', 'i',),
    (783, 'gist', 'gisthandler', 'i',),
    (2742, 'gin', 'ginhandler', 'i',),
    (3580, 'brin', 'brinhandler', 'i',),
    (4000, 'spgist', 'spghandler', 'i',),
)
"""Rows of pg_catalog.pg_am."""

COLLATIONS: tuple[tuple[object, ...], ...] = (
    (100, 'default', 11, 10, 'd', True, -1, None, None, None, None,),
    (950, 'C', 11, 10, 'c', True, -1, 'C', 'C', None, None,),
    (951, 'POSIX', 11, 10, 'c', True, -1, 'POSIX', 'POSIX', None, None,),
)
"""Rows of pg_catalog.pg_collation: default, C and POSIX."""

TABLESPACES: tuple[tuple[object, ...], ...] = (
    (1663, 'pg_default', 10, None, None,),
    (1664, 'pg_global', 10, None, None,),
)
"""Rows of pg_catalog.pg_tablespace."""

LANGUAGES: tuple[tuple[object, ...], ...] = (
    (12, 'internal', 10, False, False, 0, 0, 2246, None,),
    (13, 'c', 10, False, False, 0, 0, 2247, None,),
    (14, 'sql', 10, False, True, 0, 0, 2248, None,),
    (13563, 'plpgsql', 10, True, True, 13560, 13561, 13562, None,),
)
"""Rows of pg_catalog.pg_language."""

DESCRIPTIONS: tuple[tuple[object, ...], ...] = (
    (2, 2601, 0, 'heap table access method',),
    (11, 2615, 0, 'system catalog schema',),
    (12, 2612, 0, 'built-in functions',),
    (13, 2612, 0, 'dynamically-loaded C functions',),
    (14, 2612, 0, 'SQL-language functions',),
    (16, 1247, 0, "boolean, 'true'/'false'",),
    (17, 1247, 0, 'variable-length string, binary values escaped',),
    (18, 1247, 0, 'single character',),
    (19, 1247, 0, '63-byte type for storing system identifiers',),
    (20, 1247, 0, '~18 digit integer, 8-byte storage',),
    (21, 1247, 0, '-32 thousand to 32 thousand, 2-byte storage',),
    (22, 1247, 0, 'array of int2, used in system tables',),
    (23, 1247, 0, '-2 billion to 2 billion integer, 4-byte storage',),
    (24, 1247, 0, 'registered procedure',),
    (25, 1247, 0, 'variable-length string, no limit specified',),
    (26, 1247, 0, 'object identifier(oid), maximum 4 billion',),
    (27, 1247, 0, '(block, offset), physical location of tuple',),
    (28, 1247, 0, 'transaction id',),
    (29, 1247, 0, 'command identifier type, sequence in transaction id',),
    (30, 1247, 0, 'array of oids, used in system tables',),
    (32, 1247, 0, 'internal type for passing CollectedCommand',),
    (99, 2615, 0, 'reserved schema for TOAST tables',),
    (114, 1247, 0, 'JSON stored as text',),
    (142, 1247, 0, 'XML content',),
    (194, 1247, 0, 'string representing an internal node tree',),
    (325, 1247, 0, 'pseudo-type for the result of an index AM handler function',),
    (403, 2601, 0, 'b-tree index access method',),
    (405, 2601, 0, 'hash index access method',),
    (600, 1247, 0, "geometric point '(x, y)'",),
    (601, 1247, 0, "geometric line segment '(pt1,pt2)'",),
    (602, 1247, 0, "geometric path '(pt1,...)'",),
    (603, 1247, 0, "geometric box '(lower left,upper right)'",),
    (604, 1247, 0, "geometric polygon '(pt1,...)'",),
    (628, 1247, 0, 'geometric line',),
    (650, 1247, 0, 'network IP address/netmask, network address',),
    (700, 1247, 0, 'single-precision floating point number, 4-byte storage',),
    (701, 1247, 0, 'double-precision floating point number, 8-byte storage',),
    (705, 1247, 0, 'pseudo-type representing an undetermined type',),
    (718, 1247, 0, "geometric circle '(center,radius)'",),
    (774, 1247, 0, 'XX:XX:XX:XX:XX:XX:XX:XX, MAC address',),
    (783, 2601, 0, 'GiST index access method',),
    (790, 1247, 0, 'monetary amounts, $d,ddd.cc',),
    (829, 1247, 0, 'XX:XX:XX:XX:XX:XX, MAC address',),
    (869, 1247, 0, 'IP address/netmask, host address, netmask optional',),
    (1033, 1247, 0, 'access control list',),
    (1042, 1247, 0, 'char(length), blank-padded string, fixed storage length',),
    (1043, 1247, 0, 'varchar(length), non-blank-padded string, variable storage length',),
    (1082, 1247, 0, 'date',),
    (1083, 1247, 0, 'time of day',),
    (1114, 1247, 0, 'date and time',),
    (1184, 1247, 0, 'date and time with time zone',),
    (1186, 1247, 0, '@ <number> <units>, time interval',),
    (1266, 1247, 0, 'time of day with time zone',),
    (1560, 1247, 0, 'fixed-length bit string',),
    (1562, 1247, 0, 'variable-length bit string',),
    (1700, 1247, 0, 'numeric(precision, decimal), arbitrary precision number',),
    (1790, 1247, 0, 'reference to cursor (portal name)',),
    (2202, 1247, 0, 'registered procedure (with args)',),
    (2203, 1247, 0, 'registered operator',),
    (2204, 1247, 0, 'registered operator (with args)',),
    (2205, 1247, 0, 'registered class',),
    (2206, 1247, 0, 'registered type',),
    (2249, 1247, 0, 'pseudo-type representing any composite type',),
    (2275, 1247, 0, 'C-style string',),
    (2276, 1247, 0, 'pseudo-type representing any type',),
    (2277, 1247, 0, 'pseudo-type representing a polymorphic array type',),
    (2278, 1247, 0, 'pseudo-type for the result of a function with no real result',),
    (2279, 1247, 0, 'pseudo-type for the result of a trigger function',),
    (2280, 1247, 0, 'pseudo-type for the result of a language handler function',),
    (2281, 1247, 0, 'pseudo-type representing an internal data structure',),
    (2283, 1247, 0, 'pseudo-type representing a polymorphic base type',),
    (2742, 2601, 0, 'GIN index access method',),
    (2776, 1247, 0, 'pseudo-type representing a polymorphic base type that is not an array',),
    (2950, 1247, 0, 'UUID datatype',),
    (2970, 1247, 0, 'txid snapshot',),
    (3115, 1247, 0, 'pseudo-type for the result of an FDW handler function',),
    (3220, 1247, 0, 'PostgreSQL LSN datatype',),
    (3310, 1247, 0, 'pseudo-type for the result of a tablesample method function',),
    (3361, 1247, 0, 'multivariate ndistinct coefficients',),
    (3402, 1247, 0, 'multivariate dependencies',),
    (3500, 1247, 0, 'pseudo-type representing a polymorphic base type that is an enum',),
    (3580, 2601, 0, 'block range index (BRIN) access method',),
    (3614, 1247, 0, 'text representation for text search',),
    (3615, 1247, 0, 'query representation for text search',),
    (3642, 1247, 0, 'GiST index internal text representation for text search',),
    (3734, 1247, 0, 'registered text search configuration',),
    (3769, 1247, 0, 'registered text search dictionary',),
    (3802, 1247, 0, 'Binary JSON',),
    (3831, 1247, 0, 'pseudo-type representing a range over a polymorphic base type',),
    (3838, 1247, 0, 'pseudo-type for the result of an event trigger function',),
    (4000, 2601, 0, 'SP-GiST index access method',),
    (4072, 1247, 0, 'JSON path',),
    (4089, 1247, 0, 'registered namespace',),
    (4096, 1247, 0, 'registered role',),
    (4191, 1247, 0, 'registered collation',),
    (4537, 1247, 0, 'pseudo-type representing a polymorphic base type that is a multirange',),
    (4538, 1247, 0, 'pseudo-type representing a multirange over a polymorphic common type',),
    (4600, 1247, 0, 'BRIN bloom summary',),
    (4601, 1247, 0, 'BRIN minmax-multi summary',),
    (5017, 1247, 0, 'multivariate MCV list',),
    (5038, 1247, 0, 'snapshot',),
    (5069, 1247, 0, 'full transaction id',),
    (5077, 1247, 0, 'pseudo-type representing a polymorphic common type',),
    (5078, 1247, 0, 'pseudo-type representing an array of polymorphic common type elements',),
    (5079, 1247, 0, 'pseudo-type representing a polymorphic common type that is not an array',),
    (5080, 1247, 0, 'pseudo-type representing a range over a polymorphic common type',),
    (13563, 2612, 0, 'PL/pgSQL procedural language',),
)
"""Rows of pg_catalog.pg_description of the built-in types, access methods, languages and schemas."""

OPERATOR_CLASSES: tuple[tuple[object, ...], ...] = (
    (1978, 403, 'int4_ops', 11, 10, 1976, 23, True, 0,),
    (1979, 403, 'int2_ops', 11, 10, 1976, 21, True, 0,),
    (1981, 403, 'oid_ops', 11, 10, 1989, 26, True, 0,),
    (3122, 403, 'date_ops', 11, 10, 434, 1082, True, 0,),
    (3123, 403, 'float8_ops', 11, 10, 1970, 701, True, 0,),
    (3124, 403, 'int8_ops', 11, 10, 1976, 20, True, 0,),
    (3125, 403, 'numeric_ops', 11, 10, 1988, 1700, True, 0,),
    (3126, 403, 'text_ops', 11, 10, 1994, 25, True, 0,),
    (3127, 403, 'timestamptz_ops', 11, 10, 434, 1184, True, 0,),
    (3128, 403, 'timestamp_ops', 11, 10, 434, 1114, True, 0,),
    (4217, 403, 'text_pattern_ops', 11, 10, 2095, 25, False, 0,),
    (4218, 403, 'varchar_pattern_ops', 11, 10, 2095, 25, False, 0,),
    (4219, 403, 'bpchar_pattern_ops', 11, 10, 2097, 1042, False, 0,),
    (10000, 403, 'array_ops', 11, 10, 397, 2277, True, 0,),
    (10001, 405, 'array_ops', 11, 10, 627, 2277, True, 0,),
    (10002, 403, 'bit_ops', 11, 10, 423, 1560, True, 0,),
    (10003, 403, 'bool_ops', 11, 10, 424, 16, True, 0,),
    (10004, 403, 'bpchar_ops', 11, 10, 426, 1042, True, 0,),
    (10005, 405, 'bpchar_ops', 11, 10, 427, 1042, True, 0,),
    (10006, 403, 'bytea_ops', 11, 10, 428, 17, True, 0,),
    (10007, 403, 'char_ops', 11, 10, 429, 18, True, 0,),
    (10008, 405, 'char_ops', 11, 10, 431, 18, True, 0,),
    (10009, 403, 'cidr_ops', 11, 10, 1974, 869, False, 0,),
    (10010, 405, 'cidr_ops', 11, 10, 1975, 869, False, 0,),
    (10011, 405, 'date_ops', 11, 10, 435, 1082, True, 0,),
    (10012, 403, 'float4_ops', 11, 10, 1970, 700, True, 0,),
    (10013, 405, 'float4_ops', 11, 10, 1971, 700, True, 0,),
    (10014, 405, 'float8_ops', 11, 10, 1971, 701, True, 0,),
    (10015, 403, 'inet_ops', 11, 10, 1974, 869, True, 0,),
    (10016, 405, 'inet_ops', 11, 10, 1975, 869, True, 0,),
    (10017, 783, 'inet_ops', 11, 10, 3550, 869, False, 0,),
    (10018, 4000, 'inet_ops', 11, 10, 3794, 869, True, 0,),
    (10019, 405, 'int2_ops', 11, 10, 1977, 21, True, 0,),
    (10020, 405, 'int4_ops', 11, 10, 1977, 23, True, 0,),
    (10021, 405, 'int8_ops', 11, 10, 1977, 20, True, 0,),
    (10022, 403, 'interval_ops', 11, 10, 1982, 1186, True, 0,),
    (10023, 405, 'interval_ops', 11, 10, 1983, 1186, True, 0,),
    (10024, 403, 'macaddr_ops', 11, 10, 1984, 829, True, 0,),
    (10025, 405, 'macaddr_ops', 11, 10, 1985, 829, True, 0,),
    (10026, 403, 'macaddr8_ops', 11, 10, 3371, 774, True, 0,),
    (10027, 405, 'macaddr8_ops', 11, 10, 3372, 774, True, 0,),
    (10028, 403, 'name_ops', 11, 10, 1994, 19, True, 2275,),
    (10029, 405, 'name_ops', 11, 10, 1995, 19, True, 0,),
    (10030, 405, 'numeric_ops', 11, 10, 1998, 1700, True, 0,),
    (10031, 405, 'oid_ops', 11, 10, 1990, 26, True, 0,),
    (10032, 403, 'oidvector_ops', 11, 10, 1991, 30, True, 0,),
    (10033, 405, 'oidvector_ops', 11, 10, 1992, 30, True, 0,),
    (10034, 403, 'record_ops', 11, 10, 2994, 2249, True, 0,),
    (10035, 405, 'record_ops', 11, 10, 6194, 2249, True, 0,),
    (10036, 403, 'record_image_ops', 11, 10, 3194, 2249, False, 0,),
    (10037, 405, 'text_ops', 11, 10, 1995, 25, True, 0,),
    (10038, 403, 'time_ops', 11, 10, 1996, 1083, True, 0,),
    (10039, 405, 'time_ops', 11, 10, 1997, 1083, True, 0,),
    (10040, 405, 'timestamptz_ops', 11, 10, 1999, 1184, True, 0,),
    (10041, 403, 'timetz_ops', 11, 10, 2000, 1266, True, 0,),
    (10042, 405, 'timetz_ops', 11, 10, 2001, 1266, True, 0,),
    (10043, 403, 'varbit_ops', 11, 10, 2002, 1562, True, 0,),
    (10044, 403, 'varchar_ops', 11, 10, 1994, 25, False, 0,),
    (10045, 405, 'varchar_ops', 11, 10, 1995, 25, False, 0,),
    (10046, 405, 'timestamp_ops', 11, 10, 2040, 1114, True, 0,),
    (10047, 403, 'money_ops', 11, 10, 2099, 790, True, 0,),
    (10048, 405, 'bool_ops', 11, 10, 2222, 16, True, 0,),
    (10049, 405, 'bytea_ops', 11, 10, 2223, 17, True, 0,),
    (10050, 403, 'tid_ops', 11, 10, 2789, 27, True, 0,),
    (10051, 405, 'xid_ops', 11, 10, 2225, 28, True, 0,),
    (10052, 405, 'xid8_ops', 11, 10, 5032, 5069, True, 0,),
    (10053, 403, 'xid8_ops', 11, 10, 5067, 5069, True, 0,),
    (10054, 405, 'cid_ops', 11, 10, 2226, 29, True, 0,),
    (10055, 405, 'tid_ops', 11, 10, 2227, 27, True, 0,),
    (10056, 405, 'text_pattern_ops', 11, 10, 2229, 25, False, 0,),
    (10057, 405, 'varchar_pattern_ops', 11, 10, 2229, 25, False, 0,),
    (10058, 405, 'bpchar_pattern_ops', 11, 10, 2231, 1042, False, 0,),
    (10059, 405, 'aclitem_ops', 11, 10, 2235, 1033, True, 0,),
    (10060, 783, 'box_ops', 11, 10, 2593, 603, True, 0,),
    (10061, 783, 'point_ops', 11, 10, 1029, 600, True, 603,),
    (10062, 783, 'poly_ops', 11, 10, 2594, 604, True, 603,),
    (10063, 783, 'circle_ops', 11, 10, 2595, 718, True, 603,),
    (10064, 2742, 'array_ops', 11, 10, 2745, 2277, True, 2283,),
    (10065, 403, 'uuid_ops', 11, 10, 2968, 2950, True, 0,),
    (10066, 405, 'uuid_ops', 11, 10, 2969, 2950, True, 0,),
    (10067, 403, 'pg_lsn_ops', 11, 10, 3253, 3220, True, 0,),
    (10068, 405, 'pg_lsn_ops', 11, 10, 3254, 3220, True, 0,),
    (10069, 403, 'enum_ops', 11, 10, 3522, 3500, True, 0,),
    (10070, 405, 'enum_ops', 11, 10, 3523, 3500, True, 0,),
    (10071, 403, 'tsvector_ops', 11, 10, 3626, 3614, True, 0,),
    (10072, 783, 'tsvector_ops', 11, 10, 3655, 3614, True, 3642,),
    (10073, 2742, 'tsvector_ops', 11, 10, 3659, 3614, True, 25,),
    (10074, 403, 'tsquery_ops', 11, 10, 3683, 3615, True, 0,),
    (10075, 783, 'tsquery_ops', 11, 10, 3702, 3615, True, 20,),
    (10076, 403, 'range_ops', 11, 10, 3901, 3831, True, 0,),
    (10077, 405, 'range_ops', 11, 10, 3903, 3831, True, 0,),
    (10078, 783, 'range_ops', 11, 10, 3919, 3831, True, 0,),
    (10079, 4000, 'range_ops', 11, 10, 3474, 3831, True, 0,),
    (10080, 403, 'multirange_ops', 11, 10, 4199, 4537, True, 0,),
    (10081, 405, 'multirange_ops', 11, 10, 4225, 4537, True, 0,),
    (10082, 783, 'multirange_ops', 11, 10, 6158, 4537, True, 3831,),
    (10083, 4000, 'box_ops', 11, 10, 5000, 603, True, 0,),
    (10084, 4000, 'quad_point_ops', 11, 10, 4015, 600, True, 0,),
    (10085, 4000, 'kd_point_ops', 11, 10, 4016, 600, False, 0,),
    (10086, 4000, 'text_ops', 11, 10, 4017, 25, True, 0,),
    (10087, 4000, 'poly_ops', 11, 10, 5008, 604, True, 603,),
    (10088, 403, 'jsonb_ops', 11, 10, 4033, 3802, True, 0,),
    (10089, 405, 'jsonb_ops', 11, 10, 4034, 3802, True, 0,),
    (10090, 2742, 'jsonb_ops', 11, 10, 4036, 3802, True, 25,),
    (10091, 2742, 'jsonb_path_ops', 11, 10, 4037, 3802, False, 23,),
    (10092, 3580, 'bytea_minmax_ops', 11, 10, 4064, 17, True, 17,),
    (10093, 3580, 'bytea_bloom_ops', 11, 10, 4578, 17, False, 17,),
    (10094, 3580, 'char_minmax_ops', 11, 10, 4062, 18, True, 18,),
    (10095, 3580, 'char_bloom_ops', 11, 10, 4577, 18, False, 18,),
    (10096, 3580, 'name_minmax_ops', 11, 10, 4065, 19, True, 19,),
    (10097, 3580, 'name_bloom_ops', 11, 10, 4579, 19, False, 19,),
    (10098, 3580, 'int8_minmax_ops', 11, 10, 4054, 20, True, 20,),
    (10099, 3580, 'int8_minmax_multi_ops', 11, 10, 4602, 20, False, 20,),
    (10100, 3580, 'int8_bloom_ops', 11, 10, 4572, 20, False, 20,),
    (10101, 3580, 'int2_minmax_ops', 11, 10, 4054, 21, True, 21,),
    (10102, 3580, 'int2_minmax_multi_ops', 11, 10, 4602, 21, False, 21,),
    (10103, 3580, 'int2_bloom_ops', 11, 10, 4572, 21, False, 21,),
    (10104, 3580, 'int4_minmax_ops', 11, 10, 4054, 23, True, 23,),
    (10105, 3580, 'int4_minmax_multi_ops', 11, 10, 4602, 23, False, 23,),
    (10106, 3580, 'int4_bloom_ops', 11, 10, 4572, 23, False, 23,),
    (10107, 3580, 'text_minmax_ops', 11, 10, 4056, 25, True, 25,),
    (10108, 3580, 'text_bloom_ops', 11, 10, 4573, 25, False, 25,),
    (10109, 3580, 'oid_minmax_ops', 11, 10, 4068, 26, True, 26,),
    (10110, 3580, 'oid_minmax_multi_ops', 11, 10, 4606, 26, False, 26,),
    (10111, 3580, 'oid_bloom_ops', 11, 10, 4580, 26, False, 26,),
    (10112, 3580, 'tid_minmax_ops', 11, 10, 4069, 27, True, 27,),
    (10113, 3580, 'tid_bloom_ops', 11, 10, 4581, 27, False, 27,),
    (10114, 3580, 'tid_minmax_multi_ops', 11, 10, 4607, 27, False, 27,),
    (10115, 3580, 'float4_minmax_ops', 11, 10, 4070, 700, True, 700,),
    (10116, 3580, 'float4_minmax_multi_ops', 11, 10, 4608, 700, False, 700,),
    (10117, 3580, 'float4_bloom_ops', 11, 10, 4582, 700, False, 700,),
    (10118, 3580, 'float8_minmax_ops', 11, 10, 4070, 701, True, 701,),
    (10119, 3580, 'float8_minmax_multi_ops', 11, 10, 4608, 701, False, 701,),
    (10120, 3580, 'float8_bloom_ops', 11, 10, 4582, 701, False, 701,),
    (10121, 3580, 'macaddr_minmax_ops', 11, 10, 4074, 829, True, 829,),
    (10122, 3580, 'macaddr_minmax_multi_ops', 11, 10, 4609, 829, False, 829,),
    (10123, 3580, 'macaddr_bloom_ops', 11, 10, 4583, 829, False, 829,),
    (10124, 3580, 'macaddr8_minmax_ops', 11, 10, 4109, 774, True, 774,),
    (10125, 3580, 'macaddr8_minmax_multi_ops', 11, 10, 4610, 774, False, 774,),
    (10126, 3580, 'macaddr8_bloom_ops', 11, 10, 4584, 774, False, 774,),
    (10127, 3580, 'inet_minmax_ops', 11, 10, 4075, 869, False, 869,),
    (10128, 3580, 'inet_minmax_multi_ops', 11, 10, 4611, 869, False, 869,),
    (10129, 3580, 'inet_bloom_ops', 11, 10, 4585, 869, False, 869,),
    (10130, 3580, 'inet_inclusion_ops', 11, 10, 4102, 869, True, 869,),
    (10131, 3580, 'bpchar_minmax_ops', 11, 10, 4076, 1042, True, 1042,),
    (10132, 3580, 'bpchar_bloom_ops', 11, 10, 4586, 1042, False, 1042,),
    (10133, 3580, 'time_minmax_ops', 11, 10, 4077, 1083, True, 1083,),
    (10134, 3580, 'time_minmax_multi_ops', 11, 10, 4612, 1083, False, 1083,),
    (10135, 3580, 'time_bloom_ops', 11, 10, 4587, 1083, False, 1083,),
    (10136, 3580, 'date_minmax_ops', 11, 10, 4059, 1082, True, 1082,),
    (10137, 3580, 'date_minmax_multi_ops', 11, 10, 4605, 1082, False, 1082,),
    (10138, 3580, 'date_bloom_ops', 11, 10, 4576, 1082, False, 1082,),
    (10139, 3580, 'timestamp_minmax_ops', 11, 10, 4059, 1114, True, 1114,),
    (10140, 3580, 'timestamp_minmax_multi_ops', 11, 10, 4605, 1114, False, 1114,),
    (10141, 3580, 'timestamp_bloom_ops', 11, 10, 4576, 1114, False, 1114,),
    (10142, 3580, 'timestamptz_minmax_ops', 11, 10, 4059, 1184, True, 1184,),
    (10143, 3580, 'timestamptz_minmax_multi_ops', 11, 10, 4605, 1184, False, 1184,),
    (10144, 3580, 'timestamptz_bloom_ops', 11, 10, 4576, 1184, False, 1184,),
    (10145, 3580, 'interval_minmax_ops', 11, 10, 4078, 1186, True, 1186,),
    (10146, 3580, 'interval_minmax_multi_ops', 11, 10, 4613, 1186, False, 1186,),
    (10147, 3580, 'interval_bloom_ops', 11, 10, 4588, 1186, False, 1186,),
    (10148, 3580, 'timetz_minmax_ops', 11, 10, 4058, 1266, True, 1266,),
    (10149, 3580, 'timetz_minmax_multi_ops', 11, 10, 4604, 1266, False, 1266,),
    (10150, 3580, 'timetz_bloom_ops', 11, 10, 4575, 1266, False, 1266,),
    (10151, 3580, 'bit_minmax_ops', 11, 10, 4079, 1560, True, 1560,),
    (10152, 3580, 'varbit_minmax_ops', 11, 10, 4080, 1562, True, 1562,),
    (10153, 3580, 'numeric_minmax_ops', 11, 10, 4055, 1700, True, 1700,),
    (10154, 3580, 'numeric_minmax_multi_ops', 11, 10, 4603, 1700, False, 1700,),
    (10155, 3580, 'numeric_bloom_ops', 11, 10, 4574, 1700, False, 1700,),
    (10156, 3580, 'uuid_minmax_ops', 11, 10, 4081, 2950, True, 2950,),
    (10157, 3580, 'uuid_minmax_multi_ops', 11, 10, 4614, 2950, False, 2950,),
    (10158, 3580, 'uuid_bloom_ops', 11, 10, 4589, 2950, False, 2950,),
    (10159, 3580, 'range_inclusion_ops', 11, 10, 4103, 3831, True, 3831,),
    (10160, 3580, 'pg_lsn_minmax_ops', 11, 10, 4082, 3220, True, 3220,),
    (10161, 3580, 'pg_lsn_minmax_multi_ops', 11, 10, 4615, 3220, False, 3220,),
    (10162, 3580, 'pg_lsn_bloom_ops', 11, 10, 4590, 3220, False, 3220,),
    (10163, 3580, 'box_inclusion_ops', 11, 10, 4104, 603, True, 603,),
)
"""Rows of pg_catalog.pg_opclass."""

SETTINGS: tuple[tuple[object, ...], ...] = (
    ('DateStyle', 'ISO, MDY', None, 'Client Connection Defaults / Locale and Formatting', 'Sets the display format for date and time values.', 'Also controls interpretation of ambiguous date inputs.', 'user', 'string', 'configuration file', None, None, None, 'ISO, MDY', 'ISO, MDY', '/tmp/headwater-pg-rsc9ommq/data/postgresql.conf', 711, False,),
    ('IntervalStyle', 'postgres', None, 'Client Connection Defaults / Locale and Formatting', 'Sets the display format for interval values.', None, 'user', 'enum', 'default', None, None, ('postgres', 'postgres_verbose', 'sql_standard', 'iso_8601'), 'postgres', 'postgres', None, None, False,),
    ('TimeZone', 'Etc/UTC', None, 'Client Connection Defaults / Locale and Formatting', 'Sets the time zone for displaying and interpreting time stamps.', None, 'user', 'string', 'configuration file', None, None, None, 'GMT', 'Etc/UTC', '/tmp/headwater-pg-rsc9ommq/data/postgresql.conf', 713, False,),
    ('application_name', '', None, 'Reporting and Logging / What to Log', 'Sets the application name to be reported in statistics and logs.', None, 'user', 'string', 'default', None, None, None, '', '', None, None, False,),
    ('block_size', '8192', None, 'Preset Options', 'Shows the size of a disk block.', None, 'internal', 'integer', 'default', '8192', '8192', None, '8192', '8192', None, None, False,),
    ('bytea_output', 'hex', None, 'Client Connection Defaults / Statement Behavior', 'Sets the output format for bytea.', None, 'user', 'enum', 'default', None, None, ('escape', 'hex'), 'hex', 'hex', None, None, False,),
    ('client_encoding', 'UTF8', None, 'Client Connection Defaults / Locale and Formatting', "Sets the client's character set encoding.", None, 'user', 'string', 'default', None, None, None, 'SQL_ASCII', 'UTF8', None, None, False,),
    ('default_table_access_method', 'heap', None, 'Client Connection Defaults / Statement Behavior', 'Sets the default table access method for new tables.', None, 'user', 'string', 'default', None, None, None, 'heap', 'heap', None, None, False,),
    ('default_transaction_isolation', 'read committed', None, 'Client Connection Defaults / Statement Behavior', 'Sets the transaction isolation level of each new transaction.', None, 'user', 'enum', 'default', None, None, ('serializable', 'repeatable read', 'read committed', 'read uncommitted'), 'read committed', 'read committed', None, None, False,),
    ('default_transaction_read_only', 'off', None, 'Client Connection Defaults / Statement Behavior', 'Sets the default read-only status of new transactions.', None, 'user', 'bool', 'default', None, None, None, 'off', 'off', None, None, False,),
    ('extra_float_digits', '1', None, 'Client Connection Defaults / Locale and Formatting', 'Sets the number of digits displayed for floating-point values.', 'This affects real, double precision, and geometric data types. A zero or negative parameter value is added to the standard number of digits (FLT_DIG or DBL_DIG as appropriate). Any value greater than zero selects precise output mode.', 'user', 'integer', 'default', '-15', '3', None, '1', '1', None, None, False,),
    ('idle_in_transaction_session_timeout', '0', 'ms', 'Client Connection Defaults / Statement Behavior', 'Sets the maximum allowed idle time between queries, when in a transaction.', 'A value of 0 turns off the timeout.', 'user', 'integer', 'default', '0', '2147483647', None, '0', '0', None, None, False,),
    ('integer_datetimes', 'on', None, 'Preset Options', 'Shows whether datetimes are integer based.', None, 'internal', 'bool', 'default', None, None, None, 'on', 'on', None, None, False,),
    ('lc_collate', 'C.UTF-8', None, 'Preset Options', 'Shows the collation order locale.', None, 'internal', 'string', 'default', None, None, None, 'C', 'C.UTF-8', None, None, False,),
    ('lc_ctype', 'C.UTF-8', None, 'Preset Options', 'Shows the character classification and case conversion locale.', None, 'internal', 'string', 'default', None, None, None, 'C', 'C.UTF-8', None, None, False,),
    ('lock_timeout', '0', 'ms', 'Client Connection Defaults / Statement Behavior', 'Sets the maximum allowed duration of any wait for a lock.', 'A value of 0 turns off the timeout.', 'user', 'integer', 'default', '0', '2147483647', None, '0', '0', None, None, False,),
    ('max_connections', '100', None, 'Connections and Authentication / Connection Settings', 'Sets the maximum number of concurrent connections.', None, 'postmaster', 'integer', 'configuration file', '1', '262143', None, '100', '100', '/tmp/headwater-pg-rsc9ommq/data/postgresql.conf', 65, False,),
    ('max_identifier_length', '63', None, 'Preset Options', 'Shows the maximum identifier length.', None, 'internal', 'integer', 'default', '63', '63', None, '63', '63', None, None, False,),
    ('max_index_keys', '32', None, 'Preset Options', 'Shows the maximum number of index keys.', None, 'internal', 'integer', 'default', '32', '32', None, '32', '32', None, None, False,),
    ('port', '48319', None, 'Connections and Authentication / Connection Settings', 'Sets the TCP port the server listens on.', None, 'postmaster', 'integer', 'command line', '1', '65535', None, '5432', '48319', None, None, False,),
    ('row_security', 'on', None, 'Client Connection Defaults / Statement Behavior', 'Enable row security.', 'When enabled, row security will be applied to all users.', 'user', 'bool', 'default', None, None, None, 'on', 'on', None, None, False,),
    ('search_path', '"$user", public', None, 'Client Connection Defaults / Statement Behavior', 'Sets the schema search order for names that are not schema-qualified.', None, 'user', 'string', 'default', None, None, None, '"$user", public', '"$user", public', None, None, False,),
    ('server_encoding', 'UTF8', None, 'Preset Options', 'Shows the server (database) character set encoding.', None, 'internal', 'string', 'default', None, None, None, 'SQL_ASCII', 'UTF8', None, None, False,),
    ('server_version', '15.18 (Debian 15.18-0+deb12u1)', None, 'Preset Options', 'Shows the server version.', None, 'internal', 'string', 'default', None, None, None, '15.18 (Debian 15.18-0+deb12u1)', '15.18 (Debian 15.18-0+deb12u1)', None, None, False,),
    ('server_version_num', '150018', None, 'Preset Options', 'Shows the server version as an integer.', None, 'internal', 'integer', 'default', '150018', '150018', None, '150018', '150018', None, None, False,),
    ('ssl', 'off', None, 'Connections and Authentication / SSL', 'Enables SSL connections.', None, 'sighup', 'bool', 'default', None, None, None, 'off', 'off', None, None, False,),
    ('standard_conforming_strings', 'on', None, 'Version and Platform Compatibility / Previous PostgreSQL Versions', "Causes '...' strings to treat backslashes literally.", None, 'user', 'bool', 'default', None, None, None, 'on', 'on', None, None, False,),
    ('statement_timeout', '0', 'ms', 'Client Connection Defaults / Statement Behavior', 'Sets the maximum allowed duration of any statement.', 'A value of 0 turns off the timeout.', 'user', 'integer', 'default', '0', '2147483647', None, '0', '0', None, None, False,),
    ('transaction_isolation', 'read committed', None, 'Client Connection Defaults / Statement Behavior', "Sets the current transaction's isolation level.", None, 'user', 'enum', 'override', None, None, ('serializable', 'repeatable read', 'read committed', 'read uncommitted'), 'read committed', 'read committed', None, None, False,),
    ('transaction_read_only', 'off', None, 'Client Connection Defaults / Statement Behavior', "Sets the current transaction's read-only status.", None, 'user', 'bool', 'override', None, None, None, 'off', 'off', None, None, False,),
)
"""Rows of pg_catalog.pg_settings: the settings Headwater reports (its values replace `setting`)."""

KEYWORDS: tuple[tuple[object, ...], ...] = (
    ('abort', 'U', True, 'unreserved', 'can be bare label',),
    ('absolute', 'U', True, 'unreserved', 'can be bare label',),
    ('access', 'U', True, 'unreserved', 'can be bare label',),
    ('action', 'U', True, 'unreserved', 'can be bare label',),
    ('add', 'U', True, 'unreserved', 'can be bare label',),
    ('admin', 'U', True, 'unreserved', 'can be bare label',),
    ('after', 'U', True, 'unreserved', 'can be bare label',),
    ('aggregate', 'U', True, 'unreserved', 'can be bare label',),
    ('all', 'R', True, 'reserved', 'can be bare label',),
    ('also', 'U', True, 'unreserved', 'can be bare label',),
    ('alter', 'U', True, 'unreserved', 'can be bare label',),
    ('always', 'U', True, 'unreserved', 'can be bare label',),
    ('analyse', 'R', True, 'reserved', 'can be bare label',),
    ('analyze', 'R', True, 'reserved', 'can be bare label',),
    ('and', 'R', True, 'reserved', 'can be bare label',),
    ('any', 'R', True, 'reserved', 'can be bare label',),
    ('array', 'R', False, 'reserved', 'requires AS',),
    ('as', 'R', False, 'reserved', 'requires AS',),
    ('asc', 'R', True, 'reserved', 'can be bare label',),
    ('asensitive', 'U', True, 'unreserved', 'can be bare label',),
    ('assertion', 'U', True, 'unreserved', 'can be bare label',),
    ('assignment', 'U', True, 'unreserved', 'can be bare label',),
    ('asymmetric', 'R', True, 'reserved', 'can be bare label',),
    ('at', 'U', True, 'unreserved', 'can be bare label',),
    ('atomic', 'U', True, 'unreserved', 'can be bare label',),
    ('attach', 'U', True, 'unreserved', 'can be bare label',),
    ('attribute', 'U', True, 'unreserved', 'can be bare label',),
    ('authorization', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('backward', 'U', True, 'unreserved', 'can be bare label',),
    ('before', 'U', True, 'unreserved', 'can be bare label',),
    ('begin', 'U', True, 'unreserved', 'can be bare label',),
    ('between', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('bigint', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('binary', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('bit', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('boolean', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('both', 'R', True, 'reserved', 'can be bare label',),
    ('breadth', 'U', True, 'unreserved', 'can be bare label',),
    ('by', 'U', True, 'unreserved', 'can be bare label',),
    ('cache', 'U', True, 'unreserved', 'can be bare label',),
    ('call', 'U', True, 'unreserved', 'can be bare label',),
    ('called', 'U', True, 'unreserved', 'can be bare label',),
    ('cascade', 'U', True, 'unreserved', 'can be bare label',),
    ('cascaded', 'U', True, 'unreserved', 'can be bare label',),
    ('case', 'R', True, 'reserved', 'can be bare label',),
    ('cast', 'R', True, 'reserved', 'can be bare label',),
    ('catalog', 'U', True, 'unreserved', 'can be bare label',),
    ('chain', 'U', True, 'unreserved', 'can be bare label',),
    ('char', 'C', False, 'unreserved (cannot be function or type name)', 'requires AS',),
    ('character', 'C', False, 'unreserved (cannot be function or type name)', 'requires AS',),
    ('characteristics', 'U', True, 'unreserved', 'can be bare label',),
    ('check', 'R', True, 'reserved', 'can be bare label',),
    ('checkpoint', 'U', True, 'unreserved', 'can be bare label',),
    ('class', 'U', True, 'unreserved', 'can be bare label',),
    ('close', 'U', True, 'unreserved', 'can be bare label',),
    ('cluster', 'U', True, 'unreserved', 'can be bare label',),
    ('coalesce', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('collate', 'R', True, 'reserved', 'can be bare label',),
    ('collation', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('column', 'R', True, 'reserved', 'can be bare label',),
    ('columns', 'U', True, 'unreserved', 'can be bare label',),
    ('comment', 'U', True, 'unreserved', 'can be bare label',),
    ('comments', 'U', True, 'unreserved', 'can be bare label',),
    ('commit', 'U', True, 'unreserved', 'can be bare label',),
    ('committed', 'U', True, 'unreserved', 'can be bare label',),
    ('compression', 'U', True, 'unreserved', 'can be bare label',),
    ('concurrently', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('configuration', 'U', True, 'unreserved', 'can be bare label',),
    ('conflict', 'U', True, 'unreserved', 'can be bare label',),
    ('connection', 'U', True, 'unreserved', 'can be bare label',),
    ('constraint', 'R', True, 'reserved', 'can be bare label',),
    ('constraints', 'U', True, 'unreserved', 'can be bare label',),
    ('content', 'U', True, 'unreserved', 'can be bare label',),
    ('continue', 'U', True, 'unreserved', 'can be bare label',),
    ('conversion', 'U', True, 'unreserved', 'can be bare label',),
    ('copy', 'U', True, 'unreserved', 'can be bare label',),
    ('cost', 'U', True, 'unreserved', 'can be bare label',),
    ('create', 'R', False, 'reserved', 'requires AS',),
    ('cross', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('csv', 'U', True, 'unreserved', 'can be bare label',),
    ('cube', 'U', True, 'unreserved', 'can be bare label',),
    ('current', 'U', True, 'unreserved', 'can be bare label',),
    ('current_catalog', 'R', True, 'reserved', 'can be bare label',),
    ('current_date', 'R', True, 'reserved', 'can be bare label',),
    ('current_role', 'R', True, 'reserved', 'can be bare label',),
    ('current_schema', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('current_time', 'R', True, 'reserved', 'can be bare label',),
    ('current_timestamp', 'R', True, 'reserved', 'can be bare label',),
    ('current_user', 'R', True, 'reserved', 'can be bare label',),
    ('cursor', 'U', True, 'unreserved', 'can be bare label',),
    ('cycle', 'U', True, 'unreserved', 'can be bare label',),
    ('data', 'U', True, 'unreserved', 'can be bare label',),
    ('database', 'U', True, 'unreserved', 'can be bare label',),
    ('day', 'U', False, 'unreserved', 'requires AS',),
    ('deallocate', 'U', True, 'unreserved', 'can be bare label',),
    ('dec', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('decimal', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('declare', 'U', True, 'unreserved', 'can be bare label',),
    ('default', 'R', True, 'reserved', 'can be bare label',),
    ('defaults', 'U', True, 'unreserved', 'can be bare label',),
    ('deferrable', 'R', True, 'reserved', 'can be bare label',),
    ('deferred', 'U', True, 'unreserved', 'can be bare label',),
    ('definer', 'U', True, 'unreserved', 'can be bare label',),
    ('delete', 'U', True, 'unreserved', 'can be bare label',),
    ('delimiter', 'U', True, 'unreserved', 'can be bare label',),
    ('delimiters', 'U', True, 'unreserved', 'can be bare label',),
    ('depends', 'U', True, 'unreserved', 'can be bare label',),
    ('depth', 'U', True, 'unreserved', 'can be bare label',),
    ('desc', 'R', True, 'reserved', 'can be bare label',),
    ('detach', 'U', True, 'unreserved', 'can be bare label',),
    ('dictionary', 'U', True, 'unreserved', 'can be bare label',),
    ('disable', 'U', True, 'unreserved', 'can be bare label',),
    ('discard', 'U', True, 'unreserved', 'can be bare label',),
    ('distinct', 'R', True, 'reserved', 'can be bare label',),
    ('do', 'R', True, 'reserved', 'can be bare label',),
    ('document', 'U', True, 'unreserved', 'can be bare label',),
    ('domain', 'U', True, 'unreserved', 'can be bare label',),
    ('double', 'U', True, 'unreserved', 'can be bare label',),
    ('drop', 'U', True, 'unreserved', 'can be bare label',),
    ('each', 'U', True, 'unreserved', 'can be bare label',),
    ('else', 'R', True, 'reserved', 'can be bare label',),
    ('enable', 'U', True, 'unreserved', 'can be bare label',),
    ('encoding', 'U', True, 'unreserved', 'can be bare label',),
    ('encrypted', 'U', True, 'unreserved', 'can be bare label',),
    ('end', 'R', True, 'reserved', 'can be bare label',),
    ('enum', 'U', True, 'unreserved', 'can be bare label',),
    ('escape', 'U', True, 'unreserved', 'can be bare label',),
    ('event', 'U', True, 'unreserved', 'can be bare label',),
    ('except', 'R', False, 'reserved', 'requires AS',),
    ('exclude', 'U', True, 'unreserved', 'can be bare label',),
    ('excluding', 'U', True, 'unreserved', 'can be bare label',),
    ('exclusive', 'U', True, 'unreserved', 'can be bare label',),
    ('execute', 'U', True, 'unreserved', 'can be bare label',),
    ('exists', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('explain', 'U', True, 'unreserved', 'can be bare label',),
    ('expression', 'U', True, 'unreserved', 'can be bare label',),
    ('extension', 'U', True, 'unreserved', 'can be bare label',),
    ('external', 'U', True, 'unreserved', 'can be bare label',),
    ('extract', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('false', 'R', True, 'reserved', 'can be bare label',),
    ('family', 'U', True, 'unreserved', 'can be bare label',),
    ('fetch', 'R', False, 'reserved', 'requires AS',),
    ('filter', 'U', False, 'unreserved', 'requires AS',),
    ('finalize', 'U', True, 'unreserved', 'can be bare label',),
    ('first', 'U', True, 'unreserved', 'can be bare label',),
    ('float', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('following', 'U', True, 'unreserved', 'can be bare label',),
    ('for', 'R', False, 'reserved', 'requires AS',),
    ('force', 'U', True, 'unreserved', 'can be bare label',),
    ('foreign', 'R', True, 'reserved', 'can be bare label',),
    ('forward', 'U', True, 'unreserved', 'can be bare label',),
    ('freeze', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('from', 'R', False, 'reserved', 'requires AS',),
    ('full', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('function', 'U', True, 'unreserved', 'can be bare label',),
    ('functions', 'U', True, 'unreserved', 'can be bare label',),
    ('generated', 'U', True, 'unreserved', 'can be bare label',),
    ('global', 'U', True, 'unreserved', 'can be bare label',),
    ('grant', 'R', False, 'reserved', 'requires AS',),
    ('granted', 'U', True, 'unreserved', 'can be bare label',),
    ('greatest', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('group', 'R', False, 'reserved', 'requires AS',),
    ('grouping', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('groups', 'U', True, 'unreserved', 'can be bare label',),
    ('handler', 'U', True, 'unreserved', 'can be bare label',),
    ('having', 'R', False, 'reserved', 'requires AS',),
    ('header', 'U', True, 'unreserved', 'can be bare label',),
    ('hold', 'U', True, 'unreserved', 'can be bare label',),
    ('hour', 'U', False, 'unreserved', 'requires AS',),
    ('identity', 'U', True, 'unreserved', 'can be bare label',),
    ('if', 'U', True, 'unreserved', 'can be bare label',),
    ('ilike', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('immediate', 'U', True, 'unreserved', 'can be bare label',),
    ('immutable', 'U', True, 'unreserved', 'can be bare label',),
    ('implicit', 'U', True, 'unreserved', 'can be bare label',),
    ('import', 'U', True, 'unreserved', 'can be bare label',),
    ('in', 'R', True, 'reserved', 'can be bare label',),
    ('include', 'U', True, 'unreserved', 'can be bare label',),
    ('including', 'U', True, 'unreserved', 'can be bare label',),
    ('increment', 'U', True, 'unreserved', 'can be bare label',),
    ('index', 'U', True, 'unreserved', 'can be bare label',),
    ('indexes', 'U', True, 'unreserved', 'can be bare label',),
    ('inherit', 'U', True, 'unreserved', 'can be bare label',),
    ('inherits', 'U', True, 'unreserved', 'can be bare label',),
    ('initially', 'R', True, 'reserved', 'can be bare label',),
    ('inline', 'U', True, 'unreserved', 'can be bare label',),
    ('inner', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('inout', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('input', 'U', True, 'unreserved', 'can be bare label',),
    ('insensitive', 'U', True, 'unreserved', 'can be bare label',),
    ('insert', 'U', True, 'unreserved', 'can be bare label',),
    ('instead', 'U', True, 'unreserved', 'can be bare label',),
    ('int', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('integer', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('intersect', 'R', False, 'reserved', 'requires AS',),
    ('interval', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('into', 'R', False, 'reserved', 'requires AS',),
    ('invoker', 'U', True, 'unreserved', 'can be bare label',),
    ('is', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('isnull', 'T', False, 'reserved (can be function or type name)', 'requires AS',),
    ('isolation', 'U', True, 'unreserved', 'can be bare label',),
    ('join', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('key', 'U', True, 'unreserved', 'can be bare label',),
    ('label', 'U', True, 'unreserved', 'can be bare label',),
    ('language', 'U', True, 'unreserved', 'can be bare label',),
    ('large', 'U', True, 'unreserved', 'can be bare label',),
    ('last', 'U', True, 'unreserved', 'can be bare label',),
    ('lateral', 'R', True, 'reserved', 'can be bare label',),
    ('leading', 'R', True, 'reserved', 'can be bare label',),
    ('leakproof', 'U', True, 'unreserved', 'can be bare label',),
    ('least', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('left', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('level', 'U', True, 'unreserved', 'can be bare label',),
    ('like', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('limit', 'R', False, 'reserved', 'requires AS',),
    ('listen', 'U', True, 'unreserved', 'can be bare label',),
    ('load', 'U', True, 'unreserved', 'can be bare label',),
    ('local', 'U', True, 'unreserved', 'can be bare label',),
    ('localtime', 'R', True, 'reserved', 'can be bare label',),
    ('localtimestamp', 'R', True, 'reserved', 'can be bare label',),
    ('location', 'U', True, 'unreserved', 'can be bare label',),
    ('lock', 'U', True, 'unreserved', 'can be bare label',),
    ('locked', 'U', True, 'unreserved', 'can be bare label',),
    ('logged', 'U', True, 'unreserved', 'can be bare label',),
    ('mapping', 'U', True, 'unreserved', 'can be bare label',),
    ('match', 'U', True, 'unreserved', 'can be bare label',),
    ('matched', 'U', True, 'unreserved', 'can be bare label',),
    ('materialized', 'U', True, 'unreserved', 'can be bare label',),
    ('maxvalue', 'U', True, 'unreserved', 'can be bare label',),
    ('merge', 'U', True, 'unreserved', 'can be bare label',),
    ('method', 'U', True, 'unreserved', 'can be bare label',),
    ('minute', 'U', False, 'unreserved', 'requires AS',),
    ('minvalue', 'U', True, 'unreserved', 'can be bare label',),
    ('mode', 'U', True, 'unreserved', 'can be bare label',),
    ('month', 'U', False, 'unreserved', 'requires AS',),
    ('move', 'U', True, 'unreserved', 'can be bare label',),
    ('name', 'U', True, 'unreserved', 'can be bare label',),
    ('names', 'U', True, 'unreserved', 'can be bare label',),
    ('national', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('natural', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('nchar', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('new', 'U', True, 'unreserved', 'can be bare label',),
    ('next', 'U', True, 'unreserved', 'can be bare label',),
    ('nfc', 'U', True, 'unreserved', 'can be bare label',),
    ('nfd', 'U', True, 'unreserved', 'can be bare label',),
    ('nfkc', 'U', True, 'unreserved', 'can be bare label',),
    ('nfkd', 'U', True, 'unreserved', 'can be bare label',),
    ('no', 'U', True, 'unreserved', 'can be bare label',),
    ('none', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('normalize', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('normalized', 'U', True, 'unreserved', 'can be bare label',),
    ('not', 'R', True, 'reserved', 'can be bare label',),
    ('nothing', 'U', True, 'unreserved', 'can be bare label',),
    ('notify', 'U', True, 'unreserved', 'can be bare label',),
    ('notnull', 'T', False, 'reserved (can be function or type name)', 'requires AS',),
    ('nowait', 'U', True, 'unreserved', 'can be bare label',),
    ('null', 'R', True, 'reserved', 'can be bare label',),
    ('nullif', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('nulls', 'U', True, 'unreserved', 'can be bare label',),
    ('numeric', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('object', 'U', True, 'unreserved', 'can be bare label',),
    ('of', 'U', True, 'unreserved', 'can be bare label',),
    ('off', 'U', True, 'unreserved', 'can be bare label',),
    ('offset', 'R', False, 'reserved', 'requires AS',),
    ('oids', 'U', True, 'unreserved', 'can be bare label',),
    ('old', 'U', True, 'unreserved', 'can be bare label',),
    ('on', 'R', False, 'reserved', 'requires AS',),
    ('only', 'R', True, 'reserved', 'can be bare label',),
    ('operator', 'U', True, 'unreserved', 'can be bare label',),
    ('option', 'U', True, 'unreserved', 'can be bare label',),
    ('options', 'U', True, 'unreserved', 'can be bare label',),
    ('or', 'R', True, 'reserved', 'can be bare label',),
    ('order', 'R', False, 'reserved', 'requires AS',),
    ('ordinality', 'U', True, 'unreserved', 'can be bare label',),
    ('others', 'U', True, 'unreserved', 'can be bare label',),
    ('out', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('outer', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('over', 'U', False, 'unreserved', 'requires AS',),
    ('overlaps', 'T', False, 'reserved (can be function or type name)', 'requires AS',),
    ('overlay', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('overriding', 'U', True, 'unreserved', 'can be bare label',),
    ('owned', 'U', True, 'unreserved', 'can be bare label',),
    ('owner', 'U', True, 'unreserved', 'can be bare label',),
    ('parallel', 'U', True, 'unreserved', 'can be bare label',),
    ('parameter', 'U', True, 'unreserved', 'can be bare label',),
    ('parser', 'U', True, 'unreserved', 'can be bare label',),
    ('partial', 'U', True, 'unreserved', 'can be bare label',),
    ('partition', 'U', True, 'unreserved', 'can be bare label',),
    ('passing', 'U', True, 'unreserved', 'can be bare label',),
    ('password', 'U', True, 'unreserved', 'can be bare label',),
    ('placing', 'R', True, 'reserved', 'can be bare label',),
    ('plans', 'U', True, 'unreserved', 'can be bare label',),
    ('policy', 'U', True, 'unreserved', 'can be bare label',),
    ('position', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('preceding', 'U', True, 'unreserved', 'can be bare label',),
    ('precision', 'C', False, 'unreserved (cannot be function or type name)', 'requires AS',),
    ('prepare', 'U', True, 'unreserved', 'can be bare label',),
    ('prepared', 'U', True, 'unreserved', 'can be bare label',),
    ('preserve', 'U', True, 'unreserved', 'can be bare label',),
    ('primary', 'R', True, 'reserved', 'can be bare label',),
    ('prior', 'U', True, 'unreserved', 'can be bare label',),
    ('privileges', 'U', True, 'unreserved', 'can be bare label',),
    ('procedural', 'U', True, 'unreserved', 'can be bare label',),
    ('procedure', 'U', True, 'unreserved', 'can be bare label',),
    ('procedures', 'U', True, 'unreserved', 'can be bare label',),
    ('program', 'U', True, 'unreserved', 'can be bare label',),
    ('publication', 'U', True, 'unreserved', 'can be bare label',),
    ('quote', 'U', True, 'unreserved', 'can be bare label',),
    ('range', 'U', True, 'unreserved', 'can be bare label',),
    ('read', 'U', True, 'unreserved', 'can be bare label',),
    ('real', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('reassign', 'U', True, 'unreserved', 'can be bare label',),
    ('recheck', 'U', True, 'unreserved', 'can be bare label',),
    ('recursive', 'U', True, 'unreserved', 'can be bare label',),
    ('ref', 'U', True, 'unreserved', 'can be bare label',),
    ('references', 'R', True, 'reserved', 'can be bare label',),
    ('referencing', 'U', True, 'unreserved', 'can be bare label',),
    ('refresh', 'U', True, 'unreserved', 'can be bare label',),
    ('reindex', 'U', True, 'unreserved', 'can be bare label',),
    ('relative', 'U', True, 'unreserved', 'can be bare label',),
    ('release', 'U', True, 'unreserved', 'can be bare label',),
    ('rename', 'U', True, 'unreserved', 'can be bare label',),
    ('repeatable', 'U', True, 'unreserved', 'can be bare label',),
    ('replace', 'U', True, 'unreserved', 'can be bare label',),
    ('replica', 'U', True, 'unreserved', 'can be bare label',),
    ('reset', 'U', True, 'unreserved', 'can be bare label',),
    ('restart', 'U', True, 'unreserved', 'can be bare label',),
    ('restrict', 'U', True, 'unreserved', 'can be bare label',),
    ('return', 'U', True, 'unreserved', 'can be bare label',),
    ('returning', 'R', False, 'reserved', 'requires AS',),
    ('returns', 'U', True, 'unreserved', 'can be bare label',),
    ('revoke', 'U', True, 'unreserved', 'can be bare label',),
    ('right', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('role', 'U', True, 'unreserved', 'can be bare label',),
    ('rollback', 'U', True, 'unreserved', 'can be bare label',),
    ('rollup', 'U', True, 'unreserved', 'can be bare label',),
    ('routine', 'U', True, 'unreserved', 'can be bare label',),
    ('routines', 'U', True, 'unreserved', 'can be bare label',),
    ('row', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('rows', 'U', True, 'unreserved', 'can be bare label',),
    ('rule', 'U', True, 'unreserved', 'can be bare label',),
    ('savepoint', 'U', True, 'unreserved', 'can be bare label',),
    ('schema', 'U', True, 'unreserved', 'can be bare label',),
    ('schemas', 'U', True, 'unreserved', 'can be bare label',),
    ('scroll', 'U', True, 'unreserved', 'can be bare label',),
    ('search', 'U', True, 'unreserved', 'can be bare label',),
    ('second', 'U', False, 'unreserved', 'requires AS',),
    ('security', 'U', True, 'unreserved', 'can be bare label',),
    ('select', 'R', True, 'reserved', 'can be bare label',),
    ('sequence', 'U', True, 'unreserved', 'can be bare label',),
    ('sequences', 'U', True, 'unreserved', 'can be bare label',),
    ('serializable', 'U', True, 'unreserved', 'can be bare label',),
    ('server', 'U', True, 'unreserved', 'can be bare label',),
    ('session', 'U', True, 'unreserved', 'can be bare label',),
    ('session_user', 'R', True, 'reserved', 'can be bare label',),
    ('set', 'U', True, 'unreserved', 'can be bare label',),
    ('setof', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('sets', 'U', True, 'unreserved', 'can be bare label',),
    ('share', 'U', True, 'unreserved', 'can be bare label',),
    ('show', 'U', True, 'unreserved', 'can be bare label',),
    ('similar', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('simple', 'U', True, 'unreserved', 'can be bare label',),
    ('skip', 'U', True, 'unreserved', 'can be bare label',),
    ('smallint', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('snapshot', 'U', True, 'unreserved', 'can be bare label',),
    ('some', 'R', True, 'reserved', 'can be bare label',),
    ('sql', 'U', True, 'unreserved', 'can be bare label',),
    ('stable', 'U', True, 'unreserved', 'can be bare label',),
    ('standalone', 'U', True, 'unreserved', 'can be bare label',),
    ('start', 'U', True, 'unreserved', 'can be bare label',),
    ('statement', 'U', True, 'unreserved', 'can be bare label',),
    ('statistics', 'U', True, 'unreserved', 'can be bare label',),
    ('stdin', 'U', True, 'unreserved', 'can be bare label',),
    ('stdout', 'U', True, 'unreserved', 'can be bare label',),
    ('storage', 'U', True, 'unreserved', 'can be bare label',),
    ('stored', 'U', True, 'unreserved', 'can be bare label',),
    ('strict', 'U', True, 'unreserved', 'can be bare label',),
    ('strip', 'U', True, 'unreserved', 'can be bare label',),
    ('subscription', 'U', True, 'unreserved', 'can be bare label',),
    ('substring', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('support', 'U', True, 'unreserved', 'can be bare label',),
    ('symmetric', 'R', True, 'reserved', 'can be bare label',),
    ('sysid', 'U', True, 'unreserved', 'can be bare label',),
    ('system', 'U', True, 'unreserved', 'can be bare label',),
    ('table', 'R', True, 'reserved', 'can be bare label',),
    ('tables', 'U', True, 'unreserved', 'can be bare label',),
    ('tablesample', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('tablespace', 'U', True, 'unreserved', 'can be bare label',),
    ('temp', 'U', True, 'unreserved', 'can be bare label',),
    ('template', 'U', True, 'unreserved', 'can be bare label',),
    ('temporary', 'U', True, 'unreserved', 'can be bare label',),
    ('text', 'U', True, 'unreserved', 'can be bare label',),
    ('then', 'R', True, 'reserved', 'can be bare label',),
    ('ties', 'U', True, 'unreserved', 'can be bare label',),
    ('time', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('timestamp', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('to', 'R', False, 'reserved', 'requires AS',),
    ('trailing', 'R', True, 'reserved', 'can be bare label',),
    ('transaction', 'U', True, 'unreserved', 'can be bare label',),
    ('transform', 'U', True, 'unreserved', 'can be bare label',),
    ('treat', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('trigger', 'U', True, 'unreserved', 'can be bare label',),
    ('trim', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('true', 'R', True, 'reserved', 'can be bare label',),
    ('truncate', 'U', True, 'unreserved', 'can be bare label',),
    ('trusted', 'U', True, 'unreserved', 'can be bare label',),
    ('type', 'U', True, 'unreserved', 'can be bare label',),
    ('types', 'U', True, 'unreserved', 'can be bare label',),
    ('uescape', 'U', True, 'unreserved', 'can be bare label',),
    ('unbounded', 'U', True, 'unreserved', 'can be bare label',),
    ('uncommitted', 'U', True, 'unreserved', 'can be bare label',),
    ('unencrypted', 'U', True, 'unreserved', 'can be bare label',),
    ('union', 'R', False, 'reserved', 'requires AS',),
    ('unique', 'R', True, 'reserved', 'can be bare label',),
    ('unknown', 'U', True, 'unreserved', 'can be bare label',),
    ('unlisten', 'U', True, 'unreserved', 'can be bare label',),
    ('unlogged', 'U', True, 'unreserved', 'can be bare label',),
    ('until', 'U', True, 'unreserved', 'can be bare label',),
    ('update', 'U', True, 'unreserved', 'can be bare label',),
    ('user', 'R', True, 'reserved', 'can be bare label',),
    ('using', 'R', True, 'reserved', 'can be bare label',),
    ('vacuum', 'U', True, 'unreserved', 'can be bare label',),
    ('valid', 'U', True, 'unreserved', 'can be bare label',),
    ('validate', 'U', True, 'unreserved', 'can be bare label',),
    ('validator', 'U', True, 'unreserved', 'can be bare label',),
    ('value', 'U', True, 'unreserved', 'can be bare label',),
    ('values', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('varchar', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('variadic', 'R', True, 'reserved', 'can be bare label',),
    ('varying', 'U', False, 'unreserved', 'requires AS',),
    ('verbose', 'T', True, 'reserved (can be function or type name)', 'can be bare label',),
    ('version', 'U', True, 'unreserved', 'can be bare label',),
    ('view', 'U', True, 'unreserved', 'can be bare label',),
    ('views', 'U', True, 'unreserved', 'can be bare label',),
    ('volatile', 'U', True, 'unreserved', 'can be bare label',),
    ('when', 'R', True, 'reserved', 'can be bare label',),
    ('where', 'R', False, 'reserved', 'requires AS',),
    ('whitespace', 'U', True, 'unreserved', 'can be bare label',),
    ('window', 'R', False, 'reserved', 'requires AS',),
    ('with', 'R', False, 'reserved', 'requires AS',),
    ('within', 'U', False, 'unreserved', 'requires AS',),
    ('without', 'U', False, 'unreserved', 'requires AS',),
    ('work', 'U', True, 'unreserved', 'can be bare label',),
    ('wrapper', 'U', True, 'unreserved', 'can be bare label',),
    ('write', 'U', True, 'unreserved', 'can be bare label',),
    ('xml', 'U', True, 'unreserved', 'can be bare label',),
    ('xmlattributes', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlconcat', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlelement', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlexists', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlforest', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlnamespaces', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlparse', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlpi', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlroot', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmlserialize', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('xmltable', 'C', True, 'unreserved (cannot be function or type name)', 'can be bare label',),
    ('year', 'U', False, 'unreserved', 'requires AS',),
    ('yes', 'U', True, 'unreserved', 'can be bare label',),
    ('zone', 'U', True, 'unreserved', 'can be bare label',),
)
"""Rows of pg_get_keywords(): word, catcode, barelabel, catdesc, baredesc."""

# fmt: on
