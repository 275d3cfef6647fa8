//! `template.yaml` at the workspace root keeps every rule, against the crates that exist now.

use std::path::{Path, PathBuf};

use template_check::{Template, check_all, rules, workspace};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn template() -> Template {
    Template::load(&root().join("template.yaml")).expect("template.yaml parses")
}

#[test]
fn template_keeps_every_rule() {
    let crates = workspace::function_crates(&root()).unwrap();
    let violations = check_all(&template(), &crates);
    assert!(
        violations.is_empty(),
        "template.yaml breaks {} rule(s):\n{}",
        violations.len(),
        violations
            .iter()
            .map(|v| format!("  - {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn template_declares_every_existing_and_planned_function() {
    // GIVEN the crates on disk and the planned list, WHEN the template's binaries are collected,
    // THEN together they are exactly the template's functions (no stray, no missing).
    let t = template();
    let mut declared: Vec<String> = t
        .functions()
        .iter()
        .filter_map(|f| f.binary().map(str::to_owned))
        .collect();
    declared.sort();
    let mut expected = workspace::function_crates(&root()).unwrap();
    expected.extend(rules::PLANNED_FUNCTIONS.iter().map(|s| s.to_string()));
    expected.sort();
    expected.dedup();
    assert_eq!(declared, expected);
}

#[test]
fn every_button_function_has_an_output_url_and_an_event_fixture() {
    let t = template();
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    for f in t
        .functions()
        .iter()
        .filter(|f| !f.properties["FunctionUrlConfig"].is_null())
    {
        assert!(
            text.contains(&format!("!GetAtt {}Url.FunctionUrl", f.logical_id)),
            "{} has no Outputs entry with its function URL",
            f.logical_id
        );
        let fixture = root().join("events").join(format!("{}.json", f.binary().unwrap()));
        assert!(fixture.is_file(), "missing event fixture {}", fixture.display());
    }
}

#[test]
fn every_granted_dynamodb_action_is_made_by_the_store_code() {
    // GIVEN the actions the DynamoDB adapter makes (read from shared/src/store)
    let used = workspace::dynamodb_actions_used(&root()).unwrap();
    assert!(used.contains("GetItem") && used.contains("PutItem"), "{used:?}");
    // THEN the template grants no other
    let violations = rules::dynamodb_actions_are_used(&template(), &used);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn functions_denied_the_idempotency_table_do_not_reach_it() {
    // GIVEN the functions whose policy may not name the idempotency table
    for name in rules::WITHOUT_IDEMPOTENCY_TABLE {
        let code = workspace::function_sources(&root(), name).unwrap();
        assert!(!code.is_empty(), "functions/{name} has no sources");
        // THEN their code takes none of the paths that reach it (confirmed writes, call
        // records, stored answers, the store port itself)
        for path in ["confirm", "call::", "run_once", "idempotency", "Idempotency"] {
            assert!(
                !code.contains(path),
                "functions/{name} uses {path:?}: remove it from WITHOUT_IDEMPOTENCY_TABLE and grant the table"
            );
        }
    }
}
