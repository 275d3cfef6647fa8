//! End to end through the real Autotask REST client against the Autotask sandbox (HTTP, with
//! its validation, picklists and call counters), the ChannelOnline port (in-memory sandbox) and
//! the store ports: `shared::sync::documents` exactly as the export-document function runs it.

use std::sync::Arc;
use std::time::Duration;

use autotask_sandbox::{AutotaskSandbox, FaultKind, FaultRule, RunningSandbox, SandboxConfig};
use channelonline_sandbox::MemoryChannelOnline;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use shared::app::TenantContext;
use shared::autotask::{AutotaskClient, ClientConfig, ClientCredentials, SharedLimit};
use shared::channelonline::types::{
    Address, AutotaskItemKind, AutotaskItemRef, CustomField, Document, DocumentContact, DocumentCustomer, DocumentLine,
    DocumentType, ProductType, SalesRep, Totals,
};
use shared::clock::{Clock, ManualClock};
use shared::domain::mapping::{Mapping, MappingKind};
use shared::domain::settings::{CategoryMapping, OpportunityDefaults, SalesRepMapping, TenantSettings, ValueMapping};
use shared::secret::SecretString;
use shared::store::MappingStore;
use shared::store::memory::MemoryStore;
use shared::sync::SyncError;
use shared::sync::documents::{ExportDocumentRequest, ExportOutcome, LineStatus, export_document};
use shared::tenant::TenantId;
use shared::web::ApiError;

const CUSTOMER: &str = "AC0001";
const OTHER_CATEGORY: &str = "Gadgets";
const BROKEN_CATEGORY: &str = "Broken";

struct Env {
    at: RunningSandbox,
    col: Arc<MemoryChannelOnline>,
    ctx: TenantContext,
    clock: Arc<ManualClock>,
    company: i64,
    other_company: i64,
    owner: i64,
    service: i64,
    bundle: i64,
    role: i64,
    shipping: i64,
    payment: i64,
}

async fn env() -> Env {
    env_with(ClientConfig::default().read_timeout).await
}

/// How long the fault tests wait for an answer (the injected faults wait longer).
const SHORT_READ_TIMEOUT: Duration = Duration::from_millis(1500);
/// Longer than `SHORT_READ_TIMEOUT`: the answer never arrives in time.
const LOST: u64 = 4000;

async fn env_with(read_timeout: Duration) -> Env {
    let at = AutotaskSandbox::start(SandboxConfig::default()).await.unwrap();
    let s = at.state();
    // The demo tenant's picklists (statuses, stages, item types, categories), none of its records.
    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/autotask-sandbox/fixtures/demo.json"
    );
    let demo: Value = serde_json::from_str(&std::fs::read_to_string(demo).unwrap()).unwrap();
    s.load_fixture(&serde_json::json!({ "picklists": demo["picklists"] }));
    let owner = s.add_resource("Sam", "Seller", "sam@reseller.test", false);
    let company = s.add_company("Acme Corp", owner);
    let other_company = s.add_company("Other Inc", owner);
    let contact = s.add_contact(company, "Pat", "Buyer", "pat@acme.test");
    let material = s.add_billing_code("Hardware", 2);
    let recurring = s.add_billing_code("Managed services", 5);
    let service = s.add_service("Managed backup", recurring, 2, 49.0);
    let bundle = s.add_service_bundle("Security bundle", recurring, 2);
    let role = s.add_role("Engineer", 150.0);
    let shipping = s.add_shipping_type("UPS Ground");
    let payment = s.add_payment_term("Net 30", 30);
    for n in 1..=200 {
        s.add_product(&format!("Known product {n}"), &format!("SKU-{n}"), material, 100.0);
    }
    let tenant = TenantId::parse("acme-reseller").unwrap();
    let store = Arc::new(MemoryStore::new());
    let now = Utc::now();
    store
        .create_pair(&tenant, &Mapping::new(MappingKind::Customer, CUSTOMER, company, now))
        .await
        .unwrap();
    store
        .create_pair(&tenant, &Mapping::new(MappingKind::Contact, "contact-1", contact, now))
        .await
        .unwrap();

    let mut settings = TenantSettings {
        sales_reps: vec![SalesRepMapping {
            col_sales_rep_id: "rep-1".into(),
            at_resource_id: owner,
        }],
        ..TenantSettings::default()
    };
    let fm = &mut settings.field_mappings;
    fm.payment_terms = vec![ValueMapping {
        col: "Net 30".into(),
        at_id: payment,
    }];
    fm.shipping_types = vec![ValueMapping {
        col: "UPS Ground".into(),
        at_id: shipping,
    }];
    fm.categories = vec![
        CategoryMapping {
            col_category: "Networking".into(),
            col_sub_category: Some("Switches".into()),
            at_product_category_id: 1,
        },
        CategoryMapping {
            col_category: "Computers".into(),
            col_sub_category: None,
            at_product_category_id: 2,
        },
        CategoryMapping {
            col_category: BROKEN_CATEGORY.into(),
            col_sub_category: None,
            at_product_category_id: 99,
        },
    ];
    fm.default_product_category_id = Some(3);
    fm.default_billing_code_id = Some(material);
    fm.quote_opportunity = OpportunityDefaults {
        status_id: Some(1),
        stage_id: Some(2),
        probability: Some(40),
    };
    fm.sales_order_opportunity = OpportunityDefaults {
        status_id: Some(3),
        stage_id: Some(4),
        probability: Some(100),
    };
    settings.opportunity_custom_field = Some("Autotask Opportunity".into());

    let config = ClientConfig {
        read_timeout,
        ..ClientConfig::with_zone_host(&at.base_url())
    };
    let sandbox_config = at.config().clone();
    let client = AutotaskClient::new(config).unwrap().for_tenant(
        tenant.clone(),
        ClientCredentials {
            username: sandbox_config.username.clone(),
            secret: SecretString::new(sandbox_config.secret.clone()),
            integration_code: sandbox_config.integration_code.clone(),
            impersonation_resource_id: None,
        },
    );
    let col = Arc::new(MemoryChannelOnline::new(channelonline_sandbox::SandboxConfig::default()));
    let clock = Arc::new(ManualClock::at(now));
    let ctx = TenantContext {
        tenant,
        settings,
        settings_version: None,
        autotask: client,
        channelonline: col.clone(),
        mappings: store.clone(),
        settings_store: store.clone(),
        audit: store.clone(),
        sync_state: store.clone(),
        idempotency_store: store.clone(),
        clock: clock.clone(),
        actor: "test".into(),
        deadline: now + shared::app::DEFAULT_BUDGET,
    };
    at.counters().reset();
    Env {
        at,
        col,
        ctx,
        clock,
        company,
        other_company,
        owner,
        service,
        bundle,
        role,
        shipping,
        payment,
    }
}

