//! Map Customers ("Import and Map"): a job reads every ChannelOnline customer and Autotask
//! company (paged, with `includeFields`), proposes one-to-one pairs with a confidence and the
//! reasons, and stores them; a confirm call writes the chosen pairs (refusing any side mapped
//! elsewhere, with the reason) and matches their contacts by e-mail; a list call shows what is
//! mapped, proposed and unmatched. Unmatched contacts are listed, not created, unless asked.
//! The bulk sync adds proposals for the unmapped customers it meets ([`propose_for_customer`]);
//! the list shows them with the latest run's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::convert;
use super::lookup;
use super::outcome::MatchedContact;
use crate::app::TenantContext;
use crate::autotask::{Company, Contact as AtContact, Filter, Query};
use crate::channelonline::{Customer, PageRequest};
use crate::domain::customer::contacts::match_contacts;
use crate::domain::customer::matching::{MatchKeys, MatchReason, PROPOSE_MIN_CONFIDENCE, Side, assign, score};
use crate::domain::mapping::{Mapping, MappingKind};
use crate::store::{AuditOutcome, StoreError, StoredRunRecord};
use crate::sync::error::{SyncError, SyncResult};
use crate::sync::{Busy, with_lease};

pub const ACTION: &str = "map-customers";
/// The checkpoint stream that points at the latest proposal run.
const LATEST: &str = "map-customers.latest";
/// Held by a whole proposal run, and by each step of the Import and Map job.
pub(super) const RUN_LEASE: &str = "map-customers.run";
/// The checkpoint document holding the proposals the bulk sync found (`{"proposals": {col id:
/// pair}}`), shown in the list next to the latest run's until a person confirms one.
const SYNC_PROPOSALS: &str = "map-customers.sync-proposals";
/// Writers of the sync proposals retry this often on a version conflict (two workers at once).
const SYNC_PROPOSAL_WRITES: usize = 3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposedPair {
    pub col_id: String,
    pub col_name: String,
    pub at_id: i64,
    pub at_name: String,
    pub confidence: u8,
    pub reasons: Vec<MatchReason>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Named<Id> {
    pub id: Id,
    pub name: String,
}

/// One stored run of the proposal job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalRun {
    pub kind: String,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub col_customers: usize,
    pub at_companies: usize,
    pub already_mapped: usize,
    pub proposals: Vec<ProposedPair>,
    pub col_unmatched: Vec<Named<String>>,
    pub at_unmatched: Vec<Named<i64>>,
}

async fn all_col_customers(ctx: &TenantContext) -> SyncResult<Vec<Customer>> {
    let since = DateTime::<Utc>::UNIX_EPOCH;
    let mut page = Some(PageRequest { number: 1, size: 200 });
    let mut out = Vec::new();
    while let Some(p) = page {
        let got = ctx.channelonline.list_customers_modified_since(since, p).await?;
        out.extend(got.customers);
        page = got.next;
    }
    Ok(out)
}

async fn all_mapped(ctx: &TenantContext, kind: MappingKind) -> SyncResult<Vec<Mapping>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = ctx.mappings.list(&ctx.tenant, kind, cursor.as_deref(), 500).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Runs the proposal job and stores its result as the latest run. One run per tenant at a time.
pub async fn propose_pairs(ctx: &TenantContext) -> SyncResult<ProposalRun> {
    let started_at = ctx.clock.now();
    let busy = Busy {
        code: "proposal_run_in_progress",
        message: "Map Customers is already reading both systems for this account.".into(),
        fix: "Wait for it to finish, then list the proposals.".into(),
    };
    with_lease(ctx, RUN_LEASE, busy, || run_proposals(ctx, started_at)).await
}

async fn run_proposals(ctx: &TenantContext, started_at: DateTime<Utc>) -> SyncResult<ProposalRun> {
    let customers = all_col_customers(ctx).await?;
    match_and_store(ctx, started_at, &customers).await
}

