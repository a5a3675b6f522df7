//! Image files on disk, as the desktop's import, `figur batch` and `figur watch` find them.

use std::path::{Path, PathBuf};

/// A JPEG, PNG or WebP file by its name (the studio checks the bytes on upload).
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_lowercase().as_str(), "jpg" | "jpeg" | "png" | "webp"))
}

/// The images `inputs` name: a file as it is, a folder's image files sorted by name (at most
/// `per_folder` of them; subfolders are not entered).
pub fn images_in(inputs: &[PathBuf], per_folder: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            found.sort();
            found.truncate(per_folder);
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    out
}

/// The folder a file was imported from, absolute, as the library shows it.
pub fn folder_of(path: &Path) -> Option<String> {
    let folder = std::path::absolute(path).ok()?.parent()?.to_path_buf();
    Some(folder.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_give_their_images_sorted_and_files_stay_as_named() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.PNG", "a.jpg", "notes.txt", "c.webp"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.jpg")).unwrap();
        let found = images_in(&[dir.path().to_path_buf()], 2);
        let names: Vec<_> = found.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["a.jpg", "b.PNG"], "sorted, images only, capped");
        let named = dir.path().join("notes.txt");
        assert_eq!(images_in(std::slice::from_ref(&named), 10), std::slice::from_ref(&named));
        assert_eq!(folder_of(&named).unwrap(), dir.path().display().to_string());
    }
}
