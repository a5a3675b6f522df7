//! Renders: the final image of each succeeded compose or edit job, the studio's gallery.

use rusqlite::{params, Connection};
use serde_json::Value;

use super::{optional, LedgerResult};
use crate::domain::job::ArtifactMeta;
use crate::time::now_rfc3339;

#[derive(Debug, Clone)]
pub struct RenderRow {
    pub public_id: String,
    pub job_type: String,
    pub origin: String,
    pub category: Option<String>,
    pub image_key: String,
    pub meta: ArtifactMeta,
    pub inputs: Value,
    pub created_at: String,
}

const COLUMNS: &str = "public_id, job_type, origin, category, image_key, meta_json, inputs_json, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(RenderRow, String, String)> {
    Ok((
        RenderRow {
            public_id: r.get(0)?,
            job_type: r.get(1)?,
            origin: r.get(2)?,
            category: r.get(3)?,
            image_key: r.get(4)?,
            meta: ArtifactMeta { width: 0, height: 0, mime: String::new(), sha256: String::new() },
            inputs: Value::Null,
            created_at: r.get(7)?,
        },
        r.get(5)?,
        r.get(6)?,
    ))
}

fn finish((mut rr, meta, inputs): (RenderRow, String, String)) -> LedgerResult<RenderRow> {
    rr.meta = serde_json::from_str(&meta)?;
    rr.inputs = serde_json::from_str(&inputs)?;
    Ok(rr)
}

pub fn insert(conn: &Connection, r: &RenderRow) -> LedgerResult<()> {
    conn.execute(
        &format!("INSERT INTO renders ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            r.public_id,
            r.job_type,
            r.origin,
            r.category,
            r.image_key,
            serde_json::to_string(&r.meta)?,
            r.inputs.to_string(),
            now_rfc3339()
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> LedgerResult<Option<RenderRow>> {
    optional(conn.prepare_cached(&format!("SELECT {COLUMNS} FROM renders WHERE public_id = ?1"))?.query_row([id], row))?
        .map(finish)
        .transpose()
}

/// Newest first, filtered by origin and category.
pub fn list(
    conn: &Connection,
    origin: Option<&str>,
    category: Option<&str>,
    limit: u32,
    offset: u32,
) -> LedgerResult<Vec<RenderRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM renders WHERE (?1 IS NULL OR origin = ?1) AND (?2 IS NULL OR category = ?2) \
         ORDER BY public_id DESC LIMIT ?3 OFFSET ?4"
    ))?
    .query_map(params![origin, category, limit, offset], row)?
    .collect::<Result<Vec<_>, _>>()?
    .into_iter()
    .map(finish)
    .collect()
}
