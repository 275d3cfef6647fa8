//! `export_document`: re-read the ChannelOnline document, check the preconditions, plan against
//! what Autotask holds, and run only the writes the plan lists (none when nothing changed).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::{BoxFuture, join_all};
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::convert::{document_input, document_settings, mapped_resource, today};
use super::item_types::{ItemTypeRefresh, quote_item_types};
use super::reads::{contact_by_email, opportunity_and_quotes, product_index, quote_contents};
use super::reconcile::{CreateMode, NaturalKey, RunContext, find_existing};
use crate::app::TenantContext;
use crate::autotask::AutotaskError;
use crate::domain::document::lines::{SHIPPING_LINE_ID, hash_value};
use crate::domain::document::opportunity::{OpportunityChoice, choose_opportunity};
use crate::domain::document::plan::{IdRef, LineAction, OpportunitySource, Pending, ResolvedIds, Step, StepKind};
use crate::domain::document::preconditions::MappedIds;
use crate::domain::document::quote::choose_quote;
use crate::domain::document::{
    AutotaskState, DocumentInput, ExportRecord, ExportRequest, LineRecord, LineState, Plan, PlanError, PlanInput,
    Unmet, check_preconditions, plan_export,
};
use crate::domain::mapping::{Mapping, MappingKind};
use crate::store::{AuditOutcome, StoreError};
use crate::sync::{Busy, Settled, SyncError, SyncResult, run_once, with_lease};

/// The function (and idempotency / audit) name.
pub const FUNCTION: &str = "export-document";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportDocumentRequest {
    pub document_number: String,
    /// Attach to this Autotask opportunity (must belong to the customer's company).
    #[serde(default)]
    pub opportunity_id: Option<i64>,
    /// Title of a new opportunity (and name of the quote) instead of "<type> <number>".
    #[serde(default)]
    pub custom_name: Option<String>,
    /// Answer the plan and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Unchanged,
    Created,
    Updated,
    /// Autotask refused the line (or its product); the next export retries it.
    Failed,
    /// The line cannot be exported as it is (e.g. no part number); fix it in ChannelOnline.
    Refused,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineOutcome {
    pub line_id: String,
    pub item_type: String,
    pub status: LineStatus,
    pub item_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The line failed because Autotask was unavailable: exporting again may finish it unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
}

/// The answer of an export (and of its dry run, which also carries the plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportOutcome {
    pub document_number: String,
    pub dry_run: bool,
    /// `None` only in a dry run that would create the opportunity.
    pub opportunity_id: Option<i64>,
    pub quote_id: Option<i64>,
    pub opportunity_source: OpportunitySource,
    /// Autotask writes made (planned, in a dry run).
    pub writes: usize,
    pub products_created: Vec<i64>,
    pub lines: Vec<LineOutcome>,
    pub failed_lines: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Value>,
    /// What the bulk sync wrote back onto the document from Autotask (the deal's status, the
    /// quote's approval), by the custom field's name: shown beside the export's result.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub synced_back: std::collections::BTreeMap<String, String>,
}

/// The status-back custom fields of `doc` that hold a value (see `BulkSyncOptions`).
fn synced_back(
    doc: &crate::channelonline::Document,
    sync: &crate::domain::settings::BulkSyncOptions,
) -> std::collections::BTreeMap<String, String> {
    [&sync.status_field_name, &sync.approval_field_name]
        .into_iter()
        .flatten()
        .filter_map(|name| {
            let value = doc.custom_field(name)?.trim();
            (!value.is_empty()).then(|| (name.clone(), value.to_owned()))
        })
        .collect()
}

/// Builds the link that exports a customer (by customer number), offered when it is not mapped.
pub type CustomerLink<'a> = &'a (dyn Fn(&str) -> String + Send + Sync);

