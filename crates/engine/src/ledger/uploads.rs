//! Uploaded images: the store key and what the upload check learned about the file. The desktop's
//! library is a view of this table (newest first), so it lives with the data folder; a designer's
//! tags and favourites live beside it (`upload_tags`, `uploads.favourite`), and a search reads
//! names, folders and tags.

use super::db::{args, Db, DbRow, SqlValue, ToSqlValue};
use super::LedgerResult;
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
    pub favourite: bool,
    /// Sorted.
    pub tags: Vec<String>,
}

/// What a library page is narrowed to; every part that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibraryQuery {
    /// Words that must each appear (case-insensitively, ASCII) in the name, the folder or a tag.
    pub text: Option<String>,
    /// Carries exactly this tag.
    pub tag: Option<String>,
    pub favourite: Option<bool>,
    /// Imported from exactly this folder.
    pub folder: Option<String>,
}

const BASE_COLUMNS: &str =
    "key, mime, width, height, bytes, sha256, original_name, source_folder, created_at, favourite";

/// The columns a listing reads: the upload's, then its tags joined by U+001F.
fn columns(conn: &Db<'_>) -> String {
    let tags = conn.joined_sql("tag", "upload_tags t WHERE t.key = uploads.key", 31);
    format!("{BASE_COLUMNS}, {tags}")
}

