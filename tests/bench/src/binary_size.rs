//! Section 6: release binary size per function. The deployable size is the arm64 `bootstrap`
//! that `cargo lambda build --release --arm64` makes (stripped, thin LTO); without cargo-lambda
//! (or in a quick run) the host release build stands in, and the row says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::report::{Row, Section, Verdict};
use crate::workspace::{Workspace, cargo, run};

/// Lambda's limit for a zipped deployment package is 50 MB; ours should be a small fraction.
const MIB: f64 = 1024.0 * 1024.0;

/// `cargo lambda` from PATH or from the dev venv (`infra/scripts/dev-setup.sh`).
fn cargo_lambda_path(root: &Path) -> Option<String> {
    let venv = root.join(".venv/bin");
    let path = match std::env::var("PATH") {
        Ok(p) => format!("{}:{p}", venv.display()),
        Err(_) => venv.display().to_string(),
    };
    let ok = Command::new(cargo())
        .args(["lambda", "--version"])
        .env("PATH", &path)
        .output()
        .ok()?
        .status
        .success();
    ok.then_some(path)
}

pub fn run_sizes(ws: &Workspace, arm64: bool) -> Vec<Row> {
    if ws.functions.is_empty() {
        return vec![Row::not_measured(
            Section::BinarySize,
            "function binaries",
            "no crate under functions/ yet",
        )];
    }
    let arm = if !arm64 {
        Err("quick run: host release sizes only".to_owned())
    } else {
        match cargo_lambda_path(&ws.root) {
            None => Err("cargo-lambda not on PATH nor in .venv (infra/scripts/dev-setup.sh)".to_owned()),
            Some(path) => build_arm64(ws, &path).map_err(|e| format!("cargo lambda build failed: {e}")),
        }
    };
    ws.functions
        .iter()
        .map(|f| {
            let host = std::fs::metadata(ws.release_binary(&f.binary))
                .ok()
                .map(|m| m.len() as f64);
            let arm_size = arm
                .as_ref()
                .ok()
                .and_then(|dir| std::fs::metadata(dir.join(&f.binary).join("bootstrap")).ok())
                .map(|m| m.len() as f64);
            let mut row = Row::new(Section::BinarySize, &f.binary).verdict(Verdict::Info);
            match (arm_size, host) {
                (Some(a), h) => {
                    row = row
                        .measured(format!("{:.1} MiB arm64 bootstrap", a / MIB))
                        .value("arm64_bytes", a);
                    if let Some(h) = h {
                        row = row
                            .value("host_release_bytes", h)
                            .bound(format!("host x86_64 release (unstripped): {:.1} MiB", h / MIB));
                    }
                }
                (None, Some(h)) => {
                    let why = arm
                        .as_ref()
                        .err()
                        .cloned()
                        .unwrap_or_else(|| "no arm64 bootstrap produced".to_owned());
                    row = row
                        .measured(format!("{:.1} MiB host release", h / MIB))
                        .value("host_release_bytes", h)
                        .bound(format!("arm64 not built: {why}"));
                }
                (None, None) => row = Row::not_measured(Section::BinarySize, &f.binary, "release binary missing"),
            }
            row
        })
        .collect()
}

/// Builds every function for arm64 into `<target>/lambda/<bin>/bootstrap`.
fn build_arm64(ws: &Workspace, path: &str) -> Result<PathBuf, String> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(&ws.root)
        .env("PATH", path)
        .args(["lambda", "build", "--release", "--arm64"]);
    for f in &ws.functions {
        cmd.args(["--bin", &f.binary]);
    }
    run(&mut cmd).map_err(|e| e.to_string())?;
    Ok(ws.target_dir.join("lambda"))
}
