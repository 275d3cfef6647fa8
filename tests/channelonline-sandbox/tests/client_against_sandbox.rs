//! `XmlChannelOnline` against the sandbox: every port operation, 507 splitting, error codes,
//! control characters, pacing and credential redaction.

use std::time::Duration;

use channelonline_sandbox::{ChannelOnlineSandbox, Fault, RunningSandbox, SandboxConfig};
use chrono::{Duration as Span, TimeZone, Utc};
use rust_decimal::Decimal;
use shared::channelonline::protocol::RequestKind;
use shared::channelonline::*;
use shared::secret::SecretString;

async fn demo() -> RunningSandbox {
    ChannelOnlineSandbox::start(SandboxConfig::default()).await.unwrap()
}

fn window_around_now() -> TimeWindow {
    TimeWindow {
        after: Utc::now() - Span::days(30),
        before: Utc::now() + Span::minutes(1),
    }
}

#[tokio::test]
async fn get_customer_returns_contacts_terms_and_rep() {
    let sandbox = demo().await;
    let col = sandbox.client();

    let acme = col.get_customer("AC1001").await.unwrap();

    assert_eq!(acme.company_name, "Acme Widgets Inc.");
    assert_eq!(acme.terms.as_deref(), Some("Net 30"));
    assert_eq!(acme.contacts.len(), 3);
    let runner = acme.contacts.iter().find(|c| c.id == "K2").unwrap();
    assert_eq!(runner.work_phone, None, "contact without work phone stays without");
    assert_eq!(runner.mobile.as_deref(), Some("312-555-0188"));
    assert_eq!(
        acme.sales_rep.unwrap().email.as_deref(),
        Some("dana.seller@demo-reseller.example")
    );
    let nb = col.get_customer("NB2002").await.unwrap();
    assert_eq!(nb.contacts[0].last_name, "Straßer");
    assert_eq!(nb.phone, None);
    assert_eq!(sandbox.state().calls(RequestKind::ExportCustomers), 2);
}

#[tokio::test]
async fn unknown_customer_and_document_are_typed_not_found() {
    let sandbox = demo().await;
    let col = sandbox.client();

    let customer = col.get_customer("ZZ9999").await.unwrap_err();
    let document = col.get_document("Q404").await.unwrap_err();

    assert!(matches!(customer, ChannelOnlineError::CustomerNotFound { ref number } if number == "ZZ9999"));
    assert!(matches!(document, ChannelOnlineError::DocumentNotFound { ref number } if number == "Q404"));
    assert!(document.to_string().contains("Q404"));
}

#[tokio::test]
async fn customers_are_listed_by_page_and_searched_by_name() {
    let sandbox = demo().await;
    let col = sandbox.client();
    let since = Utc::now() - Span::days(30);

    // GIVEN two demo customers modified in the last 30 days, WHEN listed one per page
    let first = col
        .list_customers_modified_since(since, PageRequest { number: 1, size: 1 })
        .await
        .unwrap();
    let second = col
        .list_customers_modified_since(since, first.next.expect("a second page"))
        .await
        .unwrap();

    // THEN both come back once and the last page says so
    assert_eq!(first.customers.len(), 1);
    assert_eq!(second.customers.len(), 1);
    assert_ne!(first.customers[0].number, second.customers[0].number);
    assert_eq!(second.next, None);
    let found = col.search_customers("brücke").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].number, "NB2002");
    assert!(col.search_customers("no such company").await.unwrap().is_empty());
}

