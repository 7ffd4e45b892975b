//! The catalog queries real clients send (`tests/psql15/`: psql 15's meta-commands,
//! tokio-postgres, psycopg, pgjdbc, pgbench), on an empty and on a populated catalog,
//! with the rows PostgreSQL 15 returns for the same objects (where FerrisDB differs on
//! purpose, the comment says so).

use std::sync::Arc;

use ferrisdb_sql::{Engine, Session, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

fn session() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    (dir, engine.session())
}

const SCHEMA: &str = "CREATE TABLE t (id int PRIMARY KEY, name varchar(20) NOT NULL DEFAULT 'x', \
    n numeric(10,2) CHECK (n > 0), u int UNIQUE); CREATE INDEX t_n ON t (n); \
    CREATE VIEW v AS SELECT id FROM t";

fn populated() -> (tempfile::TempDir, Session) {
    let (d, mut s) = session();
    s.execute(SCHEMA).unwrap();
    (d, s)
}

/// The rows of the last statement of `sql`, each as `a|b|c` in text form (NULL as
/// `NULL`).
fn rows(s: &mut Session, sql: &str) -> Vec<String> {
    let r = s
        .execute(sql)
        .unwrap_or_else(|e| panic!("{e} ({}) in:\n{sql}", e.sqlstate()));
    match r.last() {
        Some(StatementResult::Query { columns, rows, .. }) => rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(columns)
                    .map(|(d, c)| d.to_text(&c.data_type).unwrap_or_else(|| "NULL".into()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect(),
        other => panic!("expected rows, got {other:?}"),
    }
}

macro_rules! query {
    ($file:literal) => {
        include_str!(concat!("psql15/", $file))
    };
}

#[test]
fn psql_list_commands_on_an_empty_catalog() {
    let (_d, mut s) = session();
    // PostgreSQL also lists template0/template1; FerrisDB has no templates, and no
    // locale but C.
    assert_eq!(
        rows(&mut s, query!("l.sql")),
        ["postgres|postgres|UTF8|C|C|NULL|libc|NULL"]
    );
    for q in [query!("dt.sql"), query!("di.sql"), query!("dv.sql")] {
        assert!(rows(&mut s, q).is_empty());
    }
    assert_eq!(rows(&mut s, query!("dn.sql")), ["public|pg_database_owner"]);
    assert_eq!(
        rows(&mut s, query!("du.sql")),
        ["postgres|t|t|t|t|t|-1|NULL|{}|t|t"]
    );
    assert!(rows(&mut s, query!("d_lookup.sql")).is_empty());
}

#[test]
fn psql_list_commands_show_the_objects() {
    let (_d, mut s) = populated();
    assert_eq!(rows(&mut s, query!("dt.sql")), ["public|t|table|postgres"]);
    assert_eq!(
        rows(&mut s, query!("di.sql")),
        [
            "public|t_n|index|postgres|t",
            "public|t_pkey|index|postgres|t",
            "public|t_u_key|index|postgres|t"
        ]
    );
    assert_eq!(rows(&mut s, query!("dv.sql")), ["public|v|view|postgres"]);
}

#[test]
fn psql_describe_table_queries() {
    let (_d, mut s) = populated();
    assert_eq!(rows(&mut s, query!("d_lookup.sql")), ["16384|public|t"]);
    assert_eq!(
        rows(&mut s, query!("d_flags.sql")),
        ["1|r|t|f|f|f|f|f|f||0||p|d|heap"]
    );
    // PostgreSQL prints the default as 'x'::character varying: FerrisDB keeps the
    // expression as written.
    assert_eq!(
        rows(&mut s, query!("d_columns.sql")),
        [
            "id|integer|NULL|t|NULL||",
            "name|character varying(20)|'x'|t|NULL||",
            "n|numeric(10,2)|NULL|f|NULL||",
            "u|integer|NULL|f|NULL||"
        ]
    );
    assert_eq!(
        rows(&mut s, query!("d_indexes.sql")),
        [
            "t_pkey|t|t|f|t|CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)|PRIMARY KEY (id)|p|f|f|f|0",
            "t_n|f|f|f|t|CREATE INDEX t_n ON public.t USING btree (n)|NULL|NULL|NULL|NULL|f|0",
            "t_u_key|f|t|f|t|CREATE UNIQUE INDEX t_u_key ON public.t USING btree (u)|UNIQUE (u)|u|f|f|f|0"
        ]
    );
    // PostgreSQL: CHECK (n > 0::numeric).
    assert_eq!(
        rows(&mut s, query!("d_checks.sql")),
        ["t_n_check|CHECK (n > 0)"]
    );
    for q in [
        query!("d_policies.sql"),
        query!("d_statistics.sql"),
        query!("d_publications.sql"),
        query!("d_parents.sql"),
        query!("d_partitions.sql"),
    ] {
        assert!(rows(&mut s, q).is_empty(), "{q}");
    }
    assert_eq!(
        rows(&mut s, query!("dplus_flags.sql")),
        ["1|r|t|f|f|f|f|f|f|NULL|0||p|d|heap"]
    );
    assert_eq!(
        rows(&mut s, query!("dplus_columns.sql")),
        [
            "id|integer|NULL|t|NULL|||p||NULL|NULL",
            "name|character varying(20)|'x'|t|NULL|||x||NULL|NULL",
            "n|numeric(10,2)|NULL|f|NULL|||m||NULL|NULL",
            "u|integer|NULL|f|NULL|||p||NULL|NULL"
        ]
    );
}

#[test]
fn driver_metadata_queries() {
    let (_d, mut s) = populated();
    assert_eq!(
        rows(&mut s, query!("tokio_typeinfo.sql")),
        ["_text|b|25|NULL|0|pg_catalog|0"]
    );
    assert_eq!(
        rows(&mut s, query!("psycopg_typeinfo.sql")),
        ["text|25|1009|text|,"]
    );
    assert_eq!(
        rows(&mut s, query!("pgjdbc_tables.sql")),
        ["NULL|public|t|TABLE|NULL|||||"]
    );
    assert_eq!(
        rows(&mut s, query!("pgjdbc_typeinfo.sql")),
        ["t|b|_int4|1007"]
    );
    // No such table yet: no row, and no error.
    assert!(rows(&mut s, query!("pgbench_partitions.sql")).is_empty());
    s.execute("CREATE TABLE pgbench_accounts (aid int PRIMARY KEY)")
        .unwrap();
    assert_eq!(rows(&mut s, query!("pgbench_partitions.sql")), ["2|NULL|0"]);
}

#[test]
fn catalog_names_resolve_like_postgres() {
    let (_d, mut s) = populated();
    assert_eq!(
        rows(&mut s, "SELECT 't'::regclass, 't'::regclass::oid, 'pg_class'::regclass::oid, 16384::regclass::text"),
        ["t|16384|1259|t"]
    );
    assert_eq!(
        rows(&mut s, "SELECT 'int4'::regtype, 'character varying'::regtype::oid, to_regtype('nosuch'), to_regclass('nosuch')"),
        ["integer|1043|NULL|NULL"]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT relid, relid::oid FROM pg_partition_ancestors('t')"
        ),
        ["t|16384"]
    );
    let e = s.execute("SELECT 'nosuch'::regclass").unwrap_err();
    assert_eq!(
        (e.sqlstate(), e.to_string().as_str()),
        ("42P01", "relation \"nosuch\" does not exist")
    );
    // pg_catalog comes first on the search path; public.pg_class is the user's.
    s.execute("CREATE TABLE pg_class (x int)").unwrap();
    assert_eq!(rows(&mut s, "SELECT count(*) > 10 FROM pg_class"), ["t"]);
    assert_eq!(rows(&mut s, "SELECT count(*) FROM public.pg_class"), ["0"]);
    assert_eq!(
        s.execute("SELECT * FROM pg_catalog.nosuch")
            .unwrap_err()
            .sqlstate(),
        "42P01"
    );
}

#[test]
fn information_schema_lists_tables_and_columns() {
    let (_d, mut s) = populated();
    assert_eq!(
        rows(&mut s, "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 2"),
        ["public|t|BASE TABLE", "public|v|VIEW"]
    );
    assert_eq!(
        rows(&mut s, "SELECT column_name, ordinal_position, column_default, is_nullable, data_type, character_maximum_length, numeric_precision, numeric_scale, udt_name FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position"),
        [
            "id|1|NULL|NO|integer|NULL|32|0|int4",
            "name|2|'x'|NO|character varying|20|NULL|NULL|varchar",
            "n|3|NULL|YES|numeric|NULL|10|2|numeric",
            "u|4|NULL|YES|integer|NULL|32|0|int4"
        ]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT schema_name FROM information_schema.schemata ORDER BY 1"
        ),
        ["information_schema", "pg_catalog", "public"]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT table_name, view_definition FROM information_schema.views"
        ),
        ["v| SELECT id FROM t;"]
    );
}