fn listed(r: &DbRow) -> LedgerResult<Listed> {
    Ok(Listed {
        upload: UploadRow {
            key: r.get(0)?,
            mime: r.get(1)?,
            width: r.get(2)?,
            height: r.get(3)?,
            bytes: r.get(4)?,
            sha256: r.get(5)?,
            original_name: r.get(6)?,
            source_folder: r.get(7)?,
        },
        created_at: r.get(8)?,
        favourite: r.get(9)?,
        tags: r
            .get::<Option<String>>(10)?
            .map(|joined| joined.split('\u{1f}').map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

pub fn insert(conn: &Db<'_>, u: &UploadRow) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO uploads (key, mime, width, height, bytes, sha256, original_name, source_folder, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        args![
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

pub fn get(conn: &Db<'_>, key: &str) -> LedgerResult<Option<UploadRow>> {
    Ok(listed_by_key(conn, key)?.map(|l| l.upload))
}

/// The oldest upload with these contents, if any (an import of the same image twice).
pub fn by_content(conn: &Db<'_>, sha256: &str) -> LedgerResult<Option<UploadRow>> {
    conn.query_opt(
        &format!("SELECT {} FROM uploads WHERE sha256 = ?1 ORDER BY created_at, key LIMIT 1", columns(conn)),
        args![sha256],
        |r| listed(r).map(|l| l.upload),
    )
}

/// A page of uploads, newest first.
pub fn list(conn: &Db<'_>, limit: u32, offset: u32) -> LedgerResult<Vec<Listed>> {
    Ok(search(conn, &LibraryQuery::default(), limit, offset)?.0)
}

/// `LIKE` text for a literal substring: `%`, `_` and the escape itself escaped.
fn like_pattern(word: &str) -> String {
    let escaped: String = word
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// A page of the uploads `query` selects, newest first, and how many it selects in all.
pub fn search(conn: &Db<'_>, query: &LibraryQuery, limit: u32, offset: u32) -> LedgerResult<(Vec<Listed>, u64)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut bind = |clauses: &mut Vec<String>, sql: &str, value: SqlValue| {
        values.push(value);
        clauses.push(sql.replace("?", &format!("?{}", values.len())));
    };
    let like = conn.like_ci();
    for word in query.text.as_deref().unwrap_or("").split_whitespace().take(8) {
        bind(
            &mut clauses,
            &format!(
                "(original_name {like} ? ESCAPE '\\' OR source_folder {like} ?  ESCAPE '\\' \
                 OR EXISTS (SELECT 1 FROM upload_tags t WHERE t.key = uploads.key AND t.tag {like} ? ESCAPE '\\'))"
            ),
            SqlValue::Text(like_pattern(word)),
        );
    }
    if let Some(tag) = &query.tag {
        bind(
            &mut clauses,
            "EXISTS (SELECT 1 FROM upload_tags t WHERE t.key = uploads.key AND t.tag = ?)",
            SqlValue::Text(tag.clone()),
        );
    }
    if let Some(favourite) = query.favourite {
        bind(&mut clauses, "favourite = ?", SqlValue::Int(favourite.into()));
    }
    if let Some(folder) = &query.folder {
        bind(&mut clauses, "source_folder = ?", SqlValue::Text(folder.clone()));
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let bound: Vec<&dyn ToSqlValue> = values.iter().map(|v| v as &dyn ToSqlValue).collect();
    let total: i64 = conn.query_one(&format!("SELECT count(*) FROM uploads {filter}"), &bound, |r| r.get(0))?;
    let n = values.len();
    values.push(SqlValue::Int(limit.into()));
    values.push(SqlValue::Int(offset.into()));
    let bound: Vec<&dyn ToSqlValue> = values.iter().map(|v| v as &dyn ToSqlValue).collect();
    let rows = conn.query(
        &format!(
            "SELECT {} FROM uploads {filter} ORDER BY created_at DESC, key DESC LIMIT ?{} OFFSET ?{}",
            columns(conn),
            n + 1,
            n + 2
        ),
        &bound,
        listed,
    )?;
    Ok((rows, total as u64))
}

/// One upload as the library lists it.
pub fn listed_by_key(conn: &Db<'_>, key: &str) -> LedgerResult<Option<Listed>> {
    conn.query_opt(&format!("SELECT {} FROM uploads WHERE key = ?1", columns(conn)), args![key], listed)
}

/// Replaces an upload's tags (already normalised by the caller). False if there is no such upload.
pub fn set_tags(conn: &Db<'_>, key: &str, tags: &[String]) -> LedgerResult<bool> {
    let sql = format!("SELECT key FROM uploads WHERE key = ?1{}", conn.for_update());
    if conn.query_opt(&sql, args![key], |r| r.get::<String>(0))?.is_none() {
        return Ok(false);
    }
    conn.execute("DELETE FROM upload_tags WHERE key = ?1", args![key])?;
    for tag in tags {
        conn.execute("INSERT INTO upload_tags (key, tag) VALUES (?1, ?2) ON CONFLICT DO NOTHING", args![key, tag])?;
    }
    Ok(true)
}

/// Marks or unmarks an upload as a favourite. False if there is no such upload.
pub fn set_favourite(conn: &Db<'_>, key: &str, favourite: bool) -> LedgerResult<bool> {
    Ok(conn.execute("UPDATE uploads SET favourite = ?2 WHERE key = ?1", args![key, favourite])? == 1)
}

/// Every tag in the library with how many uploads carry it, most used first.
pub fn tag_counts(conn: &Db<'_>) -> LedgerResult<Vec<(String, u64)>> {
    conn.query("SELECT tag, count(*) AS n FROM upload_tags GROUP BY tag ORDER BY n DESC, tag", args![], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
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

    #[test]
    fn the_library_is_searched_by_name_folder_and_tag_narrowed_by_favourite_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = super::super::Ledger::open(&dir.path().join("ledger.db")).unwrap();
        for (key, folder) in [
            ("uploads/1/red_dress.png", Some("/ss27/dresses")),
            ("uploads/2/model_anna.png", Some("/ss27/models")),
            ("uploads/3/100%_wool.png", None),
            ("uploads/4/jacket.png", Some("/aw26")),
        ] {
            let mut r = row(key, key, folder);
            r.original_name = key.rsplit('/').next().unwrap().to_string();
            ledger.write_blocking(move |c| insert(c, &r)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let tags = |key: &'static str, tags: &'static [&'static str]| {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            ledger.write_blocking(move |c| set_tags(c, key, &tags)).unwrap()
        };
        assert!(tags("uploads/1/red_dress.png", &["summer", "hero shot"]));
        assert!(tags("uploads/4/jacket.png", &["hero shot"]));
        assert!(!tags("uploads/9/none.png", &["x"]), "no such upload");
        assert!(ledger.write_blocking(|c| set_favourite(c, "uploads/2/model_anna.png", true)).unwrap());
        let keys = |q: LibraryQuery| -> (Vec<String>, u64) {
            let (rows, total) = ledger.read_blocking(move |c| search(c, &q, 50, 0)).unwrap();
            (rows.into_iter().map(|l| l.upload.key).collect(), total)
        };
        let text = |t: &str| LibraryQuery { text: Some(t.into()), ..Default::default() };
        assert_eq!(keys(text("DRESS")).0, ["uploads/1/red_dress.png"], "names, case-insensitively");
        assert_eq!(keys(text("ss27")).0, ["uploads/2/model_anna.png", "uploads/1/red_dress.png"], "folders");
        assert_eq!(keys(text("hero")).0, ["uploads/4/jacket.png", "uploads/1/red_dress.png"], "tags");
        assert_eq!(keys(text("hero ss27")).0, ["uploads/1/red_dress.png"], "every word must match");
        assert_eq!(keys(text("100%")).0, ["uploads/3/100%_wool.png"], "% is literal");
        assert_eq!(keys(text("_")).1, 3, "so is _ (jacket.png has none)");
        assert_eq!(keys(text("a_n")).0, Vec::<String>::new(), "_ does not match any one character");
        let tagged = LibraryQuery { tag: Some("hero shot".into()), ..Default::default() };
        assert_eq!(keys(tagged).1, 2);
        let favourites = LibraryQuery { favourite: Some(true), ..Default::default() };
        assert_eq!(keys(favourites).0, ["uploads/2/model_anna.png"]);
        let folder = LibraryQuery { folder: Some("/aw26".into()), ..Default::default() };
        assert_eq!(keys(folder).0, ["uploads/4/jacket.png"]);
        let (page, total) = ledger.read_blocking(|c| search(c, &LibraryQuery::default(), 1, 1)).unwrap();
        assert_eq!((page.len(), total), (1, 4), "a page and the total");
        let listed = ledger.read_blocking(|c| listed_by_key(c, "uploads/1/red_dress.png")).unwrap().unwrap();
        assert_eq!(listed.tags, ["hero shot", "summer"], "sorted");
        assert_eq!(
            ledger.read_blocking(tag_counts).unwrap(),
            [("hero shot".to_string(), 2), ("summer".to_string(), 1)]
        );
    }
}
