//! query-services: Autotask services, service bundles and labor (roles) to place on a
//! ChannelOnline document as lines that keep their Autotask identity (never in a catalog).

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::TenantContext;
use crate::autotask::{EntityFields, Filter, Query, Role, Service, ServiceBundle};
use crate::channelonline::types::{AddedLine, AutotaskItemKind, AutotaskItemRef, Document, DocumentLine, NewLine};
use crate::store::AuditOutcome;
use crate::sync::{Busy, Settled, SyncError, SyncResult, run_once};

pub const FUNCTION: &str = "query-services";
/// Most results per kind.
const MAX_RESULTS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    Service,
    ServiceBundle,
    Labor,
}

impl ServiceKind {
    pub const ALL: [Self; 3] = [Self::Service, Self::ServiceBundle, Self::Labor];

    pub fn label(self) -> &'static str {
        match self {
            Self::Service => "Service",
            Self::ServiceBundle => "Service bundle",
            Self::Labor => "Labor",
        }
    }

    fn col(self) -> AutotaskItemKind {
        match self {
            Self::Service => AutotaskItemKind::Service,
            Self::ServiceBundle => AutotaskItemKind::ServiceBundle,
            Self::Labor => AutotaskItemKind::Labor,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceChoice {
    pub kind: ServiceKind,
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub unit_price: f64,
    pub unit_cost: Option<f64>,
    /// "Monthly", "Yearly"… for services and bundles; "Hourly" for labor.
    pub period: String,
}

/// Active services, bundles and roles whose name contains `search`, three endpoints in parallel.
pub async fn search_services(
    ctx: &TenantContext,
    search: &str,
    kinds: &[ServiceKind],
) -> SyncResult<Vec<ServiceChoice>> {
    let kinds = if kinds.is_empty() { &ServiceKind::ALL[..] } else { kinds };
    let text = search.trim();
    let query = || {
        let mut filter = vec![Filter::eq("isActive", true)];
        if !text.is_empty() {
            filter.push(Filter::contains("name", text));
        }
        Query::filter(filter)
    };
    let want = |k: ServiceKind| kinds.contains(&k);
    let at = &ctx.autotask;
    let (services, bundles, roles) = tokio::join!(
        async {
            if !want(ServiceKind::Service) {
                return Ok(vec![]);
            }
            let q = query();
            let (rows, fields) = tokio::join!(at.query_at_most::<Service>(&q, MAX_RESULTS), at.fields::<Service>());
            let (rows, fields) = (rows?, fields?);
            Ok::<_, SyncError>(
                rows.into_iter()
                    .map(|s| ServiceChoice {
                        kind: ServiceKind::Service,
                        id: s.id.unwrap_or_default(),
                        period: period_label(&fields, s.period_type),
                        name: s.name.unwrap_or_default(),
                        description: s.description,
                        unit_price: s.unit_price.unwrap_or_default(),
                        unit_cost: s.unit_cost,
                    })
                    .collect(),
            )
        },
        async {
            if !want(ServiceKind::ServiceBundle) {
                return Ok(vec![]);
            }
            let q = query();
            let (rows, fields) = tokio::join!(
                at.query_at_most::<ServiceBundle>(&q, MAX_RESULTS),
                at.fields::<ServiceBundle>()
            );
            let (rows, fields) = (rows?, fields?);
            Ok::<_, SyncError>(
                rows.into_iter()
                    .map(|s| ServiceChoice {
                        kind: ServiceKind::ServiceBundle,
                        id: s.id.unwrap_or_default(),
                        period: period_label(&fields, s.period_type),
                        name: s.name.unwrap_or_default(),
                        description: s.description,
                        unit_price: s.unit_price.unwrap_or_default(),
                        unit_cost: s.unit_cost,
                    })
                    .collect(),
            )
        },
        async {
            if !want(ServiceKind::Labor) {
                return Ok(vec![]);
            }
            Ok::<_, SyncError>(
                at.query_at_most::<Role>(&query(), MAX_RESULTS)
                    .await?
                    .into_iter()
                    .map(|r| ServiceChoice {
                        kind: ServiceKind::Labor,
                        id: r.id.unwrap_or_default(),
                        name: r.name.unwrap_or_default(),
                        description: r.description,
                        unit_price: r.hourly_rate.unwrap_or_default(),
                        unit_cost: None,
                        period: "Hourly".into(),
                    })
                    .collect(),
            )
        },
    );
    let mut all = services?;
    all.extend(bundles?);
    all.extend(roles?);
    all.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
    Ok(all)
}

fn period_label(fields: &EntityFields, period_type: Option<i64>) -> String {
    let value = period_type.map(|v| v.to_string()).unwrap_or_default();
    fields
        .picklist_label("periodType", &value)
        .unwrap_or("One-Time")
        .to_owned()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddServiceLine {
    pub document_number: String,
    pub kind: ServiceKind,
    pub id: i64,
    #[serde(default = "one")]
    pub quantity: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddedServiceLine {
    pub document_number: String,
    pub choice: ServiceChoice,
    pub line: AddedLine,
    pub message: String,
}

/// Places the chosen item on the document, priced from Autotask (re-read, never from the
/// caller). A repeated identical click while its link is valid answers the first result.
pub async fn add_service_line(ctx: &TenantContext, add: &AddServiceLine) -> SyncResult<AddedServiceLine> {
    if !(add.quantity.is_finite() && add.quantity > 0.0) {
        return Err(SyncError::bad_request(
            "quantity_invalid",
            "The quantity must be a positive number.",
            Some("quantity"),
        ));
    }
    let caller_key = format!("{}#{:?}#{}#{}", add.document_number, add.kind, add.id, add.quantity);
    let busy = Busy {
        code: "add_line_in_progress",
        message: "This line is being added right now.".into(),
        fix: "Wait a moment and refresh the document.".into(),
    };
    let once = run_once(ctx, FUNCTION, &caller_key, add, busy, || {
        add_line(ctx, add, &caller_key)
    })
    .await?;
    Ok(once.answer)
}

impl Settled for AddedServiceLine {}

/// The chosen Autotask item as it is now (name, price), re-read by id; 404 when it is gone.
pub async fn chosen_item(ctx: &TenantContext, kind: ServiceKind, id: i64) -> SyncResult<ServiceChoice> {
    let at = &ctx.autotask;
    let missing = || {
        SyncError::not_found(
            "autotask_item_not_found",
            format!("Autotask has no {} {}.", kind.label().to_lowercase(), id),
            "Search again and choose an item from the list.",
        )
    };
    let choice = match kind {
        ServiceKind::Service => {
            let s = at.get::<Service>(id).await?.ok_or_else(missing)?;
            ServiceChoice {
                kind,
                id,
                name: s.name.unwrap_or_default(),
                description: s.description,
                unit_price: s.unit_price.unwrap_or_default(),
                unit_cost: s.unit_cost,
                period: String::new(),
            }
        }
        ServiceKind::ServiceBundle => {
            let s = at.get::<ServiceBundle>(id).await?.ok_or_else(missing)?;
            ServiceChoice {
                kind,
                id,
                name: s.name.unwrap_or_default(),
                description: s.description,
                unit_price: s.unit_price.unwrap_or_default(),
                unit_cost: s.unit_cost,
                period: String::new(),
            }
        }
        ServiceKind::Labor => {
            let r = at.get::<Role>(id).await?.ok_or_else(missing)?;
            ServiceChoice {
                kind,
                id,
                name: r.name.unwrap_or_default(),
                description: r.description,
                unit_price: r.hourly_rate.unwrap_or_default(),
                unit_cost: None,
                period: "Hourly".into(),
            }
        }
    };
    Ok(choice)
}

async fn add_line(ctx: &TenantContext, add: &AddServiceLine, caller_key: &str) -> SyncResult<AddedServiceLine> {
    let choice = chosen_item(ctx, add.kind, add.id).await?;
    let decimal = |v: f64| Decimal::from_f64(v).unwrap_or_default().round_dp(4);
    let line = NewLine {
        autotask: AutotaskItemRef {
            kind: add.kind.col(),
            id: add.id,
        },
        part_number: None,
        description: choice.name.clone(),
        description2: choice.description.clone(),
        category: Some("Autotask".into()),
        sub_category: Some(add.kind.label().into()),
        price: decimal(choice.unit_price),
        cost: choice.unit_cost.map(decimal),
        quantity: decimal(add.quantity),
        taxable: false,
    };
    let added = add_line_once(ctx, &add.document_number, &line, caller_key).await?;
    ctx.record(
        "add-service-line",
        vec![add.document_number.clone(), added.line_id.clone()],
        vec![add.id],
        json!({ "kind": add.kind, "line": line, "added": added }),
        AuditOutcome::Succeeded,
    )
    .await;
    Ok(AddedServiceLine {
        document_number: add.document_number.clone(),
        message: format!(
            "{} \"{}\" was added to document {}.",
            add.kind.label(),
            choice.name,
            add.document_number
        ),
        choice,
        line: added,
    })
}

/// Adds `line` to the document exactly once, even when an answer is lost. Natural key: the
/// document's lines carrying the same Autotask item. Their count is read and remembered (a
/// sync-state checkpoint) before the add is sent; after an ambiguous failure, in this attempt
/// or the next one, a document with more such lines than remembered holds the lost add, and its
/// newest such line is the answer. Nothing else adds Autotask items to a document while one
/// add of the same item holds the claim, so the extra line can only be ours.
async fn add_line_once(ctx: &TenantContext, number: &str, line: &NewLine, caller_key: &str) -> SyncResult<AddedLine> {
    let stream = format!("{FUNCTION}#pending-line#{caller_key}");
    let pending = ctx.sync_state.get_checkpoint(&ctx.tenant, &stream).await?;
    let remembered = pending
        .as_ref()
        .and_then(|p| p.doc.get("before").and_then(serde_json::Value::as_u64));
    let doc = ctx.channelonline.get_document(number).await?;
    if let Some(before) = remembered
        && let Some(found) = landed(&doc, &line.autotask, before)
    {
        forget_pending(ctx, &stream, pending.as_ref().map(|p| p.version)).await;
        return Ok(found);
    }
    let before = carrying(&doc, &line.autotask).count() as u64;
    let version = ctx
        .sync_state
        .put_checkpoint(
            &ctx.tenant,
            &stream,
            &json!({ "before": before }),
            pending.as_ref().map(|p| p.version),
            ctx.clock.now(),
        )
        .await?;
    match ctx.channelonline.add_document_line(number, line).await {
        Ok(added) => {
            forget_pending(ctx, &stream, Some(version)).await;
            Ok(added)
        }
        Err(e) if e.may_have_applied() => {
            // Look once now; if that fails too, the checkpoint stays for the next attempt.
            if let Ok(doc) = ctx.channelonline.get_document(number).await
                && let Some(found) = landed(&doc, &line.autotask, before)
            {
                forget_pending(ctx, &stream, Some(version)).await;
                return Ok(found);
            }
            Err(e.into())
        }
        Err(e) => {
            forget_pending(ctx, &stream, Some(version)).await;
            Err(e.into())
        }
    }
}

fn carrying<'a>(doc: &'a Document, item: &'a AutotaskItemRef) -> impl Iterator<Item = &'a DocumentLine> + 'a {
    doc.lines.iter().filter(move |l| l.autotask.as_ref() == Some(item))
}

/// The newest line carrying `item` when the document holds more of them than `before`.
fn landed(doc: &Document, item: &AutotaskItemRef, before: u64) -> Option<AddedLine> {
    if (carrying(doc, item).count() as u64) <= before {
        return None;
    }
    carrying(doc, item).max_by_key(|l| l.order).map(|l| AddedLine {
        line_id: l.line_id.clone(),
        order: l.order,
        revision: doc.revision,
    })
}

async fn forget_pending(ctx: &TenantContext, stream: &str, version: Option<u64>) {
    if let Err(e) = ctx
        .sync_state
        .put_checkpoint(&ctx.tenant, stream, &json!({}), version, ctx.clock.now())
        .await
    {
        tracing::warn!(error = %e, "pending line not cleared; the next add of this item looks first");
    }
}