#[test]
fn system_functions_and_settings() {
    let (_d, mut s) = populated();
    assert_eq!(
        rows(&mut s, "SELECT current_schema(), session_user, current_user, current_database(), current_schemas(true), current_schemas(false), pg_is_in_recovery(), pg_backend_pid() > 0"),
        ["public|postgres|postgres|postgres|{pg_catalog,public}|{public}|f|t"]
    );
    assert_eq!(
        rows(&mut s, "SELECT quote_ident('A b'), quote_ident('ab'), array_to_string(ARRAY[1,2,NULL,3], ',', '*'), 2 = ANY(ARRAY[1,2]), 3 = ANY('{1,2}'), pg_typeof(1.5), format_type(1043, 24)"),
        ["\"A b\"|ab|1,2,*,3|t|f|numeric|character varying(20)"]
    );
    assert_eq!(
        rows(&mut s, "SELECT has_table_privilege('t', 'select'), pg_relation_size('t'), obj_description(16384, 'pg_class'), pg_encoding_to_char(6), version() LIKE 'PostgreSQL 15.0 (FerrisDB %'"),
        ["t|0|NULL|UTF8|t"]
    );
    assert_eq!(
        rows(&mut s, "SELECT set_config('application_name', 'app', false), current_setting('application_name'), current_setting('nope.x', true), current_setting('DateStyle')"),
        ["app|app|NULL|ISO, MDY"]
    );
    assert_eq!(rows(&mut s, "SHOW application_name"), ["app"]);
    assert_eq!(
        s.execute("SELECT current_setting('nope')")
            .unwrap_err()
            .sqlstate(),
        "42704"
    );
    s.execute("SET statement_timeout = '5s'").unwrap();
    assert_eq!(
        rows(&mut s, "SELECT name, setting, unit, vartype, source FROM pg_settings WHERE name IN ('statement_timeout', 'DateStyle') ORDER BY name"),
        ["DateStyle|ISO, MDY|NULL|string|default", "statement_timeout|5000|ms|integer|session"]
    );
}

