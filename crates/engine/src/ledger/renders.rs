//! Renders: the final image of each succeeded compose or edit job, the studio's gallery.

use serde_json::Value;

use super::db::{args, Db, DbRow};
use super::LedgerResult;
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

fn row(r: &DbRow) -> LedgerResult<RenderRow> {
    let (meta, inputs): (String, String) = (r.get(5)?, r.get(6)?);
    Ok(RenderRow {
        public_id: r.get(0)?,
        job_type: r.get(1)?,
        origin: r.get(2)?,
        category: r.get(3)?,
        image_key: r.get(4)?,
        meta: serde_json::from_str::<ArtifactMeta>(&meta)?,
        inputs: serde_json::from_str::<Value>(&inputs)?,
        created_at: r.get(7)?,
    })
}

pub fn insert(conn: &Db<'_>, r: &RenderRow) -> LedgerResult<()> {
    conn.execute(
        &format!("INSERT INTO renders ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        args![
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

pub fn get(conn: &Db<'_>, id: &str) -> LedgerResult<Option<RenderRow>> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM renders WHERE public_id = ?1"), args![id], row)
}

/// How many renders there are (farm tests count that none was filed twice).
pub fn count(conn: &Db<'_>) -> LedgerResult<i64> {
    conn.query_one("SELECT COUNT(*) FROM renders", args![], |r| r.get(0))
}

/// Newest first, filtered by origin and category.
pub fn list(
    conn: &Db<'_>,
    origin: Option<&str>,
    category: Option<&str>,
    limit: u32,
    offset: u32,
) -> LedgerResult<Vec<RenderRow>> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM renders WHERE (CAST(?1 AS TEXT) IS NULL OR origin = ?1) AND (CAST(?2 AS TEXT) IS NULL OR category = ?2) \
             ORDER BY public_id DESC LIMIT ?3 OFFSET ?4"
        ),
        args![origin, category, limit, offset],
        row,
    )
}
