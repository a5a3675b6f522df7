//! Catalog entries: built-in ones from `assets/`, and those made by generator jobs.

use serde_json::Value;

use super::db::{args, Db, DbRow};
use super::LedgerResult;
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

fn row(r: &DbRow) -> LedgerResult<CatalogRow> {
    let (spec, meta): (String, String) = (r.get(4)?, r.get(7)?);
    Ok(CatalogRow {
        public_id: r.get(0)?,
        resource: r.get(1)?,
        status: r.get(2)?,
        display_name: r.get(3)?,
        spec: serde_json::from_str::<Value>(&spec)?,
        description: r.get(5)?,
        image_key: r.get(6)?,
        meta: serde_json::from_str::<ArtifactMeta>(&meta)?,
        generation_job_public_id: r.get(8)?,
        builtin: r.get(9)?,
        created_at: r.get(10)?,
    })
}

/// Inserts an entry; an existing id is left as it is (built-ins are seeded on every start).
pub fn insert(conn: &Db<'_>, c: &CatalogRow) -> LedgerResult<bool> {
    let n = conn.execute(
        &format!(
            "INSERT INTO catalog ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (public_id) DO NOTHING"
        ),
        args![
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

pub fn get(conn: &Db<'_>, resource: &str, id: &str) -> LedgerResult<Option<CatalogRow>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM catalog WHERE resource = ?1 AND public_id = ?2"),
        args![resource, id],
        row,
    )
}

/// Newest first. `gender` filters models by their spec's `gender`.
pub fn list(
    conn: &Db<'_>,
    resource: &str,
    status: Option<&str>,
    gender: Option<&str>,
    limit: u32,
    offset: u32,
) -> LedgerResult<Vec<CatalogRow>> {
    let gender_of_spec = conn.json_text_sql("spec_json", "gender");
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM catalog WHERE resource = ?1 AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) \
             AND (CAST(?3 AS TEXT) IS NULL OR {gender_of_spec} = ?3) \
             ORDER BY builtin ASC, public_id DESC LIMIT ?4 OFFSET ?5"
        ),
        args![resource, status, gender, limit, offset],
        row,
    )
}
