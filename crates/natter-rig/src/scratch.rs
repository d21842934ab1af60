//! Scratch directories: one fresh directory per use under the system's temp dir (reports, ICE
//! configs, certificates, logs, a private HOME or XDG_RUNTIME_DIR), removed on drop unless kept
//! to look at after a failure ([`TempDir::keep`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A scratch directory (`$TMPDIR/natter-test-TAG-PID-N`), removed on drop unless kept.
pub struct TempDir(pub PathBuf, AtomicBool);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("natter-test-{tag}-{}-{}", std::process::id(), crate::unique()));
        let _ = std::fs::remove_dir_all(&dir); // left by an earlier process with the same pid
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir, AtomicBool::new(false))
    }

    /// `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Keep the directory when this drops (its logs explain a failure); its path.
    pub fn keep(&self) -> &Path {
        self.1.store(true, Ordering::Relaxed);
        &self.0
    }

    /// Whether [`TempDir::keep`] was called.
    pub fn kept(&self) -> bool {
        self.1.load(Ordering::Relaxed)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.kept() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