fn dec(v: f64) -> Decimal {
    Decimal::from_f64_retain(v).unwrap().round_dp(2)
}

fn product_line(n: u32, sku: &str, category: &str) -> DocumentLine {
    DocumentLine {
        line_id: format!("{}", 1000 + n),
        order: n,
        product_type: ProductType::Hardware,
        autotask: None,
        manufacturer: Some("Cisco".into()),
        part_number: None,
        sku: Some(sku.into()),
        description: Some(format!("Line {n} {sku}")),
        description2: None,
        category: Some(category.into()),
        sub_category: Some("Switches".into()),
        price: Some(dec(100.0 + f64::from(n))),
        cost: Some(dec(60.0 + f64::from(n))),
        quantity: Decimal::from(n),
        taxable: true,
    }
}

fn service_line(n: u32, kind: AutotaskItemKind, id: i64) -> DocumentLine {
    DocumentLine {
        autotask: Some(AutotaskItemRef { kind, id }),
        product_type: ProductType::Service,
        manufacturer: None,
        category: None,
        sub_category: None,
        ..product_line(n, "unused", "none")
    }
}

/// A quote with `known` lines of products Autotask has, `new` of products it lacks (the
/// first in an unmapped category), then a service, a bundle and a labor line when `services`.
fn document(number: &str, known: u32, new: u32, services: bool, env: &Env) -> Document {
    let mut lines = Vec::new();
    let mut n = 0;
    for k in 1..=known {
        n += 1;
        lines.push(product_line(n, &format!("SKU-{k}"), "Networking"));
    }
    for k in 1..=new {
        n += 1;
        let category = if k == 1 { OTHER_CATEGORY } else { "Networking" };
        let mut line = product_line(n, &format!("NEW-{number}-{k}"), category);
        line.part_number = Some(format!("MPN-{number}-{k}"));
        lines.push(line);
    }
    if services {
        for (kind, id) in [
            (AutotaskItemKind::Service, env.service),
            (AutotaskItemKind::ServiceBundle, env.bundle),
            (AutotaskItemKind::Labor, env.role),
        ] {
            n += 1;
            lines.push(service_line(n, kind, id));
        }
    }
    let address = Address {
        company_name: Some("Acme Corp".into()),
        line1: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        state: Some("IL".into()),
        postal_code: Some("62701".into()),
        ..Address::default()
    };
    Document {
        document_id: format!("id-{number}"),
        number: number.into(),
        revision: 1,
        doc_type: DocumentType::Quote,
        status: Some("Open".into()),
        deleted: false,
        description: Some("Office refresh".into()),
        customer: DocumentCustomer {
            number: CUSTOMER.into(),
            company_name: Some("Acme Corp".into()),
        },
        contact: Some(DocumentContact {
            id: Some("contact-1".into()),
            first_name: Some("Pat".into()),
            last_name: Some("Buyer".into()),
            email: Some("pat@acme.test".into()),
        }),
        sales_rep: Some(SalesRep {
            id: Some("rep-1".into()),
            ..SalesRep::default()
        }),
        payment_terms: Some("Net 30".into()),
        delivery_method: Some("UPS Ground".into()),
        po_number: Some("PO-77".into()),
        ship_to: Some(address.clone()),
        bill_to: Some(address),
        sold_to: None,
        lines,
        totals: Totals::default(),
        notes: vec![],
        expires_on: NaiveDate::from_ymd_opt(2027, 1, 31),
        custom_fields: vec![],
        created_at: Some(Utc::now()),
        modified_at: Some(Utc::now()),
    }
}

fn put(env: &Env, doc: Document) {
    env.col.state().insert_document(doc);
}

fn request(number: &str) -> ExportDocumentRequest {
    ExportDocumentRequest {
        document_number: number.into(),
        ..ExportDocumentRequest::default()
    }
}

async fn export(env: &Env, req: &ExportDocumentRequest) -> Result<ExportOutcome, SyncError> {
    export_document(&env.ctx, req, None).await
}

/// A tally that grows by exactly one per Autotask write (create, update or delete) on `entity`.
/// Queries are POSTs too, so creates are counted from the records: +1 record per create,
/// and a delete removes one record while adding two to the tally.
fn writes(env: &Env, entity: &str) -> u64 {
    let c = env.at.counters();
    env.at.state().count(entity) as u64
        + c.calls("PATCH", entity)
        + c.calls("PUT", entity)
        + 2 * c.calls("DELETE", entity)
}

fn all_writes(env: &Env) -> u64 {
    ["Opportunities", "Quotes", "QuoteLocations", "QuoteItems", "Products"]
        .iter()
        .map(|e| writes(env, e))
        .sum()
}

fn records(env: &Env, collection: &str) -> Vec<Value> {
    env.at.state().all(collection)
}

/// The sandbox tenant's `quoteItemType` value labelled `label`.
fn item_type_code(env: &Env, label: &str) -> i64 {
    let picklist = env.at.state().picklist("QuoteItems", "quoteItemType").unwrap();
    let (value, _) = picklist.iter().find(|(_, l)| l == label).unwrap();
    value.parse().unwrap()
}

/// Reads of `QuoteItems/entityInformation/fields` (the export's only GET on QuoteItems).
fn item_type_reads(env: &Env) -> u64 {
    env.at.counters().calls("GET", "QuoteItems")
}

fn items_of(env: &Env, quote: i64) -> Vec<Value> {
    let mut items: Vec<Value> = records(env, "QuoteItems")
        .into_iter()
        .filter(|i| i["quoteID"].as_i64() == Some(quote))
        .collect();
    items.sort_by_key(|i| i["id"].as_i64());
    items
}

