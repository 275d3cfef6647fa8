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

/// Status back and contacts both ways through the deployed shape: the real planner enqueues into
/// moto's SQS, the event source mapping drains it through the real worker, against the Autotask
/// and ChannelOnline sandboxes and DynamoDB.
mod through_sqs {
    use std::time::Duration;

    use channelonline_sandbox::seed;
    use chrono::{DateTime, SecondsFormat, Utc};
    use e2e::customers::{CustomerStack, TENANT, customer};
    use serde_json::{Value, json};
    use shared::channelonline::protocol::RequestKind;
    use shared::domain::mapping::{Mapping, MappingKind};
    use shared::store::{AuditLog, MappingStore, SettingsStore, SyncStateStore};
    use shared::sync::bulk::contact_sync::contact_values;
    use shared::sync::bulk::pair_sync::customer_values;
    use shared::sync::bulk::{RunRecord, RunStatus};
    use shared::sync::customers::convert::contact_from_col;
    use shared::tenant::TenantId;
    use testkit::lambda_runtime_api::{Outcome, invoke_binary};
    use testkit::sqs::{EventSourceMapping, MotoSqs, QueuePair};

    const STATUS_FIELD: &str = "AT Status";
    const APPROVAL_FIELD: &str = "AT Approval";
    const DOCUMENT: &str = "Q100045";

    struct Engine {
        stack: CustomerStack,
        sqs: MotoSqs,
        queues: QueuePair,
        env: Vec<(String, String)>,
        tenant: TenantId,
    }

    fn stamp(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    impl Engine {
        async fn start() -> Self {
            let stack = CustomerStack::start().await;
            let sqs = MotoSqs::start()
                .await
                .expect("moto_server (requirements-dev.txt) on PATH");
            let queues = sqs.create_queue_pair("sync", 1, 2).await;
            let env = stack.env_with(&[
                ("SYNC_QUEUE_URL", &queues.queue_url),
                ("SQS_ENDPOINT", sqs.endpoint()),
                ("SYNC_MAX_RECEIVE_COUNT", "2"),
                // The stack's 1 s read timeout is for its fault tests; a loaded machine must not
                // turn a slow sandbox answer into a retried item here.
                ("AUTOTASK_READ_TIMEOUT_MS", "10000"),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "us-east-1"),
            ]);
            let tenant = TenantId::parse(TENANT).unwrap();
            let current = stack.store.get_settings(&tenant).await.unwrap().unwrap();
            let mut doc = current.doc.clone();
            doc["bulk_sync"] = json!({ "enabled": true, "status_field_name": STATUS_FIELD,
                "approval_field_name": APPROVAL_FIELD,
                "import_new_contacts": true, "reexport_changed_documents": false });
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
                tenant,
            }
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

        /// One scheduled run: the real planner, then the queue drained through the real worker;
        /// answers the stored run record.
        async fn run(&self) -> RunRecord {
            let input = json!({ "dispatch": "enabled_tenants" }).to_string();
            let answer: Value = match self.invoke("sync-planner", input).await {
                Outcome::Response(body) => serde_json::from_str(&body).unwrap(),
                other => panic!("planner did not answer: {other:?}"),
            };
            let run_id = answer["tenants"][0]["run_id"].as_str().expect("a run").to_owned();
            let binary = tokio::task::spawn_blocking(|| e2e::function_binary("sync-worker"))
                .await
                .unwrap();
            let mapping = EventSourceMapping {
                queue: self.sqs.queue(&self.queues.queue_url),
                binary,
                env: self.env.clone(),
                timeout: Duration::from_secs(60),
            };
            let report = mapping.drain_until_empty(&self.sqs, Duration::from_secs(60)).await;
            eprintln!(
                "drained: {} deliveries, {} deleted, {} returned",
                report.deliveries.len(),
                report.deleted,
                report.returned
            );
            let stored = self.stack.store.get_run(&self.tenant, &run_id).await.unwrap().unwrap();
            serde_json::from_value(stored.data).unwrap()
        }

        async fn map(&self, m: Mapping) {
            self.stack.store.create_pair(&self.tenant, &m).await.unwrap();
        }

        fn at_contact(&self, company: i64, first: &str, email: &str, phone: &str, changed: &str) -> i64 {
            self.stack.at.state().insert(
                "Contacts",
                json!({"companyID": company, "firstName": first, "lastName": "Tester", "emailAddress": email,
                       "phone": phone, "isActive": 1, "createDate": changed, "lastModifiedDate": changed}),
            )
        }

        fn touch_opportunity(&self, id: i64) {
            let at = self.stack.at.state();
            let mut o = at.get("Opportunities", id).unwrap();
            o["lastActivity"] = json!(stamp(Utc::now()));
            o["description"] = json!("touched");
            at.insert("Opportunities", o);
        }

        async fn document_mapping(&self) -> Mapping {
            let m = self
                .stack
                .store
                .get_by_col(&self.tenant, MappingKind::Document, DOCUMENT)
                .await;
            m.unwrap().expect("the document is mapped")
        }

        async fn mapped_contact(&self, at_id: i64) -> Option<String> {
            let m = self
                .stack
                .store
                .get_by_at(&self.tenant, MappingKind::Contact, at_id)
                .await;
            m.unwrap().map(|m| m.col_id)
        }

        fn col_contacts(&self, number: &str) -> Vec<shared::channelonline::Contact> {
            self.stack.col.state().customer(number).unwrap().contacts.clone()
        }

        fn status_field(&self) -> Option<String> {
            self.document_field(STATUS_FIELD)
        }

        fn document_field(&self, name: &str) -> Option<String> {
            let state = self.stack.col.state();
            state.document(DOCUMENT).unwrap().custom_field(name).map(str::to_owned)
        }
    }

