//! Import an Autotask company into ChannelOnline ("Import From Autotask"), by account **name**
//! (the guide: name, not number) or company id, with all contacts or only chosen ones; and
//! "Import/Map contacts" of an account that is already mapped. Contacts whose e-mail already
//! exists on the ChannelOnline customer are mapped to it, never duplicated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::convert::{self, contact_upsert, customer_upsert};
use super::lookup;
use super::outcome::{AccountContact, AccountContacts, CompanyCandidate, ImportOutcome, ImportedContact};
use crate::app::TenantContext;
use crate::autotask::{Company, CompanyPatch, Contact as AtContact, Patch};
use crate::channelonline::{ChannelOnlineError, ContactUpsert, Customer, UpsertedContact};
use crate::domain::customer::contacts::match_contacts;
use crate::domain::mapping::{Mapping, MappingKind};
use crate::store::{AuditOutcome, StoreError};
use crate::sync::error::{SyncError, SyncResult};
use crate::sync::{Busy, with_lease};

pub const ACTION: &str = "import-customer";
/// How many close names a "not found" answer offers.
const CLOSE_NAMES: usize = 10;

fn yes() -> bool {
    true
}

/// Which company to import and which of its contacts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The Autotask account name (matched exactly, ignoring case).
    #[serde(default)]
    pub account_name: Option<String>,
    /// Or the Autotask company id (from a candidate list).
    #[serde(default)]
    pub company_id: Option<i64>,
    #[serde(default = "yes")]
    pub import_all_contacts: bool,
    /// The Autotask contacts to import when `import_all_contacts` is false.
    #[serde(default)]
    pub contact_ids: Vec<i64>,
}

fn candidate(c: &Company) -> CompanyCandidate {
    CompanyCandidate {
        company_id: c.id.unwrap_or_default(),
        name: c.company_name.clone().unwrap_or_default(),
        company_number: c.company_number.clone(),
        phone: c.phone.clone(),
        confidence: None,
        reasons: vec![],
    }
}

/// The one company the request names (404 with close names, 409 with candidates).
pub async fn resolve_company(ctx: &TenantContext, req: &ImportRequest) -> SyncResult<Company> {
    if let Some(id) = req.company_id {
        let q = crate::autotask::Query::filter(vec![crate::autotask::Filter::eq("id", id)])
            .include_fields(lookup::COMPANY_FIELDS.iter().copied());
        return ctx.autotask.query_one::<Company>(&q).await?.ok_or_else(|| {
            SyncError::not_found(
                "company_not_found",
                format!("Autotask has no company with id {id}."),
                "Search by the account name instead.",
            )
        });
    }
    let name = req
        .account_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            SyncError::bad_request(
                "account_name_missing",
                "Give the Autotask account name (or a company id).",
                Some("account_name"),
            )
        })?;
    let mut exact = lookup::companies_named(&ctx.autotask, name).await?;
    match exact.len() {
        1 => Ok(exact.remove(0)),
        0 => {
            let close: Vec<_> = lookup::close_names(&ctx.autotask, name, CLOSE_NAMES)
                .await?
                .iter()
                .map(candidate)
                .collect();
            Err(SyncError::NotFound {
                code: "account_not_found",
                message: format!("No Autotask account is named \"{name}\"."),
                fix: if close.is_empty() {
                    "Check the spelling of the account name as it appears in Autotask.".into()
                } else {
                    "Pick one of the similar names listed, or correct the spelling.".into()
                },
                details: json!({ "close_names": close }),
            })
        }
        n => Err(SyncError::conflict(
            "several_accounts_named",
            format!("{n} Autotask accounts are named \"{name}\"."),
            "Choose one of the candidates (they are listed with their ids) and import it by id.",
            json!({ "candidates": exact.iter().map(candidate).collect::<Vec<_>>() }),
        )),
    }
}

/// Imports (creates or updates) the ChannelOnline customer and the chosen contacts.
/// What an import would write, read without writing: the company, the contacts that would be
/// imported, and the ChannelOnline customer it is mapped to already (`None`: one is created).
#[derive(Clone, Debug)]
pub struct ImportPreview {
    pub company: Company,
    pub contacts: Vec<AtContact>,
    pub mapped_to: Option<String>,
}