#[tokio::test]
async fn twenty_line_quote_lands_as_one_opportunity_one_quote_and_twenty_items() {
    // GIVEN a 20-line quote: 12 known products, 5 unknown (one in an unmapped category), 3 services
    let env = env().await;
    put(&env, document("Q20", 12, 5, true, &env));
    // WHEN it is exported
    let out = export(&env, &request("Q20")).await.unwrap();
    let calls = env.at.counters().total();
    println!("20-line first export: {calls} Autotask calls");
    assert!(calls <= 20 + 5 + 8, "{calls} calls");
    // THEN one opportunity and one quote exist, with 5 new products and 20 items
    assert_eq!(out.failed_lines, 0, "{:?}", out.lines);
    let opportunities = records(&env, "Opportunities");
    assert_eq!(opportunities.len(), 1);
    assert_eq!(opportunities[0]["title"], "Quote Q20");
    assert_eq!(opportunities[0]["companyID"], env.company);
    assert_eq!(opportunities[0]["ownerResourceID"], env.owner);
    assert_eq!(opportunities[0]["probability"], 40);
    let quotes = records(&env, "Quotes");
    assert_eq!(quotes.len(), 1);
    assert_eq!(quotes[0]["shippingType"], env.shipping);
    assert_eq!(quotes[0]["paymentTerm"], env.payment);
    assert_eq!(quotes[0]["externalQuoteNumber"], "Q20");
    assert_eq!(out.products_created.len(), 5);
    let created: Vec<Value> = records(&env, "Products")
        .into_iter()
        .filter(|p| out.products_created.contains(&p["id"].as_i64().unwrap()))
        .collect();
    assert!(created.iter().all(|p| p["manufacturerName"] == "Cisco"));
    let unmapped = created.iter().find(|p| p["sku"] == "NEW-Q20-1").unwrap();
    assert_eq!(unmapped["productCategory"], 3, "unmapped category → default");
    assert!(
        created
            .iter()
            .filter(|p| p["sku"] != "NEW-Q20-1")
            .all(|p| p["productCategory"] == 1)
    );
    // Items are created side by side (sent in document order): each line's item is found by
    // its content, not by its position in Autotask.
    let items = items_of(&env, out.quote_id.unwrap());
    assert_eq!(items.len(), 20);
    let code = |label| item_type_code(&env, label);
    let of_type = |label| -> Vec<&Value> { items.iter().filter(|i| i["quoteItemType"] == code(label)).collect() };
    let mut products = of_type("Product");
    assert_eq!(products.len(), 17);
    assert_eq!(of_type("Service")[0]["serviceID"], env.service);
    assert_eq!(of_type("ServiceBundle")[0]["serviceBundleID"], env.bundle);
    assert_eq!(of_type("Labor")[0]["laborID"], env.role);
    products.sort_by(|a, b| a["quantity"].as_f64().partial_cmp(&b["quantity"].as_f64()).unwrap());
    for (n, item) in products.iter().enumerate() {
        let n = n as f64 + 1.0;
        assert_eq!(item["quantity"].as_f64(), Some(n), "one item per document line");
        assert_eq!(item["unitPrice"].as_f64(), Some(100.0 + n));
        assert_eq!(item["unitCost"].as_f64(), Some(60.0 + n));
    }
    assert_eq!(records(&env, "QuoteLocations").len(), 3);
}

#[tokio::test]
async fn unchanged_reexport_writes_nothing_and_three_changes_write_three_items() {
    // GIVEN an exported quote
    let env = env().await;
    let mut doc = document("Q21", 12, 5, true, &env);
    put(&env, doc.clone());
    let first = export(&env, &request("Q21")).await.unwrap();
    let before = all_writes(&env);
    let after_first = env.at.counters().total();
    // WHEN it is exported again unchanged, after the double-click replay window
    env.clock
        .advance(shared::idempotency::LINK_REPLAY_WINDOW + chrono::Duration::minutes(1));
    let again = export(&env, &request("Q21")).await.unwrap();
    let direct = export_document(
        &env.ctx,
        &ExportDocumentRequest {
            dry_run: true,
            ..request("Q21")
        },
        None,
    )
    .await
    .unwrap();
    // THEN nothing is written and the plan is empty
    assert_eq!(all_writes(&env), before);
    assert_eq!(again.writes, 0);
    println!(
        "20-line unchanged re-export: {} Autotask calls",
        env.at.counters().total() - after_first
    );
    assert_eq!(direct.writes, 0, "{:?}", direct.plan);
    // WHEN one quantity changes, one line is removed and one added
    doc.lines[0].quantity = Decimal::from(9);
    doc.lines.remove(3);
    doc.lines.push(product_line(30, "SKU-30", "Networking"));
    doc.revision = 2;
    put(&env, doc);
    let items_before = writes(&env, "QuoteItems");
    let changed = export(&env, &request("Q21")).await.unwrap();
    // THEN exactly three item writes happen
    assert_eq!(writes(&env, "QuoteItems") - items_before, 3);
    assert_eq!(changed.failed_lines, 0);
    assert_eq!(items_of(&env, first.quote_id.unwrap()).len(), 20);
    assert_eq!(records(&env, "Quotes").len(), 1);
}

#[tokio::test]
async fn a_sales_order_with_a_custom_name_gets_its_own_defaults() {
    let env = env().await;
    let mut doc = document("S1", 2, 0, false, &env);
    doc.doc_type = DocumentType::SalesOrder;
    put(&env, doc);
    let req = ExportDocumentRequest {
        custom_name: Some("Branch office rollout".into()),
        ..request("S1")
    };
    export(&env, &req).await.unwrap();
    let opportunity = &records(&env, "Opportunities")[0];
    assert_eq!(opportunity["title"], "Branch office rollout");
    assert_eq!(
        (opportunity["status"].clone(), opportunity["stage"].clone()),
        (3.into(), 4.into())
    );
    assert_eq!(records(&env, "Quotes")[0]["name"], "Branch office rollout");
}

#[tokio::test]
async fn attaching_to_an_existing_opportunity_adds_only_the_quote() {
    let env = env().await;
    let existing = env.at.state().add_opportunity(env.company, env.owner, "Existing deal");
    put(&env, document("Q22", 2, 0, false, &env));
    let before = writes(&env, "Opportunities");
    let out = export(
        &env,
        &ExportDocumentRequest {
            opportunity_id: Some(existing),
            ..request("Q22")
        },
    )
    .await
    .unwrap();
    assert_eq!(out.opportunity_id, Some(existing));
    assert_eq!(writes(&env, "Opportunities"), before);
    assert_eq!(records(&env, "Quotes")[0]["opportunityID"], existing);
}

#[tokio::test]
async fn the_document_custom_field_names_the_opportunity() {
    let env = env().await;
    let existing = env.at.state().add_opportunity(env.company, env.owner, "Picked earlier");
    let mut doc = document("Q23", 1, 0, false, &env);
    doc.custom_fields = vec![CustomField {
        name: "Autotask Opportunity".into(),
        value: format!("{existing} - Picked earlier"),
    }];
    put(&env, doc);
    let out = export(&env, &request("Q23")).await.unwrap();
    assert_eq!(out.opportunity_id, Some(existing));
}

#[tokio::test]
async fn an_opportunity_of_another_company_is_refused_and_nothing_is_written() {
    let env = env().await;
    let foreign = env
        .at
        .state()
        .add_opportunity(env.other_company, env.owner, "Not theirs");
    put(&env, document("Q24", 2, 1, false, &env));
    let before = all_writes(&env);
    let err = export(
        &env,
        &ExportDocumentRequest {
            opportunity_id: Some(foreign),
            ..request("Q24")
        },
    )
    .await
    .unwrap_err();
    let api = shared::web::ApiError::from(err);
    assert_eq!(api.status, http::StatusCode::CONFLICT);
    assert_eq!(api.code, "opportunity_of_other_company");
    assert_eq!(all_writes(&env), before);
}