/// Reads every Autotask company (and its contacts' e-mails), pairs them with `customers` (every
/// ChannelOnline customer, read since `started_at`) and stores the result as the latest run:
/// the end of [`propose_pairs`] and of the Import and Map job ([`super::map_job`]). Call it
/// holding the run lease.
pub(super) async fn match_and_store(
    ctx: &TenantContext,
    started_at: DateTime<Utc>,
    customers: &[Customer],
) -> SyncResult<ProposalRun> {
    let companies: Vec<Company> = ctx
        .autotask
        .query::<Company>(&Query::all().include_fields(["companyName", "companyNumber", "phone"]))
        .await?;
    // Contact e-mails of every company in one paged read, for the shared-domain evidence.
    let mut emails: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let contacts = ctx
        .autotask
        .query_stream::<AtContact>(
            Query::filter(vec![Filter::exist("emailAddress")]).include_fields(["companyID", "emailAddress"]),
        )
        .try_collect::<Vec<_>>()
        .await?;
    for c in contacts {
        if let (Some(company), Some(email)) = (c.company_id, c.email_address) {
            emails.entry(company).or_default().push(email);
        }
    }
    let mapped = all_mapped(ctx, MappingKind::Customer).await?;
    let mapped_col: BTreeSet<String> = mapped.iter().map(|m| m.col_id.clone()).collect();
    let mapped_at: BTreeSet<i64> = mapped.iter().map(|m| m.at_id).collect();

    let col_sides: Vec<_> = customers
        .iter()
        .map(|c| Side::new(c.number.clone(), &convert::col_profile(c)))
        .collect();
    let at_sides: Vec<_> = companies
        .iter()
        .filter_map(|c| {
            let id = c.id?;
            let e = emails.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            Some(Side::new(id, &convert::at_profile(c, e)))
        })
        .collect();
    let result = assign(&col_sides, &at_sides, &mapped_col, &mapped_at, PROPOSE_MIN_CONFIDENCE);

    let col_name: BTreeMap<&str, &str> = customers
        .iter()
        .map(|c| (c.number.as_str(), c.company_name.as_str()))
        .collect();
    let at_name: BTreeMap<i64, &str> = companies
        .iter()
        .filter_map(|c| Some((c.id?, c.company_name.as_deref().unwrap_or(""))))
        .collect();
    let run = ProposalRun {
        kind: ACTION.into(),
        run_id: StoredRunRecord::new_id(started_at),
        started_at,
        finished_at: ctx.clock.now(),
        col_customers: customers.len(),
        at_companies: companies.len(),
        already_mapped: mapped.len(),
        proposals: result
            .pairs
            .into_iter()
            .map(|p| ProposedPair {
                col_name: col_name.get(p.col_id.as_str()).copied().unwrap_or("").to_owned(),
                at_name: at_name.get(&p.at_id).copied().unwrap_or("").to_owned(),
                col_id: p.col_id,
                at_id: p.at_id,
                confidence: p.confidence,
                reasons: p.reasons,
            })
            .collect(),
        col_unmatched: result
            .col_unmatched
            .into_iter()
            .map(|id| Named {
                name: col_name.get(id.as_str()).copied().unwrap_or("").to_owned(),
                id,
            })
            .collect(),
        at_unmatched: result
            .at_unmatched
            .into_iter()
            .map(|id| Named {
                name: at_name.get(&id).copied().unwrap_or("").to_owned(),
                id,
            })
            .collect(),
    };
    store_run(ctx, &run).await?;
    let current = ctx.sync_state.get_checkpoint(&ctx.tenant, LATEST).await?;
    ctx.sync_state
        .put_checkpoint(
            &ctx.tenant,
            LATEST,
            &json!({ "run_id": run.run_id }),
            current.map(|c| c.version),
            ctx.clock.now(),
        )
        .await?;
    let summary = json!({ "run_id": run.run_id, "proposals": run.proposals.len(),
        "col_unmatched": run.col_unmatched.len(), "at_unmatched": run.at_unmatched.len() });
    ctx.record(
        "map-customers.propose",
        vec![],
        vec![],
        summary,
        AuditOutcome::Succeeded,
    )
    .await;
    Ok(run)
}

