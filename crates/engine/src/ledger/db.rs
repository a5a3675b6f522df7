//! One SQL surface over the ledger's two databases: the embedded SQLite file and a shared
//! PostgreSQL. Every ledger function is written once against [`Db`]; the few places where the
//! dialects differ ask [`Db::dialect`] (row locks, JSON paths, string aggregation).
//!
//! Statements use SQLite's placeholders (`?1`, `?2`, or bare `?`); for PostgreSQL they become
//! `$1`, `$2`. Values cross as [`SqlValue`]: integers, reals, text, bytes or NULL. PostgreSQL
//! types its parameters from the statement, so an integer binds as whatever integer (or boolean)
//! the column is, and every integer column of the PostgreSQL schema is a BIGINT (see
//! the dialect files in `migrations/`), so values read back as they were written.

use std::cell::RefCell;

use super::{LedgerError, LedgerResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to, or read from, a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Anything a ledger function binds.
pub trait ToSqlValue {
    fn to_sql_value(&self) -> SqlValue;
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToSqlValue for $t {
            fn to_sql_value(&self) -> SqlValue {
                SqlValue::Int(*self as i64)
            }
        }
    )*};
}
int_values!(i64, i32, u32, u16, usize);

impl ToSqlValue for bool {
    fn to_sql_value(&self) -> SqlValue {
        SqlValue::Int(*self as i64)
    }
}
impl ToSqlValue for f64 {
    fn to_sql_value(&self) -> SqlValue {
        SqlValue::Real(*self)
    }
}
impl ToSqlValue for str {
    fn to_sql_value(&self) -> SqlValue {
        SqlValue::Text(self.to_string())
    }
}
impl ToSqlValue for String {
    fn to_sql_value(&self) -> SqlValue {
        SqlValue::Text(self.clone())
    }
}
impl ToSqlValue for [u8] {
    fn to_sql_value(&self) -> SqlValue {
        SqlValue::Blob(self.to_vec())
    }
}
impl ToSqlValue for Vec<u8> {
    fn to_sql_value(&self) -> SqlValue {
        SqlValue::Blob(self.clone())
    }
}
impl ToSqlValue for SqlValue {
    fn to_sql_value(&self) -> SqlValue {
        self.clone()
    }
}
impl<T: ToSqlValue + ?Sized> ToSqlValue for &T {
    fn to_sql_value(&self) -> SqlValue {
        (**self).to_sql_value()
    }
}
impl<T: ToSqlValue> ToSqlValue for Option<T> {
    fn to_sql_value(&self) -> SqlValue {
        self.as_ref().map_or(SqlValue::Null, ToSqlValue::to_sql_value)
    }
}

/// The arguments of one statement: `args![a, b]`.
#[macro_export]
#[doc(hidden)]
macro_rules! ledger_args {
    () => { &[] as &[&dyn $crate::ledger::db::ToSqlValue] };
    ($($v:expr),+ $(,)?) => { &[$(&$v as &dyn $crate::ledger::db::ToSqlValue),+] as &[&dyn $crate::ledger::db::ToSqlValue] };
}
pub use crate::ledger_args as args;

/// What a column is read as.
pub trait FromSqlValue: Sized {
    fn from_sql_value(v: &SqlValue) -> Option<Self>;
}

