//! The real `export-customer`, `import-customer` and `map-customers` binaries under the Lambda
//! Runtime API emulator, against the Autotask and ChannelOnline sandboxes and embedded DynamoDB.

use autotask_sandbox::{FaultKind, FaultRule};
use e2e::customers::{CustomerStack, KEY, OTHER_KEY, OTHER_TENANT, TENANT, customer};
use serde_json::json;

const PHONE: Option<&str> = Some("(555) 201-0001");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_customer_with_three_contacts_gets_company_contacts_and_default_phone() {
    // GIVEN a ChannelOnline customer with three contacts, one without a work phone
    let s = CustomerStack::start().await;
    s.add_customer(customer(
        "C-100",
        "Northwind Traders, Inc.",
        PHONE,
        &[
            ("k1", "Ann", "Lee", "ann@northwind.example", Some("555-201-0002")),
            ("k2", "Bob", "Ray", "bob@northwind.example", None),
            ("k3", "Cy", "Diaz", "cy@northwind.example", Some("555-201-0003")),
        ],
    ));
    // WHEN it is exported
    let r = s.export("C-100").await;
    // THEN one company and three contacts exist, the phoneless contact got 555-555-5555 and the answer says so
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["company"]["action"], "created");
    let companies = s.companies_named("Northwind Traders, Inc.");
    assert_eq!(companies.len(), 1);
    assert_eq!(companies[0]["companyNumber"], "C-100");
    assert_eq!(companies[0]["ownerResourceID"], s.owner_id);
    let contacts = s.contacts_of(companies[0]["id"].as_i64().unwrap());
    assert_eq!(contacts.len(), 3);
    let bob = contacts.iter().find(|c| c["firstName"] == "Bob").unwrap();
    assert_eq!(bob["phone"], "555-555-5555");
    let used = body["default_phone_used"].as_array().unwrap();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["col_id"], "k2");
    assert!(body["message"].as_str().unwrap().contains("555-555-5555"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_reexport_writes_nothing_and_a_changed_phone_is_one_patch() {
    // GIVEN an exported customer
    let s = CustomerStack::start().await;
    s.add_customer(customer(
        "C-200",
        "Contoso Ltd",
        PHONE,
        &[("k1", "Ann", "Lee", "ann@contoso.example", PHONE)],
    ));
    assert_eq!(s.export("C-200").await.status, 200);
    let companies_before = s.at.state().count("Companies");
    let contacts_before = s.at.state().count("Contacts");
    s.at.counters().reset();

    // WHEN the same export is clicked again THEN the stored answer is replayed, nothing is called
    let replay = s.export("C-200").await;
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.headers["idempotent-replay"], "true");
    // WHEN it runs again for real (a new idempotency key) THEN it reads but writes nothing
    let body = json!({ "customer_number": "C-200" }).to_string();
    let rerun = s
        .call_as(
            "export-customer",
            (TENANT, KEY),
            "POST",
            "/",
            "",
            &body,
            &[("idempotency-key", "second")],
        )
        .await;
    assert_eq!(rerun.status, 200, "{}", rerun.body);
    assert_eq!(rerun.json()["autotask_writes"], 0);
    assert_eq!(rerun.json()["company"]["action"], "unchanged");
    assert_eq!(
        s.at.counters().calls("PATCH", "Companies") + s.at.counters().calls("PATCH", "Contacts"),
        0
    );
    assert_eq!(
        (s.at.state().count("Companies"), s.at.state().count("Contacts")),
        (companies_before, contacts_before)
    );

    // WHEN the company phone changes in ChannelOnline THEN exactly one PATCH carries only the phone
    s.add_customer(customer(
        "C-200",
        "Contoso Ltd",
        Some("555-777-1234"),
        &[("k1", "Ann", "Lee", "ann@contoso.example", PHONE)],
    ));
    let changed = s.export("C-200").await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(s.at.counters().calls("PATCH", "Companies"), 1);
    assert_eq!(s.at.counters().calls("PATCH", "Contacts"), 0);
    let changes = &changed.json()["company"]["changes"];
    assert_eq!(changes.as_array().unwrap().len(), 1);
    assert_eq!(changes[0]["field"], "phone");
    assert_eq!(s.companies_named("Contoso Ltd")[0]["phone"], "555-777-1234");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_identical_exports_create_exactly_one_company() {
    // GIVEN a new customer
    let s = CustomerStack::start().await;
    s.add_customer(customer(
        "C-300",
        "Fabrikam",
        PHONE,
        &[("k1", "Ann", "Lee", "ann@fabrikam.example", PHONE)],
    ));
    // WHEN ten identical exports run at once
    let calls = (0..10).map(|_| s.export("C-300"));
    let answers = futures_util::future::join_all(calls).await;
    // THEN one company and one contact exist; every answer is a success, a replay or a retryable 409
    assert_eq!(s.companies_named("Fabrikam").len(), 1);
    assert_eq!(s.at.state().count("Contacts"), 1);
    for a in &answers {
        assert!(a.status == 200 || a.status == 409, "{} {}", a.status, a.body);
        if a.status == 409 {
            assert_eq!(a.json()["error"]["retryable"], true, "{}", a.body);
        }
    }
    assert!(
        answers
            .iter()
            .any(|a| a.status == 200 && a.json()["company"]["action"] == "created")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_response_is_lost_is_reconciled_not_duplicated() {
    // GIVEN the sandbox will commit the next company create but never answer it
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-400", "Tailspin Toys", PHONE, &[]));
    let rule = |kind, times| FaultRule {
        endpoint: Some("Companies".into()),
        method: Some("POST".into()),
        kind,
        times,
    };
    // (the first POST on Companies is the look-up query; it passes untouched)
    s.at.counters().add_fault(rule(FaultKind::Timeout { delay_ms: 0 }, 1));
    s.at.counters()
        .add_fault(rule(FaultKind::LoseResponse { delay_ms: 2500 }, 1));
    // WHEN the export runs, and is then retried
    let first = s.export("C-400").await;
    let body = json!({ "customer_number": "C-400" }).to_string();
    let retry = s
        .call_as(
            "export-customer",
            (TENANT, KEY),
            "POST",
            "/",
            "",
            &body,
            &[("idempotency-key", "retry")],
        )
        .await;
    // THEN exactly one company exists, and both answers point at it
    let companies = s.companies_named("Tailspin Toys");
    assert_eq!(companies.len(), 1, "{}", first.body);
    let id = companies[0]["id"].as_i64().unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["company_id"], id);
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.json()["company_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_create_whose_response_is_lost_is_found_by_email_not_duplicated() {
    // GIVEN the sandbox will commit the first contact create but never answer it
    let s = CustomerStack::start().await;
    s.add_customer(customer(
        "C-410",
        "Wingtip Toys",
        PHONE,
        &[
            ("k1", "Ann", "Lee", "ann@wingtip.example", PHONE),
            ("k2", "Bob", "Ray", "bob@wingtip.example", PHONE),
        ],
    ));
    let rule = |kind, times| FaultRule {
        endpoint: Some("Contacts".into()),
        method: Some("POST".into()),
        kind,
        times,
    };
    // (the first POST on Contacts is the company's contact query; it passes untouched)
    s.at.counters().add_fault(rule(FaultKind::Timeout { delay_ms: 0 }, 1));
    s.at.counters()
        .add_fault(rule(FaultKind::LoseResponse { delay_ms: 2500 }, 1));
    // WHEN the export runs, and is then retried by the user
    let first = s.export("C-410").await;
    let body = json!({ "customer_number": "C-410" }).to_string();
    let retry = s
        .call_as(
            "export-customer",
            (TENANT, KEY),
            "POST",
            "/",
            "",
            &body,
            &[("idempotency-key", "retry")],
        )
        .await;
    // THEN each contact exists once, both are mapped, and the answers are successes
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(retry.status, 200, "{}", retry.body);
    let company = first.json()["company_id"].as_i64().unwrap();
    let contacts = s.contacts_of(company);
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    let mapped: Vec<i64> = retry.json()["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["at_id"].as_i64().unwrap())
        .collect();
    let mut ids: Vec<i64> = contacts.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    let mut mapped_sorted = mapped.clone();
    ids.sort_unstable();
    mapped_sorted.sort_unstable();
    assert_eq!(ids, mapped_sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_without_text_on_the_company_create_is_a_retryable_503() {
    // GIVEN Autotask answers every company call after the look-up with a bare 500 (nothing committed)
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-420", "Adatum", PHONE, &[]));
    s.at.counters().add_fault(FaultRule {
        endpoint: Some("Companies".into()),
        method: Some("POST".into()),
        kind: FaultKind::Timeout { delay_ms: 0 },
        times: 1,
    });
    s.at.counters().add_fault(FaultRule {
        endpoint: Some("Companies".into()),
        method: Some("POST".into()),
        kind: FaultKind::ServerError,
        times: 50,
    });
    // WHEN it is exported THEN the answer is 503 "try again", retryable, and nothing was created
    let r = s.export("C-420").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"]["retryable"], true, "{}", r.body);
    s.at.counters().clear_faults();
    assert!(s.companies_named("Adatum").is_empty());
    // WHEN the user tries again THEN the company is created once
    let body = json!({ "customer_number": "C-420" }).to_string();
    let retry = s
        .call_as(
            "export-customer",
            (TENANT, KEY),
            "POST",
            "/",
            "",
            &body,
            &[("idempotency-key", "retry")],
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(s.companies_named("Adatum").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_parameter_is_refused_naming_it() {
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-430", "Proseware", PHONE, &[]));
    let r = s
        .call_as(
            "export-customer",
            (TENANT, KEY),
            "POST",
            "/",
            "",
            &json!({ "customer_number": "C-430", "customerNumber": "C-430" }).to_string(),
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("customerNumber"), "{}", r.body);
    assert!(s.companies_named("Proseware").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_company_with_the_same_name_is_linked_and_two_are_a_conflict() {
    // GIVEN Autotask already has "ACME CORPORATION" (unmapped), and two companies named "Globex"
    let s = CustomerStack::start().await;
    let acme = s.at.state().add_company("ACME CORPORATION", s.owner_id);
    s.at.state().add_company("Globex", s.owner_id);
    s.at.state().add_company("Globex Inc", s.owner_id);
    s.add_customer(customer("C-500", "Acme Corp.", PHONE, &[]));
    s.add_customer(customer("C-501", "Globex", PHONE, &[]));
    // WHEN Acme is exported THEN it is linked, not duplicated, and the answer says so
    let r = s.export("C-500").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["company"]["action"], "linked");
    assert_eq!(r.json()["company_id"], acme);
    assert!(r.json()["message"].as_str().unwrap().contains("Linked"));
    assert_eq!(s.at.state().count("Companies"), 3);
    // WHEN Globex is exported THEN 409 lists both candidates and points at Map Customers
    let r = s.export("C-501").await;
    assert_eq!(r.status, 409, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "several_matching_companies");
    assert_eq!(e["details"]["candidates"].as_array().unwrap().len(), 2);
    assert!(e["fix"].as_str().unwrap().contains("Map Customers"));
    assert_eq!(s.at.state().count("Companies"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_whose_email_exists_in_the_company_is_mapped_not_created() {
    // GIVEN a mapped company that already has Ann (different case in the address)
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-600", "Litware", PHONE, &[]));
    let first = s.export("C-600").await;
    let company = first.json()["company_id"].as_i64().unwrap();
    let ann = s.at.state().add_contact(company, "Ann", "Lee", "ANN@litware.example");
    // WHEN the customer, now with Ann and Bob, is exported
    s.add_customer(customer(
        "C-600",
        "Litware",
        PHONE,
        &[
            ("k1", "Ann", "Lee", "ann@litware.example", PHONE),
            ("k2", "Bob", "Ray", "bob@litware.example", PHONE),
        ],
    ));
    let r = s.export("C-600").await;
    // THEN Ann is linked by e-mail, Bob created: two contacts, not three
    assert_eq!(r.status, 200, "{}", r.body);
    let contacts = r.json()["contacts"].as_array().unwrap().clone();
    let ann_out = contacts.iter().find(|c| c["col_id"] == "k1").unwrap();
    assert_eq!(ann_out["action"], "linked");
    assert_eq!(ann_out["at_id"], ann);
    assert_eq!(
        contacts.iter().find(|c| c["col_id"] == "k2").unwrap()["action"],
        "created"
    );
    assert_eq!(s.contacts_of(company).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_by_name_with_chosen_contacts_and_ambiguous_or_unknown_names() {
    // GIVEN Autotask accounts "Woodgrove Bank" (3 contacts), and two named "Adatum"
    let s = CustomerStack::start().await;
    let wood = s.at.state().add_company("Woodgrove Bank", s.owner_id);
    let a = s.at.state().add_contact(wood, "Ann", "Lee", "ann@woodgrove.example");
    let b = s.at.state().add_contact(wood, "Bob", "Ray", "bob@woodgrove.example");
    s.at.state().add_contact(wood, "Cy", "Diaz", "cy@woodgrove.example");
    s.at.state().add_company("Adatum", s.owner_id);
    s.at.state().add_company("ADATUM", s.owner_id);
    // WHEN importing "woodgrove bank" with two chosen contacts
    let body =
        json!({ "account_name": "woodgrove bank", "import_all_contacts": false, "contact_ids": [a, b] }).to_string();
    let r = s.call("import-customer", "POST", "/", "", &body).await;
    // THEN a ChannelOnline customer with exactly those contacts exists, and the mappings too
    assert_eq!(r.status, 200, "{}", r.body);
    let out = r.json();
    assert_eq!(out["customer_created"], true);
    let number = out["customer_number"].as_str().unwrap().to_owned();
    let col = s.col.state().customer(&number).cloned().unwrap();
    assert_eq!(col.company_name, "Woodgrove Bank");
    let mut emails: Vec<_> = col.contacts.iter().filter_map(|c| c.email.clone()).collect();
    emails.sort();
    assert_eq!(emails, vec!["ann@woodgrove.example", "bob@woodgrove.example"]);
    assert_eq!(out["contacts_not_imported"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.at.state().get("Companies", wood).unwrap()["companyNumber"],
        number.as_str()
    );

    // WHEN the name is ambiguous THEN 409 lists the candidates
    let r = s
        .call(
            "import-customer",
            "POST",
            "/",
            "",
            &json!({ "account_name": "Adatum" }).to_string(),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"]["details"]["candidates"].as_array().unwrap().len(), 2);
    // WHEN no account has the name THEN 404 offers close names
    let r = s
        .call(
            "import-customer",
            "POST",
            "/",
            "",
            &json!({ "account_name": "Woodgrove" }).to_string(),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["error"]["details"]["close_names"][0]["name"], "Woodgrove Bank");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_account_contacts_import_by_email_without_duplicates() {
    // GIVEN a mapped pair whose ChannelOnline side already has Ann, and Autotask has Ann and Bob
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-700", "Proseware", PHONE, &[]));
    let company = s.export("C-700").await.json()["company_id"].as_i64().unwrap();
    let ann = s.at.state().add_contact(company, "Ann", "Lee", "Ann@Proseware.example");
    let bob = s.at.state().add_contact(company, "Bob", "Ray", "bob@proseware.example");
    s.add_customer(customer(
        "C-700",
        "Proseware",
        PHONE,
        &[("k1", "Ann", "Lee", "ann@proseware.example", PHONE)],
    ));
    // WHEN the contacts of the account are listed THEN Ann shows as matching by e-mail, Bob as missing
    let list = s
        .call("import-customer", "GET", "/contacts", "customer_number=C-700", "")
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let states: Vec<_> = list.json()["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["at_id"].as_i64().unwrap(), c["state"].as_str().unwrap().to_owned()))
        .collect();
    assert!(
        states.contains(&(ann, "same_email_in_channelonline".into())),
        "{states:?}"
    );
    assert!(states.contains(&(bob, "not_in_channelonline".into())), "{states:?}");
    // WHEN both are imported THEN Ann is mapped to the existing contact, Bob created: two, not three
    let body = json!({ "company_id": company, "import_all_contacts": false, "contact_ids": [ann, bob] }).to_string();
    let r = s.call("import-customer", "POST", "/", "", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["customer_number"], "C-700");
    let col = s.col.state().customer("C-700").cloned().unwrap();
    assert_eq!(col.contacts.len(), 2);
    let out = r.json();
    let ann_out = out["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["at_id"] == ann)
        .unwrap()
        .clone();
    assert_eq!(ann_out["col_id"], "k1");
    assert_eq!(ann_out["action"], "mapped_by_email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_customers_over_300_pairs_proposes_every_true_pair_first() {
    // GIVEN 300 customers and 300 companies; 250 are the same companies written differently
    let s = CustomerStack::start().await;
    let forms = ["{} Inc", "{}, LLC", "THE {} COMPANY", "{} Ltd.", "{}"];
    let mut truth = std::collections::BTreeMap::new();
    for i in 0..300 {
        let base = format!("Vendor{i} Logistics");
        let phone = format!("555-{:03}-{:04}", 300 + i / 10, 2000 + i);
        s.add_customer(customer(&format!("N{i:03}"), &base, Some(&phone), &[]));
        let at_name = if i < 250 {
            forms[i % forms.len()].replace("{}", &base.to_uppercase())
        } else {
            format!("Unrelated{i} Farms")
        };
        let id = s.at.state().add_company(&at_name, s.owner_id);
        if i < 250 {
            truth.insert(format!("N{i:03}"), id);
        }
    }
    // WHEN the job runs
    let r = s.call("map-customers", "POST", "/run", "", "").await;
    // THEN every true pair is proposed, no two proposals share a side
    assert_eq!(r.status, 200, "{}", r.body);
    let proposals = r.json()["proposals"].as_array().unwrap().clone();
    let mut cols = std::collections::BTreeSet::new();
    let mut ats = std::collections::BTreeSet::new();
    for p in &proposals {
        assert!(
            cols.insert(p["col_id"].as_str().unwrap().to_owned()),
            "column side shared: {p}"
        );
        assert!(ats.insert(p["at_id"].as_i64().unwrap()), "Autotask side shared: {p}");
    }
    for (col, at) in &truth {
        let p = proposals
            .iter()
            .find(|p| p["col_id"] == col.as_str())
            .unwrap_or_else(|| panic!("{col} not proposed"));
        assert_eq!(p["at_id"], *at, "{p}");
    }
    let worst_true = truth
        .keys()
        .map(|c| {
            proposals.iter().find(|p| p["col_id"] == c.as_str()).unwrap()["confidence"]
                .as_u64()
                .unwrap()
        })
        .min()
        .unwrap();
    let best_false = proposals
        .iter()
        .filter(|p| !truth.contains_key(p["col_id"].as_str().unwrap()))
        .map(|p| p["confidence"].as_u64().unwrap())
        .max()
        .unwrap_or(0);
    assert!(
        worst_true > best_false,
        "true pairs {worst_true} vs others {best_false}"
    );

    // WHEN two pairs are confirmed, one of them with a side mapped elsewhere THEN that one is refused with the reason
    let pairs = json!({ "pairs": [{ "col_id": "N000", "at_id": truth["N000"] }] }).to_string();
    let ok = s.call("map-customers", "POST", "/confirm", "", &pairs).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["results"][0]["status"], "mapped");
    let clash = json!({ "pairs": [{ "col_id": "N001", "at_id": truth["N000"] }] }).to_string();
    let refused = s.call("map-customers", "POST", "/confirm", "", &clash).await;
    assert_eq!(refused.json()["results"][0]["status"], "refused", "{}", refused.body);
    assert!(
        refused.json()["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("N000")
    );
    // AND the list shows it mapped and no longer proposed
    let view = s.call("map-customers", "GET", "/", "", "").await.json();
    assert_eq!(view["mapped"].as_array().unwrap().len(), 1);
    assert!(
        !view["proposed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["col_id"] == "N000")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_signed_for_tenant_b_cannot_read_or_change_tenant_a() {
    // GIVEN tenant A exported a customer and mapped it
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-800", "Blue Yonder", PHONE, &[]));
    assert_eq!(s.export("C-800").await.status, 200);
    // WHEN tenant B lists mappings THEN it sees none of A's
    let view = s
        .call_as("map-customers", (OTHER_TENANT, OTHER_KEY), "GET", "/", "", "", &[])
        .await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert!(view.json()["mapped"].as_array().unwrap().is_empty());
    // WHEN B asks for A's account contacts THEN the customer is not mapped for B
    let contacts = s
        .call_as(
            "import-customer",
            (OTHER_TENANT, OTHER_KEY),
            "GET",
            "/contacts",
            "customer_number=C-800",
            "",
            &[],
        )
        .await;
    assert_eq!(contacts.status, 412, "{}", contacts.body);
    // WHEN B signs a call that claims to be A THEN it is refused
    let forged = s
        .call_as("map-customers", (TENANT, OTHER_KEY), "GET", "/", "", "", &[])
        .await;
    assert_eq!(forged.status, 401);
    // WHEN B exports the same customer number (both tenants share the sandboxes here) THEN B's
    // export works in B's own mapping space: the company is linked for B, nothing is created
    let before = s.at.state().count("Companies");
    let body = json!({ "customer_number": "C-800" }).to_string();
    let b = s
        .call_as(
            "export-customer",
            (OTHER_TENANT, OTHER_KEY),
            "POST",
            "/",
            "",
            &body,
            &[],
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(b.json()["company"]["action"], "linked");
    assert_eq!(s.at.state().count("Companies"), before);
    let a_view = s.call("map-customers", "GET", "/", "", "").await.json();
    assert_eq!(a_view["mapped"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_data_is_a_422_naming_field_and_setting_and_an_outage_is_a_503_to_retry() {
    use shared::store::SettingsStore;
    // GIVEN the owner for new companies is the API user (Autotask refuses it with an opaque 500)
    let s = CustomerStack::start().await;
    let tenant = shared::tenant::TenantId::parse(TENANT).unwrap();
    let api_user = s.at.state().api_user_resource_id();
    let settings =
        json!({ "field_mappings": { "new_company": { "company_type_id": 1, "owner_resource_id": api_user } } });
    s.store
        .put_settings(&tenant, &settings, Some(1), chrono::Utc::now())
        .await
        .unwrap();
    s.add_customer(customer("C-900", "Wingtip Toys", PHONE, &[]));
    // WHEN the customer is exported THEN 422 names ownerResourceID and the setting to change
    let r = s.export("C-900").await;
    assert_eq!(r.status, 422, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["details"]["field"], "ownerResourceID");
    assert!(e["fix"].as_str().unwrap().contains("owner_resource_id"), "{e}");
    assert!(s.companies_named("Wingtip Toys").is_empty());

    // GIVEN a usable owner again, but Autotask failing every call on Companies
    let settings =
        json!({ "field_mappings": { "new_company": { "company_type_id": 1, "owner_resource_id": s.owner_id } } });
    s.store
        .put_settings(&tenant, &settings, Some(2), chrono::Utc::now())
        .await
        .unwrap();
    s.at.counters().add_fault(FaultRule {
        endpoint: Some("Companies".into()),
        method: None,
        kind: FaultKind::ServerError,
        times: 10,
    });
    // WHEN the export runs THEN 503 says to try again, and nothing was written
    let r = s.export("C-900").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"]["retryable"], true);
    assert!(s.companies_named("Wingtip Toys").is_empty());
    // WHEN Autotask is back THEN the same click completes it (the failed run left nothing to block it)
    s.at.counters().clear_faults();
    let r = s.export("C-900").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.companies_named("Wingtip Toys").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_is_answered_when_asked_and_unsigned_calls_are_refused() {
    let s = CustomerStack::start().await;
    s.add_customer(customer("C-950", "Alpine Ski House", PHONE, &[]));
    // WHEN the export link is opened in a browser (accepts text/html)
    let r = s
        .call_as(
            "export-customer",
            (TENANT, KEY),
            "GET",
            "/",
            "customer_number=C-950",
            "",
            &[("accept", "text/html")],
        )
        .await;
    // THEN an HTML confirmation page answers, and nothing is exported before it is confirmed
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers["content-type"].as_str().unwrap().starts_with("text/html"));
    assert!(r.body.contains("Export customer C-950 to Autotask?"), "{}", r.body);
    assert!(s.companies_named("Alpine Ski House").is_empty());
    // WHEN it is confirmed THEN the result page carries the export's message
    let fields = testkit::function_url::form_fields(&r.body);
    let r = s
        .invoke("export-customer", testkit::function_url::form_post("/", &fields))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Created the Autotask company"), "{}", r.body);
    // WHEN a call is not signed THEN 401, and nothing is exported
    let ev = testkit::function_url::event(&testkit::function_url::EventSpec {
        audience: "import-customer",
        method: "POST",
        path: "/",
        query: "",
        body: r#"{"customer_number":"C-950"}"#,
        signer: None,
        headers: &[],
    });
    let r = s.invoke("import-customer", ev).await;
    assert_eq!(r.status, 401, "{}", r.body);
}