#[tokio::test]
async fn an_opportunity_with_a_foreign_quote_is_a_409_explaining_one_to_one() {
    // GIVEN an opportunity whose quote came from another document
    let env = env().await;
    put(&env, document("Q25", 1, 0, false, &env));
    put(&env, document("Q26", 1, 0, false, &env));
    let first = export(&env, &request("Q25")).await.unwrap();
    // WHEN another document is exported to it
    let req = ExportDocumentRequest {
        opportunity_id: first.opportunity_id,
        ..request("Q26")
    };
    let api = shared::web::ApiError::from(export(&env, &req).await.unwrap_err());
    // THEN 409 with the one-to-one rule, and no second quote
    assert_eq!(api.status, http::StatusCode::CONFLICT);
    assert!(api.message.contains("one-to-one"), "{}", api.message);
    assert_eq!(records(&env, "Quotes").len(), 1);
}

#[tokio::test]
async fn each_precondition_failure_says_what_to_do_and_writes_nothing() {
    let env = env().await;
    let before = all_writes(&env);
    type Change = Box<dyn Fn(&mut Document)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "customer_not_mapped",
            Box::new(|d| d.customer.number = "UNMAPPED".into()),
        ),
        (
            "contact_not_mapped",
            Box::new(|d| {
                d.contact = Some(DocumentContact {
                    id: Some("c-x".into()),
                    email: Some("nobody@x.test".into()),
                    ..DocumentContact::default()
                })
            }),
        ),
        (
            "sales_rep_not_mapped",
            Box::new(|d| {
                d.sales_rep = Some(SalesRep {
                    id: Some("rep-9".into()),
                    ..SalesRep::default()
                })
            }),
        ),
        ("payment_terms_missing", Box::new(|d| d.payment_terms = None)),
        (
            "payment_terms_not_mapped",
            Box::new(|d| d.payment_terms = Some("COD".into())),
        ),
        (
            "shipping_type_not_mapped",
            Box::new(|d| d.delivery_method = Some("Pigeon".into())),
        ),
    ];
    for (i, (code, change)) in cases.into_iter().enumerate() {
        let number = format!("P{i}");
        let mut doc = document(&number, 1, 1, false, &env);
        change(&mut doc);
        put(&env, doc);
        let link = |customer: &str| format!("https://export-customer.test/?customer_number={customer}");
        let err = export_document(&env.ctx, &request(&number), Some(&link))
            .await
            .unwrap_err();
        let api = shared::web::ApiError::from(err);
        assert_eq!(api.code, code);
        assert!(api.fix.as_deref().is_some_and(|f| !f.is_empty()));
        if code == "customer_not_mapped" {
            assert!(api.fix.as_deref().unwrap().contains("Export the customer first"));
            assert!(api.fix.as_deref().unwrap().contains("customer_number=UNMAPPED"));
        }
    }
    assert_eq!(all_writes(&env), before);
}

#[tokio::test]
async fn a_contact_with_the_same_email_is_mapped_on_the_fly() {
    let env = env().await;
    let lee = env.at.state().add_contact(env.company, "Lee", "Buyer", "lee@acme.test");
    let mut doc = document("Q27", 1, 0, false, &env);
    doc.contact = Some(DocumentContact {
        id: Some("contact-2".into()),
        email: Some("lee@acme.test".into()),
        ..DocumentContact::default()
    });
    put(&env, doc);
    export(&env, &request("Q27")).await.unwrap();
    let mapped = env
        .ctx
        .mappings
        .get_by_col(&env.ctx.tenant, MappingKind::Contact, "contact-2")
        .await
        .unwrap();
    assert_eq!(mapped.map(|m| m.at_id), Some(lee));
    assert_eq!(records(&env, "Quotes")[0]["contactID"], lee);
}

#[tokio::test]
async fn a_dry_run_answers_the_plan_and_writes_nothing() {
    let env = env().await;
    put(&env, document("Q28", 3, 2, true, &env));
    let before = all_writes(&env);
    let out = export(
        &env,
        &ExportDocumentRequest {
            dry_run: true,
            ..request("Q28")
        },
    )
    .await
    .unwrap();
    assert!(out.dry_run);
    let steps = out.plan.as_ref().unwrap()["steps"].as_array().unwrap().clone();
    // 1 opportunity + 3 locations + 1 quote + 2 products + 8 items
    assert_eq!(steps.len(), 15);
    assert_eq!(steps[0]["call"]["path"], "/V1.0/Opportunities");
    assert!(steps.iter().all(|s| s["call"]["method"].is_string()));
    assert_eq!(all_writes(&env), before);
    assert!(records(&env, "Opportunities").is_empty());
}

#[tokio::test]
async fn refused_lines_are_reported_and_the_next_export_finishes_only_them() {
    // GIVEN 20 lines of which 3 need new products whose category Autotask refuses
    let env = env().await;
    let mut doc = document("Q29", 17, 0, false, &env);
    for k in 1..=3 {
        let mut line = product_line(17 + k, &format!("BAD-{k}"), BROKEN_CATEGORY);
        line.sub_category = None;
        doc.lines.push(line);
    }
    put(&env, doc);
    // WHEN exported
    let out = export(&env, &request("Q29")).await.unwrap();
    // THEN 17 lines land and 3 are reported with Autotask's reason
    assert_eq!(out.failed_lines, 3);
    let failed: Vec<_> = out.lines.iter().filter(|l| l.status == LineStatus::Failed).collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|l| l.error.as_deref().is_some_and(|e| !e.is_empty())));
    assert_eq!(items_of(&env, out.quote_id.unwrap()).len(), 17);
    // WHEN the category mapping is fixed and the document exported again
    let mut env = env;
    let category = env
        .ctx
        .settings
        .field_mappings
        .categories
        .iter_mut()
        .find(|c| c.col_category == BROKEN_CATEGORY)
        .unwrap();
    category.at_product_category_id = 2;
    let items_before = writes(&env, "QuoteItems");
    let again = export(&env, &request("Q29")).await.unwrap();
    // THEN only those 3 lines are written
    assert_eq!(again.failed_lines, 0, "{:?}", again.lines);
    assert_eq!(writes(&env, "QuoteItems") - items_before, 3);
    assert_eq!(items_of(&env, out.quote_id.unwrap()).len(), 20);
}

