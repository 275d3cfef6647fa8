//! The real `export-document` binary under the Lambda Runtime API emulator: signed function-URL
//! event in, embedded DynamoDB for mappings and settings, the Autotask and ChannelOnline
//! sandboxes over HTTP, secrets from a temp file.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autotask_sandbox::{AutotaskSandbox, SandboxConfig as AtConfig};
use channelonline_sandbox::{ChannelOnlineSandbox, SandboxConfig as ColConfig};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shared::channelonline::types::{
    Address, Document, DocumentContact, DocumentCustomer, DocumentLine, DocumentType, ProductType, SalesRep, Totals,
};
use shared::domain::mapping::{Mapping, MappingKind};
use shared::secret::SecretString;
use shared::secrets::file::FileSecretSource;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretSource, SigningKeysDocument};
use shared::store::{MappingStore, SettingsStore};
use shared::tenant::TenantId;
use testkit::dynamo::EmbeddedDynamo;
use testkit::function_url::{EventSpec, UrlResponse, event};
use testkit::lambda_runtime_api::{Outcome, invoke_binary};

fn line(n: u32, sku: &str) -> DocumentLine {
    DocumentLine {
        line_id: format!("{}", 500 + n),
        order: n,
        product_type: ProductType::Hardware,
        autotask: None,
        manufacturer: Some("Cisco".into()),
        part_number: Some(format!("MPN-{sku}")),
        sku: Some(sku.into()),
        description: Some(format!("Switch {sku}")),
        description2: None,
        category: Some("Networking".into()),
        sub_category: None,
        price: Some(Decimal::from(100 + n)),
        cost: Some(Decimal::from(70 + n)),
        quantity: Decimal::from(n),
        taxable: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_document_binary_exports_a_quote_into_the_autotask_sandbox() {
    // GIVEN the sandboxes, a mapped customer and contact, settings and the tenant's secrets
    let binary = tokio::task::spawn_blocking(|| e2e::function_binary("export-document"))
        .await
        .unwrap();
    let at = AutotaskSandbox::start(AtConfig {
        demo_seed: true,
        ..AtConfig::default()
    })
    .await
    .unwrap();
    let col = ChannelOnlineSandbox::start(ColConfig {
        seed_demo: false,
        ..ColConfig::default()
    })
    .await
    .unwrap();
    let (owner, company, contact, material, shipping, payment) = {
        let s = at.state();
        let owner = s.add_resource("Sam", "Seller", "sam@reseller.test", false);
        let company = s.add_company("Binary Corp", owner);
        let contact = s.add_contact(company, "Pat", "Buyer", "pat@binary.test");
        (
            owner,
            company,
            contact,
            s.add_billing_code("Hardware", 2),
            s.add_shipping_type("UPS"),
            s.add_payment_term("Net 30", 30),
        )
    };
    let address = Address {
        line1: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        ..Address::default()
    };
    col.state().insert_document(Document {
        document_id: "d-1".into(),
        number: "QB1".into(),
        revision: 1,
        doc_type: DocumentType::Quote,
        status: None,
        deleted: false,
        description: None,
        customer: DocumentCustomer {
            number: "BC01".into(),
            company_name: Some("Binary Corp".into()),
        },
        contact: Some(DocumentContact {
            id: Some("bc-1".into()),
            email: Some("pat@binary.test".into()),
            ..DocumentContact::default()
        }),
        sales_rep: Some(SalesRep {
            id: Some("rep-1".into()),
            ..SalesRep::default()
        }),
        payment_terms: Some("Net 30".into()),
        delivery_method: Some("UPS".into()),
        po_number: None,
        ship_to: Some(address.clone()),
        bill_to: Some(address),
        sold_to: None,
        lines: (1..=3).map(|n| line(n, &format!("BIN-{n}"))).collect(),
        totals: Totals::default(),
        notes: vec![],
        expires_on: None,
        custom_fields: vec![],
        created_at: Some(Utc::now()),
        modified_at: Some(Utc::now()),
    });

    let dynamo = EmbeddedDynamo::start().await.expect("start DynamoDB");
    let store = dynamo.store().await;
    let tenant = TenantId::parse("binary").unwrap();
    let now = Utc::now();
    store
        .create_pair(&tenant, &Mapping::new(MappingKind::Customer, "BC01", company, now))
        .await
        .unwrap();
    store
        .create_pair(&tenant, &Mapping::new(MappingKind::Contact, "bc-1", contact, now))
        .await
        .unwrap();
    let settings = json!({
        "sales_reps": [{ "col_sales_rep_id": "rep-1", "at_resource_id": owner }],
        "field_mappings": {
            "payment_terms": [{ "col": "Net 30", "at_id": payment }],
            "shipping_types": [{ "col": "UPS", "at_id": shipping }],
            "default_product_category_id": 1,
            "default_billing_code_id": material,
            "quote_opportunity": { "status_id": 1, "stage_id": 1, "probability": 50 }
        }
    });
    store.put_settings(&tenant, &settings, None, now).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let secrets_file = dir.path().join("secrets.json");
    let secrets: std::sync::Arc<dyn SecretSource> = std::sync::Arc::new(FileSecretSource::new(&secrets_file));
    secrets
        .store(
            &tenant,
            &SigningKeysDocument::current_only("key-binary-0123456789abcdef012345"),
        )
        .await
        .unwrap();
    let at_config = at.config().clone();
    secrets
        .store(
            &tenant,
            &AutotaskCredentials {
                username: at_config.username.clone(),
                secret: SecretString::new(at_config.secret.clone()),
                integration_code: SecretString::new(at_config.integration_code.clone()),
                impersonation_resource_id: None,
            },
        )
        .await
        .unwrap();
    let col_config = col.config().clone();
    secrets
        .store(
            &tenant,
            &ChannelOnlineCredentials {
                shortcut: col_config.shortcut.clone(),
                email: col_config.email.clone(),
                password: SecretString::new(col_config.password.clone()),
            },
        )
        .await
        .unwrap();
    let env = [
        ("MAPPING_TABLE", store.tables().mappings.clone()),
        ("IDEMPOTENCY_TABLE", store.tables().idempotency.clone()),
        ("DYNAMODB_ENDPOINT", dynamo.endpoint().to_owned()),
        ("SECRETS_FILE", secrets_file.display().to_string()),
        ("AUTOTASK_ZONE_URL", at.zone_lookup_url()),
        ("CHANNELONLINE_URL", col.base_url()),
        ("CHANNELONLINE_USER_AGENT", col_config.user_agent.clone()),
        ("CHANNELONLINE_PAUSE_MS", "0".into()),
        ("RUST_LOG", "warn".into()),
    ];
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let body = json!({ "document_number": "QB1" }).to_string();
    let spec = EventSpec {
        audience: "export-document",
        method: "POST",
        path: "/",
        query: "",
        body: &body,
        signer: Some(("binary", "key-binary-0123456789abcdef012345", ts)),
        headers: &[],
    };
    // GIVEN the same call signed for query-opportunities (a read), WHEN export-document gets it
    // THEN it is refused with the usual 401 and nothing is written anywhere
    let before = (at.state().all("Opportunities").len(), at.state().all("Quotes").len());
    let misused = event(&EventSpec {
        audience: "query-opportunities",
        ..spec
    })
    .to_string();
    let (misuse_env, misuse_binary) = (env.clone(), binary.clone());
    let refused = tokio::task::spawn_blocking(move || {
        let env_refs: Vec<(&str, &str)> = misuse_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        invoke_binary(&misuse_binary, &misused, &env_refs, Duration::from_secs(60))
    })
    .await
    .unwrap();
    let Outcome::Response(envelope) = refused else {
        panic!("no response: {refused:?}")
    };
    let refused = UrlResponse::from_envelope(&envelope);
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.body.contains(shared::signing::AuthError::PUBLIC_MESSAGE),
        "{}",
        refused.body
    );
    assert_eq!(
        (at.state().all("Opportunities").len(), at.state().all("Quotes").len()),
        before
    );
    assert!(
        store
            .get_by_col(&tenant, MappingKind::Document, "QB1")
            .await
            .unwrap()
            .is_none()
    );

    // WHEN the binary handles the call signed for it
    let (page_env, page_binary) = (env.clone(), binary.clone());
    let ev = event(&spec).to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        invoke_binary(&binary, &ev, &env_refs, Duration::from_secs(60))
    })
    .await
    .unwrap();
    let Outcome::Response(envelope) = outcome else {
        panic!("no response: {outcome:?}")
    };
    let answer = UrlResponse::from_envelope(&envelope);
    // THEN it answers 200 and the opportunity, quote and 3 items are in the Autotask sandbox
    assert_eq!(answer.status, 200, "{}", answer.body);
    let out: Value = answer.json();
    let opportunity = out["opportunity_id"].as_i64().unwrap();
    let quote = out["quote_id"].as_i64().unwrap();
    assert_eq!(
        at.state().get("Opportunities", opportunity).unwrap()["companyID"],
        company
    );
    assert_eq!(at.state().get("Quotes", quote).unwrap()["opportunityID"], opportunity);
    let items: Vec<Value> = at
        .state()
        .all("QuoteItems")
        .into_iter()
        .filter(|i| i["quoteID"].as_i64() == Some(quote))
        .collect();
    assert_eq!(items.len(), 3);
    let mapping = store
        .get_by_col(&tenant, MappingKind::Document, "QB1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mapping.at_id, opportunity);

    // GIVEN a new line on the document, WHEN the button's link is opened THEN the confirmation
    // page is the dry run: one new line, and nothing is written
    let first = col.state().document("QB1").unwrap().clone();
    col.state().insert_document(Document {
        revision: 2,
        lines: (1..=4).map(|n| line(n, &format!("BIN-{n}"))).collect(),
        ..first
    });
    let send = |ev: Value| {
        let (env, binary) = (page_env.clone(), page_binary.clone());
        async move {
            let out = tokio::task::spawn_blocking(move || {
                let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                invoke_binary(&binary, &ev.to_string(), &env_refs, Duration::from_secs(60))
            })
            .await
            .unwrap();
            let Outcome::Response(envelope) = out else {
                panic!("no response: {out:?}")
            };
            UrlResponse::from_envelope(&envelope)
        }
    };
    let items_of_quote = || {
        at.state()
            .all("QuoteItems")
            .into_iter()
            .filter(|i| i["quoteID"].as_i64() == Some(quote))
            .count()
    };
    let page = send(event(&EventSpec {
        method: "GET",
        query: "document_number=QB1",
        body: "",
        headers: &[("accept", "text/html")],
        ..spec
    }))
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Export QB1 to Autotask?"), "{}", page.body);
    assert!(page.body.contains("1 new, 0 changed, 3 unchanged"), "{}", page.body);
    assert_eq!(items_of_quote(), 3, "the page wrote nothing");
    // WHEN its form is posted THEN the line is exported, and the result page links the
    // opportunity in Autotask and lists every line
    let fields = testkit::function_url::form_fields(&page.body);
    let done = send(testkit::function_url::form_post("/", &fields)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(items_of_quote(), 4);
    assert!(
        done.body.contains(&format!("OpportunityID={opportunity}")),
        "{}",
        done.body
    );
    assert_eq!(done.body.matches("<tr class=").count(), 4, "{}", done.body);
    // WHEN the form is posted again THEN the first answer is shown again, nothing is written
    let again = send(testkit::function_url::form_post("/", &fields)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replay"], "true");
    assert_eq!(items_of_quote(), 4);
}
