//! query-opportunities: the mapped company's opportunities to choose from, and attaching one.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::export::{FUNCTION as EXPORT_FUNCTION, save_record};
use super::reads::to_map;
use crate::app::TenantContext;
use crate::autotask::{Filter, Opportunity, Query, Quote};
use crate::domain::document::ExportRecord;
use crate::domain::document::opportunity::{opportunity_field_value, parse_opportunity_field};
use crate::domain::document::quote::{choose_quote, id_of};
use crate::domain::mapping::MappingKind;
use crate::store::AuditOutcome;
use crate::sync::{SyncError, SyncResult};

pub const ATTACH_ACTION: &str = "attach-opportunity";
pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;
/// Status labels of opportunities that are no longer open (Autotask's system statuses).
const CLOSED_STATUSES: [&str; 3] = ["lost", "closed", "implemented"];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityQuery {
    /// The document to choose for (its customer gives the company).
    pub document_number: Option<String>,
    /// Or a customer directly.
    pub customer_number: Option<String>,
    /// Part of the title.
    pub search: Option<String>,
    /// 1-based.
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunityView {
    pub id: i64,
    pub title: String,
    pub status: Option<String>,
    pub stage: Option<String>,
    pub probability: Option<i64>,
    pub amount: Option<f64>,
    pub projected_close_date: Option<String>,
    pub open: bool,
    /// Autotask allows one quote per opportunity here: one with a quote from elsewhere cannot
    /// take this document.
    pub has_quote: bool,
    /// The opportunity the document is attached to now.
    pub attached: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunityPage {
    pub customer_number: String,
    pub document_number: Option<String>,
    pub company_id: i64,
    pub search: Option<String>,
    pub page: u32,
    pub page_size: u32,
    pub total: usize,
    pub opportunities: Vec<OpportunityView>,
}

/// The customer's company in Autotask, or "export the customer first".
async fn company_of(ctx: &TenantContext, customer_number: &str) -> SyncResult<i64> {
    let mapping = ctx
        .mappings
        .get_by_col(&ctx.tenant, MappingKind::Customer, customer_number)
        .await?;
    mapping.map(|m| m.at_id).ok_or_else(|| {
        SyncError::precondition(
            "customer_not_mapped",
            format!("Customer {customer_number} is not linked to an Autotask company yet."),
            "Export the customer first (Export to Autotask on the customer page).",
        )
    })
}

/// Opportunities of the mapped company, searchable by title, open ones first, then newest.
pub async fn list_opportunities(ctx: &TenantContext, q: &OpportunityQuery) -> SyncResult<OpportunityPage> {
    let (customer_number, attached) = match (&q.document_number, &q.customer_number) {
        (Some(number), _) => {
            let doc = ctx.channelonline.get_document(number.trim()).await?;
            let field = ctx
                .settings
                .opportunity_custom_field
                .as_deref()
                .and_then(|f| doc.custom_field(f));
            let mapped = ctx
                .mappings
                .get_by_col(&ctx.tenant, MappingKind::Document, &doc.number)
                .await?;
            let attached = field.and_then(parse_opportunity_field).or(mapped.map(|m| m.at_id));
            (doc.customer.number, attached)
        }
        (None, Some(customer)) => (customer.trim().to_owned(), None),
        (None, None) => {
            return Err(SyncError::bad_request(
                "document_or_customer_missing",
                "Say which document (or customer) to list opportunities for.",
                Some("document_number"),
            ));
        }
    };
    let company_id = company_of(ctx, &customer_number).await?;
    let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut filter = vec![Filter::eq("companyID", company_id)];
    if let Some(text) = search {
        filter.push(Filter::contains("title", text));
    }
    let query = Query::filter(filter).include_fields([
        "id",
        "title",
        "status",
        "stage",
        "probability",
        "amount",
        "projectedCloseDate",
        "companyID",
    ]);
    let (found, fields) = tokio::join!(
        ctx.autotask.query::<Opportunity>(&query),
        ctx.autotask.fields::<Opportunity>()
    );
    let (found, fields) = (found?, fields?);
    let label =
        |field: &str, v: Option<i64>| v.and_then(|v| fields.picklist_label(field, &v.to_string()).map(str::to_owned));
    let mut views: Vec<OpportunityView> = found
        .iter()
        .map(|o| {
            let status = label("status", o.status);
            let open = status
                .as_deref()
                .is_none_or(|s| !CLOSED_STATUSES.contains(&s.to_ascii_lowercase().as_str()));
            OpportunityView {
                id: o.id.unwrap_or_default(),
                title: o.title.clone().unwrap_or_default(),
                stage: label("stage", o.stage),
                status,
                probability: o.probability,
                amount: o.amount,
                projected_close_date: to_map(o)
                    .get("projectedCloseDate")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                open,
                has_quote: false,
                attached: attached == o.id,
            }
        })
        .collect();
    views.sort_by(|a, b| b.open.cmp(&a.open).then(b.id.cmp(&a.id)));
    let page_size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let page = q.page.unwrap_or(1).max(1);
    let total = views.len();
    let mut shown: Vec<OpportunityView> = views
        .into_iter()
        // Saturating: any page number is answered (an empty page past the end), never a panic.
        .skip(((page - 1) as usize).saturating_mul(page_size as usize))
        .take(page_size as usize)
        .collect();
    let ids: Vec<i64> = shown.iter().map(|o| o.id).collect();
    if !ids.is_empty() {
        let quotes = Query::filter(vec![Filter::is_in("opportunityID", ids)]).include_fields(["id", "opportunityID"]);
        let quotes = ctx.autotask.query::<Quote>(&quotes).await?;
        for view in &mut shown {
            view.has_quote = quotes.iter().any(|q| q.opportunity_id == Some(view.id));
        }
    }
    Ok(OpportunityPage {
        customer_number,
        document_number: q.document_number.clone(),
        company_id,
        search: search.map(str::to_owned),
        page,
        page_size,
        total,
        opportunities: shown,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttachOutcome {
    pub document_number: String,
    pub opportunity_id: i64,
    pub title: String,
    /// The custom field written on the ChannelOnline document, and its value.
    pub custom_field: String,
    pub custom_field_value: String,
    pub message: String,
}

/// What attaching would write, read and checked (the company, the one-quote rule) without
/// writing anything: the confirmation page shows it, [`attach_opportunity`] writes it.
#[derive(Clone, Debug)]
pub struct AttachPlan {
    pub document_number: String,
    pub customer_number: String,
    pub opportunity_id: i64,
    pub title: String,
    pub status: Option<String>,
    /// The ChannelOnline document custom field that will hold the opportunity, and its value.
    pub custom_field: String,
    pub custom_field_value: String,
    mapping: Option<crate::domain::mapping::Mapping>,
    our_quote: Option<i64>,
}

/// Reads and checks an attachment of `opportunity_id` to the document; writes nothing.
pub async fn plan_attach(ctx: &TenantContext, document_number: &str, opportunity_id: i64) -> SyncResult<AttachPlan> {
    let field = ctx.settings.opportunity_custom_field.clone().filter(|f| !f.trim().is_empty()).ok_or_else(|| {
        SyncError::precondition(
            "opportunity_field_not_set",
            "No document-level custom field is configured to hold the Autotask opportunity.",
            "Create the document-level custom field in ChannelOnline and enter its name in the integration settings.",
        )
    })?;
    let doc = ctx.channelonline.get_document(document_number.trim()).await?;
    let company_id = company_of(ctx, &doc.customer.number).await?;
    let quotes_query = Query::filter(vec![Filter::eq("opportunityID", opportunity_id)]);
    let (opportunity, quotes, mapping) = tokio::join!(
        ctx.autotask.get::<Opportunity>(opportunity_id),
        ctx.autotask.query::<Quote>(&quotes_query),
        ctx.mappings.get_by_col(&ctx.tenant, MappingKind::Document, &doc.number),
    );
    let opportunity = opportunity?.ok_or_else(|| {
        SyncError::not_found(
            "opportunity_not_found",
            format!("Autotask has no opportunity {opportunity_id} (or the API user cannot see it)."),
            "Choose an opportunity from the list.",
        )
    })?;
    if opportunity.company_id != Some(company_id) {
        return Err(SyncError::conflict(
            "opportunity_of_other_company",
            format!(
                "Autotask opportunity {opportunity_id} belongs to another company than customer {}.",
                doc.customer.number
            ),
            "Choose an opportunity of this customer's company.",
            json!({ "opportunity_id": opportunity_id, "customer_company_id": company_id }),
        ));
    }
    let mapping = mapping?;
    let previous = mapping.as_ref().map(|m| ExportRecord::from_data(m.at_id, &m.data));
    let quotes: Vec<_> = quotes?.iter().map(to_map).collect();
    if let Err(q) = choose_quote(opportunity_id, &quotes, previous.as_ref(), &doc.number) {
        return Err(SyncError::conflict(
            "opportunity_has_another_quote",
            format!(
                "Autotask opportunity {opportunity_id} already has quote {} ({:?}). Only a single quote can be associated with an opportunity: it is a one-to-one relationship.",
                q.quote_id, q.name
            ),
            "Choose an opportunity without a quote, or export without one to create a new opportunity.",
            json!({ "opportunity_id": opportunity_id, "quote_id": q.quote_id }),
        ));
    }
    let title = opportunity.title.clone().unwrap_or_default();
    Ok(AttachPlan {
        document_number: doc.number.clone(),
        customer_number: doc.customer.number.clone(),
        opportunity_id,
        custom_field_value: opportunity_field_value(opportunity_id, &title),
        title,
        status: opportunity.status.map(|s| s.to_string()),
        custom_field: field,
        our_quote: quotes.iter().find_map(id_of),
        mapping,
    })
}

/// Records the chosen opportunity for the document: in its ChannelOnline custom field and in
/// our document mapping, after [`plan_attach`]'s checks.
pub async fn attach_opportunity(
    ctx: &TenantContext,
    document_number: &str,
    opportunity_id: i64,
) -> SyncResult<AttachOutcome> {
    let plan = plan_attach(ctx, document_number, opportunity_id).await?;
    let AttachPlan {
        document_number: number,
        title,
        custom_field: field,
        custom_field_value: value,
        mapping,
        our_quote,
        ..
    } = plan;
    ctx.channelonline
        .set_document_custom_field(&number, &field, &value)
        .await?;
    if mapping.as_ref().map(|m| m.at_id) != Some(opportunity_id) {
        let record = ExportRecord {
            opportunity_id,
            quote_id: our_quote,
            ..ExportRecord::default()
        };
        save_record(ctx, &number, mapping, &record).await?;
    }
    ctx.record(
        ATTACH_ACTION,
        vec![number.clone()],
        vec![opportunity_id],
        json!({ "custom_field": field, "value": value, "via": EXPORT_FUNCTION }),
        AuditOutcome::Succeeded,
    )
    .await;
    Ok(AttachOutcome {
        document_number: number.clone(),
        opportunity_id,
        message: format!("Document {number} is attached to Autotask opportunity {opportunity_id} \"{title}\"."),
        title,
        custom_field: field,
        custom_field_value: value,
    })
}
