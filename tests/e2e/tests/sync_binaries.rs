//! The real `sync-planner` and `sync-worker` binaries under the Lambda Runtime API emulator,
//! with embedded DynamoDB and a secrets file: the planner takes the EventBridge Scheduler input
//! of `events/` (and refuses the classic EventBridge envelope); the worker takes the SQS
//! fixture and answers the partial-batch-response shape.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use shared::secrets::file::FileSecretSource;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretSource};
use shared::tenant::TenantId;
use testkit::dynamo::EmbeddedDynamo;
use testkit::lambda_runtime_api::{Outcome, invoke_binary};

struct Stack {
    _dynamo: EmbeddedDynamo,
    _dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// Tenant `demo` with credentials (nothing is called: its bulk sync is off / nothing is mapped).
async fn stack() -> Stack {
    let dynamo = EmbeddedDynamo::start().await.expect("start DynamoDB");
    let store = dynamo.store().await;
    let dir = tempfile::tempdir().unwrap();
    let secrets_file = dir.path().join("secrets.json");
    let secrets: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&secrets_file));
    let demo = TenantId::parse("demo").unwrap();
    let at = AutotaskCredentials {
        username: "api@demo.test".into(),
        secret: "s3cret".into(),
        integration_code: "CODE".into(),
        impersonation_resource_id: None,
    };
    secrets.store(&demo, &at).await.unwrap();
    let col = ChannelOnlineCredentials {
        shortcut: "demo".into(),
        email: "api@demo.test".into(),
        password: "pw".into(),
    };
    secrets.store(&demo, &col).await.unwrap();
    let env = vec![
        ("MAPPING_TABLE".into(), store.tables().mappings.clone()),
        ("IDEMPOTENCY_TABLE".into(), store.tables().idempotency.clone()),
        ("DYNAMODB_ENDPOINT".into(), dynamo.endpoint().to_owned()),
        ("SECRETS_FILE".into(), secrets_file.display().to_string()),
        // Never reached in these tests: nothing is enqueued and nothing calls out.
        ("SYNC_QUEUE_URL".into(), "http://127.0.0.1:9/000000000000/sync".into()),
        ("AUTOTASK_ZONE_URL".into(), "http://127.0.0.1:9/zone".into()),
        ("CHANNELONLINE_URL".into(), "http://127.0.0.1:9/REQUEST".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    Stack {
        _dynamo: dynamo,
        _dir: dir,
        env,
    }
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// One invocation of the real binary under the Runtime API emulator.
async fn invoke(stack: &Stack, binary: &'static str, event: String) -> Outcome {
    let env = stack.env.clone();
    tokio::task::spawn_blocking(move || {
        let bin = e2e::function_binary(binary);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        invoke_binary(&bin, &event, &env, Duration::from_secs(30))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planner_binary_takes_the_scheduler_input_and_refuses_the_eventbridge_envelope() {
    let stack = stack().await;
    // GIVEN the template's one Scheduler input, and no tenant with bulk sync on (the default)
    let out = invoke(&stack, "sync-planner", fixture("sync-planner.json")).await;
    // THEN the dispatcher found no tenant to plan
    let Outcome::Response(body) = out else {
        panic!("expected a response, got {out:?}")
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({ "status": "dispatched", "tenants": [] }));

    // GIVEN one tenant's input, that tenant's bulk sync being off
    let out = invoke(&stack, "sync-planner", fixture("sync-planner-tenant.json")).await;
    // THEN the handler ran for that tenant and answered why it planned nothing
    let Outcome::Response(body) = out else {
        panic!("expected a response, got {out:?}")
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "disabled", "{v}");
    assert_eq!(v["tenant"], "demo");

    // GIVEN the classic EventBridge envelope (what a `Schedule` rule would send)
    let classic = r#"{"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events",
        "account":"123456789012","time":"2026-11-27T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#;
    let out = invoke(&stack, "sync-planner", classic.into()).await;
    // THEN it is refused before any work, naming what is wrong
    let Outcome::InvocationError(err) = out else {
        panic!("expected an invocation error, got {out:?}")
    };
    assert!(err.contains("unknown field") || err.contains("tenant"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_binary_answers_the_partial_batch_response_shape() {
    let stack = stack().await;
    // GIVEN the SQS fixture: two work items of tenant demo, neither mapped nor exported
    let out = invoke(&stack, "sync-worker", fixture("sync-worker.json")).await;
    // THEN both are settled (skipped: nothing to sync) and no message goes back to the queue
    let Outcome::Response(body) = out else {
        panic!("expected a response, got {out:?}")
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({ "batchItemFailures": [] }));
}