#[tokio::test]
async fn ten_concurrent_exports_give_one_opportunity_one_quote_and_no_duplicate_items() {
    let env = Arc::new(env().await);
    put(&env, document("Q30", 10, 2, true, &env));
    let runs = (0..10).map(|_| {
        let env = Arc::clone(&env);
        tokio::spawn(async move { export(&env, &request("Q30")).await })
    });
    let results = futures_util::future::join_all(runs).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert!(ok >= 1);
    for r in &results {
        if let Ok(Err(e)) = r {
            assert!(e.is_transient(), "only 'in progress, retry' refusals: {e}");
        }
    }
    assert_eq!(records(&env, "Opportunities").len(), 1);
    assert_eq!(records(&env, "Quotes").len(), 1);
    assert_eq!(records(&env, "QuoteItems").len(), 15);
}

#[tokio::test]
async fn a_120_line_quote_stays_within_lines_plus_new_products_plus_eight_calls() {
    // GIVEN a 120-line quote with 10 products Autotask lacks
    let env = env().await;
    put(&env, document("Q120", 107, 10, true, &env));
    // WHEN exported for the first time
    let out = export(&env, &request("Q120")).await.unwrap();
    let first = env.at.counters().total();
    // THEN the Autotask calls stay within lines + new products + 8
    assert_eq!(out.failed_lines, 0);
    assert_eq!(out.products_created.len(), 10);
    println!("120-line first export: {first} Autotask calls");
    assert!(
        first <= 120 + 10 + 8,
        "{first} calls: {:?}",
        env.at.counters().snapshot()
    );
    // AND an unchanged re-export (dry run, so no replay) reads a handful and writes nothing
    env.at.counters().reset();
    let again = export(
        &env,
        &ExportDocumentRequest {
            dry_run: true,
            ..request("Q120")
        },
    )
    .await
    .unwrap();
    println!(
        "120-line unchanged re-export: {} Autotask calls",
        env.at.counters().total()
    );
    assert_eq!(again.writes, 0);
    assert!(env.at.counters().total() <= 5);
}

// ---- pickers: query-opportunities and query-services -------------------------------------

use shared::sync::documents::{
    AddServiceLine, OpportunityQuery, ServiceKind, add_service_line, attach_opportunity, list_opportunities,
    search_services,
};

fn fake_signer(path: &str, params: &[(String, String)]) -> String {
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("https://fn.test{path}?{}&sig=v1=test", query.join("&"))
}