/// The best Autotask company for an unmapped ChannelOnline customer the bulk sync met (the export's
/// candidate query, one Autotask call; companies mapped elsewhere are left out), stored as a
/// proposal for Map Customers. `None`: no company scores [`PROPOSE_MIN_CONFIDENCE`].
pub async fn propose_for_customer(ctx: &TenantContext, customer: &Customer) -> SyncResult<Option<ProposedPair>> {
    let candidates = lookup::company_candidates(&ctx.autotask, &convert::company_from_col(customer)).await?;
    let keys = MatchKeys::of(&convert::col_profile(customer));
    let mut best: Option<ProposedPair> = None;
    for c in candidates {
        let Some(id) = c.id else { continue };
        let Some(s) = score(&keys, &MatchKeys::of(&convert::at_profile(&c, &[]))) else {
            continue;
        };
        if s.confidence < PROPOSE_MIN_CONFIDENCE || best.as_ref().is_some_and(|b| b.confidence >= s.confidence) {
            continue;
        }
        if ctx
            .mappings
            .get_by_at(&ctx.tenant, MappingKind::Customer, id)
            .await?
            .is_some()
        {
            continue;
        }
        best = Some(ProposedPair {
            col_id: customer.number.clone(),
            col_name: customer.company_name.clone(),
            at_id: id,
            at_name: c.company_name.clone().unwrap_or_default(),
            confidence: s.confidence,
            reasons: s.reasons,
        });
    }
    if let Some(pair) = &best {
        store_sync_proposal(ctx, pair).await?;
    }
    Ok(best)
}