#[test]
fn arrays_regex_and_lateral() {
    let (_d, mut s) = session();
    assert_eq!(
        rows(&mut s, "SELECT 'abc' ~ '^a', 'abc' !~ 'z', 'ABC' ~* 'b', 'x' OPERATOR(pg_catalog.~) '^(x)$' COLLATE pg_catalog.default"),
        ["t|t|t|t"]
    );
    assert_eq!(
        s.execute("SELECT 'a' ~ '('").unwrap_err().sqlstate(),
        "2201B"
    );
    assert_eq!(
        rows(&mut s, "SELECT ARRAY[1,2] || 3, (ARRAY['a','b'])[2], array_upper(ARRAY[1,2,3], 1), ARRAY(SELECT generate_series FROM generate_series(1, 3))"),
        ["{1,2,3}|b|3|{1,2,3}"]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT x FROM unnest(ARRAY['b', NULL, 'a']) x ORDER BY x"
        ),
        ["a", "b", "NULL"]
    );
    assert_eq!(
        rows(&mut s, "SELECT g, o.d FROM generate_series(1, 3) g CROSS JOIN LATERAL (SELECT g * 2) AS o(d) ORDER BY g"),
        ["1|2", "2|4", "3|6"]
    );
}

/// Found through the catalog queries: a WHERE filter pushed into an inner join whose
/// equality had already become a hash key dropped that key.
#[test]
fn inner_join_keeps_its_keys_under_a_where_filter() {
    let (_d, mut s) = session();
    s.execute("CREATE TABLE a (x int); CREATE TABLE b (y int); INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (1), (2)")
        .unwrap();
    assert_eq!(
        rows(&mut s, "SELECT * FROM a JOIN b ON a.x = b.y WHERE a.x = 1"),
        ["1|1"]
    );
}

