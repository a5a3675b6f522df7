//! Both migration lists reach the same logical schema. The SQLite half always runs; the
//! PostgreSQL half runs where `FIGUR_TEST_POSTGRES` names a server (`./studio test` runs the
//! engine's tests a second time against one).

use std::collections::BTreeMap;

use super::*;

/// A column as both databases can say it: its name, its type class, NOT NULL, its place in
/// the primary key (0: not in it).
type Column = (String, &'static str, bool, i64);

/// Tables (name → columns, in order), the indexes migrations create by name, and the UNIQUE
/// constraints (table, columns) — whose own indexes each database names its own way.
#[derive(Debug, PartialEq)]
struct Logical {
    tables: BTreeMap<String, Vec<Column>>,
    indexes: Vec<String>,
    unique: Vec<(String, Vec<String>)>,
}

fn class(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer",
        "text" => "text",
        "blob" | "bytea" => "blob",
        "real" | "double precision" => "real",
        other => panic!("a column type neither dialect list should use: {other}"),
    }
}

fn sqlite_logical() -> Logical {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut tables = BTreeMap::new();
    for table in names {
        let mut info = conn.prepare(&format!("PRAGMA table_info({table})")).unwrap();
        let columns: Vec<Column> = info
            .query_map([], |r| {
                let (name, ty, notnull, pk): (String, String, bool, i64) = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(5)?);
                // SQLite lets a primary key column be NULL unless it says otherwise; PostgreSQL
                // never does, and no row here stores one.
                Ok((name, class(&ty), notnull || pk > 0, pk))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.insert(table, columns);
    }
    let indexes = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut unique = Vec::new();
    for table in tables.keys() {
        let constraints: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_index_list('{table}') WHERE origin = 'u'"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for index in constraints {
            let columns: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            unique.push((table.clone(), columns));
        }
    }
    unique.sort();
    Logical { tables, indexes, unique }
}

fn postgres_logical(url: &str) -> Logical {
    let schema = format!("schema_check_{}", crate::ids::new_id().to_ascii_lowercase());
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    migrate_postgres(&mut client, &schema).unwrap();
    let mut tables: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    let keys: BTreeMap<(String, String), i64> = client
        .query(
            "SELECT k.table_name, k.column_name, k.ordinal_position::bigint FROM information_schema.table_constraints c \
             JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name) \
             WHERE c.constraint_schema = $1 AND c.constraint_type = 'PRIMARY KEY'",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    for row in client
        .query(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name <> 'schema_version' ORDER BY table_name, ordinal_position",
            &[&schema],
        )
        .unwrap()
    {
        let (table, column, ty, nullable): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let pk = keys.get(&(table.clone(), column.clone())).copied().unwrap_or(0);
        tables.entry(table).or_default().push((column, class(&ty), nullable == "NO", pk));
    }
    // Indexes made by CREATE INDEX, not those backing a key or a UNIQUE constraint.
    let indexes = client
        .query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname NOT IN \
             (SELECT conname FROM pg_constraint WHERE connamespace = $1::regnamespace) ORDER BY indexname",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut grouped: BTreeMap<(String, String), Vec<(i64, String)>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT k.table_name, k.constraint_name, k.ordinal_position::bigint, k.column_name \
             FROM information_schema.table_constraints c \
             JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name) \
             WHERE c.constraint_schema = $1 AND c.constraint_type = 'UNIQUE'",
            &[&schema],
        )
        .unwrap()
    {
        grouped.entry((r.get(0), r.get(1))).or_default().push((r.get(2), r.get(3)));
    }
    let mut unique: Vec<(String, Vec<String>)> = grouped
        .into_iter()
        .map(|((table, _), mut columns)| {
            columns.sort();
            (table, columns.into_iter().map(|(_, c)| c).collect())
        })
        .collect();
    unique.sort();
    client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
    Logical { tables, indexes, unique }
}

#[test]
fn the_sqlite_migrations_make_every_table_the_ledger_reads() {
    let sqlite = sqlite_logical();
    assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    for table in ["jobs", "job_events", "uploads", "catalog", "webhooks", "rate_windows", "workers"] {
        assert!(sqlite.tables.contains_key(table), "{table} is missing: {:?}", sqlite.tables.keys());
    }
    let jobs = &sqlite.tables["jobs"];
    assert!(jobs.iter().any(|c| c.0 == "lease_token" && c.1 == "integer" && c.2), "{jobs:?}");
}

#[test]
fn both_dialects_reach_the_same_logical_schema() {
    let Ok(url) = std::env::var("FIGUR_TEST_POSTGRES") else {
        eprintln!("FIGUR_TEST_POSTGRES is not set: the PostgreSQL half runs in ./studio test's second engine pass");
        return;
    };
    let (sqlite, postgres) = (sqlite_logical(), postgres_logical(&url));
    for (table, columns) in &sqlite.tables {
        assert_eq!(Some(columns), postgres.tables.get(table), "table {table}");
    }
    assert_eq!(sqlite.tables.keys().collect::<Vec<_>>(), postgres.tables.keys().collect::<Vec<_>>());
    assert_eq!(sqlite.indexes, postgres.indexes);
    assert_eq!(sqlite.unique, postgres.unique);
    assert!(sqlite.unique.iter().any(|(t, c)| t == "api_keys" && c.len() == 1), "{:?}", sqlite.unique);
}
