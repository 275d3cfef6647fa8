//! The admin's setup, in headless Chromium through the local stack: from an empty store (a new
//! tenant with nothing but its signing key) to a first exported quote, using only the screens.

use browser::{Browser, signed_link};
use local_stack::{LocalStack, StackOptions};
use serde_json::Value;
use shared::secret::SecretString;
use shared::secrets::SigningKeysDocument;
use shared::tenant::TenantId;

const QUOTE: &str = "Q100045";
const CUSTOMER: &str = "AC1001";
/// The demo Autotask resource for the demo quote's sales rep (U501).
const DANA: &str = "29682885";
const LEE: &str = "29682886";

async fn stack_with_new_tenant(name: &str) -> (LocalStack, tempfile::TempDir, TenantId, SecretString) {
    let dir = tempfile::tempdir().unwrap();
    let stack = LocalStack::start(&StackOptions {
        dir: dir.path().join(".local"),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..StackOptions::default()
    })
    .await
    .expect("the local stack starts");
    let tenant = TenantId::parse(name).unwrap();
    let key = local_stack::seed::random_key();
    stack
        .ctx
        .secrets
        .store(&tenant, &SigningKeysDocument::current_only(key.clone()))
        .await
        .unwrap();
    (stack, dir, tenant, SecretString::new(key))
}

async fn stored_settings(stack: &LocalStack, tenant: &TenantId) -> Value {
    stack
        .ctx
        .settings
        .get_settings(tenant)
        .await
        .unwrap()
        .map(|d| d.doc)
        .unwrap_or_default()
}

