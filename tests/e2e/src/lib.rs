//! Support for the end-to-end tests: locating the real function binaries.
//!
//! `env!("CARGO_BIN_EXE_<name>")` only works inside the crate that owns the binary, so the tests
//! build the function with the same cargo that runs them (`cargo build --workspace --bin <name>
//! --message-format=json`, honouring `CARGO_TARGET_DIR`) and take the executable path from
//! cargo's own report. `--workspace` resolves features exactly as `cargo test --workspace` does,
//! so the build reuses the test run's artifacts instead of compiling a second copy of the SDK;
//! after the first run it is a no-op of about a second. Set `<NAME>_BIN` (e.g. `SETTINGS_BIN=/path/to/bootstrap`) to test
//! a prebuilt binary instead, such as the `sam build` / `cargo lambda build` artifact.

pub mod chaos;
pub mod customers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The path of the function binary `name`, built once per test process.
pub fn function_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().expect("binary cache lock");
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let override_var = format!("{}_BIN", name.to_ascii_uppercase().replace('-', "_"));
    let path = match std::env::var_os(&override_var) {
        Some(p) => PathBuf::from(p),
        None => cargo_build(name),
    };
    assert!(path.is_file(), "function binary {} does not exist", path.display());
    built.insert(name.to_owned(), path.clone());
    path
}

fn cargo_build(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "--workspace",
            "--bin",
            name,
        ])
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build --workspace --bin {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no executable for {name}"))
}