impl FromSqlValue for i64 {
    fn from_sql_value(v: &SqlValue) -> Option<Self> {
        match v {
            SqlValue::Int(i) => Some(*i),
            _ => None,
        }
    }
}
macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromSqlValue for $t {
            fn from_sql_value(v: &SqlValue) -> Option<Self> {
                i64::from_sql_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
narrow_ints!(i32, u32, u64);

impl FromSqlValue for bool {
    fn from_sql_value(v: &SqlValue) -> Option<Self> {
        i64::from_sql_value(v).map(|i| i != 0)
    }
}
impl FromSqlValue for f64 {
    fn from_sql_value(v: &SqlValue) -> Option<Self> {
        match v {
            SqlValue::Real(r) => Some(*r),
            SqlValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromSqlValue for String {
    fn from_sql_value(v: &SqlValue) -> Option<Self> {
        match v {
            SqlValue::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromSqlValue for Vec<u8> {
    fn from_sql_value(v: &SqlValue) -> Option<Self> {
        match v {
            SqlValue::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromSqlValue> FromSqlValue for Option<T> {
    fn from_sql_value(v: &SqlValue) -> Option<Self> {
        match v {
            SqlValue::Null => Some(None),
            other => T::from_sql_value(other).map(Some),
        }
    }
}

/// One result row, read by column index.
#[derive(Debug, Clone)]
pub struct DbRow(Vec<SqlValue>);

impl DbRow {
    pub fn get<T: FromSqlValue>(&self, i: usize) -> LedgerResult<T> {
        let v = self.0.get(i).ok_or_else(|| LedgerError::Corrupt(format!("no column {i}")))?;
        T::from_sql_value(v).ok_or_else(|| {
            LedgerError::Corrupt(format!("column {i} holds {v:?}, not a {}", std::any::type_name::<T>()))
        })
    }
}

/// A PostgreSQL connection's prepared statements, by their SQLite-worded text: a statement is
/// parsed once per connection, then each use is one round trip.
pub(super) type Statements = std::collections::HashMap<String, postgres::Statement>;

struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut Statements,
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> LedgerResult<postgres::Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.prepare(&postgres_sql(sql))?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

enum Conn<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(RefCell<PgTx<'a>>),
}

/// A connection inside one transaction (a SQLite savepoint in a commit group, or a PostgreSQL
/// transaction of its own). Ledger functions take `&Db` and run statements on it.
pub struct Db<'a> {
    conn: Conn<'a>,
    /// PostgreSQL: the channel commits announce themselves on (one per realm).
    channel: String,
    /// PostgreSQL in a commit group: notifications kept for the group to send in one statement
    /// (`None`: sent as they are made).
    deferred: Option<RefCell<Vec<String>>>,
}

impl<'a> Db<'a> {
    pub(super) fn sqlite(conn: &'a rusqlite::Connection) -> Self {
        Db { conn: Conn::Sqlite(conn), channel: String::new(), deferred: None }
    }

    pub(super) fn postgres(tx: postgres::Transaction<'a>, statements: &'a mut Statements, channel: &str) -> Self {
        Db { conn: Conn::Postgres(RefCell::new(PgTx { tx, statements })), channel: channel.to_string(), deferred: None }
    }

    /// [`Db::postgres`] inside a commit group: its notifications are kept, for the group to
    /// send with the others ([`Db::into_postgres_and_notes`]).
    pub(super) fn postgres_in_group(
        tx: postgres::Transaction<'a>,
        statements: &'a mut Statements,
        channel: &str,
    ) -> Self {
        Db { deferred: Some(RefCell::new(Vec::new())), ..Db::postgres(tx, statements, channel) }
    }

    /// The transaction and the notifications kept for it.
    pub(super) fn into_postgres_and_notes(self) -> (Option<postgres::Transaction<'a>>, Vec<String>) {
        let notes = self.deferred.map(RefCell::into_inner).unwrap_or_default();
        let tx = match self.conn {
            Conn::Postgres(tx) => Some(tx.into_inner().tx),
            Conn::Sqlite(_) => None,
        };
        (tx, notes)
    }

    /// The PostgreSQL transaction, to commit or roll back once the operation has run.
    pub(super) fn into_postgres(self) -> Option<postgres::Transaction<'a>> {
        match self.conn {
            Conn::Postgres(tx) => Some(tx.into_inner().tx),
            Conn::Sqlite(_) => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Appended to a SELECT whose rows the transaction goes on to change: PostgreSQL locks
    /// them against other writers (every writer of a job locks its row first); SQLite has one
    /// writer and needs nothing.
    pub fn for_update(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Like [`Db::for_update`], skipping rows another transaction holds (the claim).
    pub fn skip_locked(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// The database's own clock in milliseconds since the epoch: leases are timed by it, so
    /// machines whose clocks disagree still agree on when a lease ends.
    pub fn now_ms_sql(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// Text values of a correlated subquery's rows, in order, joined by `separator_code` (a
    /// character code): `select` names the value column and `from_where` the rows.
    pub fn joined_sql(&self, select: &str, from_where: &str, separator_code: u32) -> String {
        match self.dialect() {
            Dialect::Sqlite => format!(
                "(SELECT group_concat({select}, char({separator_code})) FROM (SELECT {select} FROM {from_where} ORDER BY {select}))"
            ),
            Dialect::Postgres => {
                format!("(SELECT string_agg({select}, chr({separator_code}) ORDER BY {select}) FROM {from_where})")
            }
        }
    }

    /// `LIKE`, ASCII case-insensitive in both databases (SQLite's `LIKE` is; PostgreSQL's is not).
    pub fn like_ci(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }

    /// A text field of a JSON column (`json_extract` in SQLite, `->>` in PostgreSQL).
    pub fn json_text_sql(&self, column: &str, field: &str) -> String {
        match self.dialect() {
            Dialect::Sqlite => format!("json_extract({column}, '$.{field}')"),
            Dialect::Postgres => format!("({column}::jsonb ->> '{field}')"),
        }
    }

    /// Like [`Db::skip_locked`], locking only the rows of `table` (a join's other rows stay free).
    pub fn skip_locked_of(&self, table: &str) -> String {
        match self.dialect() {
            Dialect::Sqlite => String::new(),
            Dialect::Postgres => format!(" FOR UPDATE OF {table} SKIP LOCKED"),
        }
    }

    /// Serialises the transactions that name `what` until they end: where several processes
    /// write (PostgreSQL), the second waits for the first's commit; SQLite has one writer and
    /// needs nothing.
    pub fn lock_for_transaction(&self, what: &str) -> LedgerResult<()> {
        if self.dialect() == Dialect::Postgres {
            self.execute("SELECT pg_advisory_xact_lock(hashtext(?1))", &[&what])?;
        }
        Ok(())
    }

    /// Runs several statements without arguments (migrations, tests).
    pub fn batch(&self, sql: &str) -> LedgerResult<()> {
        match &self.conn {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(tx) => Ok(tx.borrow_mut().tx.batch_execute(sql)?),
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub fn execute(&self, sql: &str, args: &[&dyn ToSqlValue]) -> LedgerResult<usize> {
        match &self.conn {
            Conn::Sqlite(c) => {
                let values = sqlite_values(args);
                Ok(c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(values.iter()))?)
            }
            Conn::Postgres(tx) => with_postgres_args(args, |refs| {
                let mut tx = tx.borrow_mut();
                let st = tx.statement(sql)?;
                Ok(tx.tx.execute(&st, refs)? as usize)
            }),
        }
    }

    /// Every row of a query, each mapped by `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        args: &[&dyn ToSqlValue],
        mut f: impl FnMut(&DbRow) -> LedgerResult<T>,
    ) -> LedgerResult<Vec<T>> {
        self.rows(sql, args)?.iter().map(&mut f).collect()
    }

    /// The first row of a query, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        args: &[&dyn ToSqlValue],
        f: impl FnOnce(&DbRow) -> LedgerResult<T>,
    ) -> LedgerResult<Option<T>> {
        self.rows(sql, args)?.first().map(f).transpose()
    }

    /// The first row of a query, which must exist.
    pub fn query_one<T>(
        &self,
        sql: &str,
        args: &[&dyn ToSqlValue],
        f: impl FnOnce(&DbRow) -> LedgerResult<T>,
    ) -> LedgerResult<T> {
        self.query_opt(sql, args, f)?.ok_or_else(|| LedgerError::Corrupt(format!("no row for {sql}")))
    }

    fn rows(&self, sql: &str, args: &[&dyn ToSqlValue]) -> LedgerResult<Vec<DbRow>> {
        match &self.conn {
            Conn::Sqlite(c) => {
                let values = sqlite_values(args);
                let mut st = c.prepare_cached(sql)?;
                let columns = st.column_count();
                let mut rows = st.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(DbRow((0..columns).map(|i| row.get_ref(i).map(from_sqlite)).collect::<Result<_, _>>()?));
                }
                Ok(out)
            }
            Conn::Postgres(tx) => with_postgres_args(args, |refs| {
                let mut tx = tx.borrow_mut();
                let st = tx.statement(sql)?;
                let rows = tx.tx.query(&st, refs)?;
                rows.iter().map(from_postgres).collect()
            }),
        }
    }

    /// Tells every process listening on this realm that a job changed (delivered when the
    /// transaction commits, never before; dropped if it rolls back). SQLite's one process
    /// publishes on its in-memory bus after the commit instead.
    pub fn notify(&self, payload: &str) -> LedgerResult<()> {
        if let Some(kept) = &self.deferred {
            kept.borrow_mut().push(payload.to_string());
            return Ok(());
        }
        if let Conn::Postgres(tx) = &self.conn {
            let mut tx = tx.borrow_mut();
            let st = tx.statement("SELECT pg_notify(?1, ?2)")?;
            tx.tx.execute(&st, &[&self.channel, &payload])?;
        }
        Ok(())
    }
}

/// Calls `f` with the arguments as the PostgreSQL driver binds them.
fn with_postgres_args<T>(
    args: &[&dyn ToSqlValue],
    f: impl FnOnce(&[&(dyn postgres::types::ToSql + Sync)]) -> LedgerResult<T>,
) -> LedgerResult<T> {
    let values: Vec<SqlValue> = args.iter().map(|a| a.to_sql_value()).collect();
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        values.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect();
    f(&refs)
}

fn sqlite_values(args: &[&dyn ToSqlValue]) -> Vec<rusqlite::types::Value> {
    args.iter()
        .map(|a| match a.to_sql_value() {
            SqlValue::Null => rusqlite::types::Value::Null,
            SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
            SqlValue::Real(r) => rusqlite::types::Value::Real(r),
            SqlValue::Text(s) => rusqlite::types::Value::Text(s),
            SqlValue::Blob(b) => rusqlite::types::Value::Blob(b),
        })
        .collect()
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> SqlValue {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(r) => SqlValue::Real(r),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

fn from_postgres(row: &postgres::Row) -> LedgerResult<DbRow> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let v = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(SqlValue::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?.map(|v| SqlValue::Int(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?.map(|v| SqlValue::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?.map(|v| SqlValue::Int(v.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)?.map(SqlValue::Real)
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?.map(SqlValue::Blob)
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            row.try_get::<_, Option<String>>(i)?.map(SqlValue::Text)
        } else {
            return Err(LedgerError::Corrupt(format!(
                "column {} is a {ty}, which the ledger does not read",
                column.name()
            )));
        };
        out.push(v.unwrap_or(SqlValue::Null));
    }
    Ok(DbRow(out))
}

impl postgres::types::ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            SqlValue::Null => Ok(postgres::types::IsNull::Yes),
            SqlValue::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            SqlValue::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            SqlValue::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            SqlValue::Int(v) if *ty == Type::FLOAT8 => (*v as f64).to_sql(ty, out),
            SqlValue::Int(v) => v.to_sql(ty, out),
            SqlValue::Real(v) => v.to_sql(ty, out),
            SqlValue::Text(s) => s.as_str().to_sql(ty, out),
            SqlValue::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        // Checked per value in `to_sql`: a mismatch there is an error, not a panic.
        true
    }

    postgres::types::to_sql_checked!();
}

/// `?N` and bare `?` placeholders as PostgreSQL's `$N` (outside quoted text).
pub(super) fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0u32;
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(c);
            continue;
        }
        if c != '?' || quoted {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let n = if digits.is_empty() { highest + 1 } else { digits.parse().unwrap_or(0) };
        highest = highest.max(n);
        out.push('$');
        out.push_str(&n.to_string());
    }
    out
}

impl From<postgres::Error> for LedgerError {
    fn from(e: postgres::Error) -> Self {
        let code = e.code().map(|c| c.code().to_string());
        let message = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            // "error connecting to server" alone does not say why: name the cause (refused,
            // no such host, a password refused, …).
            None => match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            },
        };
        LedgerError::Database {
            // 53100: disk_full.
            disk_full: code.as_deref() == Some("53100"),
            // No answer from the server (it restarted, the network dropped) or it is shedding
            // load (53300 too_many_connections, 57P01-3 shutting down, 40001/40P01 conflicts):
            // a retry later can succeed.
            busy: e.is_closed()
                || code.is_none()
                || matches!(code.as_deref(), Some("53300" | "57P01" | "57P02" | "57P03" | "40001" | "40P01")),
            message: format!("postgres: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_sql;

    #[test]
    fn placeholders_become_postgres_numbers() {
        assert_eq!(postgres_sql("a = ?1 AND (?2 IS NULL OR b = ?2)"), "a = $1 AND ($2 IS NULL OR b = $2)");
        assert_eq!(postgres_sql("x LIKE ? ESCAPE '\\' OR y = ?"), "x LIKE $1 ESCAPE '\\' OR y = $2");
        assert_eq!(postgres_sql("v = '?' AND w = ?3"), "v = '?' AND w = $3");
        assert_eq!(postgres_sql("a = ?2 AND b = ?"), "a = $2 AND b = $3");
    }
}
