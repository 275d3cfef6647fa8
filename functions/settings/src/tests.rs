//! Handler tests from function-URL JSON events (the shape AWS sends), signed at test time.

use std::sync::Arc;

use chrono::DateTime;
use serde_json::{Value, json};
use shared::app::{AppContext, Stores};
use shared::clock::ManualClock;
use shared::config::{Config, SecretsConfig};
use shared::secret::SecretString;
use shared::secrets::file::FileSecretSource;
use shared::secrets::{SecretSource, SigningKeysDocument};
use shared::signing;
use shared::store::memory::MemoryStore;
use shared::tenant::TenantId;

use super::handle;

const NOW: i64 = 1_795_795_200;
const FIXTURE: &str = include_str!("../tests/fixtures/function_url_event.json");

struct Harness {
    ctx: AppContext,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.json");
    let secrets: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&path));
    for (t, k) in [
        ("acme", "key-acme-0123456789abcdef01234567"),
        ("other", "key-other-0123456789abcdef0123456"),
    ] {
        let keys = SigningKeysDocument::current_only(k);
        secrets.store(&TenantId::parse(t).unwrap(), &keys).await.unwrap();
    }
    let config = Config {
        mapping_table: "mappings".into(),
        idempotency_table: "idempotency".into(),
        signature_window_secs: 300,
        secrets: SecretsConfig::File(path),
        secrets_cache_ttl_secs: 300,
        endpoints: shared::config::Endpoints::default(),
        queues: Default::default(),
        clients: Default::default(),
        links: Default::default(),
    };
    let clock = Arc::new(ManualClock::at(DateTime::from_timestamp(NOW, 0).unwrap()));
    let ctx = AppContext::new(
        config,
        clock.clone(),
        secrets,
        Stores::all(Arc::new(MemoryStore::new())),
    );
    Harness { ctx, clock, _dir: dir }
}

/// A function-URL event for `method path?query` with `body`, signed by `tenant` with `key`.
fn event(
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    tenant: &str,
    key: &str,
    extra: &[(&str, &str)],
) -> lambda_http::Request {
    let mut ev: Value = serde_json::from_str(FIXTURE).unwrap();
    ev["rawPath"] = json!(path);
    ev["rawQueryString"] = json!(query);
    ev["requestContext"]["http"]["method"] = json!(method);
    ev["requestContext"]["http"]["path"] = json!(path);
    ev["body"] = json!(body);
    let t = TenantId::parse(tenant).unwrap();
    let signed = signing::signed_headers(
        &SecretString::new(key),
        &t,
        crate::FUNCTION,
        method,
        path,
        query,
        NOW,
        body.as_bytes(),
    );
    for (name, value) in signed
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .chain(extra.iter().copied())
    {
        ev["headers"][name] = json!(value);
    }
    lambda_http::request::from_str(&ev.to_string()).expect("a valid function-URL event")
}

fn acme(method: &str, path: &str, body: &str) -> lambda_http::Request {
    event(method, path, "", body, "acme", "key-acme-0123456789abcdef01234567", &[])
}

async fn call(h: &Harness, req: lambda_http::Request) -> (u16, Value) {
    let resp = handle(&h.ctx, req).await.unwrap();
    let status = resp.status().as_u16();
    let body = serde_json::from_slice(resp.body().as_ref()).unwrap_or(Value::Null);
    (status, body)
}

fn settings_body() -> Value {
    json!({
        "sales_reps": [{ "col_sales_rep_id": "rep-1", "at_resource_id": 29682885 }],
        "field_mappings": { "payment_terms": [{ "col": "Net 30", "at_id": 2 }] },
        "opportunity_custom_field": "AT Opportunity"
    })
}

#[tokio::test]
async fn read_before_any_write_shows_defaults_and_unset_credentials() {
    let h = harness().await;
    let (status, body) = call(&h, acme("GET", "/", "")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], Value::Null);
    assert_eq!(body["credentials"]["autotask"], "not set");
    assert_eq!(body["settings"]["bulk_sync"]["budget_share"], 0.5);
}

