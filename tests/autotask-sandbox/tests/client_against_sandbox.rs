//! The `shared::autotask` client against the sandbox.

use std::sync::Arc;
use std::time::Duration;

use autotask_sandbox::{AutotaskSandbox, FaultKind, RunningSandbox, SandboxConfig};
use futures_util::future::join_all;
use shared::autotask::{
    AutotaskClient, AutotaskError, ClientConfig, ClientCredentials, Company, CompanyPatch, Contact, ContactPatch,
    Filter, Patch, Query, Quote, QuoteItem, QuoteLocation, TenantClient,
};
use shared::http::retry::{FixedJitter, RetryPolicy};
use shared::secret::SecretString;
use shared::tenant::TenantId;

async fn sandbox() -> RunningSandbox {
    AutotaskSandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts")
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn creds(sb: &RunningSandbox, username: &str) -> ClientCredentials {
    ClientCredentials {
        username: username.to_owned(),
        secret: SecretString::new(sb.config().secret.clone()),
        integration_code: sb.config().integration_code.clone(),
        impersonation_resource_id: None,
    }
}

/// A client that discovers its zone from the sandbox host.
fn client(sb: &RunningSandbox) -> TenantClient {
    let config = ClientConfig {
        retry: fast_retry(),
        ..ClientConfig::with_zone_host(&sb.base_url())
    };
    AutotaskClient::with_jitter(config, Arc::new(FixedJitter::new(vec![1.0])))
        .unwrap()
        .for_tenant(TenantId::parse("acme").unwrap(), creds(sb, &sb.config().username))
}

fn new_company(name: &str, owner: i64) -> Company {
    Company {
        company_name: Some(name.to_owned()),
        company_type: Some(1),
        owner_resource_id: Some(owner),
        phone: Some("555-0199".to_owned()),
        ..Company::default()
    }
}

#[tokio::test]
async fn zone_is_discovered_once_and_re_resolved_once_after_a_401() {
    // GIVEN a client that has not resolved its zone
    let sb = sandbox().await;
    let at = client(&sb);
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    sb.state().add_company("Contoso", owner);
    // WHEN it queries twice
    assert_eq!(at.query::<Company>(&Query::all()).await.unwrap().len(), 1);
    assert_eq!(at.query::<Company>(&Query::all()).await.unwrap().len(), 1);
    // THEN the zone was looked up once
    assert_eq!(sb.counters().calls("GET", "zoneInformation"), 1);
    // WHEN the tenant moves zone (old zone answers 401)
    sb.move_zone();
    let companies = at.query::<Company>(&Query::all()).await.unwrap();
    // THEN the client re-resolved once and succeeded
    assert_eq!(companies.len(), 1);
    assert_eq!(sb.counters().calls("GET", "zoneInformation"), 2);
}

#[tokio::test]
async fn unknown_user_gets_the_zone_error() {
    let sb = sandbox().await;
    let config = ClientConfig::with_zone_host(&sb.base_url());
    let at = AutotaskClient::new(config)
        .unwrap()
        .for_tenant(TenantId::parse("acme").unwrap(), creds(&sb, "nobody@x.example"));
    let err = at.query::<Company>(&Query::all()).await.unwrap_err();
    assert!(
        matches!(&err, AutotaskError::UnknownUser { messages, .. } if messages[0] == "Zone information could not be determined"),
        "{err:?}"
    );
}

#[tokio::test]
async fn reads_1234_companies_across_pages_posting_each_next_url() {
    // GIVEN 1,234 companies
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    for i in 0..1234 {
        sb.state().add_company(&format!("Company {i:04}"), owner);
    }
    let at = client(&sb);
    // WHEN the client reads them all
    let all = at.query::<Company>(&Query::all()).await.unwrap();
    // THEN every one arrives once, in id order, over three POSTed pages (GETs would be 405)
    assert_eq!(all.len(), 1234);
    let ids: Vec<i64> = all.iter().map(|c| c.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(sb.counters().calls("POST", "Companies"), 3);
    assert_eq!(sb.counters().calls("GET", "Companies"), 0);
    assert_eq!(at.count::<Company>(&Query::all()).await.unwrap(), 1234);
}

#[tokio::test]
async fn an_in_list_of_1200_ids_is_split_into_three_queries() {
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    let ids: Vec<i64> = (0..1300)
        .map(|i| sb.state().add_company(&format!("C{i}"), owner))
        .collect();
    let at = client(&sb);
    let wanted = &ids[50..1250];
    let found = at
        .query::<Company>(&Query::filter(vec![Filter::is_in("id", wanted.iter().copied())]))
        .await
        .unwrap();
    let mut got: Vec<i64> = found.iter().map(|c| c.id.unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, wanted.to_vec());
    assert_eq!(sb.counters().calls("POST", "Companies"), 3, "500 + 500 + 200 values");
}

#[tokio::test]
async fn a_validation_error_is_not_retried_and_its_text_reaches_the_caller() {
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    let at = client(&sb);
    let mut company = new_company("No Phone", owner);
    company.phone = None;
    let err = at.create_once(&company, || async { Ok(None) }).await.unwrap_err();
    assert!(matches!(&err, AutotaskError::Validation { status: 500, .. }));
    assert!(err.to_string().contains("Missing Required Field: phone"), "{err}");
    assert!(err.to_api_error().fix.is_some());
    assert_eq!(sb.counters().calls("POST", "Companies"), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    sb.state().add_company("Contoso", owner);
    let at = client(&sb);
    at.base_url().await.unwrap();
    sb.counters()
        .fail_next("Companies", 1, FaultKind::Throttle { retry_after_secs: 0 });
    let all = at.query::<Company>(&Query::all()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(sb.counters().calls("POST", "Companies"), 2);
}

#[tokio::test]
async fn a_throttled_create_is_sent_again_but_an_unconfirmed_one_is_looked_up_first() {
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    let at = client(&sb);
    at.base_url().await.unwrap();
    let lookups = std::sync::atomic::AtomicU32::new(0);
    let find = || async {
        lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(None)
    };
    // 429: refused before anything was applied, so the create is simply sent again
    sb.counters()
        .fail_next("Companies", 1, FaultKind::Throttle { retry_after_secs: 0 });
    let created = at.create_once(&new_company("Throttled", owner), find).await.unwrap();
    assert!(created.wrote && sb.state().get("Companies", created.id).is_some());
    assert_eq!(sb.counters().calls("POST", "Companies"), 2);
    assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 0);
    // 500 without text: it may have been applied, so the record is looked up before any resend
    sb.counters().fail_next("Companies", 1, FaultKind::ServerError);
    let created = at.create_once(&new_company("Unconfirmed", owner), find).await.unwrap();
    assert!(sb.state().get("Companies", created.id).is_some());
    assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(sb.counters().calls("POST", "Companies"), 4);
    // found by the look-up: not sent again
    sb.counters().fail_next("Companies", 1, FaultKind::ServerError);
    let found = at
        .create_once(&new_company("Found", owner), || async { Ok(Some(created.id)) })
        .await
        .unwrap();
    assert_eq!((found.id, found.wrote), (created.id, false));
    assert_eq!(sb.counters().calls("POST", "Companies"), 5);
}

#[tokio::test]
async fn never_more_than_three_calls_in_flight_per_endpoint() {
    // GIVEN a slow Autotask
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    let id = sb.state().add_company("Contoso", owner);
    let at = client(&sb);
    at.base_url().await.unwrap();
    sb.counters().set_latency(Duration::from_millis(40));
    // WHEN 12 reads run at once
    let results = join_all((0..12).map(|_| at.get::<Company>(id))).await;
    // THEN all succeed and the sandbox never saw a 4th concurrent call
    assert!(results.iter().all(|r| matches!(r, Ok(Some(_)))));
    assert_eq!(sb.counters().peak_in_flight("Companies"), 3);
    assert_eq!(sb.counters().thread_limit_refusals(), 0);
}

#[tokio::test]
async fn contacts_and_quote_items_are_written_under_their_parents() {
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    let company = sb.state().add_company("Contoso", owner);
    let opp = sb.state().add_opportunity(company, owner, "Refresh");
    let code = sb.state().add_billing_code("Hardware", 2);
    let product = sb.state().add_product("Laptop", "LAP", code, 999.0);
    let at = client(&sb);

    let contact = Contact {
        company_id: Some(company),
        first_name: Some("Alice".into()),
        last_name: Some("Buyer".into()),
        is_active: Some(1),
        ..Contact::default()
    };
    let cid = at.create_once(&contact, || async { Ok(None) }).await.unwrap().id;
    assert_eq!(sb.counters().calls("POST", "Contacts"), 1);
    let patch = ContactPatch {
        title: Patch::Set("CFO".into()),
        ..ContactPatch::new(cid)
    };
    at.update_child::<Contact>(company, &patch).await.unwrap();
    assert_eq!(
        at.get::<Contact>(cid).await.unwrap().unwrap().title.as_deref(),
        Some("CFO")
    );
    assert!(matches!(
        at.update::<Contact>(&patch).await,
        Err(AutotaskError::Unsupported(_))
    ));

    let loc = at
        .create_once(
            &QuoteLocation {
                city: Some("Springfield".into()),
                ..QuoteLocation::default()
            },
            || async { Ok(None) },
        )
        .await
        .unwrap()
        .id;
    let day = shared::autotask::AtDateTime::parse("2026-12-01T00:00:00Z").unwrap();
    let quote = Quote {
        opportunity_id: Some(opp),
        name: Some("Q1".into()),
        effective_date: Some(day),
        expiration_date: Some(day),
        bill_to_location_id: Some(loc),
        ship_to_location_id: Some(loc),
        sold_to_location_id: Some(loc),
        ..Quote::default()
    };
    let qid = at.create_once(&quote, || async { Ok(None) }).await.unwrap().id;
    assert!(at.get::<Quote>(qid).await.unwrap().unwrap().quote_number.is_some());
    let item = QuoteItem {
        quote_id: Some(qid),
        quote_item_type: Some(1),
        product_id: Some(product),
        quantity: Some(2.0),
        is_optional: Some(false),
        unit_discount: Some(0.0),
        percentage_discount: Some(0.0),
        line_discount: Some(0.0),
        ..QuoteItem::default()
    };
    let iid = at.create_once(&item, || async { Ok(None) }).await.unwrap().id;
    let items = at
        .query::<QuoteItem>(&Query::filter(vec![Filter::eq("quoteID", qid)]))
        .await
        .unwrap();
    assert_eq!(items.iter().map(|i| i.id.unwrap()).collect::<Vec<_>>(), vec![iid]);
    at.delete_child::<QuoteItem>(qid, iid).await.unwrap();
    assert!(at.get::<QuoteItem>(iid).await.unwrap().is_none());
}

#[tokio::test]
async fn patch_keeps_omitted_fields_and_clears_null_ones() {
    let sb = sandbox().await;
    let owner = sb.state().add_resource("Dana", "Sales", "dana@x.example", false);
    let at = client(&sb);
    let mut c = new_company("Contoso", owner);
    c.fax = Some("555-0000".into());
    let id = at.create_once(&c, || async { Ok(None) }).await.unwrap().id;
    let patch = CompanyPatch {
        fax: Patch::Null,
        city: Patch::Set("Springfield".into()),
        ..CompanyPatch::new(id)
    };
    at.update::<Company>(&patch).await.unwrap();
    let after = at.get::<Company>(id).await.unwrap().unwrap();
    assert_eq!(after.fax, None);
    assert_eq!(after.city.as_deref(), Some("Springfield"));
    assert_eq!(after.phone.as_deref(), Some("555-0199"), "omitted field is left alone");
}

#[tokio::test]
async fn picklists_are_looked_up_by_label_and_cached() {
    let sb = AutotaskSandbox::start(SandboxConfig {
        demo_seed: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let at = client(&sb);
    assert_eq!(at.picklist_id::<Company>("companyType", "customer").await.unwrap(), 1);
    assert_eq!(at.picklist_id::<Company>("companyType", "Vendor").await.unwrap(), 7);
    let missing = at.picklist_id::<Company>("companyType", "Alien").await.unwrap_err();
    assert!(matches!(missing, AutotaskError::PicklistLabel { .. }));
    assert_eq!(
        sb.counters().calls("GET", "Companies"),
        1,
        "fields fetched once per tenant"
    );
}

#[tokio::test]
async fn threshold_information_reports_the_hourly_budget() {
    let sb = sandbox().await;
    let at = client(&sb);
    sb.state().set_requests_this_hour(120);
    let t = at.threshold_information().await.unwrap();
    assert_eq!(t.external_request_threshold, 10_000);
    assert_eq!(t.current_timeframe_request_count, 121);
    assert_eq!(t.remaining(), 9_879);
}

/// Hands out fixed credentials, counting the re-reads.
struct Rotated(ClientCredentials, std::sync::atomic::AtomicU32);

impl shared::autotask::CredentialSource for Rotated {
    fn fresh(&self) -> futures_util::future::BoxFuture<'_, Option<ClientCredentials>> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move { Some(self.0.clone()) })
    }
}

#[tokio::test]
async fn a_401_re_reads_the_credentials_once_then_is_a_412_to_check_the_api_user() {
    let sb = sandbox().await;
    let config = ClientConfig {
        retry: fast_retry(),
        ..ClientConfig::with_zone_host(&sb.base_url())
    };
    let stale = ClientCredentials {
        secret: SecretString::new("rotated-away".to_owned()),
        ..creds(&sb, &sb.config().username)
    };
    let shared_client = AutotaskClient::new(config).unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    // GIVEN a stale secret, and a secret store that now holds the rotated one
    let source = Arc::new(Rotated(creds(&sb, &sb.config().username), Default::default()));
    let at = shared_client
        .for_tenant(tenant.clone(), stale.clone())
        .with_credential_source(source.clone());
    // THEN the call succeeds after one re-read
    assert!(at.query::<Company>(&Query::all()).await.is_ok());
    assert_eq!(source.1.load(std::sync::atomic::Ordering::SeqCst), 1);
    // GIVEN the store holds the same wrong secret THEN the refusal is final: 412 "check the API user"
    let same = Arc::new(Rotated(stale.clone(), Default::default()));
    let at = shared_client
        .for_tenant(tenant, stale)
        .with_credential_source(same.clone());
    let err = at.query::<Company>(&Query::all()).await.unwrap_err();
    assert!(matches!(err, AutotaskError::Authentication { .. }), "{err}");
    assert_eq!(same.1.load(std::sync::atomic::Ordering::SeqCst), 1);
    let answer = err.to_api_error();
    assert_eq!((answer.status.as_u16(), answer.retryable), (412, false));
    assert!(answer.fix.unwrap().contains("API user"));
}