/// Types both connections on the Connection screen and saves each form.
async fn connect(b: &Browser, stack: &LocalStack) {
    let at = stack.autotask.config();
    b.set("username", &at.username).await;
    b.set("secret", &at.secret).await;
    b.set("integration_code", &at.integration_code).await;
    b.press("Save Autotask connection").await;
    assert!(
        b.text().await.contains("Autotask connection saved"),
        "{}",
        b.text().await
    );
    b.check("02-connection-autotask-saved").await;
    let col = stack.channelonline.config();
    b.set("shortcut", &col.shortcut).await;
    b.set("email", &col.email).await;
    b.set("password", &col.password).await;
    b.press("Save ChannelOnline connection").await;
    assert!(b.text().await.contains("ChannelOnline connection saved"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_a_new_tenant_with_the_screens_and_exports_a_first_quote() {
    // GIVEN a tenant with nothing stored but its signing key, and the admin's signed link
    let (stack, _dir, tenant, key) = stack_with_new_tenant("fresh").await;
    let b = Browser::start(&format!("http://{}", stack.addr)).await;
    b.open(&signed_link(&stack, &tenant, &key, "settings", "/", &[])).await;
    let text = b.text().await;
    assert!(
        text.contains("Autotask connection\tnot set yet") || text.contains("not set yet"),
        "{text}"
    );
    b.check("01-connection-empty").await;

    // WHEN the admin types both connections and tests them
    connect(&b, &stack).await;
    b.check("03-connection-saved").await;
    // THEN the secrets are stored, never shown, and the settings hold the non-secret parts
    let page = b.client.source().await.unwrap();
    assert!(
        !page.contains(&stack.autotask.config().secret),
        "the secret is never on a page"
    );
    assert!(!page.contains(&stack.channelonline.config().password));
    let settings = stored_settings(&stack, &tenant).await;
    assert_eq!(
        settings["autotask"]["username"],
        stack.autotask.config().username.as_str()
    );
    assert_eq!(
        settings["channelonline"]["shortcut"],
        stack.channelonline.config().shortcut.as_str()
    );
    b.follow("Test connection").await;
    let text = b.text().await;
    assert!(text.contains("Both connections work."), "{text}");
    assert!(text.contains("used ("), "the hourly budget's use is shown: {text}");
    b.check("04-test-connection").await;

    // WHEN the admin maps the quote's sales rep in the dropdown of Autotask resources
    b.follow("Sales reps").await;
    let offered = b.options("rep.U501").await;
    assert!(
        offered.iter().any(|(v, l)| v == DANA && l.contains("Dana Sales")),
        "{offered:?}"
    );
    assert!(
        !offered.iter().any(|(_, l)| l.contains("rmm-api")),
        "API-only users are not offered: {offered:?}"
    );
    b.set("rep.U501", DANA).await;
    b.check("05-sales-reps").await;
    b.press("Save sales rep mapping").await;
    assert!(b.text().await.contains("Saved."), "{}", b.text().await);
    // THEN exactly that mapping is stored
    let settings = stored_settings(&stack, &tenant).await;
    assert_eq!(
        settings["sales_reps"],
        serde_json::json!([{ "col_sales_rep_id": "U501", "at_resource_id": 29682885 }])
    );

    // WHEN the admin maps the quote's values on the field mapping screen
    b.follow("Field mapping").await;
    for (field, value) in [
        ("pay.Net 30", "1"),
        ("ship.UPS Ground", "1"),
        ("ship_default", "2"),
        ("cat.Computers / Notebooks", "2"),
        ("default_category", "3"),
        ("billing_code", "29682801"),
        ("company_type", "1"),
        ("company_owner", DANA),
        ("quote.status", "1"),
        ("quote.stage", "1"),
        ("quote.probability", "50"),
        ("custom_field", "AT Opportunity"),
        ("sync.status_field", "AT Status"),
    ] {
        b.set(field, value).await;
    }
    b.check("06-field-mapping").await;
    b.press("Save field mapping").await;
    assert!(b.text().await.contains("Saved."), "{}", b.text().await);
    // THEN the stored settings hold them
    let fm = stored_settings(&stack, &tenant).await["field_mappings"].clone();
    assert_eq!(
        fm["payment_terms"],
        serde_json::json!([{ "col": "Net 30", "at_id": 1 }])
    );
    assert_eq!(fm["quote_opportunity"]["probability"], 50);
    assert_eq!(fm["default_billing_code_id"], 29682801);
    assert_eq!(fm["new_company"]["owner_resource_id"], 29682885);
    assert_eq!(
        stored_settings(&stack, &tenant).await["bulk_sync"]["status_field_name"],
        "AT Status"
    );
    // (the hourly sync has written the deal's status back onto the document before)
    let synced_at = chrono_now();
    let written = stack
        .channelonline
        .state()
        .set_custom_field(QUOTE, "AT Status", "Closed Won", synced_at);
    assert!(written.is_some(), "the demo quote exists");

    // WHEN the seller exports the customer, then the quote, each from its confirmation page
    b.open(&signed_link(
        &stack,
        &tenant,
        &key,
        "export-customer",
        "/",
        &[("customer_number", CUSTOMER)],
    ))
    .await;
    b.check("07-export-customer-confirm").await;
    assert_eq!(stack.autotask.state().count("Opportunities"), 1, "nothing written yet");
    b.submit().await;
    let exported = b.text().await;
    assert!(exported.contains("(Autotask company "), "{exported}");
    let links = b
        .client
        .find_all(fantoccini::Locator::Css("a[href*=\"Code=OpenAccount\"]"))
        .await
        .unwrap();
    assert!(!links.is_empty(), "the company is linked into Autotask: {exported}");
    b.check("08-export-customer-result").await;
    b.open(&signed_link(
        &stack,
        &tenant,
        &key,
        "export-document",
        "/",
        &[("document_number", QUOTE)],
    ))
    .await;
    b.check("09-export-quote-dry-run").await;
    let dry_run = b.text().await;
    assert!(dry_run.contains("In Autotask (AT Status, synced back)"), "{dry_run}");
    b.submit().await;
    let text = b.text().await;
    assert!(
        text.contains("In Autotask (AT Status, synced back): Closed Won"),
        "{text}"
    );
    assert!(text.contains("Open opportunity"), "a link into Autotask: {text}");
    b.check("10-export-quote-result").await;

    // THEN Autotask holds the quote with its items, under the mapped rep and payment term
    let state = stack.autotask.state();
    let quote = state
        .all("Quotes")
        .into_iter()
        .find(|q| q["externalQuoteNumber"].as_str().is_some_and(|n| n.starts_with(QUOTE)))
        .unwrap_or_else(|| panic!("no Autotask quote for {QUOTE}: {text}"));
    assert_eq!(quote["paymentTerm"], 1);
    let opportunity = state
        .get("Opportunities", quote["opportunityID"].as_i64().unwrap())
        .unwrap();
    assert_eq!(opportunity["ownerResourceID"], 29682885);
    let items = state
        .all("QuoteItems")
        .into_iter()
        .filter(|i| i["quoteID"] == quote["id"])
        .count();
    assert!(items > 0, "{text}");

    // WHEN the seller opens the opportunity picker for the quote THEN its opportunity is listed
    b.open(&signed_link(
        &stack,
        &tenant,
        &key,
        "query-opportunities",
        "/",
        &[("document_number", QUOTE)],
    ))
    .await;
    let opportunities = b.text().await;
    assert!(
        opportunities.contains(&quote["opportunityID"].to_string()),
        "{opportunities}"
    );
    b.check("16-opportunity-picker").await;

    // WHEN the seller searches services, filters the table (the page's one hashed script) and adds one
    b.open(&signed_link(
        &stack,
        &tenant,
        &key,
        "query-services",
        "/",
        &[("document_number", QUOTE)],
    ))
    .await;
    let rows = "tbody tr";
    let all = b.client.find_all(fantoccini::Locator::Css(rows)).await.unwrap().len();
    b.client
        .find(fantoccini::Locator::Css("#filter"))
        .await
        .unwrap()
        .send_keys("backup")
        .await
        .unwrap();
    let mut shown = 0;
    for row in b.client.find_all(fantoccini::Locator::Css(rows)).await.unwrap() {
        if row.is_displayed().await.unwrap() {
            shown += 1;
        }
    }
    assert!(
        all > 1 && shown == 1,
        "the filter runs under the page's policy: {shown} of {all} shown"
    );
    b.check("17-services-picker-filtered").await;
    let lines_before = stack.channelonline.state().documents[QUOTE].lines.len();
    b.client
        .find(fantoccini::Locator::Css("tbody tr:not([hidden]) a.choose"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.client
        .wait()
        .for_element(fantoccini::Locator::Css("form button[type=submit]"))
        .await
        .unwrap();
    b.check("18-add-service-confirm").await;
    assert_eq!(
        stack.channelonline.state().documents[QUOTE].lines.len(),
        lines_before,
        "nothing written yet"
    );
    b.submit().await;
    b.check("19-add-service-result").await;
    // THEN the service is one new line on the ChannelOnline document
    let lines_after = stack.channelonline.state().documents[QUOTE].lines.len();
    assert_eq!(lines_after, lines_before + 1, "{}", b.text().await);

    // WHEN the seller imports an Autotask company into ChannelOnline from its confirmation page
    b.open(&signed_link(
        &stack,
        &tenant,
        &key,
        "import-customer",
        "/",
        &[("account_name", "Fabrikam Inc"), ("import_all_contacts", "true")],
    ))
    .await;
    b.check("14-import-customer-confirm").await;
    b.submit().await;
    // THEN the result page names the ChannelOnline customer and links the Autotask company
    let imported = b.text().await;
    assert!(imported.contains("ChannelOnline customer"), "{imported}");
    assert!(
        imported.contains("Fabrikam Inc (Autotask company 29682851)"),
        "{imported}"
    );
    b.check("15-import-customer-result").await;

    // WHEN the admin searches the audit trail for the quote THEN its export is there, with the
    // Autotask ids, and the setup's saves are not
    b.open(&signed_link(&stack, &tenant, &key, "settings", "/audit", &[]))
        .await;
    let trail = b.text().await;
    assert!(
        trail.contains("settings.sales-reps") && trail.contains("setup-screen"),
        "{trail}"
    );
    b.check("11-audit-trail").await;
    b.fill("q.record", QUOTE).await;
    b.press("Search").await;
    let found = b.text().await;
    assert!(found.contains(&format!("about {QUOTE}")), "{found}");
    assert!(found.contains("export-document"), "{found}");
    assert!(!found.contains("settings.sales-reps"), "{found}");
    assert!(found.contains(&quote["opportunityID"].to_string()), "{found}");
    b.check("12-audit-search").await;
    b.follow("Sync runs").await;
    assert!(b.text().await.contains("sync run(s), newest first."));
    b.check("13-sync-runs").await;
    b.close().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_or_stale_save_is_told_at_the_field_and_nothing_is_saved() {
    // GIVEN a connected tenant whose settings already map another rep to Lee
    let (stack, _dir, tenant, key) = stack_with_new_tenant("second").await;
    let b = Browser::start(&format!("http://{}", stack.addr)).await;
    b.open(&signed_link(&stack, &tenant, &key, "settings", "/", &[])).await;
    connect(&b, &stack).await;

    // WHEN the admin saves a wrong secret (the other values kept) and tests the connection
    b.set("secret", "not-the-secret").await;
    b.press("Save Autotask connection").await;
    b.follow("Test connection").await;
    // THEN the test says in words what is wrong
    let text = b.text().await;
    assert!(text.contains("Autotask refused the API user's secret"), "{text}");
    assert!(text.contains("Something needs fixing"), "{text}");
    b.check("20-test-connection-wrong-secret").await;
    // AND with the right one again it works
    b.follow("Back to the connection settings").await;
    b.set("secret", &stack.autotask.config().secret).await;
    b.press("Save Autotask connection").await;
    b.follow("Test connection").await;
    assert!(b.text().await.contains("Both connections work."), "{}", b.text().await);

    let mut settings = stored_settings(&stack, &tenant).await;
    settings["sales_reps"] = serde_json::json!([{ "col_sales_rep_id": "U999", "at_resource_id": 29682886 }]);
    let version = stack.ctx.settings.get_settings(&tenant).await.unwrap().unwrap().version;
    stack
        .ctx
        .settings
        .put_settings(&tenant, &settings, Some(version), chrono_now())
        .await
        .unwrap();

    // WHEN the admin chooses Lee for U501 too
    b.open(&signed_link(&stack, &tenant, &key, "settings", "/sales-reps", &[]))
        .await;
    b.set("rep.U501", LEE).await;
    b.press("Save sales rep mapping").await;
    // THEN the conflict is named at the field and nothing changed
    let text = b.text().await;
    assert!(text.contains("is already chosen for"), "{text}");
    assert!(text.contains("Nothing was saved"), "{text}");
    b.check_refused("21-sales-reps-conflict", 422).await;
    assert_eq!(
        stored_settings(&stack, &tenant).await["sales_reps"],
        settings["sales_reps"]
    );

    // WHEN someone else saves while the admin has the screen open, and the admin then saves
    b.set("rep.U501", DANA).await;
    let mut other = stored_settings(&stack, &tenant).await;
    other["sales_reps"] = serde_json::json!([{ "col_sales_rep_id": "U999", "at_resource_id": 29682885 }]);
    let version = stack.ctx.settings.get_settings(&tenant).await.unwrap().unwrap().version;
    stack
        .ctx
        .settings
        .put_settings(&tenant, &other, Some(version), chrono_now())
        .await
        .unwrap();
    b.press("Save sales rep mapping").await;
    // THEN the page says someone saved first and shows what they changed; nothing is saved
    let text = b.text().await;
    assert!(text.contains("Someone else saved"), "{text}");
    assert!(
        text.contains("was Lee Tech <lee@example.com>, now Dana Sales <dana@example.com>"),
        "what changed is listed: {text}"
    );
    // AND the form shows their version with only this admin's own change on it
    let u999 = b
        .client
        .find(fantoccini::Locator::Css("[name=\"set.rep.U999\"]"))
        .await
        .unwrap();
    assert_eq!(u999.prop("value").await.unwrap().as_deref(), Some(DANA));
    b.check_refused("22-sales-reps-stale", 409).await;
    assert_eq!(
        stored_settings(&stack, &tenant).await["sales_reps"],
        other["sales_reps"]
    );
    b.close().await;
    stack.stop().await;
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_customers_imports_and_maps_a_few_hundred_and_confirms_the_ticked_pairs() {
    // GIVEN a connected tenant whose ChannelOnline has 300 customers, 240 of them in Autotask
    let (stack, _dir, tenant, key) = stack_with_new_tenant("mapping").await;
    let b = Browser::start(&format!("http://{}", stack.addr)).await;
    b.open(&signed_link(&stack, &tenant, &key, "settings", "/", &[])).await;
    connect(&b, &stack).await;
    for i in 0..300 {
        let name = format!("Harbor{i} Freight");
        let customer = shared::channelonline::Customer {
            customer_id: format!("id-H{i:03}"),
            number: format!("H{i:03}"),
            company_name: name.clone(),
            phone: Some(format!("555-{:03}-{:04}", 300 + i / 10, 2000 + i)),
            modified_at: Some(chrono_now()),
            ..Default::default()
        };
        stack.channelonline.state().insert_customer(customer);
        if i < 240 {
            stack
                .autotask
                .state()
                .add_company(&format!("{} Inc", name.to_uppercase()), 29682885);
        }
    }

    // WHEN the admin opens Map Customers THEN nothing has run yet
    b.open(&signed_link(&stack, &tenant, &key, "map-customers", "/", &[]))
        .await;
    assert!(b.text().await.contains("Import and Map"), "{}", b.text().await);
    b.check("30-map-customers-empty").await;
    // WHEN Import and Map runs (the local stack runs its steps within the call)
    b.press("Import and Map").await;
    assert!(
        b.text().await.contains("Import and Map read both systems"),
        "{}",
        b.text().await
    );
    b.follow("Back to Map Customers").await;
    let text = b.text().await;
    b.check("31-map-customers-proposals").await;
    let boxes = b
        .client
        .find_all(fantoccini::Locator::Css("input[type=checkbox][name^=\"set.pair.\"]"))
        .await
        .unwrap();
    assert!(boxes.len() >= 2 && boxes.len() <= 200, "{} boxes: {text}", boxes.len());
    // AND the admin ticks two proposals and confirms them
    let mut ticked = Vec::new();
    for checkbox in boxes.iter().take(2) {
        let name = checkbox.attr("name").await.unwrap().unwrap();
        let company: i64 = checkbox.attr("value").await.unwrap().unwrap().parse().unwrap();
        ticked.push((name["set.pair.".len()..].to_owned(), company));
        checkbox.click().await.unwrap();
    }
    b.press("Confirm selected").await;
    let result = b.text().await;
    b.check("32-map-customers-confirmed").await;
    // THEN exactly those two pairs are mapped
    for (col, at) in &ticked {
        let mapping = stack
            .ctx
            .mappings
            .get_by_col(&tenant, shared::domain::mapping::MappingKind::Customer, col)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{col} is not mapped: {result}"));
        assert_eq!(mapping.at_id, *at);
    }
    let mapped = stack
        .ctx
        .mappings
        .list(&tenant, shared::domain::mapping::MappingKind::Customer, None, 100)
        .await
        .unwrap();
    assert_eq!(mapped.items.len(), 2, "{result}");
    b.close().await;
    stack.stop().await;
}
