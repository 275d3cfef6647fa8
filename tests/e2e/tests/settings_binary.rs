//! The real `settings` binary under the Lambda Runtime API emulator, against embedded DynamoDB
//! (dynoxide; or moto / `DYNAMODB_ENDPOINT`, see testkit) with secrets from a temp file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use shared::secrets::file::FileSecretSource;
use shared::secrets::{SecretSource, SigningKeysDocument};
use shared::tenant::TenantId;
use testkit::dynamo::EmbeddedDynamo;
use testkit::function_url::{EventSpec, UrlResponse, event};
use testkit::lambda_runtime_api::{Outcome, invoke_binary};

struct Stack {
    _dynamo: EmbeddedDynamo,
    _dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    binary: PathBuf,
}

async fn stack() -> Stack {
    let binary = tokio::task::spawn_blocking(|| e2e::function_binary("settings"))
        .await
        .unwrap();
    let dynamo = EmbeddedDynamo::start().await.expect("start DynamoDB");
    let store = dynamo.store().await;
    let dir = tempfile::tempdir().unwrap();
    let secrets_file = dir.path().join("secrets.json");
    let secrets: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&secrets_file));
    for (tenant, key) in [
        ("acme", "key-acme-0123456789abcdef01234567"),
        ("other", "key-other-0123456789abcdef0123456"),
    ] {
        let keys = SigningKeysDocument::current_only(key);
        secrets.store(&TenantId::parse(tenant).unwrap(), &keys).await.unwrap();
    }
    let env = vec![
        ("MAPPING_TABLE".into(), store.tables().mappings.clone()),
        ("IDEMPOTENCY_TABLE".into(), store.tables().idempotency.clone()),
        ("DYNAMODB_ENDPOINT".into(), dynamo.endpoint().to_owned()),
        ("SECRETS_FILE".into(), secrets_file.display().to_string()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    Stack {
        _dynamo: dynamo,
        _dir: dir,
        env,
        binary,
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn invoke(stack: &Stack, spec: EventSpec<'_>) -> UrlResponse {
    invoke_raw(stack, event(&spec)).await
}

fn signed<'a>(method: &'a str, path: &'a str, body: &'a str, tenant: &'a str, key: &'a str, ts: i64) -> EventSpec<'a> {
    EventSpec {
        audience: "settings",
        method,
        path,
        query: "",
        body,
        signer: Some((tenant, key, ts)),
        headers: &[],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_binary_writes_reads_and_refuses_bad_calls() {
    // GIVEN the real binary, an empty table and signing keys for two tenants
    let stack = stack().await;
    let body = json!({
        "sales_reps": [{ "col_sales_rep_id": "rep-7", "at_resource_id": 29682885 }],
        "field_mappings": { "payment_terms": [{ "col": "Net 30", "at_id": 2 }] },
        "opportunity_custom_field": "AT Opportunity"
    })
    .to_string();

    // WHEN acme writes its settings with a signed PUT
    let put = invoke(
        &stack,
        signed("PUT", "/", &body, "acme", "key-acme-0123456789abcdef01234567", now()),
    )
    .await;
    // THEN they are stored as version 1
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.json()["version"], 1);

    // WHEN acme reads them back with a signed GET (a fresh process: nothing cached)
    let get = invoke(
        &stack,
        signed("GET", "/", "", "acme", "key-acme-0123456789abcdef01234567", now()),
    )
    .await;
    assert_eq!(get.status, 200, "{}", get.body);
    let read = get.json();
    assert_eq!(read["settings"]["sales_reps"][0]["col_sales_rep_id"], "rep-7");
    assert_eq!(read["settings"]["opportunity_custom_field"], "AT Opportunity");
    assert_eq!(read["credentials"]["autotask"], "not set");
    assert_eq!(get.headers["etag"], "\"1\"");

    // WHEN the settings are invalid THEN 400 names the field, and nothing changes
    let dup = json!({ "version": 1, "sales_reps": [
        { "col_sales_rep_id": "a", "at_resource_id": 5 },
        { "col_sales_rep_id": "b", "at_resource_id": 5 }] })
    .to_string();
    let bad = invoke(
        &stack,
        signed("PUT", "/", &dup, "acme", "key-acme-0123456789abcdef01234567", now()),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["error"]["details"]["field"], "sales_reps[1].at_resource_id");
    let wrong_type = r#"{"version":1,"bulk_sync":{"enabled":"yes"}}"#;
    let bad = invoke(
        &stack,
        signed(
            "PUT",
            "/",
            wrong_type,
            "acme",
            "key-acme-0123456789abcdef01234567",
            now(),
        ),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["error"]["details"]["field"], "bulk_sync.enabled");

    // WHEN calls are unsigned, tampered, expired or signed by another tenant THEN all get 401
    let unsigned = EventSpec {
        signer: None,
        ..signed("GET", "/", "", "acme", "key-acme-0123456789abcdef01234567", now())
    };
    let mut tampered = event(&signed(
        "PUT",
        "/",
        &body,
        "acme",
        "key-acme-0123456789abcdef01234567",
        now(),
    ));
    tampered["body"] = json!(body.replace("rep-7", "rep-8"));
    let expired = signed("GET", "/", "", "acme", "key-acme-0123456789abcdef01234567", now() - 600);
    let cross_tenant = signed("GET", "/", "", "acme", "key-other-0123456789abcdef0123456", now());
    let mut answers = vec![
        invoke(&stack, unsigned).await,
        invoke(&stack, expired).await,
        invoke(&stack, cross_tenant).await,
    ];
    answers.push(invoke_raw(&stack, tampered).await);
    for answer in &answers {
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(
            answer.json()["error"]["message"],
            shared::signing::AuthError::PUBLIC_MESSAGE
        );
    }

    // AND the stored settings are still acme's version 1
    let get = invoke(
        &stack,
        signed("GET", "/", "", "acme", "key-acme-0123456789abcdef01234567", now()),
    )
    .await;
    assert_eq!(get.json()["version"], 1);
    assert_eq!(get.json()["settings"]["sales_reps"][0]["col_sales_rep_id"], "rep-7");
}

/// Runs the binary on one event (off the async runtime, so the embedded server keeps serving).
async fn invoke_raw(stack: &Stack, ev: Value) -> UrlResponse {
    let binary = stack.binary.clone();
    let env = stack.env.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        invoke_binary(&binary, &ev.to_string(), &env, Duration::from_secs(60))
    })
    .await
    .unwrap();
    match outcome {
        Outcome::Response(envelope) => UrlResponse::from_envelope(&envelope),
        other => panic!("the binary did not answer: {other:?}"),
    }
}