/// Exports one document.
pub async fn export_document(
    ctx: &TenantContext,
    request: &ExportDocumentRequest,
    export_customer_link: Option<CustomerLink<'_>>,
) -> SyncResult<ExportOutcome> {
    let number = request.document_number.trim();
    if number.is_empty() {
        return Err(SyncError::bad_request(
            "document_number_missing",
            "Say which document to export.",
            Some("document_number"),
        ));
    }
    let doc = ctx.channelonline.get_document(number).await?;
    let settings = document_settings(&ctx.settings);
    let input = document_input(&doc, settings.opportunity_field_name.as_deref());
    let (mapped, previous_mapping) = resolve_mappings(ctx, &input, request.dry_run).await?;
    let link = export_customer_link.map(|f| f(&input.customer_number));
    let ready = check_preconditions(&input, &settings, &mapped, link.as_deref()).map_err(unmet_error)?;
    let previous = previous_mapping
        .as_ref()
        .map(|m| ExportRecord::from_data(m.at_id, &m.data));

    let synced_back = synced_back(&doc, &ctx.settings.bulk_sync);
    if request.dry_run {
        let plan = plan_against_autotask(ctx, &input, &ready, &settings, request, previous.as_ref()).await?;
        return Ok(ExportOutcome {
            synced_back,
            ..dry_run_outcome(&plan)
        });
    }

    // One export per document at a time (lease), and identical repeats answered from the
    // first run (idempotency): concurrent clicks never create a second opportunity or quote.
    let payload = json!({ "request": request, "document": input });
    let caller_key = format!("{number}#{}", hash_value(&payload));
    let lease = format!("{FUNCTION}#{number}");
    let once = run_once(ctx, FUNCTION, &caller_key, &payload, busy(number), || {
        with_lease(ctx, &lease, busy(number), || {
            export_leased(ctx, &input, &ready, &settings, request)
        })
    })
    .await?;
    Ok(ExportOutcome {
        synced_back,
        ..once.answer
    })
}

/// An export with lines left to fix is not final: the next click runs again for those lines.
impl Settled for ExportOutcome {
    fn is_final(&self) -> bool {
        self.failed_lines == 0
    }
}

/// The export proper, under the lease.
async fn export_leased(
    ctx: &TenantContext,
    input: &DocumentInput,
    ready: &crate::domain::document::Ready,
    settings: &crate::domain::document::DocumentSettings,
    request: &ExportDocumentRequest,
) -> SyncResult<ExportOutcome> {
    let number = input.number.as_str();
    // Re-read the mapping under the lease: a run that just finished may have written it.
    let (previous_mapping, unconfirmed) = tokio::join!(
        ctx.mappings.get_by_col(&ctx.tenant, MappingKind::Document, number),
        Unconfirmed::read(ctx, number),
    );
    let (previous_mapping, mut unconfirmed) = (previous_mapping?, unconfirmed?);
    let mut previous = previous_mapping
        .as_ref()
        .map(|m| ExportRecord::from_data(m.at_id, &m.data));
    if previous.is_none() {
        previous = unconfirmed.adopt(ctx, input, ready, request).await?;
    }
    let plan = plan_against_autotask(ctx, input, ready, settings, request, previous.as_ref()).await?;
    let outcome = run_plan(ctx, input, plan, previous, previous_mapping, &mut unconfirmed).await;
    if outcome.is_ok() {
        unconfirmed.clear(ctx, number).await;
    }
    outcome
}

fn busy(number: &str) -> Busy {
    Busy {
        code: "export_in_progress",
        message: format!("Document {number} is being exported right now."),
        fix: "Wait a few seconds and export again; the running export finishes the job.".into(),
    }
}

