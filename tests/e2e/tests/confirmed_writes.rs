//! Writes only by confirmed POST, through the real binaries: a button's signed GET opens a
//! confirmation page and writes nothing; its form POSTs a single-use token; a reload or a second
//! click never writes twice; a changed form, a covered header changed after signing, another
//! method, or a link derived from an expired one is refused.

use std::time::Duration;

use e2e::customers::{CustomerStack, KEY, TENANT, customer, now};
use serde_json::Value;
use shared::store::AuditLog;
use shared::tenant::TenantId;
use testkit::function_url::{EventSpec, UrlResponse, event, form_fields, form_post};

const PHONE: Option<&str> = Some("312-555-0100");

fn signed_get(audience: &str, path: &str, query: &str, ts: i64) -> Value {
    event(&EventSpec {
        audience,
        method: "GET",
        path,
        query,
        body: "",
        signer: Some((TENANT, KEY, ts)),
        headers: &[("accept", "text/html")],
    })
}

async fn open_page(s: &CustomerStack, binary: &str, path: &str, query: &str) -> UrlResponse {
    let page = s.invoke(binary, signed_get(binary, path, query, now())).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<form method=\"post\""), "{}", page.body);
    page
}

fn with_field(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.clone(), if k == name { value.to_owned() } else { v.clone() }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_link_confirms_first_and_its_form_writes_once() {
    let s = CustomerStack::start().await;
    s.add_customer(customer(
        "C-960",
        "Alpine Ski House",
        PHONE,
        &[("k1", "Ann", "Lee", "ann@alpine.example", None)],
    ));
    s.add_customer(customer("C-961", "Coho Winery", PHONE, &[]));

    // WHEN the button's link is opened THEN the page says what will be written, and nothing is
    let page = open_page(&s, "export-customer", "/", "customer_number=C-960").await;
    assert!(
        page.body.contains("Export customer C-960 to Autotask?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("ann@alpine.example"), "{}", page.body);
    assert_eq!(
        s.at.counters().writes("Companies") + s.at.counters().writes("Contacts"),
        0
    );
    assert!(s.companies_named("Alpine Ski House").is_empty());

    // WHEN its form is posted THEN the customer is exported
    let fields = form_fields(&page.body);
    assert!(fields.iter().any(|(k, _)| k == "confirmation"), "{fields:?}");
    let first = s.invoke("export-customer", form_post("/", &fields)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("Created the Autotask company"), "{}", first.body);
    assert_eq!(s.companies_named("Alpine Ski House").len(), 1);
    let writes = s.at.counters().writes("Companies") + s.at.counters().writes("Contacts");

    // WHEN the same form is posted again (a reload, a second click) THEN the first answer is
    // shown again and nothing is written
    let again = s.invoke("export-customer", form_post("/", &fields)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replay"], "true");
    assert!(again.body.contains("Created the Autotask company"), "{}", again.body);
    assert_eq!(s.companies_named("Alpine Ski House").len(), 1);
    assert_eq!(
        s.at.counters().writes("Companies") + s.at.counters().writes("Contacts"),
        writes
    );

    // WHEN the form is changed to another customer THEN the token does not match: 401, no write
    let changed = s
        .invoke(
            "export-customer",
            form_post("/", &with_field(&fields, "customer_number", "C-961")),
        )
        .await;
    assert_eq!(changed.status, 401, "{}", changed.body);
    assert!(changed.body.contains("does not match"), "{}", changed.body);
    assert!(s.companies_named("Coho Winery").is_empty());

    // WHEN the token is forged THEN 401 as well
    let forged = s
        .invoke(
            "export-customer",
            form_post("/", &with_field(&fields, "confirmation", "c1~acme-reseller~1~0~00")),
        )
        .await;
    assert_eq!(forged.status, 401, "{}", forged.body);

    // WHEN the write is asked for by GET (the form's fields as a link) THEN 405, nothing written
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(with_field(&fields, "customer_number", "C-961"))
        .finish();
    let as_link = s
        .invoke("export-customer", signed_get("export-customer", "/", &query, now()))
        .await;
    assert_eq!(as_link.status, 405, "{}", as_link.body);
    assert_eq!(as_link.headers["allow"], "POST");
    assert!(s.companies_named("Coho Winery").is_empty());

    // WHEN another method is used THEN 405 with Allow, and nothing is written
    let put = event(&EventSpec {
        audience: "export-customer",
        method: "PUT",
        path: "/",
        query: "customer_number=C-961",
        body: "",
        signer: Some((TENANT, KEY, now())),
        headers: &[],
    });
    let put = s.invoke("export-customer", put).await;
    assert_eq!(put.status, 405, "{}", put.body);
    assert_eq!(put.headers["allow"], "GET, POST");
    assert!(s.companies_named("Coho Winery").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_link_shows_the_company_and_contacts_and_imports_once() {
    let s = CustomerStack::start().await;
    let wood = s.at.state().add_company("Woodgrove Bank", s.owner_id);
    s.at.state().add_contact(wood, "Ann", "Lee", "ann@woodgrove.example");
    s.at.state().add_contact(wood, "Bob", "Ray", "bob@woodgrove.example");
    let customers_before = s.col.state().customers.len();

    let page = open_page(&s, "import-customer", "/", "account_name=woodgrove%20bank").await;
    assert!(
        page.body.contains("Import Woodgrove Bank from Autotask?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("bob@woodgrove.example"), "{}", page.body);
    assert_eq!(
        s.col.state().customers.len(),
        customers_before,
        "the page wrote nothing"
    );

    let fields = form_fields(&page.body);
    let first = s.invoke("import-customer", form_post("/", &fields)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(s.col.state().customers.len(), customers_before + 1);
    let again = s.invoke("import-customer", form_post("/", &fields)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replay"], "true");
    assert_eq!(s.col.state().customers.len(), customers_before + 1);
}

/// A server-to-server export of C-970 as `user`, signed with the user.
fn signed_export_as(user: &str) -> Value {
    event(&EventSpec {
        audience: "export-customer",
        method: "POST",
        path: "/",
        query: "",
        body: r#"{"customer_number":"C-970"}"#,
        signer: Some((TENANT, KEY, now())),
        headers: &[("x-col-user", user)],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn covered_headers_changed_after_signing_void_the_signature_and_the_signed_user_is_audited() {
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-970", "Fourth Coffee", PHONE, &[]));
    // WHEN the acting user is changed after signing THEN 401 and nothing is exported
    let mut forged = signed_export_as("alice");
    forged["headers"]["x-col-user"] = "mallory".into();
    let r = s.invoke("export-customer", forged).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // WHEN an Idempotency-Key is added after signing THEN 401 too
    let mut forged = signed_export_as("alice");
    forged["headers"]["idempotency-key"] = "again".into();
    let r = s.invoke("export-customer", forged).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(s.companies_named("Fourth Coffee").is_empty());

    // WHEN the user is part of the signed call THEN the export runs and the audit names that user
    let r = s.invoke("export-customer", signed_export_as("alice")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let audit = s.store.list(&TenantId::parse(TENANT).unwrap(), None, 10).await.unwrap();
    let export = audit
        .items
        .iter()
        .find(|a| a.action == "export-customer")
        .expect("audited");
    assert_eq!(export.actor, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_derived_from_a_link_expire_with_it() {
    let s = CustomerStack::start().await;
    let code = s.at.state().add_billing_code("Managed services", 2);
    s.at.state().add_service("Managed backup", code, 3, 25.0);
    // GIVEN a picker opened from a link signed almost 5 minutes ago (still valid; the slack
    // covers a slow first start of the binary on a loaded machine)
    let origin = now() - 285;
    let picker = s
        .invoke(
            "query-services",
            signed_get("query-services", "/", "document_number=Q-1&search=backup", origin),
        )
        .await;
    assert_eq!(picker.status, 200, "{}", picker.body);
    let start = picker.body.find("href=\"./add?").expect("an Add link") + 6;
    let href = &picker.body[start..start + picker.body[start..].find('"').unwrap()];
    let query = href.trim_start_matches("./add?").replace("&amp;", "&");
    // THEN its Add link carries the original signing time, not a fresh one
    assert!(query.contains(&format!("ts={origin}")), "{query}");
    // WHEN the original link's 5 minutes have passed THEN the derived link is refused
    let left = (origin + shared::signing::DEFAULT_WINDOW_SECS + 1 - now()).max(0);
    tokio::time::sleep(Duration::from_secs(left.unsigned_abs())).await;
    let ev = event(&EventSpec {
        audience: "query-services",
        method: "GET",
        path: "/add",
        query: &query,
        body: "",
        signer: None,
        headers: &[("accept", "text/html")],
    });
    let late = s.invoke("query-services", ev).await;
    assert_eq!(late.status, 401, "{}", late.body);
}
