//! The demo: a signed write and read of the demo tenant's settings through the local server,
//! then "Export to Autotask" of the demo customer and what landed in the Autotask sandbox.

use std::fmt::Write as _;

use serde_json::{Value, json};
use shared::signing;
use shared::tenant::TenantId;

use crate::http_client::{HttpResponse, send};
use crate::seed::DEMO_TENANT;
use crate::stack::LocalStack;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo tenant has no signing keys in {0}")]
    NoKeys(String),
    #[error(transparent)]
    Secrets(#[from] shared::secrets::SecretsError),
    #[error("calling the local server failed: {0}")]
    Http(#[from] std::io::Error),
    #[error("{step} answered {status}: {body}")]
    Unexpected {
        step: &'static str,
        status: u16,
        body: String,
    },
}

/// What the demo did, for printing.
pub struct DemoReport {
    pub lines: String,
    pub read_back: Value,
    /// The export-customer answer.
    pub exported: Value,
    /// The export-document answer.
    pub quote: Value,
}

/// The ChannelOnline demo customer the demo exports.
pub const DEMO_CUSTOMER: &str = "AC1001";
/// The ChannelOnline demo quote (for `DEMO_CUSTOMER`, 120 lines) the demo exports.
pub const DEMO_QUOTE: &str = "Q100045";

pub async fn run(stack: &LocalStack) -> Result<DemoReport, DemoError> {
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    let keys = demo_keys(stack).await?;
    let mut lines = String::new();

    let seeded = seed_settings(stack, &tenant, &keys.current).await?;
    writeln!(
        lines,
        "PUT  {}/  -> 200, settings version {}",
        stack.url("settings"),
        seeded["version"]
    )
    .ok();

    let read = call(stack, &tenant, &keys.current, "GET", "/settings/", b"").await?;
    let read = expect(read, "read back", 200)?;
    writeln!(
        lines,
        "GET  {}/  -> 200, {}",
        stack.url("settings"),
        read["message"].as_str().unwrap_or("")
    )
    .ok();

    let unsigned = send(stack.addr, "GET", "/settings/", &[], b"").await?;
    if unsigned.status != 401 {
        return Err(DemoError::Unexpected {
            step: "unsigned read",
            status: unsigned.status,
            body: unsigned.body,
        });
    }
    writeln!(lines, "GET  {}/  unsigned -> 401 (as it should)", stack.url("settings")).ok();

    // "Export to Autotask" on the demo customer, then what the Autotask sandbox now holds.
    let body = json!({ "customer_number": DEMO_CUSTOMER }).to_string();
    let exported = call(
        stack,
        &tenant,
        &keys.current,
        "POST",
        "/export-customer/",
        body.as_bytes(),
    )
    .await?;
    let exported = expect(exported, "export customer", 200)?;
    writeln!(
        lines,
        "POST {}/  -> 200, {}",
        stack.url("export-customer"),
        exported["message"].as_str().unwrap_or("")
    )
    .ok();
    let company_id = exported["company_id"].as_i64().unwrap_or_default();
    if let Some(company) = stack.autotask.state().get("Companies", company_id) {
        writeln!(
            lines,
            "     Autotask company {company_id}: {} (number {}, phone {})",
            company["companyName"].as_str().unwrap_or(""),
            company["companyNumber"].as_str().unwrap_or("-"),
            company["phone"].as_str().unwrap_or("-")
        )
        .ok();
    }
    for c in stack
        .autotask
        .state()
        .all("Contacts")
        .iter()
        .filter(|c| c["companyID"].as_i64() == Some(company_id))
    {
        writeln!(
            lines,
            "     Autotask contact {}: {} {} <{}> phone {}",
            c["id"],
            c["firstName"].as_str().unwrap_or(""),
            c["lastName"].as_str().unwrap_or(""),
            c["emailAddress"].as_str().unwrap_or(""),
            c["phone"].as_str().unwrap_or("-")
        )
        .ok();
    }

    // "Export to Autotask" on the demo quote: one opportunity, one quote, its items.
    let body = json!({ "document_number": DEMO_QUOTE }).to_string();
    let quote = call(
        stack,
        &tenant,
        &keys.current,
        "POST",
        "/export-document/",
        body.as_bytes(),
    )
    .await?;
    let quote = expect(quote, "export quote", 200)?;
    writeln!(
        lines,
        "POST {}/  -> 200, {}",
        stack.url("export-document"),
        quote["message"].as_str().unwrap_or("")
    )
    .ok();
    let state = stack.autotask.state();
    if let Some(opportunity) = quote["opportunity_id"]
        .as_i64()
        .and_then(|id| state.get("Opportunities", id))
    {
        writeln!(
            lines,
            "     Autotask opportunity {}: {} (amount {}, cost {})",
            opportunity["id"],
            opportunity["title"].as_str().unwrap_or(""),
            opportunity["amount"],
            opportunity["cost"]
        )
        .ok();
    }
    let quote_id = quote["quote_id"].as_i64();
    if let Some(at_quote) = quote_id.and_then(|id| state.get("Quotes", id)) {
        writeln!(
            lines,
            "     Autotask quote {}: {} (payment term {}, shipping type {})",
            at_quote["id"],
            at_quote["name"].as_str().unwrap_or(""),
            at_quote["paymentTerm"],
            at_quote["shippingType"]
        )
        .ok();
    }
    let items: Vec<Value> = state
        .all("QuoteItems")
        .into_iter()
        .filter(|i| i["quoteID"].as_i64() == quote_id)
        .collect();
    writeln!(lines, "     {} quote items, the first three:", items.len()).ok();
    for item in items.iter().take(3) {
        writeln!(
            lines,
            "       item {}: type {} qty {} x {} ({})",
            item["id"],
            item["quoteItemType"],
            item["quantity"],
            item["unitPrice"],
            item["description"].as_str().or(item["name"].as_str()).unwrap_or("")
        )
        .ok();
    }

    Ok(DemoReport {
        lines,
        read_back: read,
        exported,
        quote,
    })
}

/// Writes the demo tenant's settings through a signed `PUT /settings/` (replacing whatever
/// version is stored) and returns the answer. The sales rep, payment term, shipping type,
/// categories and billing code are the sandboxes' demo records.
pub async fn seed_settings(
    stack: &LocalStack,
    tenant: &TenantId,
    key: &shared::secret::SecretString,
) -> Result<Value, DemoError> {
    // The version to replace (none on a fresh stack).
    let version = stored_settings_version(stack, tenant, key).await?;

    // The owner of new companies must be a real (licensed, active) Autotask resource.
    let owner = stack
        .autotask
        .state()
        .all("Resources")
        .into_iter()
        .find(|r| r["isActive"] == true && r["licenseType"] != autotask_sandbox::state::API_USER_LICENSE)
        .and_then(|r| r["id"].as_i64())
        .unwrap_or_default();
    let settings = json!({
        "version": version,
        "sales_reps": [{ "col_sales_rep_id": "U501", "at_resource_id": 29682885 }],
        "field_mappings": {
            "payment_terms": [{ "col": "Net 30", "at_id": 1 }],
            "shipping_types": [{ "col": "UPS Ground", "at_id": 1 }],
            "categories": [
                { "col_category": "Computers", "col_sub_category": "Notebooks", "at_product_category_id": 2 },
                { "col_category": "Networking", "at_product_category_id": 1 }
            ],
            "default_product_category_id": 3,
            "default_billing_code_id": 29682801,
            "quote_opportunity": { "status_id": 1, "stage_id": 1, "probability": 50 },
            "sales_order_opportunity": { "status_id": 1, "stage_id": 2, "probability": 100 },
            "new_company": { "company_type_id": 1, "owner_resource_id": owner }
        },
        "opportunity_custom_field": "AT Opportunity",
        "bulk_sync": { "enabled": false, "schedule": "rate(1 hour)", "budget_share": 0.5 }
    });
    let body = settings.to_string();
    let put = call(stack, tenant, key, "PUT", "/settings/", body.as_bytes()).await?;
    expect(put, "write", 200)
}

/// The demo tenant's signing keys from the stack's secrets.
pub async fn demo_keys(stack: &LocalStack) -> Result<shared::signing::SigningKeys, DemoError> {
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    stack
        .ctx
        .secrets
        .signing_keys(&tenant)
        .await?
        .ok_or_else(|| DemoError::NoKeys(stack.secrets_file.display().to_string()))
}

/// The version of the tenant's stored settings, `None` when it has none yet.
pub async fn stored_settings_version(
    stack: &LocalStack,
    tenant: &TenantId,
    key: &shared::secret::SecretString,
) -> Result<Option<u64>, DemoError> {
    let current = call(stack, tenant, key, "GET", "/settings/", b"").await?;
    Ok(expect(current, "read", 200)?["version"].as_u64())
}

/// Signs the call exactly as a ChannelOnline button's server side would (header form).
/// `path` is `/<function>/<route>`; the function sees (and the signature covers) `/<route>`.
async fn call(
    stack: &LocalStack,
    tenant: &TenantId,
    key: &shared::secret::SecretString,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    // The first segment names the function: the signature's audience.
    let rest = path.trim_start_matches('/');
    let (function, route) = rest.split_once('/').unwrap_or((rest, ""));
    let route = format!("/{route}");
    let now = stack.ctx.clock.now().timestamp();
    let mut headers: Vec<(&str, String)> =
        signing::signed_headers(key, tenant, function, method, &route, "", now, body).into();
    headers.push(("content-type", "application/json".into()));
    headers.push(("accept", "application/json".into()));
    send(stack.addr, method, path, &headers, body).await
}

fn expect(resp: HttpResponse, step: &'static str, status: u16) -> Result<Value, DemoError> {
    if resp.status != status {
        return Err(DemoError::Unexpected {
            step,
            status: resp.status,
            body: resp.body,
        });
    }
    serde_json::from_str(&resp.body).map_err(|_| DemoError::Unexpected {
        step,
        status: resp.status,
        body: resp.body,
    })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::stack::StackOptions;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_writes_and_reads_and_data_survives_a_restart() {
        // GIVEN a fresh directory and a stack on a free port
        let dir = tempfile::tempdir().unwrap();
        let options = StackOptions {
            dir: dir.path().join(".local"),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..StackOptions::default()
        };
        let stack = LocalStack::start(&options).await.unwrap();
        assert!(stack.seeded_now, "first run seeds the demo tenant");
        // WHEN the demo runs THEN the settings read back as written
        let report = run(&stack).await.unwrap();
        assert_eq!(report.read_back["version"], 1);
        // AND the demo customer landed in the Autotask sandbox with its contacts
        let company = report.exported["company_id"].as_i64().unwrap();
        let landed = stack.autotask.state().get("Companies", company).unwrap();
        assert_eq!(landed["companyNumber"], DEMO_CUSTOMER);
        assert!(report.lines.contains("Autotask contact"), "{}", report.lines);
        assert_eq!(
            report.read_back["settings"]["sales_reps"][0]["col_sales_rep_id"],
            "U501"
        );
        // AND the demo quote became one opportunity with one quote holding every line
        let quote_id = report.quote["quote_id"].as_i64().expect("a quote id");
        let items = stack
            .autotask
            .state()
            .all("QuoteItems")
            .into_iter()
            .filter(|i| i["quoteID"].as_i64() == Some(quote_id))
            .count();
        assert!(items >= 120, "{items} items; {}", report.lines);
        assert_eq!(stack.autotask.state().all("Quotes").len(), 1);
        stack.stop().await;

        // WHEN the stack restarts on the same directory
        let stack = LocalStack::start(&options).await.unwrap();
        assert!(!stack.seeded_now, "the existing secrets file is kept");
        // THEN the stored settings are still there and the demo replaces them as version 2
        let report = run(&stack).await.unwrap();
        assert_eq!(report.read_back["version"], 2);
        stack.stop().await;
    }
}