#[tokio::test]
async fn opportunity_picker_lists_open_first_and_its_choice_reaches_channelonline() {
    // GIVEN the company has an open, a lost and a quoted opportunity, and another company one more
    let env = env().await;
    let s = env.at.state();
    let open = s.add_opportunity(env.company, env.owner, "Firewall refresh");
    let lost = s.insert(
        "Opportunities",
        serde_json::json!({"title": "Old deal", "companyID": env.company, "ownerResourceID": env.owner, "status": 2,
            "stage": 5, "probability": 0, "amount": 0.0, "cost": 0.0, "useQuoteTotals": true}),
    );
    let quoted = s.add_opportunity(env.company, env.owner, "Quoted elsewhere");
    s.insert(
        "Quotes",
        serde_json::json!({"opportunityID": quoted, "name": "Manual quote"}),
    );
    s.add_opportunity(env.other_company, env.owner, "Someone else's");
    put(&env, document("Q40", 2, 0, false, &env));
    // WHEN the picker lists them for the document
    let page = list_opportunities(
        &env.ctx,
        &OpportunityQuery {
            document_number: Some("Q40".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // THEN only the company's opportunities, open ones first, the quoted one flagged
    let ids: Vec<i64> = page.opportunities.iter().map(|o| o.id).collect();
    assert_eq!(ids, [quoted, open, lost]);
    assert!(page.opportunities[0].has_quote);
    assert!(!page.opportunities[2].open);
    assert_eq!(page.opportunities[2].status.as_deref(), Some("Lost"));
    // AND any page number is answered, past the end an empty page (never an overflow)
    let far = list_opportunities(
        &env.ctx,
        &OpportunityQuery {
            document_number: Some("Q40".into()),
            page: Some(u32::MAX),
            page_size: Some(u32::MAX),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(far.opportunities.is_empty());
    assert!(!query_opportunities::render_picker(&far, &fake_signer).contains("Next"));
    let html = query_opportunities::render_picker(&page, &fake_signer);
    assert!(html.contains("Firewall refresh") && html.contains("Old deal"));
    assert!(html.contains(&format!("/attach?document_number=Q40&amp;opportunity_id={open}")));
    assert!(
        !html.contains(&format!("opportunity_id={quoted}")),
        "a quoted opportunity cannot be chosen"
    );
    // WHEN the user chooses the open one
    let attached = attach_opportunity(&env.ctx, "Q40", open).await.unwrap();
    // THEN ChannelOnline's custom field and our mapping name it, and the export uses it
    let doc = env.col.state().document("Q40").cloned().unwrap();
    assert_eq!(
        doc.custom_field("Autotask Opportunity"),
        Some(attached.custom_field_value.as_str())
    );
    assert!(attached.custom_field_value.starts_with(&open.to_string()));
    let mapping = env
        .ctx
        .mappings
        .get_by_col(&env.ctx.tenant, MappingKind::Document, "Q40")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mapping.at_id, open);
    let out = export(&env, &request("Q40")).await.unwrap();
    assert_eq!(out.opportunity_id, Some(open));
    // AND attaching the quoted one is refused with the one-to-one rule
    let api = shared::web::ApiError::from(attach_opportunity(&env.ctx, "Q40", quoted).await.unwrap_err());
    assert_eq!(api.status, http::StatusCode::CONFLICT);
}

#[tokio::test]
async fn service_picker_lists_items_and_its_choice_becomes_a_line_that_keeps_its_autotask_identity() {
    // GIVEN a document and Autotask services, bundles and roles
    let env = env().await;
    put(&env, document("Q41", 1, 0, false, &env));
    // WHEN the picker searches everything
    let choices = search_services(&env.ctx, "", &[]).await.unwrap();
    // THEN each kind is there with price and period
    let service = choices
        .iter()
        .find(|c| c.kind == ServiceKind::Service && c.id == env.service)
        .unwrap();
    assert_eq!((service.unit_price, service.period.as_str()), (49.0, "Monthly"));
    assert!(
        choices
            .iter()
            .any(|c| c.kind == ServiceKind::ServiceBundle && c.id == env.bundle)
    );
    let labor = choices
        .iter()
        .find(|c| c.kind == ServiceKind::Labor && c.id == env.role)
        .unwrap();
    assert_eq!((labor.unit_price, labor.period.as_str()), (150.0, "Hourly"));
    assert_eq!(search_services(&env.ctx, "backup", &[]).await.unwrap().len(), 1);
    let html = query_services::render_picker(Some("Q41"), &choices, &fake_signer);
    assert!(html.contains("Managed backup"));
    assert!(html.contains(&format!(
        "/add?document_number=Q41&amp;kind=service&amp;id={}",
        env.service
    )));
    // WHEN the user adds the service (twice: a double click)
    let add = AddServiceLine {
        document_number: "Q41".into(),
        kind: ServiceKind::Service,
        id: env.service,
        quantity: 2.0,
    };
    let first = add_service_line(&env.ctx, &add).await.unwrap();
    let second = add_service_line(&env.ctx, &add).await.unwrap();
    // THEN ChannelOnline has one new line that keeps the Autotask identity
    assert_eq!(first.line.line_id, second.line.line_id);
    let doc = env.col.state().document("Q41").cloned().unwrap();
    let lines: Vec<_> = doc.lines.iter().filter(|l| l.autotask.is_some()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].autotask,
        Some(AutotaskItemRef {
            kind: AutotaskItemKind::Service,
            id: env.service
        })
    );
    assert_eq!(lines[0].price, Some(dec(49.0)));
    // AND exporting the document turns it into a Service quote item
    let out = export(&env, &request("Q41")).await.unwrap();
    let items = items_of(&env, out.quote_id.unwrap());
    assert!(
        items
            .iter()
            .any(|i| i["quoteItemType"] == item_type_code(&env, "Service") && i["serviceID"] == env.service)
    );
}

#[tokio::test]
async fn the_service_search_returns_at_most_fifty_per_kind_and_reads_no_further_page() {
    // GIVEN 120 active services matching the search (more than the picker's 50)
    let env = env().await;
    let s = env.at.state();
    let billing = s.add_billing_code("Cloud plans", 5);
    let ids: Vec<i64> = (1..=120)
        .map(|n| s.add_service(&format!("Cloud plan {n:03}"), billing, 2, 10.0))
        .collect();
    env.at.counters().reset();
    // WHEN the picker searches services
    let choices = search_services(&env.ctx, "Cloud plan", &[ServiceKind::Service])
        .await
        .unwrap();
    // THEN it answers the first 50 (Autotask's id order) from one query page
    let mut got: Vec<i64> = choices.iter().map(|c| c.id).collect();
    got.sort_unstable();
    assert_eq!(got, ids[..50]);
    assert_eq!(
        env.at.counters().calls("POST", "Services"),
        1,
        "one POST …/Services/query, no POST of its nextPageUrl: {:?}",
        env.at.counters().snapshot()
    );
}

// ---- quote item types come from the tenant's picklist -------------------------------------

/// A tenant whose `quoteItemType` values are none of the commonly guessed 1/3/6/11/12.
const OTHER_ITEM_TYPES: [(i64, &str); 6] = [
    (101, "Product"),
    (102, "Cost"),
    (103, "Labor"),
    (106, "Shipping"),
    (111, "Service"),
    (112, "Service Bundle"),
];

fn with_shipping(mut doc: Document) -> Document {
    doc.totals.shipping_handling = Some(dec(25.0));
    doc
}

#[tokio::test]
async fn the_export_writes_the_item_type_codes_the_tenant_lists() {
    // GIVEN a tenant whose item type codes are not the guessed ones
    let env = env().await;
    env.at
        .state()
        .set_picklist("QuoteItems", "quoteItemType", &OTHER_ITEM_TYPES);
    put(&env, with_shipping(document("Q50", 2, 1, true, &env)));
    // WHEN a quote with products, a service, a bundle, labor and shipping is exported
    let out = export(&env, &request("Q50")).await.unwrap();
    // THEN every item carries the tenant's code for its type, matched by label
    assert_eq!(out.failed_lines, 0, "{:?}", out.lines);
    let items = items_of(&env, out.quote_id.unwrap());
    // (items are created side by side, so Autotask's order among them may differ)
    let mut types: Vec<i64> = items.iter().map(|i| i["quoteItemType"].as_i64().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(types, [101, 101, 101, 103, 106, 111, 112]);
    let shipping = items.iter().find(|i| i["quoteItemType"] == 106).unwrap();
    assert_eq!(shipping["shippingID"], env.shipping);
    // AND the picklist was read once; a second export reuses it
    assert_eq!(item_type_reads(&env), 1);
    put(&env, document("Q51", 1, 0, false, &env));
    export(&env, &request("Q51")).await.unwrap();
    assert_eq!(item_type_reads(&env), 1);
}

#[tokio::test]
async fn a_refused_item_type_rereads_the_picklist_once_and_lands_every_item_once() {
    // GIVEN the demo codes cached by a first export
    let env = env().await;
    put(&env, document("Q52", 1, 0, false, &env));
    export(&env, &request("Q52")).await.unwrap();
    assert_eq!(item_type_reads(&env), 1);
    // WHEN an admin renumbers the item types and the next document is exported
    env.at
        .state()
        .set_picklist("QuoteItems", "quoteItemType", &OTHER_ITEM_TYPES);
    put(&env, with_shipping(document("Q53", 3, 1, true, &env)));
    let out = export(&env, &request("Q53")).await.unwrap();
    // THEN Autotask's refusal of the cached code made one fresh read, and every item landed
    // once with the new code
    assert_eq!(out.failed_lines, 0, "{:?}", out.lines);
    assert_eq!(item_type_reads(&env), 2);
    let items = items_of(&env, out.quote_id.unwrap());
    // (items are created side by side, so Autotask's order among them may differ)
    let mut types: Vec<i64> = items.iter().map(|i| i["quoteItemType"].as_i64().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(types, [101, 101, 101, 101, 103, 106, 111, 112]);
    // AND the next export plans with the fresh codes: nothing to change
    let again = export(
        &env,
        &ExportDocumentRequest {
            dry_run: true,
            ..request("Q53")
        },
    )
    .await
    .unwrap();
    assert_eq!(again.writes, 0, "{:?}", again.plan);
    assert_eq!(item_type_reads(&env), 2);
}

#[tokio::test]
async fn a_tenant_without_a_needed_item_type_is_told_which_and_nothing_is_written() {
    // GIVEN a tenant whose quoteItemType picklist has no Labor
    let env = env().await;
    let without_labor: Vec<(i64, &str)> = OTHER_ITEM_TYPES.into_iter().filter(|(_, l)| *l != "Labor").collect();
    env.at
        .state()
        .set_picklist("QuoteItems", "quoteItemType", &without_labor);
    put(&env, document("Q54", 1, 0, true, &env));
    let before = all_writes(&env);
    // WHEN a document with a labor line is exported
    let err = export(&env, &request("Q54")).await.unwrap_err();
    // THEN the answer names the missing type and what Autotask lists, and nothing is written
    let api = shared::web::ApiError::from(err);
    assert_eq!(api.status, http::StatusCode::PRECONDITION_FAILED);
    assert_eq!(api.code, "quote_item_type_missing");
    assert!(api.message.contains("\"Labor\""), "{}", api.message);
    assert!(api.message.contains("Product, Cost, Shipping"), "{}", api.message);
    assert!(api.fix.is_some_and(|f| f.contains("Labor")));
    assert_eq!(all_writes(&env), before);
}

/// The `nth` POST on `collection` (1-based; queries are POSTs too) fails with `kind`.
fn fault_on_post(env: &Env, collection: &str, nth: u32, kind: FaultKind) {
    let rule = |kind, times| FaultRule {
        endpoint: Some(collection.into()),
        method: Some("POST".into()),
        kind,
        times,
    };
    if nth > 1 {
        env.at
            .counters()
            .add_fault(rule(FaultKind::Timeout { delay_ms: 0 }, nth - 1));
    }
    env.at.counters().add_fault(rule(kind, 1));
}

fn count_where(env: &Env, collection: &str, field: &str, value: &Value) -> usize {
    records(env, collection).iter().filter(|r| &r[field] == value).count()
}

/// Exactly one of each record the export creates, the mapping written, and a re-export that
/// writes nothing: what must hold after any lost answer.
async fn assert_exported_once(env: &Env, number: &str, outcome: &ExportOutcome, products: &[&str]) {
    let opportunity = outcome.opportunity_id.unwrap();
    let title = Value::from(format!("Quote {number}"));
    assert_eq!(count_where(env, "Opportunities", "title", &title), 1, "opportunities");
    assert_eq!(
        count_where(env, "Quotes", "externalQuoteNumber", &Value::from(number)),
        1,
        "quotes"
    );
    assert_eq!(records(env, "QuoteLocations").len(), 3, "three locations, no orphan");
    for sku in products {
        assert_eq!(
            count_where(env, "Products", "sku", &Value::from(*sku)),
            1,
            "product {sku}"
        );
    }
    let quote = outcome.quote_id.unwrap();
    let items = items_of(env, quote);
    assert_eq!(items.len(), outcome.lines.len(), "one item per line");
    assert_eq!(outcome.failed_lines, 0, "{outcome:?}");
    let mapping = env
        .ctx
        .mappings
        .get_by_col(&env.ctx.tenant, MappingKind::Document, number)
        .await
        .unwrap()
        .expect("the document mapping is written");
    assert_eq!(mapping.at_id, opportunity);
    // a real repeat (after the replay window) finds everything in place
    let before = all_writes(env);
    env.clock
        .advance(shared::idempotency::LINK_REPLAY_WINDOW + chrono::Duration::minutes(1));
    let again = export(env, &request(number)).await.unwrap();
    assert_eq!((again.writes, all_writes(env)), (0, before), "{again:?}");
    assert_eq!(again.opportunity_id, Some(opportunity));
}

/// Loses the answer of the `nth` POST on `collection` after Autotask committed it; the export
/// (retried by the user when it answered an error) ends with every record exactly once.
async fn lose_answer_then_retry(collection: &str, nth: u32, kind: FaultKind) {
    let env = env_with(SHORT_READ_TIMEOUT).await;
    let number = "Q-LOST";
    put(&env, document(number, 2, 2, true, &env));
    fault_on_post(&env, collection, nth, kind);
    let outcome = match export(&env, &request(number)).await {
        Ok(outcome) => outcome,
        Err(e) => {
            // told the truth: Autotask unavailable, try again, retryable
            let answer = ApiError::from(e);
            assert_eq!((answer.status.as_u16(), answer.retryable), (503, true), "{answer:?}");
            export(&env, &request(number)).await.unwrap()
        }
    };
    assert_exported_once(&env, number, &outcome, &["NEW-Q-LOST-1", "NEW-Q-LOST-2"]).await;
}

#[tokio::test]
async fn a_lost_opportunity_create_is_found_not_duplicated() {
    lose_answer_then_retry("Opportunities", 1, FaultKind::LoseResponse { delay_ms: LOST }).await;
}

#[tokio::test]
async fn a_lost_quote_location_create_is_found_not_duplicated() {
    // the second location shares the first one's address: it must not be taken for it
    lose_answer_then_retry("QuoteLocations", 2, FaultKind::LoseResponse { delay_ms: LOST }).await;
}

#[tokio::test]
async fn a_lost_quote_create_is_found_by_its_document_number() {
    lose_answer_then_retry("Quotes", 1, FaultKind::LoseResponse { delay_ms: LOST }).await;
}

#[tokio::test]
async fn a_lost_product_create_is_found_by_its_part_number() {
    // the first POST on Products is the look-up query
    lose_answer_then_retry("Products", 2, FaultKind::LoseResponse { delay_ms: LOST }).await;
}

#[tokio::test]
async fn a_lost_quote_item_create_is_found_not_duplicated() {
    lose_answer_then_retry("QuoteItems", 3, FaultKind::LoseResponse { delay_ms: LOST }).await;
}

#[tokio::test]
async fn identical_lines_created_side_by_side_whose_answers_are_lost_get_one_item_each() {
    // GIVEN a quote of four identical lines, and Autotask commits the first three item creates
    // (sent at once) but their answers are lost, while the fourth is answered
    let env = env_with(SHORT_READ_TIMEOUT).await;
    let number = "Q-TWINS";
    let mut doc = document(number, 1, 0, false, &env);
    let line = doc.lines[0].clone();
    doc.lines = (1..=4)
        .map(|n| DocumentLine {
            line_id: format!("twin-{n}"),
            order: n,
            ..line.clone()
        })
        .collect();
    put(&env, doc);
    env.at.counters().add_fault(FaultRule {
        endpoint: Some("QuoteItems".into()),
        method: Some("POST".into()),
        kind: FaultKind::LoseResponse { delay_ms: LOST },
        times: 3,
    });
    // WHEN the document is exported
    let outcome = export(&env, &request(number)).await.unwrap();
    // THEN each line holds its own item: the unanswered ones were looked up one after another,
    // none taking the answered line's item or another's, and nothing was created twice
    assert_eq!(outcome.failed_lines, 0, "{:?}", outcome.lines);
    let items = items_of(&env, outcome.quote_id.unwrap());
    assert_eq!(items.len(), 4, "one item per line, no duplicate");
    let mut held: Vec<i64> = outcome.lines.iter().map(|l| l.item_id.unwrap()).collect();
    held.sort_unstable();
    held.dedup();
    assert_eq!(held.len(), 4, "no item claimed by two lines: {:?}", outcome.lines);
    // AND a repeat finds everything in place
    let before = all_writes(&env);
    env.clock
        .advance(shared::idempotency::LINK_REPLAY_WINDOW + chrono::Duration::minutes(1));
    let again = export(&env, &request(number)).await.unwrap();
    assert_eq!((again.writes, all_writes(&env)), (0, before), "{again:?}");
}

/// `env`'s tenant as seen by another function instance (its own client, so its own process
/// limit), both holding tenant-wide call slots in `slots`.
fn instance(env: &Env, ctx: &TenantContext, slots: &Arc<MemoryStore>) -> TenantContext {
    let sandbox = env.at.config();
    let client = AutotaskClient::new(ClientConfig::with_zone_host(&env.at.base_url()))
        .unwrap()
        .for_tenant(
            ctx.tenant.clone(),
            ClientCredentials {
                username: sandbox.username.clone(),
                secret: SecretString::new(sandbox.secret.clone()),
                integration_code: sandbox.integration_code.clone(),
                impersonation_resource_id: None,
            },
        )
        .with_shared_limit(SharedLimit {
            store: slots.clone(),
            clock: env.clock.clone(),
            slots: 3,
        });
    TenantContext {
        autotask: client,
        ..ctx.clone()
    }
}

#[tokio::test]
async fn two_instances_exporting_at_once_stay_within_autotask_thread_limit() {
    // GIVEN two function instances of one tenant (each limits itself to 3 calls per endpoint)
    // sharing the tenant-wide call slots, and Autotask answering each call after 20 ms
    let env = env().await;
    let slots = Arc::new(MemoryStore::new());
    let (a, b) = (instance(&env, &env.ctx, &slots), instance(&env, &env.ctx, &slots));
    put(&env, document("Q-A", 12, 0, false, &env));
    put(&env, document("Q-B", 12, 0, false, &env));
    env.at.counters().set_latency(Duration::from_millis(20));
    // WHEN both export a 12-line quote at the same time
    let (qa, qb) = (request("Q-A"), request("Q-B"));
    let (ra, rb) = tokio::join!(export_document(&a, &qa, None), export_document(&b, &qb, None));
    // THEN both land, and Autotask never saw more than 3 calls in flight on one endpoint
    assert_eq!(ra.unwrap().failed_lines, 0);
    assert_eq!(rb.unwrap().failed_lines, 0);
    assert_eq!(env.at.counters().thread_limit_refusals(), 0);
    assert!(env.at.counters().peak_in_flight("QuoteItems") <= 3);
    assert_eq!(
        env.at.counters().peak_in_flight("QuoteItems"),
        3,
        "the items ran side by side"
    );
}

#[tokio::test]
async fn a_create_that_timed_out_before_autotask_committed_it_is_created_once() {
    for collection in ["Opportunities", "QuoteItems"] {
        lose_answer_then_retry(collection, 1, FaultKind::Timeout { delay_ms: LOST }).await;
    }
}

#[tokio::test]
async fn a_500_without_text_on_a_create_is_a_retryable_503_not_a_refusal() {
    // GIVEN Autotask answers every location call with a bare 500 (nothing committed)
    let env = env_with(SHORT_READ_TIMEOUT).await;
    let number = "Q-500";
    put(&env, document(number, 1, 0, false, &env));
    env.at.counters().add_fault(FaultRule {
        endpoint: Some("QuoteLocations".into()),
        method: Some("POST".into()),
        kind: FaultKind::ServerError,
        times: 50,
    });
    // WHEN the export runs THEN the user is told "try again", retryable, not "correct the value"
    let answer = ApiError::from(export(&env, &request(number)).await.unwrap_err());
    assert_eq!((answer.status.as_u16(), answer.retryable), (503, true), "{answer:?}");
    assert!(answer.fix.as_deref().unwrap().contains("Try again"), "{answer:?}");
    assert!(!answer.message.contains("refused"), "{answer:?}");
    env.at.counters().clear_faults();
    // AND the retry finishes the export with one of everything
    let outcome = export(&env, &request(number)).await.unwrap();
    assert_exported_once(&env, number, &outcome, &[]).await;
}

#[tokio::test]
async fn an_opportunity_left_unconfirmed_is_found_by_the_next_export_not_created_again() {
    // GIVEN Autotask commits the opportunity but its answer is lost, and the look-up after it fails too
    let env = env_with(SHORT_READ_TIMEOUT).await;
    let number = "Q-LOST";
    put(&env, document(number, 2, 2, true, &env));
    let rule = |kind, times| FaultRule {
        endpoint: Some("Opportunities".into()),
        method: Some("POST".into()),
        kind,
        times,
    };
    env.at
        .counters()
        .add_fault(rule(FaultKind::LoseResponse { delay_ms: LOST }, 1));
    env.at.counters().add_fault(rule(FaultKind::ServerError, 3));
    // WHEN the export runs THEN the user is told to try again (nothing is known either way)
    let answer = ApiError::from(export(&env, &request(number)).await.unwrap_err());
    assert_eq!((answer.status.as_u16(), answer.retryable), (503, true), "{answer:?}");
    assert_eq!(records(&env, "Opportunities").len(), 1, "the lost create did land");
    assert!(
        records(&env, "QuoteLocations").is_empty(),
        "nothing made for a quote that cannot follow"
    );
    // WHEN the user tries again THEN that opportunity is found and finished, not a second one made
    let outcome = export(&env, &request(number)).await.unwrap();
    assert_eq!(outcome.opportunity_id, records(&env, "Opportunities")[0]["id"].as_i64());
    assert_exported_once(&env, number, &outcome, &["NEW-Q-LOST-1", "NEW-Q-LOST-2"]).await;
}

#[tokio::test]
async fn an_export_killed_while_autotask_commits_the_opportunity_makes_one_opportunity() {
    // GIVEN Autotask commits the opportunity, and the run dies before the answer arrives
    // (a Lambda stopped mid-call: no error handling of this run runs)
    let env = env_with(SHORT_READ_TIMEOUT).await;
    let number = "Q-KILLED";
    put(&env, document(number, 2, 2, true, &env));
    fault_on_post(&env, "Opportunities", 1, FaultKind::LoseResponse { delay_ms: LOST });
    let killed = tokio::time::timeout(Duration::from_millis(800), export(&env, &request(number))).await;
    assert!(killed.is_err(), "the run was stopped while waiting for Autotask");
    assert_eq!(records(&env, "Opportunities").len(), 1, "the create did land");
    // WHEN the user exports again once the dead run's claim expired (a new invocation)
    env.clock
        .advance(shared::app::DEFAULT_BUDGET + shared::app::CLAIM_MARGIN + chrono::Duration::seconds(1));
    let retry = TenantContext {
        deadline: env.clock.now() + shared::app::DEFAULT_BUDGET,
        ..env.ctx.clone()
    };
    let outcome = export_document(&retry, &request(number), None).await.unwrap();
    // THEN the committed opportunity is found and finished, no second one is made
    assert_eq!(outcome.opportunity_id, records(&env, "Opportunities")[0]["id"].as_i64());
    assert_exported_once(&env, number, &outcome, &["NEW-Q-KILLED-1", "NEW-Q-KILLED-2"]).await;
}
