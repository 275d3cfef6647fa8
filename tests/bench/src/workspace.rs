//! Where things are: the workspace root, its target dir, the function crates (everything under
//! `functions/`), and the release builds of their binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("`{command}` failed: {detail}")]
    Cargo { command: String, detail: String },
    #[error("cargo metadata is not valid JSON: {0}")]
    Metadata(#[from] serde_json::Error),
}

/// A function crate and its Lambda binary (template.yaml: `BuildProperties.Binary` = package name).
#[derive(Clone, Debug)]
pub struct Function {
    pub package: String,
    pub binary: String,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub functions: Vec<Function>,
}

#[derive(Deserialize)]
struct Metadata {
    workspace_root: PathBuf,
    target_directory: PathBuf,
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

impl Workspace {
    /// Reads `cargo metadata --no-deps` (honours `CARGO_TARGET_DIR`).
    pub fn discover() -> Result<Self, WorkspaceError> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let out = run(Command::new(cargo())
            .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
            .arg(&manifest))?;
        let meta: Metadata = serde_json::from_slice(&out)?;
        let functions_dir = meta.workspace_root.join("functions");
        let mut functions: Vec<Function> = meta
            .packages
            .iter()
            .filter(|p| p.manifest_path.starts_with(&functions_dir))
            .filter_map(|p| {
                let bin = p.targets.iter().find(|t| t.kind.iter().any(|k| k == "bin"))?;
                Some(Function {
                    package: p.name.clone(),
                    binary: bin.name.clone(),
                })
            })
            .collect();
        functions.sort_by(|a, b| a.package.cmp(&b.package));
        Ok(Self {
            root: meta.workspace_root,
            target_dir: meta.target_directory,
            functions,
        })
    }

    pub fn function(&self, package: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.package == package)
    }

    /// `cargo build --release` of every function and of this crate's reference binary.
    pub fn build_release(&self) -> Result<(), WorkspaceError> {
        let mut cmd = Command::new(cargo());
        cmd.current_dir(&self.root)
            .args(["build", "--release", "--quiet", "-p", "bench", "--bins"]);
        for f in &self.functions {
            cmd.args(["-p", &f.package]);
        }
        run(&mut cmd).map(|_| ())
    }

    pub fn release_binary(&self, binary: &str) -> PathBuf {
        self.target_dir.join("release").join(binary)
    }

    /// Where the benchmark writes its results and logs: `<root>/target/bench`.
    pub fn output_dir(&self) -> PathBuf {
        self.root.join("target").join("bench")
    }
}

/// The cargo that runs us (cargo sets `CARGO` for `cargo run`), else the one on PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs a command, returning its stdout or its stderr as the error.
pub fn run(cmd: &mut Command) -> Result<Vec<u8>, WorkspaceError> {
    let command = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| WorkspaceError::Cargo {
        command: command.clone(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let detail = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = detail.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(WorkspaceError::Cargo {
            command,
            detail: tail.join("\n"),
        })
    }
}