/// Reads what [`import_customer`] would import (the same 404 / 409 for an unknown or ambiguous
/// name), writing nothing.
pub async fn preview_import(ctx: &TenantContext, req: &ImportRequest) -> SyncResult<ImportPreview> {
    let company = resolve_company(ctx, req).await?;
    let company_id = company.id.unwrap_or_default();
    let (contacts, mapping) = tokio::join!(
        lookup::company_contacts(&ctx.autotask, company_id),
        ctx.mappings.get_by_at(&ctx.tenant, MappingKind::Customer, company_id),
    );
    let contacts = contacts?
        .into_iter()
        .filter(|c| req.import_all_contacts || c.id.is_some_and(|id| req.contact_ids.contains(&id)))
        .collect();
    Ok(ImportPreview {
        company,
        contacts,
        mapped_to: mapping?.map(|m| m.col_id),
    })
}

pub async fn import_customer(ctx: &TenantContext, req: &ImportRequest) -> SyncResult<ImportOutcome> {
    let company = resolve_company(ctx, req).await?;
    let company_id = company.id.unwrap_or_default();
    let lease_name = format!("{ACTION}#{company_id}");
    let busy = Busy {
        code: "import_in_progress",
        message: format!("Autotask company {company_id} is being imported right now."),
        fix: "Wait a few seconds and try again.".into(),
    };
    let result = with_lease(ctx, &lease_name, busy, || import_resolved(ctx, req, &company)).await;
    match &result {
        Ok(o) => {
            let col_ids = std::iter::once(o.customer_number.clone()).chain(o.contacts.iter().map(|c| c.col_id.clone()));
            let at_ids = std::iter::once(company_id).chain(o.contacts.iter().map(|c| c.at_id));
            let changes = serde_json::to_value(o).unwrap_or_default();
            ctx.record(
                ACTION,
                col_ids.collect(),
                at_ids.collect(),
                changes,
                AuditOutcome::Succeeded,
            )
            .await;
        }
        Err(e) => {
            let changes = json!({ "error": e.to_string(), "request": req });
            ctx.record(ACTION, vec![], vec![company_id], changes, AuditOutcome::Failed)
                .await;
        }
    }
    result
}