/// Customer, contact (by mapping, else by email in the mapped company), sales rep, and the
/// document's previous export, read side by side.
async fn resolve_mappings(
    ctx: &TenantContext,
    input: &DocumentInput,
    dry_run: bool,
) -> SyncResult<(MappedIds, Option<Mapping>)> {
    let store = ctx.mappings.as_ref();
    let tenant = &ctx.tenant;
    let contact_key = input.contact.as_ref().map(|c| c.col_id.clone()).unwrap_or_default();
    let rep = input.sales_rep_id.clone().unwrap_or_default();
    let (customer, contact, rep_mapping, document) = tokio::join!(
        store.get_by_col(tenant, MappingKind::Customer, &input.customer_number),
        async {
            if contact_key.is_empty() {
                Ok(None)
            } else {
                store.get_by_col(tenant, MappingKind::Contact, &contact_key).await
            }
        },
        async {
            match mapped_resource(&ctx.settings, &rep) {
                Some(id) => Ok(Some(id)),
                None if rep.is_empty() => Ok(None),
                None => store
                    .get_by_col(tenant, MappingKind::SalesRep, &rep)
                    .await
                    .map(|m| m.map(|m| m.at_id)),
            }
        },
        store.get_by_col(tenant, MappingKind::Document, &input.number),
    );
    let company_id = customer?.map(|m| m.at_id);
    let mut contact_id = contact?.map(|m| m.at_id);
    if contact_id.is_none()
        && let (Some(company), Some(email)) = (company_id, input.contact.as_ref().and_then(|c| c.email.as_deref()))
    {
        contact_id = contact_by_email(&ctx.autotask, company, email).await?;
        if let (Some(id), false) = (contact_id, dry_run) {
            let mapping = Mapping::new(MappingKind::Contact, contact_key, id, ctx.clock.now())
                .with_data(json!({ "matched_by": "email", "company_id": company }));
            match store.create_pair(tenant, &mapping).await {
                Ok(_) | Err(StoreError::AlreadyMapped { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok((
        MappedIds {
            company_id,
            contact_id,
            resource_id: rep_mapping?,
        },
        document?,
    ))
}

/// All unmet preconditions in one answer; the code is the first one's.
fn unmet_error(unmet: Vec<Unmet>) -> SyncError {
    let code = unmet.first().map_or("precondition_failed", Unmet::code);
    let message = unmet.iter().map(Unmet::message).collect::<Vec<_>>().join(" ");
    let fix = unmet.iter().map(Unmet::fix).collect::<Vec<_>>().join(" ");
    SyncError::precondition(code, message, fix)
}

fn plan_error(e: PlanError, input: &DocumentInput) -> SyncError {
    match e {
        PlanError::BadOpportunityField(bad) => SyncError::precondition(
            "opportunity_field_invalid",
            format!(
                "The document's opportunity field holds {:?}, which is not an Autotask opportunity.",
                bad.0
            ),
            "Choose the opportunity again with the query button, or clear the field to create a new one.",
        ),
        PlanError::OpportunityNotFound { id } => SyncError::not_found(
            "opportunity_not_found",
            format!("Autotask has no opportunity {id} (or the API user cannot see it)."),
            "Choose an existing opportunity with the query button, or export without one to create it.",
        ),
        PlanError::OpportunityOfOtherCompany { id, actual, expected } => SyncError::conflict(
            "opportunity_of_other_company",
            format!(
                "Autotask opportunity {id} belongs to company {actual}, but customer {} is linked to company {expected}.",
                input.customer_number
            ),
            "Choose an opportunity of this customer's company, so the document and the opportunity match.",
            json!({ "opportunity_id": id, "opportunity_company_id": actual, "customer_company_id": expected }),
        ),
        PlanError::QuoteItemTypeMissing(missing) => SyncError::precondition(
            "quote_item_type_missing",
            missing.to_string(),
            format!(
                "In Autotask, activate the quote item type {:?} (or correct its label), then export again; nothing was written.",
                missing.item_type.picklist_labels()[0]
            ),
        ),
        PlanError::ForeignQuote(q) => SyncError::conflict(
            "opportunity_has_another_quote",
            format!(
                "Autotask opportunity {} already has quote {} ({:?}) that this document did not create. Only a single quote can be associated with an opportunity: it is a one-to-one relationship.",
                q.opportunity_id, q.quote_id, q.name
            ),
            "Export to a new opportunity (clear the chosen opportunity), or choose an opportunity without a quote.",
            json!({ "opportunity_id": q.opportunity_id, "quote_id": q.quote_id }),
        ),
    }
}

/// Reads what the plan depends on, with as few Autotask calls as possible, and plans.
async fn plan_against_autotask(
    ctx: &TenantContext,
    input: &DocumentInput,
    ready: &crate::domain::document::Ready,
    settings: &crate::domain::document::DocumentSettings,
    request: &ExportDocumentRequest,
    previous: Option<&ExportRecord>,
) -> SyncResult<Plan> {
    let at = &ctx.autotask;
    let choice =
        choose_opportunity(request.opportunity_id, input, previous).map_err(|e| plan_error(e.into(), input))?;
    let (opportunity, products, item_types) = tokio::join!(
        async {
            match choice {
                OpportunityChoice::Existing { id, .. } => opportunity_and_quotes(at, id).await.map(Some),
                OpportunityChoice::New => Ok(None),
            }
        },
        product_index(at, ctx.mappings.as_ref(), &ctx.tenant, input),
        quote_item_types(at),
    );
    let item_types = item_types?;
    let (opportunity, quotes) = opportunity?.unwrap_or_default();
    let mut state = AutotaskState {
        opportunity,
        quotes,
        products: products?,
        ..AutotaskState::default()
    };
    if let OpportunityChoice::Existing { id, .. } = choice
        && state.opportunity.is_some()
    {
        let ours = choose_quote(id, &state.quotes, previous, &input.number).map_err(|e| plan_error(e.into(), input))?;
        if let Some(quote) = ours.cloned() {
            let (items, locations) = quote_contents(at, &quote).await?;
            state.items = items;
            state.locations = locations;
        }
    }
    let export = ExportRequest {
        opportunity_id: request.opportunity_id,
        custom_name: request.custom_name.clone(),
    };
    plan_export(PlanInput {
        doc: input,
        ready,
        settings,
        request: &export,
        previous,
        choice,
        state: &state,
        item_types: &item_types,
        today: today(ctx.clock.now()),
    })
    .map_err(|e| plan_error(e, input))
}

fn dry_run_outcome(plan: &Plan) -> ExportOutcome {
    let lines = line_outcomes(plan, &BTreeMap::new(), &BTreeMap::new());
    let failed_lines = lines.iter().filter(|l| l.status == LineStatus::Refused).count();
    ExportOutcome {
        document_number: plan.document_number.clone(),
        dry_run: true,
        opportunity_id: as_known(&plan.opportunity),
        quote_id: as_known(&plan.quote),
        opportunity_source: plan.opportunity_source,
        writes: plan.steps.len(),
        products_created: vec![],
        message: if plan.is_empty() {
            "Autotask already matches the document: nothing would be written.".into()
        } else {
            format!(
                "The export would make {} Autotask writes (nothing was written).",
                plan.steps.len()
            )
        },
        lines,
        failed_lines,
        plan: Some(serde_json::to_value(plan).expect("plan serialises")),
        synced_back: Default::default(),
    }
}

fn as_known(id: &IdRef) -> Option<i64> {
    match id {
        IdRef::Id(id) => Some(*id),
        IdRef::Pending(_) => None,
    }
}

/// One write that was attempted, for the audit record.
#[derive(Serialize)]
struct WriteLog {
    step: String,
    method: String,
    path: String,
    body: Option<Value>,
    result: Result<i64, String>,
}

struct Execution<'a> {
    ctx: &'a TenantContext,
    ids: ResolvedIds,
    /// Start of the run and the ids it holds, for the reconcile after an unanswered create.
    reconcile: RunContext,
    log: Vec<WriteLog>,
    /// Line id → why Autotask refused it (or its product).
    failed: BTreeMap<String, String>,
    /// Lines whose failure was Autotask being unavailable: the next export may finish them as they are.
    retryable: BTreeSet<String>,
    /// Line id → quote item id created or updated in this run.
    items: BTreeMap<String, i64>,
    products_created: Vec<(String, i64)>,
    item_types: ItemTypeRefresh,
}

/// How a failed step is told in the audit and in the line's answer.
fn describe(e: &SyncError) -> String {
    match e {
        SyncError::Rejected { message, fix, .. } => format!("{message} ({fix})"),
        other => other.to_string(),
    }
}

impl Execution<'_> {
    /// Runs one step; `also_taken` are ids produced earlier in the same ordered group.
    async fn run(&self, step: &Step, also_taken: &BTreeSet<i64>) -> Result<i64, SyncError> {
        self.run_as(step, also_taken, self.reconcile.creates).await
    }

    async fn run_as(&self, step: &Step, also_taken: &BTreeSet<i64>, creates: CreateMode) -> Result<i64, SyncError> {
        let skipped = |p: Pending| SyncError::Rejected {
            record: step.summary.clone(),
            field: None,
            message: format!("{} could not be created, so this step was skipped", p.name()),
            fix: "Export again once the step it depends on succeeds.".into(),
        };
        let mut body = step.call.body.clone();
        if let Some(body) = body.as_mut() {
            self.ids.resolve_body(body).map_err(skipped)?;
        }
        let parent = match &step.call.parent {
            Some(parent) => Some(parent.resolve(&self.ids).map_err(skipped)?),
            None => None,
        };
        let mut reconcile = self.reconcile.clone();
        reconcile.taken.extend(also_taken);
        reconcile.creates = creates;
        self.item_types
            .execute(&self.ctx.autotask, &step.call, parent, body, &reconcile)
            .await
            .map_err(|e| SyncError::from_autotask_write(e, step.summary.clone()))
    }

    fn note(&mut self, step: &Step, result: &Result<i64, SyncError>) {
        let mut body = step.call.body.clone();
        if let Some(b) = body.as_mut() {
            self.ids.resolve_body(b).ok();
        }
        self.log.push(WriteLog {
            step: step.summary.clone(),
            method: step.call.method.to_string(),
            path: step.call.path(),
            body,
            result: result.as_ref().map(|id| *id).map_err(describe),
        });
        match result {
            Ok(id) => {
                if let Some(pending) = &step.creates {
                    self.ids.insert(pending.clone(), *id);
                    if let Pending::Product(key) = pending {
                        self.products_created.push((key.clone(), *id));
                    }
                }
                if matches!(step.kind, StepKind::CreateItem | StepKind::CreateLocation) {
                    self.reconcile.taken.insert(*id);
                }
                if step.kind.is_item() && step.kind != StepKind::DeleteItem {
                    self.items.insert(step.line_ids[0].clone(), *id);
                }
            }
            Err(e) => {
                for line in &step.line_ids {
                    self.failed.entry(line.clone()).or_insert_with(|| describe(e));
                    if e.is_transient() {
                        self.retryable.insert(line.clone());
                    }
                }
            }
        }
    }

    /// Creates quote items up to the tenant's call limit at once, sent in document order. Two
    /// identical lines make look-alike items, so an unanswered create is not looked up while
    /// others are in flight (it could take the item another line's create just made): once the
    /// batch has settled and every answered id is held, the unanswered ones are looked up one
    /// after another, each excluding all items held by then, and created again only when absent.
    async fn create_items(&mut self, steps: &[&Step]) {
        let width = self.ctx.autotask.max_in_flight().max(1);
        let none = BTreeSet::new();
        let (this, none) = (&*self, &none);
        // Boxed: a stream of plain async blocks here trips the compiler's `Send` inference.
        let sends: Vec<BoxFuture<'_, (usize, Result<i64, SyncError>)>> = steps
            .iter()
            .enumerate()
            .map(|(i, step)| Box::pin(async move { (i, this.run_as(step, none, CreateMode::Deferred).await) }) as _)
            .collect();
        let mut results: Vec<_> = stream::iter(sends).buffer_unordered(width).collect().await;
        results.sort_by_key(|(i, _)| *i);
        let mut unanswered = Vec::new();
        for (step, (_, result)) in steps.iter().zip(results) {
            if matches!(result, Err(SyncError::Autotask(AutotaskError::Ambiguous { .. }))) {
                unanswered.push(*step);
            } else {
                self.note(step, &result);
            }
        }
        for step in unanswered {
            let result = self.run_as(step, none, CreateMode::LookUpFirst).await;
            self.note(step, &result);
        }
    }

    /// Runs `steps` side by side (the client keeps each endpoint within Autotask's 3 threads),
    /// and beside them `in_order`, one after the other, stopping at the first failure: records
    /// with the same natural key (the three locations often share one address) are never
    /// reconciled to each other, and no location is made for a quote that cannot follow.
    async fn run_parallel(&mut self, steps: &[&Step], in_order: &[&Step]) -> Vec<Result<i64, SyncError>> {
        let none = BTreeSet::new();
        let ordered = async {
            let mut produced = BTreeSet::new();
            let mut out = Vec::new();
            for step in in_order {
                if out.iter().any(Result::is_err) {
                    out.push(Err(SyncError::Rejected {
                        record: step.summary.clone(),
                        field: None,
                        message: "not sent, because an earlier step failed".into(),
                        fix: "Export again once the earlier step succeeds.".into(),
                    }));
                    continue;
                }
                let r = self.run(step, &produced).await;
                if let Ok(id) = &r {
                    produced.insert(*id);
                }
                out.push(r);
            }
            out
        };
        let (mut results, ordered) = tokio::join!(join_all(steps.iter().map(|s| self.run(s, &none))), ordered);
        results.extend(ordered);
        for (step, result) in steps.iter().chain(in_order).zip(&results) {
            self.note(step, result);
        }
        results
    }
}

async fn run_plan(
    ctx: &TenantContext,
    input: &DocumentInput,
    plan: Plan,
    previous: Option<ExportRecord>,
    previous_mapping: Option<Mapping>,
    unconfirmed: &mut Unconfirmed,
) -> SyncResult<ExportOutcome> {
    let mut exec = Execution {
        ctx,
        ids: ResolvedIds::default(),
        reconcile: RunContext {
            started: chrono::Utc::now(),
            taken: ids_held(&plan, previous.as_ref()),
            creates: CreateMode::default(),
        },
        log: vec![],
        failed: BTreeMap::new(),
        retryable: BTreeSet::new(),
        items: BTreeMap::new(),
        products_created: vec![],
        item_types: ItemTypeRefresh::default(),
    };
    let of = |kinds: &[StepKind]| {
        plan.steps
            .iter()
            .filter(|s| kinds.contains(&s.kind))
            .collect::<Vec<_>>()
    };

    // 1. Opportunity, locations and new products.
    let first = of(&[
        StepKind::UpdateOpportunity,
        StepKind::UpdateLocation,
        StepKind::CreateProduct,
    ]);
    // The new opportunity, then the new locations: none is made when the one before failed.
    let locations = of(&[StepKind::CreateOpportunity, StepKind::CreateLocation]);
    if locations.iter().any(|s| s.kind == StepKind::CreateOpportunity) {
        // Before the create is sent: a run killed after Autotask committed it must not lead
        // the next export to create a second one.
        unconfirmed.announce(ctx, &input.number, exec.reconcile.started).await?;
    }
    let mut results = exec.run_parallel(&first, &locations).await;
    let header_failure = first
        .iter()
        .chain(&locations)
        .zip(0..)
        .find(|(s, i)| s.kind != StepKind::CreateProduct && results[*i].is_err())
        .map(|(_, i)| results.swap_remove(i).unwrap_err());
    let opportunity_id = plan.opportunity.resolve(&exec.ids).ok();
    let mut record = previous.clone().unwrap_or_default();
    let mut mapping = previous_mapping;
    if let Some(opportunity_id) = opportunity_id
        && record.opportunity_id != opportunity_id
    {
        // Link the document to its opportunity at once: a crash later must not lead the next
        // export to create a second opportunity.
        record = ExportRecord {
            opportunity_id,
            opportunity_created: plan.opportunity_source == OpportunitySource::New,
            ..ExportRecord::default()
        };
        mapping = Some(save_record(ctx, &input.number, mapping, &record).await?);
    }
    // Told as it is: refused data names the record (422), Autotask unavailable is "try again" (503).
    if let Some(error) = header_failure {
        audit(ctx, input, &exec, AuditOutcome::Failed).await;
        return Err(error);
    }

    // 2. The quote (needs the opportunity and the locations).
    let quote_steps = of(&[StepKind::CreateQuote, StepKind::UpdateQuote]);
    let results = exec.run_parallel(&quote_steps, &[]).await;
    if let Some(error) = results.into_iter().find_map(Result::err) {
        audit(ctx, input, &exec, AuditOutcome::Failed).await;
        return Err(error);
    }

    // 3. Items: removals and changes side by side, then the additions, as many at once as the
    // tenant's Autotask limit allows.
    let changes = of(&[StepKind::DeleteItem, StepKind::UpdateItem]);
    exec.run_parallel(&changes, &[]).await;
    exec.create_items(&of(&[StepKind::CreateItem])).await;

    // Record what landed: ids, per-line state and content hashes.
    let quote_id = plan.quote.resolve(&exec.ids).ok();
    record.quote_id = quote_id.or(record.quote_id);
    for role in crate::domain::document::plan::LocationRole::ALL {
        if let Some(id) = exec.ids.get(&Pending::Location(role)) {
            record.locations.insert(role.tag().into(), id);
        }
    }
    let refused: BTreeMap<String, String> = plan
        .refused
        .iter()
        .map(|p| (p.line_id.clone(), p.message.clone()))
        .collect();
    let mut lines = BTreeMap::new();
    for line in &plan.lines {
        let item_id = exec.items.get(&line.line_id).copied().or(line.item_id);
        let failed = exec.failed.get(&line.line_id);
        let entry = LineRecord {
            item_id: if failed.is_some() { line.item_id } else { item_id },
            hash: line.hash.clone(),
            state: if failed.is_some() {
                LineState::Failed
            } else {
                LineState::Synced
            },
            error: failed.cloned(),
        };
        if line.line_id == SHIPPING_LINE_ID {
            record.shipping_item_id = entry.item_id;
        } else {
            lines.insert(line.line_id.clone(), entry);
        }
    }
    for (line_id, message) in &refused {
        let kept = record.lines.get(line_id).and_then(|l| l.item_id);
        lines.insert(
            line_id.clone(),
            LineRecord {
                item_id: kept,
                hash: String::new(),
                state: LineState::Failed,
                error: Some(message.clone()),
            },
        );
    }
    if !plan.lines.iter().any(|l| l.line_id == SHIPPING_LINE_ID) {
        record.shipping_item_id = None;
    }
    record.lines = lines;
    if !plan.is_empty() || mapping.is_none() || previous.as_ref() != Some(&record) {
        save_record(ctx, &input.number, mapping, &record).await?;
    }
    save_product_mappings(ctx, &plan, &exec).await;

    let failed_lines = exec.failed.len() + refused.len();
    let outcome_kind = if failed_lines == 0 {
        AuditOutcome::Succeeded
    } else {
        AuditOutcome::Partial
    };
    if !exec.log.is_empty() {
        audit(ctx, input, &exec, outcome_kind).await;
    }
    let mut lines = line_outcomes(&plan, &exec.failed, &exec.items);
    for line in &mut lines {
        line.retryable = exec.retryable.contains(&line.line_id);
    }
    let writes = exec.log.iter().filter(|w| w.result.is_ok()).count();
    Ok(ExportOutcome {
        document_number: input.number.clone(),
        dry_run: false,
        opportunity_id: Some(record.opportunity_id),
        quote_id: record.quote_id,
        opportunity_source: plan.opportunity_source,
        writes,
        products_created: exec.products_created.iter().map(|(_, id)| *id).collect(),
        message: match (writes, failed_lines) {
            (0, 0) => "Autotask already matched the document: nothing was written.".into(),
            (_, 0) => format!(
                "Exported to Autotask opportunity {} ({} writes).",
                record.opportunity_id, writes
            ),
            (_, n) => format!(
                "Exported to Autotask opportunity {}, but {n} line(s) did not land; see each line's reason. Export again after fixing them: only those lines will be sent.",
                record.opportunity_id
            ),
        },
        lines,
        failed_lines,
        plan: None,
        synced_back: Default::default(),
    })
}

/// An opportunity create of an earlier export that was never confirmed (the run was killed, or
/// the create and the look-up after it both failed). Announced before the create is sent and
/// cleared once an export succeeds, so the next export looks for that opportunity by its natural
/// key before creating one.
struct Unconfirmed {
    /// Version of the checkpoint (it stays, emptied, once resolved).
    version: Option<u64>,
    /// When the unconfirmed export began.
    since: Option<chrono::DateTime<chrono::Utc>>,
}

impl Unconfirmed {
    fn stream(number: &str) -> String {
        format!("{FUNCTION}#unconfirmed-opportunity#{number}")
    }

    async fn read(ctx: &TenantContext, number: &str) -> SyncResult<Self> {
        let doc = ctx
            .sync_state
            .get_checkpoint(&ctx.tenant, &Self::stream(number))
            .await?;
        Ok(Self {
            version: doc.as_ref().map(|d| d.version),
            since: doc
                .as_ref()
                .and_then(|d| d.doc.get("since").and_then(Value::as_str))
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
        })
    }

    /// The opportunity the unconfirmed create made, as if a previous export had recorded it.
    async fn adopt(
        &self,
        ctx: &TenantContext,
        input: &DocumentInput,
        ready: &crate::domain::document::Ready,
        request: &ExportDocumentRequest,
    ) -> SyncResult<Option<ExportRecord>> {
        let Some(since) = self.since else {
            return Ok(None);
        };
        let title = input.title(request.custom_name.as_deref());
        let fields = json!({
            "companyID": ready.company_id,
            "title": crate::domain::document::opportunity::truncate(&title, crate::domain::document::opportunity::TITLE_MAX),
        });
        let Value::Object(fields) = fields else {
            unreachable!("a JSON object literal")
        };
        let run = RunContext {
            started: since,
            taken: BTreeSet::new(),
            creates: CreateMode::default(),
        };
        let found = find_existing(&ctx.autotask, NaturalKey::Opportunity, &fields, &run).await?;
        Ok(found.map(|opportunity_id| ExportRecord {
            opportunity_id,
            opportunity_created: true,
            ..ExportRecord::default()
        }))
    }

    /// Records that an opportunity create is about to be sent (kept from the earliest attempt).
    /// Nothing is created when this cannot be recorded.
    async fn announce(
        &mut self,
        ctx: &TenantContext,
        number: &str,
        started: chrono::DateTime<chrono::Utc>,
    ) -> SyncResult<()> {
        if self.since.is_some() {
            return Ok(()); // the earliest unconfirmed attempt is the one to look after
        }
        let doc = json!({ "since": started.to_rfc3339() });
        let version = ctx
            .sync_state
            .put_checkpoint(&ctx.tenant, &Self::stream(number), &doc, self.version, ctx.clock.now())
            .await?;
        self.version = Some(version);
        self.since = Some(started);
        Ok(())
    }

    async fn clear(&self, ctx: &TenantContext, number: &str) {
        if self.since.is_none() {
            return;
        }
        let doc = json!({});
        if let Err(e) = ctx
            .sync_state
            .put_checkpoint(&ctx.tenant, &Self::stream(number), &doc, self.version, ctx.clock.now())
            .await
        {
            tracing::warn!(error = %e, "resolved unconfirmed opportunity not cleared");
        }
    }
}

/// Quote items and locations the document already holds (recorded or planned): a reconcile
/// never adopts one of them for another line or role.
fn ids_held(plan: &Plan, previous: Option<&ExportRecord>) -> BTreeSet<i64> {
    let mut held: BTreeSet<i64> = plan.lines.iter().filter_map(|l| l.item_id).collect();
    held.extend(plan.steps.iter().filter_map(|s| s.call.id));
    if let Some(record) = previous {
        held.extend(record.lines.values().filter_map(|l| l.item_id));
        held.extend(record.shipping_item_id);
        held.extend(record.locations.values().copied());
    }
    held
}

fn line_outcomes(plan: &Plan, failed: &BTreeMap<String, String>, written: &BTreeMap<String, i64>) -> Vec<LineOutcome> {
    let mut out: Vec<LineOutcome> = plan
        .lines
        .iter()
        .map(|l| {
            let error = failed.get(&l.line_id).cloned();
            let status = match (&error, l.action) {
                (Some(_), _) => LineStatus::Failed,
                (None, LineAction::Unchanged) => LineStatus::Unchanged,
                (None, LineAction::Create) => LineStatus::Created,
                (None, LineAction::Update) => LineStatus::Updated,
            };
            LineOutcome {
                line_id: l.line_id.clone(),
                item_type: l.item_type.into(),
                status,
                item_id: written.get(&l.line_id).copied().or(l.item_id),
                error,
                retryable: false,
            }
        })
        .collect();
    out.extend(plan.refused.iter().map(|p| LineOutcome {
        line_id: p.line_id.clone(),
        item_type: "product".into(),
        status: LineStatus::Refused,
        item_id: None,
        error: Some(p.message.clone()),
        retryable: false,
    }));
    out
}

/// Creates or updates the document mapping (a changed opportunity moves the pair).
pub(crate) async fn save_record(
    ctx: &TenantContext,
    number: &str,
    existing: Option<Mapping>,
    record: &ExportRecord,
) -> SyncResult<Mapping> {
    let store = ctx.mappings.as_ref();
    let now = ctx.clock.now();
    match existing {
        Some(mut m) if m.at_id == record.opportunity_id => {
            m.data = record.to_data();
            m.updated_at = now;
            Ok(store.update(&ctx.tenant, &m).await?)
        }
        other => {
            if let Some(old) = other {
                store.delete_pair(&ctx.tenant, &old).await?;
            }
            let m = Mapping::new(MappingKind::Document, number, record.opportunity_id, now).with_data(record.to_data());
            Ok(store.create_pair(&ctx.tenant, &m).await?)
        }
    }
}

/// Remembers the Autotask product of every key this export used, so the next export of any
/// document skips the product query for them. Best effort: a failure only costs a lookup.
async fn save_product_mappings(ctx: &TenantContext, plan: &Plan, exec: &Execution<'_>) {
    let now = ctx.clock.now();
    let mut pairs: BTreeMap<String, i64> = exec.products_created.iter().cloned().collect();
    for line in &plan.lines {
        if let (Some(key), Some(id)) = (&line.product_key, line.product_id) {
            pairs.entry(key.clone()).or_insert(id);
        }
    }
    // Keys already mapped need no write.
    let known: Vec<String> = pairs.keys().cloned().collect();
    if let Ok(existing) = ctx
        .mappings
        .batch_get_by_col(&ctx.tenant, MappingKind::Product, &known)
        .await
    {
        for m in existing {
            pairs.remove(&m.col_id);
        }
    }
    let writes = pairs.into_iter().map(|(key, id)| async move {
        let mapping = Mapping::new(MappingKind::Product, key, id, now);
        match ctx.mappings.create_pair(&ctx.tenant, &mapping).await {
            Ok(_) | Err(StoreError::AlreadyMapped { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "could not remember a product mapping"),
        }
    });
    join_all(writes).await;
}

async fn audit(ctx: &TenantContext, input: &DocumentInput, exec: &Execution<'_>, outcome: AuditOutcome) {
    let mut at_ids: Vec<i64> = exec
        .log
        .iter()
        .filter_map(|w| w.result.as_ref().ok().copied())
        .collect();
    at_ids.sort_unstable();
    at_ids.dedup();
    let changes = json!({ "writes": exec.log, "failed_lines": exec.failed });
    ctx.record(FUNCTION, vec![input.number.clone()], at_ids, changes, outcome)
        .await;
}