#[tokio::test]
async fn write_then_read_back_with_versions() {
    // GIVEN a tenant without settings
    let h = harness().await;
    // WHEN settings are written
    let (status, body) = call(&h, acme("PUT", "/", &settings_body().to_string())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 1);
    // THEN they read back as written
    let (_, read) = call(&h, acme("GET", "/", "")).await;
    assert_eq!(read["settings"]["sales_reps"][0]["at_resource_id"], 29682885);
    assert_eq!(read["settings"]["opportunity_custom_field"], "AT Opportunity");
    // AND a replace must say which version it replaces
    let (status, _) = call(&h, acme("PUT", "/", &settings_body().to_string())).await;
    assert_eq!(status, 428);
    let mut next = settings_body();
    next["version"] = json!(1);
    next["opportunity_custom_field"] = json!("Opportunity #");
    h.clock.advance(chrono::Duration::seconds(1));
    let (status, body) = call(&h, acme("PUT", "/", &next.to_string())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    // AND the write is in the audit trail
    let (_, audit) = call(&h, acme("GET", "/audit", "")).await;
    assert_eq!(audit["items"][0]["action"], "settings.replace");
    assert_eq!(
        audit["items"][0]["changes"]["after"]["opportunity_custom_field"],
        "Opportunity #"
    );
}

#[tokio::test]
async fn stale_version_loses_with_409_and_changes_nothing() {
    let h = harness().await;
    call(&h, acme("PUT", "/", &settings_body().to_string())).await;
    // GIVEN two editors read version 1; the first saves
    let (status, _) = call(
        &h,
        event(
            "PATCH",
            "/",
            "",
            r#"{"opportunity_custom_field":"first"}"#,
            "acme",
            "key-acme-0123456789abcdef01234567",
            &[("if-match", "\"1\"")],
        ),
    )
    .await;
    assert_eq!(status, 200);
    // WHEN the second saves against version 1
    let (status, body) = call(
        &h,
        event(
            "PATCH",
            "/",
            "",
            r#"{"opportunity_custom_field":"second"}"#,
            "acme",
            "key-acme-0123456789abcdef01234567",
            &[("if-match", "\"1\"")],
        ),
    )
    .await;
    // THEN it gets 409 and the first editor's value stays
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "settings_changed");
    let (_, read) = call(&h, acme("GET", "/", "")).await;
    assert_eq!(read["settings"]["opportunity_custom_field"], "first");
    assert_eq!(read["version"], 2);
}

