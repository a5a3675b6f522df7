//! Catalog entries: built-in ones from `assets/`, and those made by generator jobs.

use rusqlite::{params, Connection};
use serde_json::Value;

use super::{optional, LedgerResult};
use crate::domain::job::ArtifactMeta;
use crate::time::now_rfc3339;

#[derive(Debug, Clone)]
pub struct CatalogRow {
    pub public_id: String,
    pub resource: String,
    pub status: String,
    pub display_name: String,
    pub spec: Value,
    pub description: String,
    pub image_key: String,
    pub meta: ArtifactMeta,
    pub generation_job_public_id: Option<String>,
    pub builtin: bool,
    pub created_at: String,
}

const COLUMNS: &str = "public_id, resource, status, display_name, spec_json, description, image_key, meta_json, \
     generation_job_public_id, builtin, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(CatalogRow, String, String)> {
    Ok((
        CatalogRow {
            public_id: r.get(0)?,
            resource: r.get(1)?,
            status: r.get(2)?,
            display_name: r.get(3)?,
            spec: Value::Null,
            description: r.get(5)?,
            image_key: r.get(6)?,
            meta: ArtifactMeta { width: 0, height: 0, mime: String::new(), sha256: String::new() },
            generation_job_public_id: r.get(8)?,
            builtin: r.get::<_, i64>(9)? != 0,
            created_at: r.get(10)?,
        },
        r.get(4)?,
        r.get(7)?,
    ))
}

fn finish((mut c, spec, meta): (CatalogRow, String, String)) -> LedgerResult<CatalogRow> {
    c.spec = serde_json::from_str(&spec)?;
    c.meta = serde_json::from_str(&meta)?;
    Ok(c)
}

/// Inserts an entry; an existing id is left as it is (built-ins are seeded on every start).
pub fn insert(conn: &Connection, c: &CatalogRow) -> LedgerResult<bool> {
    let n = conn.execute(
        &format!("INSERT OR IGNORE INTO catalog ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        params![
            c.public_id,
            c.resource,
            c.status,
            c.display_name,
            c.spec.to_string(),
            c.description,
            c.image_key,
            serde_json::to_string(&c.meta)?,
            c.generation_job_public_id,
            c.builtin as i64,
            if c.created_at.is_empty() { now_rfc3339() } else { c.created_at.clone() },
        ],
    )?;
    Ok(n == 1)
}

pub fn get(conn: &Connection, resource: &str, id: &str) -> LedgerResult<Option<CatalogRow>> {
    optional(
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM catalog WHERE resource = ?1 AND public_id = ?2"))?
            .query_row(params![resource, id], row),
    )?
    .map(finish)
    .transpose()
}

/// Newest first. `gender` filters models by their spec's `gender`.
pub fn list(
    conn: &Connection,
    resource: &str,
    status: Option<&str>,
    gender: Option<&str>,
    limit: u32,
    offset: u32,
) -> LedgerResult<Vec<CatalogRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM catalog WHERE resource = ?1 AND (?2 IS NULL OR status = ?2) \
         AND (?3 IS NULL OR json_extract(spec_json, '$.gender') = ?3) \
         ORDER BY builtin ASC, public_id DESC LIMIT ?4 OFFSET ?5"
    ))?
    .query_map(params![resource, status, gender, limit, offset], row)?
    .collect::<Result<Vec<_>, _>>()?
    .into_iter()
    .map(finish)
    .collect()
}
