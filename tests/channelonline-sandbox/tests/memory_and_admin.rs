//! The in-memory port behaves like the XML endpoint (one state model), and the admin routes
//! expose counters, fault injection and reset over HTTP.

use channelonline_sandbox::{ChannelOnlineSandbox, MemoryChannelOnline, SandboxConfig};
use chrono::{Duration as Span, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shared::channelonline::protocol::RequestKind;
use shared::channelonline::*;

/// A scenario through the port; returns what a domain test would look at.
async fn scenario(col: &dyn ChannelOnline) -> Value {
    let upserted = col
        .upsert_customer(&CustomerUpsert {
            number: Some("AC1001".into()),
            company_name: "Acme Widgets Inc.".into(),
            contacts: vec![ContactUpsert {
                first_name: "Penny".into(),
                last_name: "Pincher".into(),
                email: Some("PURCHASING@acme.example".into()),
                ..ContactUpsert::default()
            }],
            ..CustomerUpsert::default()
        })
        .await
        .unwrap();
    let added = col
        .add_document_line(
            "Q100045",
            &NewLine {
                autotask: AutotaskItemRef {
                    kind: AutotaskItemKind::Service,
                    id: 7,
                },
                part_number: None,
                description: "Monitoring".into(),
                description2: None,
                category: None,
                sub_category: None,
                price: Decimal::TEN,
                cost: None,
                quantity: Decimal::ONE,
                taxable: false,
            },
        )
        .await
        .unwrap();
    col.set_document_custom_field("Q100045", "Autotask Opportunity", "55")
        .await
        .unwrap();
    let quote = col.get_document("Q100045").await.unwrap();
    let listed = col
        .list_documents_modified(TimeWindow {
            after: Utc::now() - Span::days(30),
            before: Utc::now() + Span::minutes(1),
        })
        .await
        .unwrap();
    let found = col.search_customers("acme").await.unwrap();
    let missing = col.get_document("nope").await.unwrap_err().to_string();
    json!({
        "created": upserted.created,
        "contacts": upserted.contacts.iter().map(|c| (&c.contact_id, c.created)).collect::<Vec<_>>(),
        "line": (added.order, added.revision),
        "quote": (quote.revision, quote.lines.len(), quote.custom_field("autotask opportunity")),
        "last_line": quote.lines.last().map(|l| (&l.product_type, &l.autotask)),
        "listed": listed.iter().map(|d| (&d.number, d.revision)).collect::<Vec<_>>(),
        "found": found.iter().map(|c| (&c.number, c.contacts.len())).collect::<Vec<_>>(),
        "missing": missing,
    })
}

#[tokio::test]
async fn the_memory_port_and_the_xml_endpoint_agree() {
    // GIVEN two demo accounts, WHEN the same scenario runs over XML and in memory
    let sandbox = ChannelOnlineSandbox::start(SandboxConfig::default()).await.unwrap();
    let over_xml = scenario(&sandbox.client()).await;
    let in_memory = scenario(&MemoryChannelOnline::new(SandboxConfig::default())).await;

    // THEN they observe the same results (contact K3 matched by email, case-insensitively)
    assert_eq!(over_xml, in_memory);
    assert_eq!(
        over_xml["contacts"],
        json!([["K2", false]]),
        "first contact with that email"
    );
    assert_eq!(over_xml["quote"], json!([3, 121, "55"]));
}

#[tokio::test]
async fn the_memory_port_splits_windows_over_the_cap() {
    let col = MemoryChannelOnline::new(SandboxConfig {
        document_cap: 50,
        seed_demo: false,
        ..SandboxConfig::default()
    });
    let day = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    {
        let template = channelonline_sandbox::seed::documents(day).pop().unwrap();
        let mut state = col.state();
        for i in 0..130 {
            let mut d = template.clone();
            d.document_id = format!("M{i}");
            d.number = format!("Q9{i:04}");
            d.modified_at = Some(day + Span::seconds(i * 300));
            state.insert_document(d);
        }
    }

    let docs = col
        .list_documents_modified(TimeWindow {
            after: day,
            before: day + Span::days(1),
        })
        .await
        .unwrap();

    assert_eq!(docs.len(), 130);
    assert!(col.state().calls(RequestKind::ExportDocuments) > 3);
}

#[tokio::test]
async fn admin_routes_count_inject_and_reset() {
    let sandbox = ChannelOnlineSandbox::start(SandboxConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let base = sandbox.base_url();
    let col = sandbox.client();

    // GIVEN an injected 105 and one normal call
    let status = http
        .post(format!("{base}/admin/faults"))
        .json(&json!({"fault": "error", "code": 105, "message": "Invalid User Agent"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let injected = col.get_customer("AC1001").await.unwrap_err();
    col.get_customer("AC1001").await.unwrap();
    col.set_document_custom_field("Q100045", "X", "1").await.unwrap();

    // THEN the counters show both calls, and reset clears state back to the demo account
    let counters: Value = http
        .get(format!("{base}/admin/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(matches!(injected, ChannelOnlineError::UserAgentRejected { .. }));
    assert_eq!(counters["calls"]["export_customers_request"], 2);
    assert_eq!(counters["total"], 3);
    http.post(format!("{base}/admin/reset")).send().await.unwrap();
    assert_eq!(sandbox.state().total_calls(), 0);
    assert!(sandbox.state().document("Q100045").unwrap().custom_fields.is_empty());
}

#[tokio::test]
async fn injected_latency_past_the_client_timeout_is_a_transport_error() {
    // GIVEN a client with a short timeout and no retries, and a slow next answer
    let sandbox = ChannelOnlineSandbox::start(SandboxConfig::default()).await.unwrap();
    let mut config = sandbox.client_config();
    config.timeout = std::time::Duration::from_millis(100);
    config.retry.max_attempts = 1;
    let col = XmlChannelOnline::new(config, sandbox.credentials()).unwrap();
    sandbox
        .state()
        .faults
        .push_back(channelonline_sandbox::Fault::Latency { millis: 1_000 });

    // WHEN it reads, THEN it gets a retryable transport error, and the next read works
    let err = col.get_customer("AC1001").await.unwrap_err();
    assert!(matches!(err, ChannelOnlineError::Transport { .. }), "{err:?}");
    assert!(matches!(
        shared::http::retry::Retryable::retry_class(&err),
        shared::http::retry::RetryClass::Transient { .. }
    ));
    assert_eq!(col.get_customer("AC1001").await.unwrap().number, "AC1001");
}