#[test]
fn df_and_da_list_the_built_in_functions_as_postgresql_does() {
    let (_d, mut s) = session();
    // psql's `\df abs`: PostgreSQL 15's six rows, exactly.
    assert_eq!(
        rows(&mut s, query!("df.sql")),
        [
            "pg_catalog|abs|bigint|bigint|func",
            "pg_catalog|abs|double precision|double precision|func",
            "pg_catalog|abs|integer|integer|func",
            "pg_catalog|abs|numeric|numeric|func",
            "pg_catalog|abs|real|real|func",
            "pg_catalog|abs|smallint|smallint|func",
        ]
    );
    // `\da sum`: PostgreSQL's rows but sum(money) (no money type) and the descriptions
    // (pg_description is empty).
    assert_eq!(
        rows(&mut s, query!("da.sql")),
        [
            "pg_catalog|sum|numeric|bigint|NULL",
            "pg_catalog|sum|double precision|double precision|NULL",
            "pg_catalog|sum|bigint|integer|NULL",
            "pg_catalog|sum|interval|interval|NULL",
            "pg_catalog|sum|numeric|numeric|NULL",
            "pg_catalog|sum|real|real|NULL",
            "pg_catalog|sum|bigint|smallint|NULL",
        ]
    );
    // `\df+ md5`: the language comes from pg_language; the source is the function's own
    // name where PostgreSQL names its C symbol (md5_text, md5_bytea).
    assert_eq!(
        rows(&mut s, query!("dfplus.sql")),
        [
            "pg_catalog|md5|text|bytea|func|immutable|safe|postgres|invoker|NULL|internal|md5|NULL",
            "pg_catalog|md5|text|text|func|immutable|safe|postgres|invoker|NULL|internal|md5|NULL",
        ]
    );
    // `\df` with no pattern lists user functions only: none.
    assert!(rows(
        &mut s,
        "SELECT p.proname FROM pg_catalog.pg_proc p LEFT JOIN pg_catalog.pg_namespace n \
         ON n.oid = p.pronamespace WHERE pg_catalog.pg_function_is_visible(p.oid) \
         AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema'"
    )
    .is_empty());
    assert_eq!(
        rows(
            &mut s,
            "SELECT 'pg_sleep'::regproc::oid, 1397::regproc, 2626::regproc, \
             pg_get_function_result(2626), pg_get_function_arguments(3294), \
             pg_get_function_result(1), count(*) FILTER (WHERE prokind = 'a') > 40 FROM pg_proc"
        ),
        ["2626|pg_catalog.abs|pg_sleep|void|text, boolean|NULL|t"]
    );
    let e = s.execute("SELECT 'abs'::regproc").unwrap_err();
    assert_eq!(
        (e.sqlstate(), e.to_string().as_str()),
        ("42725", "more than one function named \"abs\"")
    );
}

/// Every built-in `pg_proc` row is a call the binder accepts with exactly those argument
/// types, returning exactly that type: the listing cannot drift from what runs.
#[test]
fn every_pg_proc_row_binds_to_its_arguments_and_result_type() {
    use ferrisdb_sql::pg_catalog::procs;
    let (_d, mut s) = session();
    let all = procs::builtin();
    assert!(all.len() > 150, "{} rows", all.len());
    for p in all {
        let args: Vec<String> = p.args.iter().map(|t| format!("NULL::{t}")).collect();
        let args = if p.kind == 'a' && args.is_empty() {
            "*".to_string()
        } else {
            args.join(", ")
        };
        let sql = format!("SELECT pg_catalog.{}({args})", p.name);
        let d = s
            .describe(&sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let columns = d.columns.expect("a query");
        assert_eq!(columns[0].data_type.oid(), p.result.oid(), "{sql}");
    }
    // Signatures with no PostgreSQL counterpart are left out, and only these.
    let missing: Vec<String> = procs::candidates()
        .iter()
        .filter(|p| procs::pg_oid(p.name, &p.args).is_none())
        .map(|p| format!("{}{:?}", p.name, p.args))
        .collect();
    assert_eq!(
        missing,
        [
            "char_length[Bytea]",
            "character_length[Bytea]",
            "pg_get_expr[Text, Oid(Oid)]",
            "pg_get_expr[Text, Oid(Oid), Bool]",
        ]
    );
    // OIDs are unique, also against the type I/O functions pg_proc lists first.
    let oids: Vec<String> = rows(&mut s, "SELECT oid FROM pg_proc ORDER BY oid");
    let mut dedup = oids.clone();
    dedup.dedup();
    assert_eq!(oids, dedup);
}
