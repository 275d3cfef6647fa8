//! The bulk sync as deployed, end to end: the real `sync-planner` binary enqueues into an SQS
//! queue (moto's SQS, with the template's redrive policy to a dead-letter queue), a poller
//! playing Lambda's event source mapping feeds the real `sync-worker` binary, against the
//! Autotask and ChannelOnline sandboxes and DynamoDB. Short visibility timeout and
//! `maxReceiveCount` keep the redelivery and dead-letter paths to seconds.

use std::time::Duration;

use autotask_sandbox::{FaultKind, FaultRule};
use chrono::{SecondsFormat, Utc};
use e2e::customers::{CustomerStack, TENANT, customer};
use serde_json::{Value, json};
use shared::domain::mapping::{Mapping, MappingKind};
use shared::http::retry::RetryPolicy;
use shared::queue::{OutgoingMessage, WorkQueue};
use shared::store::{MappingStore, SettingsStore, SyncStateStore};
use shared::sync::bulk::pair_sync::customer_values;
use shared::sync::bulk::{RunRecord, RunStatus};
use shared::tenant::TenantId;
use testkit::lambda_runtime_api::{Outcome, invoke_binary};
use testkit::sqs::{EventSourceMapping, MotoSqs, QueuePair};

const VISIBILITY_SECS: u32 = 1;
const MAX_RECEIVES: u32 = 2;
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

struct Engine {
    stack: CustomerStack,
    sqs: MotoSqs,
    queues: QueuePair,
    env: Vec<(String, String)>,
}

impl Engine {
    async fn start() -> Self {
        let stack = CustomerStack::start().await;
        let sqs = MotoSqs::start()
            .await
            .expect("moto_server (requirements-dev.txt) on PATH");
        let queues = sqs.create_queue_pair("sync", VISIBILITY_SECS, MAX_RECEIVES).await;
        let max = MAX_RECEIVES.to_string();
        let env = stack.env_with(&[
            ("SYNC_QUEUE_URL", &queues.queue_url),
            ("SQS_ENDPOINT", sqs.endpoint()),
            ("SYNC_MAX_RECEIVE_COUNT", &max),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ]);
        let tenant = TenantId::parse(TENANT).unwrap();
        let current = stack.store.get_settings(&tenant).await.unwrap().unwrap();
        let mut doc = current.doc.clone();
        doc["bulk_sync"] = json!({ "enabled": true });
        stack
            .store
            .put_settings(&tenant, &doc, Some(current.version), Utc::now())
            .await
            .unwrap();
        Self {
            stack,
            sqs,
            queues,
            env,
        }
    }

    /// A pair in sync as of the last run (the snapshot holds both sides' values), whose phone
    /// then changed in ChannelOnline. Returns the Autotask company id.
    async fn changed_pair(&self, number: &str, name: &str) -> i64 {
        let old = Utc::now() - chrono::Duration::days(3);
        let stamp = old.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut before = customer(number, name, Some("512-555-0000"), &[]);
        before.modified_at = Some(old);
        let at_id = self.stack.at.state().insert(
            "Companies",
            json!({"companyName": name, "companyType": 1, "ownerResourceID": self.stack.owner_id,
                   "phone": "512-555-0000", "isActive": true, "createDate": stamp, "lastActivityDate": stamp}),
        );
        let mut mapping = Mapping::new(MappingKind::Customer, number, at_id, old);
        mapping.data = json!({ "synced": customer_values(&before) });
        self.stack
            .store
            .create_pair(&TenantId::parse(TENANT).unwrap(), &mapping)
            .await
            .unwrap();
        // The change, made now in ChannelOnline.
        self.stack
            .add_customer(customer(number, name, Some("512-555-0199"), &[]));
        at_id
    }

    async fn invoke(&self, binary: &'static str, event: String) -> Outcome {
        let env = self.env.clone();
        tokio::task::spawn_blocking(move || {
            let bin = e2e::function_binary(binary);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            invoke_binary(&bin, &event, &env, Duration::from_secs(60))
        })
        .await
        .unwrap()
    }

