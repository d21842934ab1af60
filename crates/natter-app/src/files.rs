//! Files the app writes for the user to keep or send (the diagnostics, the exported ICE servers):
//! where they go (the Downloads folder when there is one, else a folder of the app's), under
//! which name (the local time, readable: `natter-diagnostics-2026-12-08-0142.json`), and showing
//! one in the platform's file manager ("Show in folder").

use std::io::Write;
use std::path::{Path, PathBuf};

/// The folders a user-facing file may go to, in the order they are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportPlaces {
    /// The user's Downloads folder; used only if it exists (never created).
    pub downloads: Option<PathBuf>,
    /// The user's Documents folder; same (for exported ICE servers).
    pub documents: Option<PathBuf>,
    /// The app's log folder (created if needed): diagnostics go there without a Downloads folder.
    pub logs: Option<PathBuf>,
}

impl ExportPlaces {
    /// The platform's folders (XDG user dirs, `~/Downloads`, …); the log folder as the logs use it.
    pub fn from_env() -> ExportPlaces {
        let home = |name: &str| dirs::home_dir().map(|h| h.join(name)).filter(|d| d.is_dir());
        ExportPlaces {
            downloads: dirs::download_dir().or_else(|| home("Downloads")),
            documents: dirs::document_dir().or_else(|| home("Documents")),
            logs: natter_settings::log_dir(),
        }
    }

    /// Where the diagnostics go: Downloads if it exists, else the log folder.
    pub fn for_diagnostics(&self) -> Option<PathBuf> {
        existing(&self.downloads).or_else(|| self.logs.clone())
    }

    /// Where exported ICE servers go: Downloads or Documents if one exists, else `fallback`
    /// (the config folder, beside the settings they came from).
    pub fn for_servers(&self, fallback: &Path) -> PathBuf {
        existing(&self.downloads)
            .or_else(|| existing(&self.documents))
            .unwrap_or_else(|| fallback.to_path_buf())
    }
}

fn existing(dir: &Option<PathBuf>) -> Option<PathBuf> {
    dir.clone().filter(|d| d.is_dir())
}

/// `natter-diagnostics-2026-12-08-0142.json`: the stem and the minute, local time.
pub fn file_name(stem: &str, at: chrono::NaiveDateTime) -> String {
    format!("{stem}-{}.json", at.format("%Y-%m-%d-%H%M"))
}

/// The local time now (what the user's clock shows).
pub fn local_now() -> chrono::NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// Write `text` into `dir` (created if needed) as `file_name(stem, at)`, or with `-2`, `-3`, …
/// before `.json` when that name is taken (two exports in one minute keep both). `private`: only
/// the user may read it (it holds passwords). The path written.
pub fn write_new(
    dir: &Path,
    stem: &str,
    at: chrono::NaiveDateTime,
    text: &str,
    private: bool,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let first = file_name(stem, at);
    for n in 1..1000 {
        let name = match n {
            1 => first.clone(),
            _ => first.replace(".json", &format!("-{n}.json")),
        };
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
        }
    }
    Err(format!("too many files named {first} in {}", dir.display()))
}

/// Open the folder holding `path` in the platform's file manager (xdg-open, Finder, Explorer,
/// through the `open` crate); returns without waiting for it.
pub fn show_in_folder(path: &Path) -> Result<(), String> {
    let folder = path
        .parent()
        .filter(|p| p.is_dir())
        .ok_or_else(|| format!("the folder of {} is gone", path.display()))?;
    open::that_detached(folder).map_err(|e| format!("cannot open {}: {e}", folder.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 8)
            .unwrap()
            .and_hms_opt(h, m, 37)
            .unwrap()
    }

    #[test]
    fn names_say_the_local_minute() {
        assert_eq!(
            file_name("natter-diagnostics", at(1, 42)),
            "natter-diagnostics-2026-12-08-0142.json"
        );
        assert_eq!(
            file_name("natter-ice-servers", at(23, 5)),
            "natter-ice-servers-2026-12-08-2305.json"
        );
    }

    #[test]
    fn downloads_when_it_exists_else_the_log_folder() {
        let scratch = natter_rig::TempDir::new("export-places");
        let downloads = scratch.0.join("Downloads");
        let places = ExportPlaces {
            downloads: Some(downloads.clone()),
            documents: None,
            logs: Some(scratch.0.join("logs")),
        };
        // No Downloads folder: the log folder (created when written), never a new Downloads.
        assert_eq!(places.for_diagnostics(), Some(scratch.0.join("logs")));
        assert_eq!(places.for_servers(&scratch.0), scratch.0);
        std::fs::create_dir(&downloads).unwrap();
        assert_eq!(places.for_diagnostics(), Some(downloads.clone()));
        assert_eq!(places.for_servers(&scratch.0), downloads);
    }

    #[test]
    fn a_second_file_in_the_same_minute_keeps_the_first() {
        let scratch = natter_rig::TempDir::new("export-names");
        let dir = scratch.0.join("new");
        let first = write_new(&dir, "natter-diagnostics", at(1, 42), "one", false).unwrap();
        let second = write_new(&dir, "natter-diagnostics", at(1, 42), "two", true).unwrap();
        assert_eq!(first, dir.join("natter-diagnostics-2026-12-08-0142.json"));
        assert_eq!(second, dir.join("natter-diagnostics-2026-12-08-0142-2.json"));
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&second).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "a private file is readable by its owner only");
        }
    }

    #[test]
    fn showing_a_file_whose_folder_is_gone_says_so() {
        let e = show_in_folder(Path::new("/no/such/folder/natter.json")).unwrap_err();
        assert!(e.contains("/no/such/folder"), "{e}");
    }
}