#[tokio::test]
async fn get_document_returns_the_latest_revision_with_all_fields() {
    let sandbox = demo().await;
    let col = sandbox.client();

    let quote = col.get_document("Q100045").await.unwrap();

    assert_eq!(quote.revision, 2, "revision 1 is also served; the highest wins");
    assert_eq!(quote.doc_type, DocumentType::Quote);
    assert_eq!(quote.lines.len(), 120);
    assert_eq!(quote.customer.number, "AC1001");
    assert_eq!(quote.payment_terms.as_deref(), Some("Net 30"));
    assert_eq!(quote.delivery_method.as_deref(), Some("UPS Ground"));
    assert_eq!(quote.contact.as_ref().unwrap().id.as_deref(), Some("K1"));
    assert_eq!(quote.ship_to.as_ref().unwrap().state.as_deref(), Some("IL"));
    assert!(quote.sold_to.is_some() && quote.bill_to.is_some());
    assert_eq!(quote.expires_on, chrono::NaiveDate::from_ymd_opt(2026, 12, 31));
    let expected = sandbox.state().document("Q100045").unwrap().clone();
    assert_eq!(quote.lines, expected.lines, "lines survive the XML round trip");
    assert_eq!(quote.totals, expected.totals);
    let labor = quote
        .lines
        .iter()
        .find(|l| l.product_type == ProductType::Labor)
        .unwrap();
    assert_eq!(
        labor.autotask,
        Some(AutotaskItemRef {
            kind: AutotaskItemKind::Labor,
            id: 29_682_810
        })
    );
    assert_eq!(quote.lines[0].category.as_deref(), Some("Computers"));
    assert_eq!(quote.lines[0].sub_category.as_deref(), Some("Notebooks"));

    let order = col.get_document("S200017").await.unwrap();
    assert_eq!(order.doc_type, DocumentType::SalesOrder);
    assert_eq!(order.po_number.as_deref(), Some("PO-7781"));
    assert_eq!(order.custom_field("cost center"), Some("HH-01"));
    let unpaid = col.get_document("Q100046").await.unwrap();
    assert_eq!(unpaid.payment_terms, None);
}

