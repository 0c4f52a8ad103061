//! Which local gateways are running, and on which database. Each gateway leaves a small file
//! (`<pid>.json`) in a folder under the system's temporary directory while it runs, so
//! `haven-admin` can say whether the database it is about to write is the one a running
//! gateway serves, and name the one that is, instead of importing into a file nobody reads.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningGateway {
    pub pid: u32,
    /// Where it listens, e.g. `http://127.0.0.1:3000`.
    pub url: String,
    /// The absolute data directory of its embedded backend; `None` on the AWS backend.
    pub data_dir: Option<PathBuf>,
}

/// The folder of gateway files: `$HAVEN_RUN_DIR`, else `<temp>/haven-local`.
pub fn run_dir() -> PathBuf {
    std::env::var_os("HAVEN_RUN_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("haven-local"))
}

/// A path made absolute against the working directory, as the process that opens it sees it.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn alive(pid: u32) -> bool {
    // Linux and most Unixes: a live process has a /proc entry. Elsewhere every file counts
    // as live, which only makes the hint less precise.
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Registers this process; the file is removed when the returned guard drops.
pub fn register(entry: RunningGateway) -> std::io::Result<Registration> {
    let dir = run_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", entry.pid));
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap_or_default())?;
    Ok(Registration { path })
}

pub struct Registration {
    path: PathBuf,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The gateways running now (files of dead processes are skipped and tidied away).
pub fn list() -> Vec<RunningGateway> {
    let Ok(entries) = std::fs::read_dir(run_dir()) else {
        return vec![];
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(gateway) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<RunningGateway>(&b).ok())
        else {
            continue;
        };
        if alive(gateway.pid) {
            found.push(gateway);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    found.sort_by_key(|g| g.pid);
    found
}

/// What to tell an operator about the database in `data_dir`: who else uses it, or where
/// the running gateways keep theirs.
pub fn hint_for(data_dir: &Path, running: &[RunningGateway]) -> String {
    let here = absolute(data_dir);
    let users: Vec<&RunningGateway> = running
        .iter()
        .filter(|g| g.data_dir.as_deref() == Some(here.as_path()))
        .collect();
    if let Some(g) = users.first() {
        return format!(
            "the gateway at {} (pid {}) serves this database",
            g.url, g.pid
        );
    }
    let others: Vec<String> = running
        .iter()
        .filter_map(|g| {
            g.data_dir
                .as_ref()
                .map(|d| format!("{} uses HAVEN_DATA_DIR={}", g.url, d.display()))
        })
        .collect();
    if others.is_empty() {
        "no gateway is running on this database now; `make dev` with the same HAVEN_DATA_DIR will serve it".into()
    } else {
        format!(
            "no running gateway serves this database: {}. Run again with that HAVEN_DATA_DIR to change what it serves",
            others.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_the_gateway_on_this_database_or_the_ones_elsewhere() {
        let a = RunningGateway {
            pid: 1,
            url: "http://127.0.0.1:3100".into(),
            data_dir: Some(PathBuf::from("/tmp/demo/.haven")),
        };
        let hint = hint_for(Path::new("/tmp/demo/.haven"), std::slice::from_ref(&a));
        assert!(hint.contains("serves this database"), "{hint}");
        let hint = hint_for(Path::new("/srv/other"), &[a]);
        assert!(
            hint.contains("no running gateway serves this database")
                && hint.contains("HAVEN_DATA_DIR=/tmp/demo/.haven"),
            "{hint}"
        );
        assert!(hint_for(Path::new("/srv/other"), &[]).contains("no gateway is running"));
    }
}