    fn figures(label: &str, r: &RunRecord) {
        let planned: Vec<String> = r.streams.iter().map(|(s, p)| format!("{s}={}", p.planned)).collect();
        eprintln!(
            "{label}: planned {} ({}), done {}, skipped {}, failed {}, statuses written back {}, Autotask calls {} (planner {}, worker {})",
            r.counts.planned,
            planned.join(" "),
            r.counts.done,
            r.counts.skipped,
            r.counts.failed,
            r.counts.statuses_written_back,
            r.autotask_calls.total(),
            r.autotask_calls.planner,
            r.autotask_calls.worker,
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_won_opportunity_and_approved_quote_are_written_back_once_and_autotask_contacts_reach_channelonline() {
        let e = Engine::start().await;
        let old = Utc::now() - chrono::Duration::days(3);
        let changed = stamp(Utc::now() - chrono::Duration::minutes(10));
        let at = e.stack.at.state();
        at.set_picklist("Opportunities", "status", &[(1, "Active"), (2, "Lost"), (3, "Closed")]);

        // GIVEN a mapped pair in sync (both sides untouched for days) whose ChannelOnline
        // customer has Ada (mapped, in sync) and Bob (not mapped)
        let mut col = customer(
            "ST001",
            "Status Co",
            Some("512-555-0000"),
            &[
                ("K-ada", "Ada", "Tester", "ada@status.example", Some("512-555-0100")),
                ("K-bob", "Bob", "Tester", "bob@status.example", None),
            ],
        );
        col.modified_at = Some(old);
        let company = at.insert(
            "Companies",
            json!({"companyName": "Status Co", "companyType": 1, "ownerResourceID": e.stack.owner_id,
                   "phone": "512-555-0000", "isActive": true, "createDate": stamp(old), "lastActivityDate": stamp(old)}),
        );
        e.map(
            Mapping::new(MappingKind::Customer, "ST001", company, old)
                .with_data(json!({ "synced": customer_values(&col) })),
        )
        .await;
        // AND in Autotask: Ada's phone changed, Bob added with the e-mail ChannelOnline has, Cy new
        let ada = e.at_contact(company, "Ada", "ada@status.example", "512-555-0199", &changed);
        let ada_synced = contact_values(&contact_from_col(&col.contacts[0]));
        e.map(Mapping::new(MappingKind::Contact, "K-ada", ada, old).with_data(json!({ "synced": ada_synced })))
            .await;
        let bob = e.at_contact(company, "Bob", "bob@status.example", "512-555-0300", &changed);
        let cy = e.at_contact(company, "Cy", "cy@status.example", "512-555-0400", &changed);
        e.stack.add_customer(col);
        // AND quote Q100045 exported to an opportunity that is now Closed (won), plus an
        // opportunity no document was exported to
        let mut doc = seed::documents(old).remove(0);
        doc.customer.number = "ST001".into();
        assert_eq!(doc.number, DOCUMENT);
        e.stack.col.state().insert_document(doc);
        let won = at.insert(
            "Opportunities",
            json!({"title": "Office refresh", "companyID": company, "ownerResourceID": e.stack.owner_id,
                   "status": 3, "stage": 1, "probability": 100, "amount": 0.0, "cost": 0.0,
                   "projectedCloseDate": changed, "startDate": changed, "useQuoteTotals": true,
                   "createDate": stamp(old), "lastActivity": changed}),
        );
        let mut unrelated = at.get("Opportunities", won).unwrap();
        unrelated["id"] = json!(won + 100);
        at.insert("Opportunities", unrelated);
        // AND the exported quote approved in Autotask
        at.set_picklist("Quotes", "approvalStatus", &[(1, "Not Approved"), (2, "Approved")]);
        let quote = at.insert(
            "Quotes",
            json!({"opportunityID": won, "name": "Office refresh", "approvalStatus": 2,
                   "createDate": stamp(old), "lastActivityDate": changed}),
        );
        e.map(Mapping::new(MappingKind::Document, DOCUMENT, won, old).with_data(json!({ "quote_id": quote })))
            .await;

        // WHEN the schedule runs and the queue drains
        let first = e.run().await;
        figures("first run", &first);

        // THEN the opportunity's status label is on the document, written once
        assert_eq!(first.status(), RunStatus::Completed);
        assert_eq!(
            first.streams[&shared::sync::bulk::Stream::AtOpportunities].planned,
            2,
            "{first:?}"
        );
        assert_eq!(
            first.streams[&shared::sync::bulk::Stream::AtQuotes].planned,
            1,
            "{first:?}"
        );
        assert_eq!(first.counts.statuses_written_back, 2, "{:?}", first.counts);
        assert_eq!(e.status_field().as_deref(), Some("Closed"));
        assert_eq!(e.document_field(APPROVAL_FIELD).as_deref(), Some("Approved"));
        assert_eq!(e.stack.col.state().calls(RequestKind::SetDocumentCustomFields), 2);
        // AND Ada's new phone reached her ChannelOnline contact; Bob was mapped to the contact with
        // his e-mail, not duplicated; Cy was imported; nothing failed
        assert_eq!(first.counts.failed, 0, "{:?}", first.failures);
        let contacts = e.col_contacts("ST001");
        assert_eq!(contacts.len(), 3, "{contacts:?}");
        let ada_col = contacts.iter().find(|k| k.id == "K-ada").unwrap();
        assert_eq!(ada_col.work_phone.as_deref(), Some("512-555-0199"));
        assert_eq!(e.mapped_contact(bob).await.as_deref(), Some("K-bob"));
        let cy_col = e.mapped_contact(cy).await.expect("Cy is mapped");
        assert!(
            contacts
                .iter()
                .any(|k| k.id == cy_col && k.email.as_deref() == Some("cy@status.example")),
            "{contacts:?}"
        );
        // AND each write is in the audit trail
        let audit = AuditLog::list(&e.stack.store, &e.tenant, None, 50).await.unwrap().items;
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert!(actions.contains(&"bulk-sync.status-back"), "{actions:?}");
        assert!(actions.contains(&"bulk-sync.approval-back"), "{actions:?}");
        assert_eq!(
            actions.iter().filter(|a| **a == "bulk-sync.contact-import").count(),
            2,
            "{actions:?}"
        );
        assert!(actions.contains(&"bulk-sync.contact"), "{actions:?}");

        // AND the settings function's runs view shows the count
        let runs = e.stack.call("settings", "GET", "/runs", "", "").await.json();
        assert_eq!(runs["items"][0]["data"]["counts"]["statuses_written_back"], 2, "{runs}");

        // WHEN the opportunity changes again without a new status, and the schedule runs again
        e.touch_opportunity(won);
        let second = e.run().await;
        figures("second run", &second);
        // THEN nothing is written back: the label was written already
        assert_eq!(
            second.streams[&shared::sync::bulk::Stream::AtOpportunities].planned,
            1,
            "{second:?}"
        );
        assert_eq!(second.counts.statuses_written_back, 0, "{:?}", second.counts);
        assert_eq!(e.stack.col.state().calls(RequestKind::SetDocumentCustomFields), 2);
        assert_eq!(e.status_field().as_deref(), Some("Closed"));
        assert_eq!(e.col_contacts("ST001").len(), 3);
        assert_eq!(second.counts.failed, 0, "{:?}", second.failures);

        // WHEN a re-export saves the document mapping afresh (its own record, no status_back)
        // and the opportunity changes once more
        let mut m = e.document_mapping().await;
        m.data = json!({ "quote_id": quote });
        e.stack.store.update(&e.tenant, &m).await.unwrap();
        e.touch_opportunity(won);
        let third = e.run().await;
        figures("third run", &third);
        // THEN the document already showing the label is not written again; the label is remembered
        assert_eq!(third.counts.statuses_written_back, 0, "{:?}", third.counts);
        assert_eq!(e.stack.col.state().calls(RequestKind::SetDocumentCustomFields), 2);
        assert_eq!(e.document_mapping().await.data["status_back"]["label"], "Closed");
    }
}
