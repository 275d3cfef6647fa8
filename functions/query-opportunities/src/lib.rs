//! The `query-opportunities` function: the Autotask opportunities of a document's (or a
//! customer's) mapped company, and attaching the chosen one to the document.
//!
//! Routes (signed; the tenant comes from the signature only):
//! - `GET /?document_number=…|customer_number=…&search=…&page=…&page_size=…` → an
//!   [`OpportunityPage`] as JSON, or the picker page (the guide's "new window") whose
//!   "Choose" links are signed calls of `/attach`;
//! - `GET|POST /attach` with `document_number`, `opportunity_id` → an [`AttachOutcome`]: the
//!   opportunity is written to the document's custom field in ChannelOnline and to our mapping.

use lambda_http::{Body, Request, Response};
use shared::app::{AppContext, answer};
use shared::function_url::{self, parsed, required};
use shared::sync::documents::{OpportunityPage, OpportunityQuery, attach_opportunity, list_opportunities};
use shared::tenant::TenantId;
use shared::web::{ApiError, Format, escape_html};

pub const FUNCTION: &str = "query-opportunities";

pub async fn handle(ctx: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let format = Format::from_headers(req.headers());
    let tenant = match ctx.authenticate(&req, FUNCTION).await {
        Ok(tenant) => tenant,
        Err(e) => return Ok(e.into_response(format)),
    };
    let route = req.uri().path().trim_end_matches('/').to_owned();
    Ok(match route.as_str() {
        "" => match list(ctx, &tenant, &req).await {
            Ok(page) if format == Format::Html => function_url::html_response(picker(ctx, &tenant, &req, &page).await),
            Ok(page) => answer(
                format,
                "Opportunities",
                Ok(serde_json::to_value(page).expect("page serialises")),
            ),
            Err(e) => e.into_response(format),
        },
        "/attach" => answer(format, "Opportunity attached", attach(ctx, &tenant, &req).await),
        _ => ApiError::not_found("no_such_route", "There is nothing at this address")
            .with_fix("Use / to list opportunities and /attach to choose one.")
            .into_response(format),
    })
}

async fn tenant_context(
    ctx: &AppContext,
    tenant: &TenantId,
    req: &Request,
) -> Result<shared::app::TenantContext, ApiError> {
    let deadline = function_url::deadline(req, ctx.clock.now());
    let tctx = ctx.tenant(tenant, deadline).await?.with_actor(FUNCTION);
    Ok(tctx)
}

async fn list(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<OpportunityPage, ApiError> {
    let params = function_url::params(
        req,
        &["document_number", "customer_number", "search", "page", "page_size"],
    )?;
    let query = OpportunityQuery {
        document_number: params.get("document_number").cloned().filter(|v| !v.trim().is_empty()),
        customer_number: params.get("customer_number").cloned().filter(|v| !v.trim().is_empty()),
        search: params.get("search").cloned(),
        page: parsed(&params, "page")?,
        page_size: parsed(&params, "page_size")?,
    };
    let tctx = tenant_context(ctx, tenant, req).await?;
    Ok(list_opportunities(&tctx, &query).await?)
}

async fn attach(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<serde_json::Value, ApiError> {
    let params = function_url::params(req, &["document_number", "opportunity_id"])?;
    let number = required(&params, "document_number")?;
    let id: i64 = parsed(&params, "opportunity_id")?.ok_or_else(|| {
        ApiError::bad_request("missing_parameter", "opportunity_id is required")
            .with_fix("Choose an opportunity from the list.")
    })?;
    let tctx = tenant_context(ctx, tenant, req).await?;
    let outcome = attach_opportunity(&tctx, &number, id).await?;
    Ok(serde_json::to_value(outcome).expect("outcome serialises"))
}

/// Signs picker links with the tenant's current key; `None` when it has none (no links).
async fn link_signer(
    ctx: &AppContext,
    tenant: &TenantId,
    req: &Request,
) -> Option<impl Fn(&str, &[(String, String)]) -> String> {
    let keys = ctx.secrets.signing_keys(tenant).await.ok()??;
    let base = function_url::own_base_url(req)?;
    let (tenant, now) = (tenant.clone(), ctx.clock.now().timestamp());
    Some(move |path: &str, params: &[(String, String)]| {
        shared::signing::signed_url(&keys.current, &tenant, FUNCTION, &base, path, params, now)
    })
}

async fn picker(ctx: &AppContext, tenant: &TenantId, req: &Request, page: &OpportunityPage) -> String {
    match link_signer(ctx, tenant, req).await {
        Some(sign) => render_picker(page, &sign),
        None => render_picker(page, &|_: &str, _: &[(String, String)]| String::new()),
    }
}

/// The picker: one row per opportunity, a signed "Choose" link on those that can take the
/// document, signed links to the other pages.
pub fn render_picker(page: &OpportunityPage, link: function_url::LinkSigner<'_>) -> String {
    let mut rows = String::new();
    for o in &page.opportunities {
        let choose = match (&page.document_number, o.has_quote && !o.attached) {
            (_, true) => "has another quote".to_owned(),
            (None, _) => String::new(),
            (Some(number), false) => {
                let params = [
                    ("document_number".to_owned(), number.clone()),
                    ("opportunity_id".into(), o.id.to_string()),
                ];
                format!(
                    "<a class=\"choose\" href=\"{}\">Choose</a>",
                    escape_html(&link("/attach", &params))
                )
            }
        };
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if o.open { "open" } else { "closed" },
            o.id,
            escape_html(&o.title),
            if o.attached { " (attached)" } else { "" },
            escape_html(o.status.as_deref().unwrap_or("")),
            escape_html(o.stage.as_deref().unwrap_or("")),
            o.amount.map(|a| format!("{a:.2}")).unwrap_or_default(),
            escape_html(
                o.projected_close_date
                    .as_deref()
                    .map(|d| &d[..d.len().min(10)])
                    .unwrap_or("")
            ),
            choose,
        ));
    }
    let mut footer = format!("{} opportunities, page {}.", page.total, page.page);
    let pages = page.total.div_ceil(page.page_size as usize) as u32;
    for (label, target) in [("Previous", page.page.saturating_sub(1)), ("Next", page.page + 1)] {
        if target >= 1 && target <= pages && target != page.page {
            let mut params = vec![
                ("page".to_owned(), target.to_string()),
                ("page_size".into(), page.page_size.to_string()),
            ];
            match &page.document_number {
                Some(n) => params.push(("document_number".into(), n.clone())),
                None => params.push(("customer_number".into(), page.customer_number.clone())),
            }
            if let Some(s) = &page.search {
                params.push(("search".into(), s.clone()));
            }
            footer.push_str(&format!(
                " <a href=\"{}\">{label}</a>",
                escape_html(&link("/", &params))
            ));
        }
    }
    let intro = format!(
        "Autotask opportunities of customer {}; open ones first. Choosing one records it on the document.",
        page.customer_number
    );
    function_url::picker_page(
        "Choose an Autotask opportunity",
        &intro,
        "<th>Id</th><th>Title</th><th>Status</th><th>Stage</th><th>Amount</th><th>Close date</th><th></th>",
        &rows,
        &footer,
    )
}