async fn import_resolved(ctx: &TenantContext, req: &ImportRequest, company: &Company) -> SyncResult<ImportOutcome> {
    let company_id = company.id.unwrap_or_default();
    let company_name = company.company_name.clone().unwrap_or_default();
    let at_contacts = lookup::company_contacts(&ctx.autotask, company_id).await?;
    let chosen: Vec<&AtContact> = if req.import_all_contacts {
        at_contacts.iter().filter(|c| c.is_active.unwrap_or(1) != 0).collect()
    } else {
        let mut chosen = Vec::new();
        for id in &req.contact_ids {
            let c = at_contacts.iter().find(|c| c.id == Some(*id)).ok_or_else(|| {
                SyncError::bad_request(
                    "contact_not_in_company",
                    format!("Autotask contact {id} does not belong to company {company_id} ({company_name})."),
                    Some("contact_ids"),
                )
            })?;
            chosen.push(c);
        }
        chosen
    };

    // Which ChannelOnline customer: decided before any write, so a retry after a lost answer
    // finds the customer the lost call made instead of creating a second one.
    let mapping = ctx
        .mappings
        .get_by_at(&ctx.tenant, MappingKind::Customer, company_id)
        .await?;
    let number = target_number(ctx, company, mapping.as_ref()).await?;
    let existing: Option<Customer> = match ctx.channelonline.get_customer(&number).await {
        Ok(c) => Some(c),
        Err(ChannelOnlineError::CustomerNotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };

    let plan = plan_contacts(ctx, &chosen, existing.as_ref()).await?;
    let upserted = ctx
        .channelonline
        .upsert_customer(&customer_upsert(Some(number), company, plan.upserts.clone()))
        .await?;

    if mapping.is_none() {
        ctx.mappings
            .create_pair(
                &ctx.tenant,
                &Mapping::new(MappingKind::Customer, &upserted.number, company_id, ctx.clock.now()),
            )
            .await?;
    }
    let contacts = map_landed_contacts(ctx, &plan, &chosen, &upserted.contacts).await?;
    // Fill the Autotask company number so both systems carry the same key (never overwritten).
    let mut writes = 0;
    if company.company_number.as_deref().is_none_or(|n| n.trim().is_empty()) {
        let mut patch = CompanyPatch::new(company_id);
        patch.company_number = Patch::Set(upserted.number.clone());
        ctx.autotask.update::<Company>(&patch).await?;
        writes += 1;
    }
    let not_imported: Vec<i64> = at_contacts
        .iter()
        .filter_map(|c| c.id)
        .filter(|id| !contacts.iter().any(|k| k.at_id == *id))
        .collect();
    let message = format!(
        "{} ChannelOnline customer {} from Autotask account \"{company_name}\"; {} contact(s) imported ({} matched by e-mail).",
        if upserted.created { "Created" } else { "Updated" },
        upserted.number,
        contacts.len(),
        contacts.iter().filter(|c| c.action == "mapped_by_email").count(),
    );
    Ok(ImportOutcome {
        company_id,
        company_name,
        customer_number: upserted.number,
        customer_created: upserted.created,
        contacts,
        contacts_not_imported: not_imported,
        autotask_writes: writes,
        message,
    })
}

/// Where each chosen Autotask contact lands in ChannelOnline, decided before any write.
#[derive(Clone, Debug)]
pub(crate) struct ContactPlan {
    /// Autotask contact id → its ChannelOnline contact and how it was found.
    col_ids: BTreeMap<i64, (String, &'static str)>,
    /// One upsert per chosen contact, in the chosen order.
    pub upserts: Vec<ContactUpsert>,
}

/// Each chosen contact: mapped → its ChannelOnline contact (updated); else an existing contact
/// of `existing` with the same e-mail (mapped, never duplicated); else a new one.
pub(crate) async fn plan_contacts(
    ctx: &TenantContext,
    chosen: &[&AtContact],
    existing: Option<&Customer>,
) -> SyncResult<ContactPlan> {
    let mut col_ids: BTreeMap<i64, (String, &'static str)> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for c in chosen {
        let at_id = c.id.unwrap_or_default();
        match ctx.mappings.get_by_at(&ctx.tenant, MappingKind::Contact, at_id).await? {
            Some(m) => {
                col_ids.insert(at_id, (m.col_id, "updated"));
            }
            None => unmapped.push(convert::at_contact_ref(c)),
        }
    }
    if let Some(customer) = existing {
        let mapped_col: Vec<String> = col_ids.values().map(|(id, _)| id.clone()).collect();
        let free: Vec<_> = customer
            .contacts
            .iter()
            .filter(|k| !mapped_col.contains(&k.id))
            .map(convert::col_contact_ref)
            .collect();
        let by_email = match_contacts(&unmapped, &free);
        for pair in by_email.matched {
            col_ids.insert(pair.col, (pair.at, "mapped_by_email"));
        }
    }
    let upserts = chosen
        .iter()
        .map(|c| contact_upsert(col_ids.get(&c.id.unwrap_or_default()).map(|(id, _)| id.clone()), c))
        .collect();
    Ok(ContactPlan { col_ids, upserts })
}

/// Maps every contact the upsert created or matched (`landed`: the upsert's answer, in the
/// chosen order) and says what happened to each.
pub(crate) async fn map_landed_contacts(
    ctx: &TenantContext,
    plan: &ContactPlan,
    chosen: &[&AtContact],
    landed: &[UpsertedContact],
) -> SyncResult<Vec<ImportedContact>> {
    let mut contacts = Vec::new();
    for (c, landed) in chosen.iter().zip(landed) {
        let at_id = c.id.unwrap_or_default();
        let action = match plan.col_ids.get(&at_id) {
            Some((_, "updated")) => "updated",
            Some((_, how)) => {
                map_contact(ctx, &landed.contact_id, at_id).await?;
                how
            }
            None => {
                map_contact(ctx, &landed.contact_id, at_id).await?;
                if landed.created { "created" } else { "mapped_by_email" }
            }
        };
        contacts.push(ImportedContact {
            at_id,
            col_id: landed.contact_id.clone(),
            name: convert::contact_from_at(c).display_name(),
            action: action.to_owned(),
        });
    }
    Ok(contacts)
}

/// The ChannelOnline customer number of `company`'s import, the import's natural key: the mapped
/// customer's; else the company's own number unless another company's customer holds it; else
/// `AT<company id>`. The same company always gets the same number, so a lost answer is found by
/// a look-up of that number on the next attempt (never a second create).
async fn target_number(ctx: &TenantContext, company: &Company, mapping: Option<&Mapping>) -> SyncResult<String> {
    if let Some(m) = mapping {
        return Ok(m.col_id.clone());
    }
    let own = company
        .company_number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(n) = own
        && ctx
            .mappings
            .get_by_col(&ctx.tenant, MappingKind::Customer, n)
            .await?
            .is_none()
    {
        return Ok(n.to_owned());
    }
    Ok(derived_number(company.id.unwrap_or_default()))
}

/// The number an imported company without a usable number of its own gets in ChannelOnline.
pub fn derived_number(company_id: i64) -> String {
    format!("AT{company_id}")
}

async fn map_contact(ctx: &TenantContext, col_id: &str, at_id: i64) -> SyncResult<()> {
    let m = Mapping::new(MappingKind::Contact, col_id, at_id, ctx.clock.now());
    match ctx.mappings.create_pair(&ctx.tenant, &m).await {
        Ok(_) => Ok(()),
        // Already this exact pair (a retry): fine. Any other pair: say which.
        Err(StoreError::AlreadyMapped { existing, .. }) if existing.col_id == col_id && existing.at_id == at_id => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// "Import/Map contacts": the Autotask contacts of a mapped account with their mapping state.
pub async fn account_contacts(ctx: &TenantContext, customer_number: &str) -> SyncResult<AccountContacts> {
    let mapping = ctx
        .mappings
        .get_by_col(&ctx.tenant, MappingKind::Customer, customer_number)
        .await?
        .ok_or_else(|| {
            SyncError::precondition(
                "customer_not_mapped",
                format!("Customer {customer_number} is not mapped to an Autotask account yet."),
                "Import the account from Autotask, export the customer, or map it in Map Customers first.",
            )
        })?;
    let customer = ctx.channelonline.get_customer(customer_number).await?;
    let at_contacts = lookup::company_contacts(&ctx.autotask, mapping.at_id).await?;
    let col_refs: Vec<_> = customer.contacts.iter().map(convert::col_contact_ref).collect();
    let mut contacts = Vec::new();
    let mut unmapped = Vec::new();
    for c in &at_contacts {
        let at_id = c.id.unwrap_or_default();
        let f = convert::contact_from_at(c);
        match ctx.mappings.get_by_at(&ctx.tenant, MappingKind::Contact, at_id).await? {
            Some(m) => contacts.push(AccountContact {
                at_id,
                name: f.display_name(),
                email: f.email.clone(),
                state: "mapped".into(),
                col_id: Some(m.col_id),
            }),
            None => unmapped.push(convert::at_contact_ref(c)),
        }
    }
    let matching = match_contacts(&unmapped, &col_refs);
    for c in &at_contacts {
        let at_id = c.id.unwrap_or_default();
        if contacts.iter().any(|k| k.at_id == at_id) {
            continue;
        }
        let f = convert::contact_from_at(c);
        let col_id = matching.matched.iter().find(|p| p.col == at_id).map(|p| p.at.clone());
        let state = if col_id.is_some() {
            "same_email_in_channelonline"
        } else {
            "not_in_channelonline"
        };
        contacts.push(AccountContact {
            at_id,
            name: f.display_name(),
            email: f.email,
            state: state.into(),
            col_id,
        });
    }
    contacts.sort_by_key(|c| c.at_id);
    Ok(AccountContacts {
        company_id: mapping.at_id,
        customer_number: customer_number.to_owned(),
        contacts,
    })
}