async fn store_sync_proposal(ctx: &TenantContext, pair: &ProposedPair) -> SyncResult<()> {
    let value = serde_json::to_value(pair).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    for _ in 0..SYNC_PROPOSAL_WRITES {
        let current = ctx.sync_state.get_checkpoint(&ctx.tenant, SYNC_PROPOSALS).await?;
        let mut doc = current.as_ref().map(|c| c.doc.clone()).unwrap_or_else(|| json!({}));
        if doc["proposals"].get(&pair.col_id) == Some(&value) {
            return Ok(());
        }
        if !doc["proposals"].is_object() {
            doc["proposals"] = json!({});
        }
        doc["proposals"][&pair.col_id] = value.clone();
        match ctx
            .sync_state
            .put_checkpoint(
                &ctx.tenant,
                SYNC_PROPOSALS,
                &doc,
                current.map(|c| c.version),
                ctx.clock.now(),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::VersionConflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Unavailable("the Map Customers proposals kept changing; try again".into()).into())
}

async fn sync_proposals(ctx: &TenantContext) -> SyncResult<Vec<ProposedPair>> {
    let Some(stored) = ctx.sync_state.get_checkpoint(&ctx.tenant, SYNC_PROPOSALS).await? else {
        return Ok(Vec::new());
    };
    let proposals: BTreeMap<String, ProposedPair> =
        serde_json::from_value(stored.doc["proposals"].clone()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(proposals.into_values().collect())
}

/// The lists of a run (pairs and unmatched) as text, kept in parts of this many bytes: a stored
/// item holds at most 400 KB, and 5,000 customers' proposals are more.
const RUN_PART_BYTES: usize = 150_000;
/// The checkpoint documents holding the latest run's parts (`.0`, `.1`, …).
const RUN_PART: &str = "map-customers.run-part";

fn corrupt(e: serde_json::Error) -> SyncError {
    StoreError::Corrupt(e.to_string()).into()
}

/// `text` cut into pieces of at most `max` bytes, each ending on a character boundary.
fn parts_of(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// Stores `run`: its lists in parts ([`RUN_PART`]), the rest with the number of parts as the
/// run record. The latest-run pointer is moved by the caller, after this.
async fn store_run(ctx: &TenantContext, run: &ProposalRun) -> SyncResult<()> {
    let lists =
        json!({ "proposals": run.proposals, "col_unmatched": run.col_unmatched, "at_unmatched": run.at_unmatched });
    let text = serde_json::to_string(&lists).map_err(corrupt)?;
    let parts = parts_of(&text, RUN_PART_BYTES);
    for (i, part) in parts.iter().enumerate() {
        let name = format!("{RUN_PART}.{i}");
        let current = ctx.sync_state.get_checkpoint(&ctx.tenant, &name).await?;
        let doc = json!({ "run_id": run.run_id, "text": part });
        ctx.sync_state
            .put_checkpoint(&ctx.tenant, &name, &doc, current.map(|c| c.version), ctx.clock.now())
            .await?;
    }
    let mut head = serde_json::to_value(run).map_err(corrupt)?;
    for list in ["proposals", "col_unmatched", "at_unmatched"] {
        head[list] = json!([]);
    }
    head["parts"] = json!(parts.len());
    ctx.sync_state
        .put_run(
            &ctx.tenant,
            &StoredRunRecord {
                run_id: run.run_id.clone(),
                data: head,
            },
        )
        .await?;
    Ok(())
}

pub(super) async fn latest_run(ctx: &TenantContext) -> SyncResult<Option<ProposalRun>> {
    let Some(pointer) = ctx.sync_state.get_checkpoint(&ctx.tenant, LATEST).await? else {
        return Ok(None);
    };
    let Some(run_id) = pointer.doc.get("run_id").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    let Some(stored) = ctx.sync_state.get_run(&ctx.tenant, run_id).await? else {
        return Ok(None);
    };
    let mut data = stored.data;
    // A run stored whole (before the lists were kept in parts) has no `parts`.
    if let Some(parts) = data.get("parts").and_then(|p| p.as_u64()) {
        let mut text = String::new();
        for i in 0..parts {
            let part = ctx
                .sync_state
                .get_checkpoint(&ctx.tenant, &format!("{RUN_PART}.{i}"))
                .await?;
            match part {
                Some(p) if p.doc["run_id"] == run_id => text.push_str(p.doc["text"].as_str().unwrap_or("")),
                _ => {
                    return Err(StoreError::Unavailable(
                        "the Map Customers proposals are being replaced by a new run; load them again".into(),
                    )
                    .into());
                }
            }
        }
        let lists: serde_json::Value = serde_json::from_str(&text).map_err(corrupt)?;
        for list in ["proposals", "col_unmatched", "at_unmatched"] {
            data[list] = lists[list].clone();
        }
    }
    Ok(serde_json::from_value(data).ok())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairChoice {
    pub col_id: String,
    pub at_id: i64,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub pairs: Vec<PairChoice>,
    /// Match the contacts of each confirmed pair by e-mail (the guide's rule).
    #[serde(default = "yes")]
    pub match_contacts: bool,
    /// Create Autotask contacts for ChannelOnline contacts that matched none.
    #[serde(default)]
    pub create_missing_contacts: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfirmResult {
    pub col_id: String,
    pub at_id: i64,
    /// `mapped` or `refused`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub contacts_matched: Vec<MatchedContact>,
    pub col_contacts_unmatched: Vec<String>,
    pub at_contacts_unmatched: Vec<i64>,
    pub contacts_created: Vec<MatchedContact>,
}

/// Refuses a request that chooses no pair, or the same customer or company in two pairs;
/// a form checks it before its single-use confirmation is spent.
pub fn check_pairs(req: &ConfirmRequest) -> SyncResult<()> {
    if req.pairs.is_empty() {
        return Err(SyncError::bad_request(
            "no_pairs",
            "Choose at least one pair to confirm.",
            Some("pairs"),
        ));
    }
    let mut seen_col = BTreeSet::new();
    let mut seen_at = BTreeSet::new();
    for p in &req.pairs {
        if !seen_col.insert(&p.col_id) || !seen_at.insert(p.at_id) {
            return Err(SyncError::bad_request(
                "pair_shares_a_side",
                format!(
                    "Customer {} or company {} appears in more than one chosen pair.",
                    p.col_id, p.at_id
                ),
                Some("pairs"),
            ));
        }
    }
    Ok(())
}

/// Writes the chosen pairs; each refusal says which side is mapped to what.
pub async fn confirm_pairs(ctx: &TenantContext, req: &ConfirmRequest) -> SyncResult<Vec<ConfirmResult>> {
    check_pairs(req)?;
    let mut results = Vec::new();
    for p in &req.pairs {
        results.push(confirm_one(ctx, req, p).await?);
    }
    let mapped: Vec<_> = results.iter().filter(|r| r.status == "mapped").collect();
    ctx.record(
        "map-customers.confirm",
        mapped.iter().map(|r| r.col_id.clone()).collect(),
        mapped.iter().map(|r| r.at_id).collect(),
        serde_json::to_value(&results).unwrap_or_default(),
        if mapped.len() == results.len() {
            AuditOutcome::Succeeded
        } else {
            AuditOutcome::Partial
        },
    )
    .await;
    Ok(results)
}

async fn confirm_one(ctx: &TenantContext, req: &ConfirmRequest, p: &PairChoice) -> SyncResult<ConfirmResult> {
    let mut r = ConfirmResult {
        col_id: p.col_id.clone(),
        at_id: p.at_id,
        status: "refused".into(),
        reason: None,
        contacts_matched: vec![],
        col_contacts_unmatched: vec![],
        at_contacts_unmatched: vec![],
        contacts_created: vec![],
    };
    let customer = match ctx.channelonline.get_customer(&p.col_id).await {
        Ok(c) => c,
        Err(crate::channelonline::ChannelOnlineError::CustomerNotFound { .. }) => {
            r.reason = Some(format!("ChannelOnline has no customer {}.", p.col_id));
            return Ok(r);
        }
        Err(e) => return Err(e.into()),
    };
    let q = Query::filter(vec![Filter::eq("id", p.at_id)]).include_fields(["companyName"]);
    if ctx.autotask.query_one::<Company>(&q).await?.is_none() {
        r.reason = Some(format!("Autotask has no company {}.", p.at_id));
        return Ok(r);
    }
    let m = Mapping::new(MappingKind::Customer, &p.col_id, p.at_id, ctx.clock.now());
    match ctx.mappings.create_pair(&ctx.tenant, &m).await {
        Ok(_) => r.status = "mapped".into(),
        Err(StoreError::AlreadyMapped { existing, .. }) if existing.col_id == p.col_id && existing.at_id == p.at_id => {
            r.status = "mapped".into();
        }
        Err(StoreError::AlreadyMapped { side, existing }) => {
            r.reason = Some(format!(
                "The {side} side is already mapped: ChannelOnline customer {} ↔ Autotask company {}.",
                existing.col_id, existing.at_id
            ));
            return Ok(r);
        }
        Err(e) => return Err(e.into()),
    }
    if req.match_contacts {
        match_pair_contacts(ctx, &customer, p.at_id, req.create_missing_contacts, &mut r).await?;
    }
    Ok(r)
}

async fn match_pair_contacts(
    ctx: &TenantContext,
    customer: &Customer,
    company_id: i64,
    create_missing: bool,
    r: &mut ConfirmResult,
) -> SyncResult<()> {
    let at_contacts = lookup::company_contacts(&ctx.autotask, company_id).await?;
    let ids: Vec<String> = customer.contacts.iter().map(|c| c.id.clone()).collect();
    let mapped = ctx
        .mappings
        .batch_get_by_col(&ctx.tenant, MappingKind::Contact, &ids)
        .await?;
    let mapped_col: BTreeSet<&str> = mapped.iter().map(|m| m.col_id.as_str()).collect();
    let mapped_at: BTreeSet<i64> = mapped.iter().map(|m| m.at_id).collect();
    let col: Vec<_> = customer
        .contacts
        .iter()
        .filter(|c| !mapped_col.contains(c.id.as_str()))
        .map(convert::col_contact_ref)
        .collect();
    let at: Vec<_> = at_contacts
        .iter()
        .filter(|c| c.id.is_some_and(|id| !mapped_at.contains(&id)))
        .map(convert::at_contact_ref)
        .collect();
    let matching = match_contacts(&col, &at);
    for pair in matching.matched {
        let m = Mapping::new(MappingKind::Contact, &pair.col, pair.at, ctx.clock.now());
        match ctx.mappings.create_pair(&ctx.tenant, &m).await {
            Ok(_) => r.contacts_matched.push(MatchedContact {
                col_id: pair.col,
                at_id: pair.at,
                by: pair.by,
            }),
            Err(StoreError::AlreadyMapped { .. }) => r.col_contacts_unmatched.push(pair.col),
            Err(e) => return Err(e.into()),
        }
    }
    r.at_contacts_unmatched = matching.at_unmatched;
    for col_id in matching.col_unmatched {
        let Some(k) = customer
            .contacts
            .iter()
            .find(|c| c.id == col_id)
            .filter(|_| create_missing)
        else {
            r.col_contacts_unmatched.push(col_id);
            continue;
        };
        let mut f = convert::contact_from_col(k);
        if f.first_name.trim().is_empty() || f.last_name.trim().is_empty() {
            r.col_contacts_unmatched.push(col_id);
            continue;
        }
        f.apply_default_phone(false);
        let body = convert::new_contact(company_id, &f);
        let created = ctx
            .autotask
            .create_once(&body, || lookup::same_contact(&ctx.autotask, company_id, &f))
            .await
            .map_err(|e| {
                SyncError::from_autotask_write(e, format!("contact {col_id} of customer {}", customer.number))
            })?;
        let m = Mapping::new(MappingKind::Contact, &col_id, created.id, ctx.clock.now());
        ctx.mappings.create_pair(&ctx.tenant, &m).await?;
        r.contacts_created.push(MatchedContact {
            col_id,
            at_id: created.id,
            by: crate::domain::customer::contacts::MatchedBy::Name,
        });
    }
    Ok(())
}

/// What is mapped, what the latest run proposed (minus what is mapped since) and what is unmatched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapView {
    pub mapped: Vec<PairChoice>,
    pub run_id: Option<String>,
    /// When the latest run finished reading both systems.
    #[serde(default)]
    pub ran_at: Option<DateTime<Utc>>,
    pub proposed: Vec<ProposedPair>,
    pub col_unmatched: Vec<Named<String>>,
    pub at_unmatched: Vec<Named<i64>>,
}

pub async fn list_mappings(ctx: &TenantContext) -> SyncResult<MapView> {
    let mapped = all_mapped(ctx, MappingKind::Customer).await?;
    let mapped_col: BTreeSet<&str> = mapped.iter().map(|m| m.col_id.as_str()).collect();
    let mapped_at: BTreeSet<i64> = mapped.iter().map(|m| m.at_id).collect();
    let run = latest_run(ctx).await?;
    let ran_at = run.as_ref().map(|r| r.finished_at);
    let (run_id, mut proposed, col_unmatched, at_unmatched): (_, Vec<ProposedPair>, _, _) = match run {
        None => (None, vec![], vec![], vec![]),
        Some(run) => (
            Some(run.run_id),
            run.proposals
                .into_iter()
                .filter(|p| !mapped_col.contains(p.col_id.as_str()) && !mapped_at.contains(&p.at_id))
                .collect(),
            run.col_unmatched
                .into_iter()
                .filter(|n| !mapped_col.contains(n.id.as_str()))
                .collect(),
            run.at_unmatched
                .into_iter()
                .filter(|n| !mapped_at.contains(&n.id))
                .collect(),
        ),
    };
    // What the bulk sync proposed since, for customers the latest run did not pair.
    for pair in sync_proposals(ctx).await? {
        let taken = proposed
            .iter()
            .any(|p| p.col_id == pair.col_id || p.at_id == pair.at_id);
        if !taken && !mapped_col.contains(pair.col_id.as_str()) && !mapped_at.contains(&pair.at_id) {
            proposed.push(pair);
        }
    }
    let col_unmatched: Vec<Named<String>> = col_unmatched
        .into_iter()
        .filter(|n: &Named<String>| !proposed.iter().any(|p| p.col_id == n.id))
        .collect();
    let at_unmatched: Vec<Named<i64>> = at_unmatched
        .into_iter()
        .filter(|n: &Named<i64>| !proposed.iter().any(|p| p.at_id == n.id))
        .collect();
    Ok(MapView {
        mapped: mapped
            .into_iter()
            .map(|m| PairChoice {
                col_id: m.col_id,
                at_id: m.at_id,
            })
            .collect(),
        run_id,
        ran_at,
        proposed,
        col_unmatched,
        at_unmatched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_at_most_the_size_asked_and_join_back_to_the_text() {
        let text = "aé€".repeat(1000);
        let parts = parts_of(&text, 100);
        assert!(parts.iter().all(|p| p.len() <= 100 && !p.is_empty()));
        assert_eq!(parts.concat(), text);
        assert!(parts_of("", 100).is_empty());
    }
}