#[tokio::test]
async fn invalid_settings_get_400_naming_the_field() {
    let h = harness().await;
    let cases = [
        (json!({ "colour": "red" }), "colour"),
        (
            json!({ "bulk_sync": { "budget_share": "half" } }),
            "bulk_sync.budget_share",
        ),
        (
            json!({ "sales_reps": [
                { "col_sales_rep_id": "a", "at_resource_id": 5 },
                { "col_sales_rep_id": "b", "at_resource_id": 5 }] }),
            "sales_reps[1].at_resource_id",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = call(&h, acme("PUT", "/", &body.to_string())).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    }
    let (_, read) = call(&h, acme("GET", "/", "")).await;
    assert_eq!(read["version"], Value::Null, "nothing was saved");
}

#[tokio::test]
async fn credentials_are_write_only() {
    // GIVEN Autotask and ChannelOnline credentials written through the function
    let h = harness().await;
    let at = json!({ "username": "api@acme.example", "secret": "AT-SECRET-1", "integration_code": "TRACK-1" });
    let (status, body) = call(&h, acme("PUT", "/autotask-credentials", &at.to_string())).await;
    assert_eq!(status, 200, "{body}");
    let col = json!({ "shortcut": "acme", "email": "ops@acme.example", "password": "COL-PW-1" });
    let (status, _) = call(&h, acme("PUT", "/channelonline-credentials", &col.to_string())).await;
    assert_eq!(status, 200);
    // WHEN the settings and the audit trail are read
    let (_, read) = call(&h, acme("GET", "/", "")).await;
    let (_, audit) = call(&h, acme("GET", "/audit", "")).await;
    // THEN they say "set" and show the user names, never the secrets
    assert_eq!(read["credentials"]["autotask"], "set");
    assert_eq!(read["credentials"]["channelonline"], "set");
    assert_eq!(read["settings"]["autotask"]["username"], "api@acme.example");
    for text in [read.to_string(), audit.to_string(), body.to_string()] {
        assert!(!text.contains("AT-SECRET-1") && !text.contains("COL-PW-1"), "{text}");
    }
    // AND the secret store holds them
    let stored = h
        .ctx
        .secrets
        .autotask(&TenantId::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.secret.expose(), "AT-SECRET-1");
    // AND a missing secret is refused with the field named
    let (status, body) = call(
        &h,
        acme(
            "PUT",
            "/autotask-credentials",
            r#"{"username":"u","integration_code":"c"}"#,
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("secret"), "{body}");
}

#[tokio::test]
async fn tenant_comes_from_the_signature_only() {
    // GIVEN acme has settings
    let h = harness().await;
    call(&h, acme("PUT", "/", &settings_body().to_string())).await;
    // WHEN "other" reads with its own valid signature THEN it sees its own (empty) settings
    let (status, body) = call(
        &h,
        event("GET", "/", "", "", "other", "key-other-0123456789abcdef0123456", &[]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["tenant"], "other");
    assert_eq!(body["version"], Value::Null);
    // WHEN "other" signs a call claiming acme THEN 401
    let (status, body) = call(
        &h,
        event("GET", "/", "", "", "acme", "key-other-0123456789abcdef0123456", &[]),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], shared::signing::AuthError::PUBLIC_MESSAGE);
}

#[tokio::test]
async fn html_view_and_paging_and_unknown_routes() {
    let h = harness().await;
    call(&h, acme("PUT", "/", &settings_body().to_string())).await;
    let resp = handle(
        &h.ctx,
        event(
            "GET",
            "/",
            "",
            "",
            "acme",
            "key-acme-0123456789abcdef01234567",
            &[("accept", "text/html")],
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = std::str::from_utf8(resp.body().as_ref()).unwrap();
    // a browser opening the settings gets the Connection screen, with both forms and the tabs
    assert!(html.contains("<h1>Connection</h1>"), "{html}");
    for form in [
        "action=\"autotask-connection\"",
        "action=\"channelonline-connection\"",
        "./sales-reps?tenant=acme",
    ] {
        assert!(html.contains(form), "{form} in {html}");
    }
    assert!(!html.contains("<script"), "{html}");

    let (status, body) = call(
        &h,
        event(
            "GET",
            "/runs",
            "limit=5",
            "",
            "acme",
            "key-acme-0123456789abcdef01234567",
            &[],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], json!([]));
    let (status, _) = call(
        &h,
        event(
            "GET",
            "/audit",
            "limit=0",
            "",
            "acme",
            "key-acme-0123456789abcdef01234567",
            &[],
        ),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(&h, acme("DELETE", "/", "")).await;
    assert_eq!(status, 405);
    let (status, _) = call(&h, acme("GET", "/nope", "")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn no_view_returns_the_autotask_integration_code() {
    // GIVEN Autotask credentials with integration code TRACK-1, and settings that were sent with
    // TRACK-2 as their tracking identifier (as documents of older versions held it)
    let h = harness().await;
    let mut settings = settings_body();
    settings["autotask"] = json!({ "tracking_identifier": "TRACK-2" });
    let (status, put_settings) = call(&h, acme("PUT", "/", &settings.to_string())).await;
    assert_eq!(status, 200, "{put_settings}");
    let at = json!({ "username": "api@acme.example", "secret": "AT-SECRET-1", "integration_code": "TRACK-1" });
    let (status, put_creds) = call(&h, acme("PUT", "/autotask-credentials", &at.to_string())).await;
    assert_eq!(status, 200, "{put_creds}");
    let patch = json!({ "version": 2, "opportunity_custom_field": "AT Opp" });
    let (status, patched) = call(&h, acme("PATCH", "/", &patch.to_string())).await;
    assert_eq!(status, 200, "{patched}");
    // WHEN every view is read (JSON and HTML)
    let (_, read) = call(&h, acme("GET", "/", "")).await;
    let (_, audit) = call(&h, acme("GET", "/audit", "")).await;
    let html = handle(
        &h.ctx,
        event(
            "GET",
            "/",
            "",
            "",
            "acme",
            "key-acme-0123456789abcdef01234567",
            &[("accept", "text/html")],
        ),
    )
    .await
    .unwrap();
    // (an HTML answer carries the browser headers)
    let csp = html.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors"),
        "{csp}"
    );
    assert_eq!(html.headers()["referrer-policy"], "no-referrer");
    let html = std::str::from_utf8(html.body().as_ref()).unwrap().to_owned();
    // THEN none of them carries either code
    for text in [
        put_settings.to_string(),
        put_creds.to_string(),
        patched.to_string(),
        read.to_string(),
        audit.to_string(),
        html,
    ] {
        assert!(!text.contains("TRACK-1") && !text.contains("TRACK-2"), "{text}");
    }
    // AND the code is still in the secret, where the Autotask client reads it
    let stored = h
        .ctx
        .secrets
        .autotask(&TenantId::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.integration_code.expose(), "TRACK-1");
}
