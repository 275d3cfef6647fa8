//! The function crates that exist in the workspace.

use std::collections::BTreeSet;
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

/// The DynamoDB SDK calls and their IAM actions (a transaction item needs the item's action).
const DYNAMODB_CALLS: &[(&str, &str)] = &[
    (".get_item()", "GetItem"),
    (".put_item()", "PutItem"),
    (".update_item()", "UpdateItem"),
    (".delete_item()", "DeleteItem"),
    (".query()", "Query"),
    (".scan()", "Scan"),
    (".batch_get_item()", "BatchGetItem"),
    (".batch_write_item()", "BatchWriteItem"),
    (".transact_get_items()", "GetItem"),
    ("Put::builder()", "PutItem"),
    ("Update::builder()", "UpdateItem"),
    ("Delete::builder()", "DeleteItem"),
    ("ConditionCheck::builder()", "ConditionCheckItem"),
];

/// The DynamoDB actions the store adapter makes (`shared/src/store`, the only DynamoDB client),
/// read from its source text.
pub fn dynamodb_actions_used(workspace_root: &Path) -> Result<BTreeSet<String>, String> {
    let dir = workspace_root.join("shared/src/store");
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            used.extend(actions_in(&text));
        }
    }
    Ok(used)
}

/// The actions of the DynamoDB calls in one source text.
pub fn actions_in(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(str::trim)
        .collect();
    DYNAMODB_CALLS
        .iter()
        .filter(|(call, _)| code.contains(call))
        .map(|(_, action)| (*action).to_owned())
        .collect()
}

/// The non-test Rust sources of a function crate, concatenated (`src/**/*.rs` without `tests.rs`).
pub fn function_sources(workspace_root: &Path, name: &str) -> Result<String, String> {
    fn walk(dir: &Path, out: &mut String) -> Result<(), String> {
        for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                out.push_str(&std::fs::read_to_string(&path).map_err(|e| e.to_string())?);
            }
        }
        Ok(())
    }
    let mut out = String::new();
    walk(&workspace_root.join("functions").join(name).join("src"), &mut out)?;
    Ok(out)
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

    #[test]
    fn dynamodb_calls_are_read_as_actions_and_comments_are_not() {
        let source = "let out = self.client\n    .get_item()\n    .send();\n\
                      let t = TransactWriteItem::builder().put(Put::builder().build());\n\
                      // ConditionCheck::builder() is not used\n";
        let actions: Vec<String> = actions_in(source).into_iter().collect();
        assert_eq!(actions, ["GetItem", "PutItem"]);
    }
}
