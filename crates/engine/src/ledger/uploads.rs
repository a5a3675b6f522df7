//! Uploaded images: the store key and what the upload check learned about the file. The desktop's
//! library is a view of this table (newest first), so it lives with the data folder.

use rusqlite::{params, Connection};

use super::{optional, LedgerResult};
use crate::time::now_rfc3339;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub key: String,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    pub original_name: String,
    /// The folder a desktop import read the file from; `None` for API uploads.
    pub source_folder: Option<String>,
}

/// An upload as the library lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub upload: UploadRow,
    pub created_at: String,
}

const COLUMNS: &str = "key, mime, width, height, bytes, sha256, original_name, source_folder, created_at";

fn listed(r: &rusqlite::Row<'_>) -> rusqlite::Result<Listed> {
    Ok(Listed {
        upload: UploadRow {
            key: r.get(0)?,
            mime: r.get(1)?,
            width: r.get(2)?,
            height: r.get(3)?,
            bytes: r.get::<_, i64>(4)? as u64,
            sha256: r.get(5)?,
            original_name: r.get(6)?,
            source_folder: r.get(7)?,
        },
        created_at: r.get(8)?,
    })
}

pub fn insert(conn: &Connection, u: &UploadRow) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO uploads (key, mime, width, height, bytes, sha256, original_name, source_folder, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            u.key,
            u.mime,
            u.width,
            u.height,
            u.bytes as i64,
            u.sha256,
            u.original_name,
            u.source_folder,
            now_rfc3339()
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, key: &str) -> LedgerResult<Option<UploadRow>> {
    optional(
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM uploads WHERE key = ?1"))?
            .query_row([key], |r| listed(r).map(|l| l.upload)),
    )
}

/// The oldest upload with these contents, if any (an import of the same image twice).
pub fn by_content(conn: &Connection, sha256: &str) -> LedgerResult<Option<UploadRow>> {
    optional(
        conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE sha256 = ?1 ORDER BY created_at, key LIMIT 1"
        ))?
        .query_row([sha256], |r| listed(r).map(|l| l.upload)),
    )
}

/// A page of uploads, newest first.
pub fn list(conn: &Connection, limit: u32, offset: u32) -> LedgerResult<Vec<Listed>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM uploads ORDER BY created_at DESC, key DESC LIMIT ?1 OFFSET ?2"
    ))?;
    let rows = st.query_map(params![limit, offset], listed)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, sha: &str, folder: Option<&str>) -> UploadRow {
        UploadRow {
            key: key.into(),
            mime: "image/png".into(),
            width: 4,
            height: 3,
            bytes: 10,
            sha256: sha.into(),
            original_name: format!("{key}.png"),
            source_folder: folder.map(str::to_string),
        }
    }

    #[test]
    fn the_library_lists_newest_first_and_finds_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = super::super::Ledger::open(&dir.path().join("ledger.db")).unwrap();
        for (key, sha, folder) in
            [("uploads/a", "s1", Some("/photos")), ("uploads/b", "s2", None), ("uploads/c", "s1", None)]
        {
            let r = row(key, sha, folder);
            ledger.write_blocking(move |c| insert(c, &r)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let page = ledger.read_blocking(|c| list(c, 2, 0)).unwrap();
        assert_eq!(page.iter().map(|l| l.upload.key.as_str()).collect::<Vec<_>>(), ["uploads/c", "uploads/b"]);
        let rest = ledger.read_blocking(|c| list(c, 50, 2)).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].upload.source_folder.as_deref(), Some("/photos"));
        assert_eq!(ledger.read_blocking(|c| by_content(c, "s1")).unwrap().unwrap().key, "uploads/a");
        assert!(ledger.read_blocking(|c| by_content(c, "s9")).unwrap().is_none());
    }
}
