//! The function crates that exist in the workspace.

use std::path::Path;

/// Package names of the crates under `functions/` (folder name = package name = binary name).
pub fn function_crates(workspace_root: &Path) -> Result<Vec<String>, String> {
    let dir = workspace_root.join("functions");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let manifest = path.join("Cargo.toml");
        if manifest.is_file() {
            let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
            names.push(package_name(&text).ok_or_else(|| format!("{} has no package name", manifest.display()))?);
        }
    }
    names.sort();
    Ok(names)
}

/// The `name` of the `[package]` table of a Cargo manifest.
pub fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_package_name_not_a_dependency_or_bin_name() {
        let manifest = "[dependencies]\nname = \"nope\"\n[package]\nversion = \"0.1.0\"\nname = \"sync-worker\"\n[[bin]]\nname = \"x\"\n";
        assert_eq!(package_name(manifest).as_deref(), Some("sync-worker"));
        assert_eq!(package_name("[workspace]\nmembers = []\n"), None);
    }
}
