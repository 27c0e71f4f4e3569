//! Where results came from: the commit of gcnsim's sources and whether they had uncommitted
//! changes, asked of git in the source tree this binary was built from.

use std::path::Path;
use std::process::Command;

/// Paths whose content determines what an experiment computes.
const SOURCE_PATHS: [&str; 6] = ["src", "shaders", "assets", "experiments", "Cargo.toml", "Cargo.lock"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceState {
    /// The last commit that changed one of the source paths (not HEAD: committing results
    /// afterwards does not change what produced them).
    pub commit: String,
    pub dirty: bool,
}

impl SourceState {
    /// For the tree at `CARGO_MANIFEST_DIR`; `None` if it is gone or not a git checkout.
    pub fn of_this_build() -> Option<Self> {
        Self::of(Path::new(env!("CARGO_MANIFEST_DIR")))
    }

    pub fn of(root: &Path) -> Option<Self> {
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git").arg("-C").arg(root).args(args).output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let mut log = vec!["log", "-1", "--format=%H", "--"];
        log.extend(SOURCE_PATHS);
        let commit = git(&log).filter(|c| !c.is_empty())?;
        let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
        status.extend(SOURCE_PATHS);
        let dirty = !git(&status)?.is_empty();
        Some(Self { commit, dirty })
    }
}