#[tokio::test]
async fn stray_control_characters_are_stripped_not_fatal() {
    // GIVEN a sandbox that sprinkles control characters into every response
    let sandbox = ChannelOnlineSandbox::start(SandboxConfig {
        inject_control_chars: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let col = sandbox.client();

    // WHEN documents and customers are read
    let order = col.get_document("S200017").await.unwrap();
    let acme = col.get_customer("AC1001").await.unwrap();

    // THEN they parse, without the control characters (seeded ones included)
    assert_eq!(order.description.as_deref(), Some("Lager Umbau"));
    assert_eq!(order.notes[0].text, "Rampe 3");
    assert_eq!(order.lines[0].description.as_deref(), Some("HP Inc. item 1"));
    assert_eq!(acme.company_name, "Acme Widgets Inc.");
    assert_eq!(acme.contacts[0].first_name, "Wile");
}

#[tokio::test]
async fn a_window_over_the_cap_is_split_until_every_document_is_listed_once() {
    // GIVEN 1,200 quotes modified in one day (cap 500) and the demo documents
    let sandbox = demo().await;
    let day = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    {
        let mut state = sandbox.state();
        let template = state.document("Q100046").unwrap().clone();
        for i in 0..1200 {
            let mut d = template.clone();
            d.document_id = format!("BULK{i}");
            d.number = format!("Q7{i:05}");
            d.modified_at = Some(day + Span::seconds(i * 60));
            state.insert_document(d);
        }
    }
    let col = sandbox.client();

    // WHEN the day is listed
    let docs = col
        .list_documents_modified(TimeWindow {
            after: day,
            before: day + Span::days(1),
        })
        .await
        .unwrap();

    // THEN all 1,200 come back exactly once, after at least one 507 split
    let mut numbers: Vec<_> = docs.iter().map(|d| d.number.clone()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(docs.len(), 1200);
    assert_eq!(numbers.len(), 1200);
    let calls = sandbox.state().calls(RequestKind::ExportDocuments);
    assert!(
        calls >= 2 + 4,
        "quote window split at least twice, orders once: {calls} calls"
    );
}

#[tokio::test]
async fn listing_returns_quotes_and_orders_at_their_latest_revision() {
    let sandbox = demo().await;
    let col = sandbox.client();

    let docs = col.list_documents_modified(window_around_now()).await.unwrap();

    let mut numbers: Vec<_> = docs.iter().map(|d| (d.number.as_str(), d.revision)).collect();
    numbers.sort();
    assert_eq!(numbers, vec![("Q100045", 2), ("Q100046", 1), ("S200017", 1)]);
}

#[tokio::test]
async fn a_single_second_over_the_cap_is_a_clear_error() {
    let sandbox = ChannelOnlineSandbox::start(SandboxConfig {
        document_cap: 2,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
    {
        let mut state = sandbox.state();
        let template = state.document("Q100046").unwrap().clone();
        for i in 0..3 {
            let mut d = template.clone();
            d.document_id = format!("SAME{i}");
            d.number = format!("Q8{i}");
            d.modified_at = Some(at);
            state.insert_document(d);
        }
    }

    let err = sandbox
        .client()
        .list_documents_modified(TimeWindow {
            after: at,
            before: at + Span::seconds(1),
        })
        .await
        .unwrap_err();

    assert!(matches!(err, ChannelOnlineError::TooManyDocuments { .. }), "{err:?}");
    assert!(err.to_string().contains("narrow the time window"));
}

#[tokio::test]
async fn upsert_creates_then_updates_and_matches_contacts_by_email() {
    let sandbox = demo().await;
    let col = sandbox.client();
    let new = CustomerUpsert {
        number: None,
        company_name: "Initech".into(),
        phone: Some("555-0400".into()),
        terms: Some("Net 15".into()),
        contacts: vec![ContactUpsert {
            first_name: "Peter".into(),
            last_name: "Gibbons".into(),
            email: Some("peter@initech.example".into()),
            work_phone: Some("555-0401".into()),
            ..ContactUpsert::default()
        }],
        ..CustomerUpsert::default()
    };

    // WHEN a customer is imported, then imported again with a changed contact phone
    let created = col.upsert_customer(&new).await.unwrap();
    let mut again = new.clone();
    again.number = Some(created.number.clone());
    again.contacts[0].work_phone = Some("555-0499".into());
    let updated = col.upsert_customer(&again).await.unwrap();

    // THEN the first call creates, the second updates the same ids
    assert!(created.created && created.contacts[0].created);
    assert!(!updated.created && !updated.contacts[0].created);
    assert_eq!(updated.customer_id, created.customer_id);
    assert_eq!(updated.contacts[0].contact_id, created.contacts[0].contact_id);
    let stored = sandbox.state().customer(&created.number).unwrap().clone();
    assert_eq!(stored.contacts.len(), 1);
    assert_eq!(stored.contacts[0].work_phone.as_deref(), Some("555-0499"));
    let read = col.get_customer(&created.number).await.unwrap();
    assert_eq!(read.company_name, "Initech");
    assert_eq!(read.contacts[0].id, created.contacts[0].contact_id);
}

#[tokio::test]
async fn add_line_carries_the_autotask_identity_and_makes_a_revision() {
    let sandbox = demo().await;
    let col = sandbox.client();
    let line = NewLine {
        autotask: AutotaskItemRef {
            kind: AutotaskItemKind::ServiceBundle,
            id: 4242,
        },
        part_number: Some("BUNDLE-SEC".into()),
        description: "Security bundle".into(),
        description2: None,
        category: Some("Services".into()),
        sub_category: Some("Security".into()),
        price: Decimal::new(19_900, 2),
        cost: Some(Decimal::new(9_000, 2)),
        quantity: Decimal::from(12),
        taxable: false,
    };

    let last_order = sandbox.state().document("Q100046").unwrap().lines.last().unwrap().order;

    let added = col.add_document_line("Q100046", &line).await.unwrap();

    assert_eq!(added.order, last_order + 1);
    assert_eq!(added.revision, 2);
    let doc = col.get_document("Q100046").await.unwrap();
    let placed = doc.lines.iter().find(|l| l.line_id == added.line_id).unwrap();
    assert_eq!(placed.product_type, ProductType::ServiceBundle);
    assert_eq!(placed.autotask, Some(line.autotask));
    assert_eq!(placed.quantity, Decimal::from(12));
    assert_eq!(placed.price, Some(Decimal::new(19_900, 2)));
    let missing = col.add_document_line("Q404", &line).await.unwrap_err();
    assert!(
        matches!(missing, ChannelOnlineError::DocumentNotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn custom_field_is_set_and_replaced() {
    let sandbox = demo().await;
    let col = sandbox.client();

    col.set_document_custom_field("Q100045", "Autotask Opportunity", "12345")
        .await
        .unwrap();
    col.set_document_custom_field("Q100045", "Autotask Opportunity", "67890")
        .await
        .unwrap();

    let doc = col.get_document("Q100045").await.unwrap();
    assert_eq!(doc.custom_field("Autotask Opportunity"), Some("67890"));
    assert_eq!(doc.custom_fields.len(), 1);
    assert_eq!(sandbox.state().calls(RequestKind::SetDocumentCustomFields), 2);
    let missing = col.set_document_custom_field("Q404", "x", "y").await.unwrap_err();
    assert!(matches!(missing, ChannelOnlineError::DocumentNotFound { .. }));
}

#[tokio::test]
async fn wrong_user_agent_and_wrong_password_map_to_actionable_errors() {
    let sandbox = demo().await;
    let mut bad_agent = sandbox.credentials();
    bad_agent.user_agent = "SomethingElse".into();
    let mut bad_password = sandbox.credentials();
    bad_password.password = SecretString::new("wrong");

    let agent_err = XmlChannelOnline::new(sandbox.client_config(), bad_agent)
        .unwrap()
        .get_customer("AC1001")
        .await
        .unwrap_err();
    let login_err = XmlChannelOnline::new(sandbox.client_config(), bad_password)
        .unwrap()
        .get_customer("AC1001")
        .await
        .unwrap_err();

    assert!(
        matches!(agent_err, ChannelOnlineError::UserAgentRejected { .. }),
        "{agent_err:?}"
    );
    assert!(agent_err.to_string().contains("register"));
    assert!(
        matches!(login_err, ChannelOnlineError::BadCredentials { code: 101, .. }),
        "{login_err:?}"
    );
    assert!(login_err.to_string().contains("password"));
    assert_eq!(sandbox.state().auth_failures, 2, "neither was retried");
}

#[tokio::test]
async fn injected_error_codes_map_to_typed_errors() {
    let sandbox = demo().await;
    let col = sandbox.client();
    sandbox.state().faults.push_back(Fault::Error {
        code: 999,
        message: "Internal hiccup".into(),
    });
    sandbox.state().faults.push_back(Fault::Error {
        code: 507,
        message: "limited to 500".into(),
    });

    let other = col.get_customer("AC1001").await.unwrap_err();
    let cap = col.get_customer("AC1001").await.unwrap_err();

    assert!(matches!(other, ChannelOnlineError::Rejected { code: 999, ref message } if message == "Internal hiccup"));
    assert!(matches!(cap, ChannelOnlineError::TooManyDocuments { .. }));
}

#[tokio::test]
async fn a_dropped_read_is_retried_but_a_dropped_add_line_is_not() {
    let sandbox = demo().await;
    let col = sandbox.client();
    sandbox.state().faults.push_back(Fault::Drop);

    let quote = col.get_document("Q100046").await.unwrap();
    assert_eq!(quote.number, "Q100046");
    assert_eq!(sandbox.state().dropped, 1);

    sandbox.state().faults.push_back(Fault::Drop);
    let line = NewLine {
        autotask: AutotaskItemRef {
            kind: AutotaskItemKind::Service,
            id: 1,
        },
        part_number: None,
        description: "x".into(),
        description2: None,
        category: None,
        sub_category: None,
        price: Decimal::ONE,
        cost: None,
        quantity: Decimal::ONE,
        taxable: false,
    };
    let err = col.add_document_line("Q100046", &line).await.unwrap_err();
    assert!(
        matches!(err, ChannelOnlineError::HttpStatus { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(
        sandbox.state().calls(RequestKind::AddDocumentLines),
        0,
        "not sent twice"
    );
    assert_eq!(sandbox.state().document("Q100046").unwrap().lines.len(), 1);
}

#[tokio::test]
async fn the_pause_keeps_rapid_requests_from_being_dropped() {
    // GIVEN a sandbox that drops requests within 400 ms of the previous answer
    let config = SandboxConfig {
        min_interval: Some(Duration::from_millis(400)),
        ..SandboxConfig::default()
    };
    let sandbox = ChannelOnlineSandbox::start(config).await.unwrap();
    let mut no_retry = sandbox.client_config();
    no_retry.retry.max_attempts = 1;

    // WHEN a client pausing 450 ms makes four calls
    let paced = XmlChannelOnline::new(
        no_retry.clone().with_pause(Duration::from_millis(450)),
        sandbox.credentials(),
    )
    .unwrap();
    for _ in 0..4 {
        paced.get_customer("AC1001").await.unwrap();
    }

    // THEN none was dropped; an unpaced client's back-to-back second call is
    assert_eq!(sandbox.state().dropped, 0);
    assert_eq!(sandbox.state().calls(RequestKind::ExportCustomers), 4);
    let eager = XmlChannelOnline::new(no_retry.with_pause(Duration::ZERO), sandbox.credentials()).unwrap();
    tokio::time::sleep(Duration::from_millis(450)).await;
    eager.get_customer("AC1001").await.unwrap();
    let second = eager.get_customer("AC1001").await;
    assert!(second.is_err());
    assert_eq!(sandbox.state().dropped, 1);
}

#[tokio::test]
async fn credentials_never_show_in_debug_output() {
    let sandbox = demo().await;
    let col = sandbox.client();
    let password = sandbox.config().password.clone();

    let rendered = format!("{col:?} {:?}", sandbox.credentials());

    assert!(
        rendered.contains(&sandbox.config().email),
        "the non-secret parts are shown"
    );
    assert!(!rendered.contains(&password));
}
