//! What the PostgreSQL ledger's threads share below them (the writer, its dispatch groups, the
//! announcer): how they connect, and statements prepared once per connection.

use postgres::IsolationLevel;

use super::db::Statements;
use super::LedgerResult;

/// How the writer reaches the database: a fresh connection with the realm's search path.
pub(super) type Connect = Box<dyn Fn() -> LedgerResult<postgres::Client> + Send>;

/// A group's transaction: READ COMMITTED whatever the database's default (the ledger's row
/// locks, not snapshots, order its writers).
pub(super) fn begin(client: &mut postgres::Client) -> Result<postgres::Transaction<'_>, postgres::Error> {
    client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start()
}

/// `sql` prepared once per connection: the set-wise statements run every group, and a prepare
/// is a round trip of its own.
pub(super) fn prepared<C: postgres::GenericClient>(
    client: &mut C,
    statements: &mut Statements,
    sql: &str,
) -> Result<postgres::Statement, postgres::Error> {
    if let Some(st) = statements.get(sql) {
        return Ok(st.clone());
    }
    let st = client.prepare(sql)?;
    statements.insert(sql.to_string(), st.clone());
    Ok(st)
}

pub(super) type Params<'p> = [&'p (dyn postgres::types::ToSql + Sync)];

pub(super) fn exec<C: postgres::GenericClient>(
    tx: &mut C,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.execute(&st, params)
}

pub(super) fn rows<C: postgres::GenericClient>(
    tx: &mut C,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.query(&st, params)
}

pub(super) fn row_opt<C: postgres::GenericClient>(
    tx: &mut C,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<postgres::Row>, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.query_opt(&st, params)
}

pub(super) fn row_one<C: postgres::GenericClient>(
    tx: &mut C,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<postgres::Row, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.query_one(&st, params)
}