    /// The template's one Scheduler input, through the real planner: it dispatches the tenants
    /// whose settings turn bulk sync on (only `TENANT`; `OTHER_TENANT` is off) and answers
    /// each one's run record.
    async fn plan(&self) -> Value {
        let input = json!({ "dispatch": "enabled_tenants" }).to_string();
        let answer: Value = match self.invoke("sync-planner", input).await {
            Outcome::Response(body) => serde_json::from_str(&body).unwrap(),
            other => panic!("planner did not answer: {other:?}"),
        };
        let tenants = answer["tenants"].as_array().expect("dispatch summary");
        assert_eq!(tenants.len(), 1, "{answer}");
        assert_eq!(tenants[0]["tenant"], TENANT, "{answer}");
        tenants[0].clone()
    }

    async fn mapping(&self) -> EventSourceMapping {
        let binary = tokio::task::spawn_blocking(|| e2e::function_binary("sync-worker"))
            .await
            .unwrap();
        EventSourceMapping {
            queue: self.sqs.queue(&self.queues.queue_url),
            binary,
            env: self.env.clone(),
            timeout: Duration::from_secs(60),
        }
    }

    fn phone_of(&self, at_id: i64) -> Value {
        self.stack.at.state().get("Companies", at_id).unwrap()["phone"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn planned_items_flow_through_sqs_and_a_failed_item_is_redelivered_and_synced() {
    let engine = Engine::start().await;
    let first = engine.changed_pair("BS001", "Bulk One").await;
    let second = engine.changed_pair("BS002", "Bulk Two").await;

    // WHEN the schedule's input reaches the real planner
    let run = engine.plan().await;
    // THEN both changed customers are enqueued on the SQS queue
    assert_eq!(run["streams"]["col_customers"]["planned"], 2, "{run}");
    assert_eq!(engine.sqs.depth(&engine.queues.queue_url).await, 2);

    // GIVEN Autotask fails every attempt of the first company read the worker makes
    engine.stack.at.counters().add_fault(FaultRule {
        endpoint: Some("Companies".into()),
        method: Some("GET".into()),
        kind: FaultKind::ServerError,
        times: RetryPolicy::default().max_attempts,
    });
    // WHEN the event source mapping drains the queue through the real worker
    let mapping = engine.mapping().await;
    let report = mapping.drain_until_empty(&engine.sqs, DRAIN_LIMIT).await;

    // THEN the first batch carried both items and reported only the failed one
    let batch = &report.deliveries[0];
    assert_eq!(batch.messages.len(), 2, "{report:?}");
    let failed = batch.failures.clone().expect("the worker answered");
    assert_eq!(failed.len(), 1, "partial batch failure: {report:?}");
    // AND that message came back after the visibility timeout, on its second receive, and passed
    assert_eq!(report.receives_of(&failed[0]), 2, "{report:?}");
    let retry = &report.deliveries[1];
    assert_eq!(retry.messages, vec![(failed[0].clone(), 2)]);
    assert_eq!(retry.failures, Some(vec![]));
    assert_eq!((report.deleted, report.returned), (2, 1));
    // AND both phones reached Autotask, nothing is left or dead-lettered
    assert_eq!(engine.phone_of(first), "512-555-0199");
    assert_eq!(engine.phone_of(second), "512-555-0199");
    assert_eq!(engine.sqs.depth(&engine.queues.dlq_url).await, 0);
    // AND the run record counts one retry and two done items, and is complete
    let tenant = TenantId::parse(TENANT).unwrap();
    let run_id = run["run_id"].as_str().unwrap();
    let stored = engine.stack.store.get_run(&tenant, run_id).await.unwrap().unwrap();
    let record: RunRecord = serde_json::from_value(stored.data).unwrap();
    assert_eq!(record.counts.done, 2, "{:?}", record.counts);
    assert_eq!(record.counts.retried, 1, "{:?}", record.counts);
    assert_eq!(record.counts.failed, 0, "{:?}", record.counts);
    assert_eq!(record.status(), RunStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_reaches_the_dead_letter_queue_after_the_configured_receives() {
    let engine = Engine::start().await;
    let at_id = engine.changed_pair("BS010", "Bulk Ten").await;
    let run = engine.plan().await;
    assert_eq!(run["streams"]["col_customers"]["planned"], 1, "{run}");
    // GIVEN a message no worker can read, next to the planned item
    let queue = engine.sqs.queue(&engine.queues.queue_url);
    let sent = queue
        .send(vec![OutgoingMessage {
            id: "poison".into(),
            body: r#"{"not":"a work item"}"#.into(),
        }])
        .await
        .unwrap();
    assert_eq!(sent.sent, ["poison"]);

    // WHEN the mapping drains the queue
    let report = engine.mapping().await.drain_until_empty(&engine.sqs, DRAIN_LIMIT).await;

    // THEN the poison message was delivered maxReceiveCount times, reported failed each time
    let poison: Vec<&String> = report
        .deliveries
        .iter()
        .flat_map(|d| d.failures.iter().flatten())
        .collect();
    assert_eq!(poison.len(), MAX_RECEIVES as usize, "{report:?}");
    assert!(poison.iter().all(|id| *id == poison[0]), "{report:?}");
    assert_eq!(report.receives_of(poison[0]), MAX_RECEIVES as usize);
    // AND it now sits in the dead-letter queue, unchanged, while the real item was synced
    assert_eq!(
        engine.sqs.peek_bodies(&engine.queues.dlq_url).await,
        [r#"{"not":"a work item"}"#]
    );
    assert_eq!(engine.sqs.depth(&engine.queues.queue_url).await, 0);
    assert_eq!(engine.phone_of(at_id), "512-555-0199");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unmapped_customer_the_sync_meets_is_proposed_in_map_customers_for_a_person_to_confirm() {
    let engine = Engine::start().await;
    // GIVEN an Autotask company nobody mapped, and the same company changed in ChannelOnline
    let stamp = (Utc::now() - chrono::Duration::days(3)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let at_id = engine.stack.at.state().insert(
        "Companies",
        json!({"companyName": "Contoso Ltd", "companyType": 1, "ownerResourceID": engine.stack.owner_id,
               "phone": "(312) 555-0142", "isActive": true, "createDate": stamp, "lastActivityDate": stamp}),
    );
    engine
        .stack
        .add_customer(customer("CT100", "Contoso Ltd", Some("312-555-0142"), &[]));

    // WHEN the schedule runs and the queue drains
    let run = engine.plan().await;
    assert_eq!(run["streams"]["col_customers"]["planned"], 1, "{run}");
    engine.mapping().await.drain_until_empty(&engine.sqs, DRAIN_LIMIT).await;

    // THEN nothing was created or mapped, and the run says why it skipped the customer
    assert_eq!(engine.stack.companies_named("Contoso Ltd").len(), 1);
    let tenant = TenantId::parse(TENANT).unwrap();
    let stored = engine
        .stack
        .store
        .get_run(&tenant, run["run_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let record: RunRecord = serde_json::from_value(stored.data).unwrap();
    assert_eq!(
        (record.counts.skipped, record.counts.done),
        (1, 0),
        "{:?}",
        record.counts
    );
    // AND Map Customers lists the proposal with its confidence and reasons
    let view = engine.stack.call("map-customers", "GET", "/", "", "").await.json();
    let proposed = view["proposed"].as_array().unwrap();
    assert_eq!(proposed.len(), 1, "{view}");
    assert_eq!(
        (&proposed[0]["col_id"], &proposed[0]["at_id"]),
        (&json!("CT100"), &json!(at_id))
    );
    assert!(proposed[0]["confidence"].as_u64().unwrap() >= 80, "{view}");
    let reasons: Vec<&str> = proposed[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"same_name") && reasons.contains(&"same_phone"),
        "{reasons:?}"
    );

    // WHEN a person confirms it there THEN the pair is mapped and no longer proposed
    let pairs = json!({ "pairs": [{ "col_id": "CT100", "at_id": at_id }] }).to_string();
    let ok = engine.stack.call("map-customers", "POST", "/confirm", "", &pairs).await;
    assert_eq!(ok.json()["results"][0]["status"], "mapped", "{}", ok.body);
    let view = engine.stack.call("map-customers", "GET", "/", "", "").await.json();
    assert_eq!(view["mapped"].as_array().unwrap().len(), 1, "{view}");
    assert_eq!(view["proposed"], json!([]), "{view}");
}
