//! Export a ChannelOnline customer and its contacts to Autotask (the "Export to Autotask" link).
//!
//! The customer is re-read from ChannelOnline; the request only says which one. One export per
//! customer runs at a time (a lease), so two clicks with different data cannot both create.
//! Creates go through `create_once`: after an ambiguous failure the record is looked up by its
//! natural key (company: `companyNumber` = customer number; contact: e-mail, else name, within
//! the company) before anything is created again, so a lost response never becomes a duplicate.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::convert::{self, company_from_at, company_from_col, contact_from_at, contact_from_col};
use super::lookup;
use super::outcome::{CompanyCandidate, ContactOutcome, CustomerExportOutcome, RecordAction};
use crate::app::TenantContext;
use crate::autotask::{Company, Contact as AtContact};
use crate::channelonline::{Contact as ColContact, Customer};
use crate::domain::customer::contacts::{MatchedBy, match_contacts};
use crate::domain::customer::default_phone::{DefaultPhoneUse, RecordKind};
use crate::domain::customer::fields::{ContactFields, diff_company, diff_contact};
use crate::domain::customer::matching::{LINK_MIN_CONFIDENCE, MatchKeys, score};
use crate::domain::mapping::{Mapping, MappingKind};
use crate::store::{AuditOutcome, StoreError};
use crate::sync::error::{SyncError, SyncResult};
use crate::sync::{Busy, with_lease};

pub const ACTION: &str = "export-customer";

/// Re-reads `customer_number` from ChannelOnline and exports it.
pub async fn export_customer(ctx: &TenantContext, customer_number: &str) -> SyncResult<CustomerExportOutcome> {
    let customer = ctx.channelonline.get_customer(customer_number).await?;
    export_loaded(ctx, &customer).await
}

/// Exports a customer already read from ChannelOnline (the caller read it to key idempotency).
pub async fn export_loaded(ctx: &TenantContext, customer: &Customer) -> SyncResult<CustomerExportOutcome> {
    check_exportable(customer)?;
    let lease_name = format!("{ACTION}#{}", customer.number);
    let busy = Busy {
        code: "export_in_progress",
        message: format!("Customer {} is being exported right now.", customer.number),
        fix: "Wait a few seconds and try again.".into(),
    };
    let mut run = Run::new(customer);
    let result = with_lease(ctx, &lease_name, busy, || run.export(ctx)).await;
    let (outcome, changes) = match &result {
        Ok(o) => (AuditOutcome::Succeeded, serde_json::to_value(o).unwrap_or_default()),
        Err(e) => (
            if run.writes > 0 {
                AuditOutcome::Partial
            } else {
                AuditOutcome::Failed
            },
            json!({ "error": e.to_string(), "done": run.log }),
        ),
    };
    let (col_ids, at_ids) = run.ids();
    ctx.record(ACTION, col_ids, at_ids, changes, outcome).await;
    result
}

/// What an export of a customer would write, read without writing: the customer as
/// ChannelOnline has it now, and the Autotask company it is mapped to (`None`: the export
/// links a company with the same number or a close match, or creates one).
#[derive(Clone, Debug)]
pub struct ExportPreview {
    pub customer: Customer,
    pub company_id: Option<i64>,
    /// How many of the customer's contacts are mapped already (updated, not created).
    pub mapped_contacts: usize,
}

/// Reads what [`export_loaded`] would export and refuses, before anything is confirmed, the
/// data Autotask would refuse.
pub async fn preview_export(ctx: &TenantContext, customer_number: &str) -> SyncResult<ExportPreview> {
    let customer = ctx.channelonline.get_customer(customer_number).await?;
    check_exportable(&customer)?;
    let ids: Vec<String> = customer.contacts.iter().map(|c| c.id.clone()).collect();
    let (company, contacts) = tokio::join!(
        ctx.mappings
            .get_by_col(&ctx.tenant, MappingKind::Customer, &customer.number),
        ctx.mappings.batch_get_by_col(&ctx.tenant, MappingKind::Contact, &ids),
    );
    Ok(ExportPreview {
        company_id: company?.map(|m| m.at_id),
        mapped_contacts: contacts?.len(),
        customer,
    })
}

/// Data Autotask would refuse, found before anything is written.
fn check_exportable(c: &Customer) -> SyncResult<()> {
    if c.company_name.trim().is_empty() {
        return Err(SyncError::Rejected {
            record: format!("customer {}", c.number),
            field: Some("companyName".into()),
            message: "the customer has no company name".into(),
            fix: "Enter the company name on the customer in ChannelOnline, then export again.".into(),
        });
    }
    for k in &c.contacts {
        for (field, value) in [("firstName", &k.first_name), ("lastName", &k.last_name)] {
            if value.trim().is_empty() {
                return Err(SyncError::Rejected {
                    record: format!(
                        "contact {} ({}) of customer {}",
                        k.id,
                        contact_from_col(k).display_name(),
                        c.number
                    ),
                    field: Some(field.into()),
                    message: format!("Autotask requires {field} on every contact"),
                    fix: format!(
                        "Enter the contact's {} in ChannelOnline, then export again.",
                        human(field)
                    ),
                });
            }
        }
    }
    Ok(())
}

fn human(field: &str) -> &'static str {
    if field == "firstName" {
        "first name"
    } else {
        "last name"
    }
}

/// The state of one export as it proceeds (also what the audit keeps when it fails midway).
struct Run<'a> {
    customer: &'a Customer,
    company_id: Option<i64>,
    writes: u32,
    log: Vec<serde_json::Value>,
    contacts: Vec<ContactOutcome>,
    default_phone: Vec<DefaultPhoneUse>,
}

impl<'a> Run<'a> {
    fn new(customer: &'a Customer) -> Self {
        Self {
            customer,
            company_id: None,
            writes: 0,
            log: vec![],
            contacts: vec![],
            default_phone: vec![],
        }
    }

    fn ids(&self) -> (Vec<String>, Vec<i64>) {
        let mut col = vec![self.customer.number.clone()];
        col.extend(self.contacts.iter().map(|c| c.col_id.clone()));
        let mut at: Vec<i64> = self.company_id.into_iter().collect();
        at.extend(self.contacts.iter().map(|c| c.at_id));
        (col, at)
    }

    fn company_record(&self) -> String {
        format!(
            "the company of customer {} ({})",
            self.customer.number, self.customer.company_name
        )
    }

    async fn export(&mut self, ctx: &TenantContext) -> SyncResult<CustomerExportOutcome> {
        let number = self.customer.number.clone();
        let mapping = ctx
            .mappings
            .get_by_col(&ctx.tenant, MappingKind::Customer, &number)
            .await?;
        let (company, action) = match mapping {
            Some(m) => {
                let company = ctx.autotask.get::<Company>(m.at_id).await?.ok_or_else(|| {
                    SyncError::conflict(
                        "mapped_company_missing",
                        format!("Customer {number} is mapped to Autotask company {}, which no longer exists.", m.at_id),
                        "Remove the mapping in Map Customers (or map the customer to the merged company), then export again.",
                        json!({ "company_id": m.at_id }),
                    )
                })?;
                let changes = self.update_company(ctx, &company).await?;
                let action = if changes.is_empty() {
                    RecordAction::Unchanged
                } else {
                    RecordAction::Updated { changes }
                };
                (company, action)
            }
            None => self.find_or_create_company(ctx).await?,
        };
        let company_id = company.id.unwrap_or_default();
        self.company_id = Some(company_id);
        self.log.push(json!({ "company": company_id, "action": action }));
        let company_changes = match &action {
            RecordAction::Linked { .. } => self.update_company(ctx, &company).await?,
            _ => vec![],
        };
        self.export_contacts(ctx, company_id).await?;
        let message = self.message(&action);
        Ok(CustomerExportOutcome {
            customer_number: number,
            company_id,
            company_name: company.company_name.clone().unwrap_or_default(),
            company: action,
            company_changes,
            contacts: std::mem::take(&mut self.contacts),
            default_phone_used: std::mem::take(&mut self.default_phone),
            autotask_writes: self.writes,
            message,
        })
    }

    fn message(&self, company: &RecordAction) -> String {
        let head = match company {
            RecordAction::Created => "Created the Autotask company".to_owned(),
            RecordAction::Linked { reasons } => {
                format!(
                    "Linked the existing Autotask company ({}) instead of creating a duplicate",
                    reasons.join(", ")
                )
            }
            RecordAction::Updated { changes } => format!("Updated {} company field(s)", changes.len()),
            RecordAction::Unchanged => "The Autotask company was already up to date".to_owned(),
        };
        let count = |f: fn(&RecordAction) -> bool| self.contacts.iter().filter(|c| f(&c.action)).count();
        let created = count(|a| matches!(a, RecordAction::Created));
        let linked = count(|a| matches!(a, RecordAction::Linked { .. }));
        let updated = count(|a| matches!(a, RecordAction::Updated { .. }));
        let mut msg = format!(
            "{head}; contacts: {created} created, {linked} linked by e-mail or name, {updated} updated, {} unchanged.",
            self.contacts.len() - created - linked - updated
        );
        if !self.default_phone.is_empty() {
            let names: Vec<_> = self.default_phone.iter().map(|d| d.name.as_str()).collect();
            msg.push_str(&format!(
                " No work phone in ChannelOnline, sent 555-555-5555 for: {}.",
                names.join(", ")
            ));
        }
        msg
    }

    /// PATCHes the fields of `company` that differ from ChannelOnline; returns them.
    async fn update_company(
        &mut self,
        ctx: &TenantContext,
        company: &Company,
    ) -> SyncResult<Vec<crate::domain::customer::FieldChange>> {
        let current = company_from_at(company);
        let mut source = company_from_col(self.customer);
        if source.apply_default_phone(current.phone.as_deref().is_some_and(|p| !p.trim().is_empty())) {
            self.note_default(
                RecordKind::Company,
                &self.customer.number.clone(),
                &self.customer.company_name.clone(),
            );
        }
        let changes = diff_company(&source, &current);
        if !changes.is_empty() {
            let id = company.id.unwrap_or_default();
            ctx.autotask
                .update::<Company>(&convert::company_patch(id, &changes))
                .await
                .map_err(|e| SyncError::from_autotask_write(e, self.company_record()))?;
            self.writes += 1;
        }
        Ok(changes)
    }

    fn note_default(&mut self, record: RecordKind, col_id: &str, name: &str) {
        self.default_phone.push(DefaultPhoneUse {
            record,
            col_id: col_id.to_owned(),
            name: name.to_owned(),
        });
    }

    async fn find_or_create_company(&mut self, ctx: &TenantContext) -> SyncResult<(Company, RecordAction)> {
        let source = company_from_col(self.customer);
        let candidates = lookup::company_candidates(&ctx.autotask, &source).await?;
        let keys = MatchKeys::of(&convert::col_profile(self.customer));
        let mut same = Vec::new();
        for c in candidates {
            let Some(s) = score(&keys, &MatchKeys::of(&convert::at_profile(&c, &[]))) else {
                continue;
            };
            if s.confidence < LINK_MIN_CONFIDENCE {
                continue;
            }
            let mapped = ctx
                .mappings
                .get_by_at(&ctx.tenant, MappingKind::Customer, c.id.unwrap_or_default())
                .await?;
            if mapped.is_none() {
                same.push((c, s));
            }
        }
        match same.len() {
            0 => self.create_company(ctx).await,
            1 => {
                let (company, s) = same.remove(0);
                self.map_customer(ctx, company.id.unwrap_or_default()).await?;
                let reasons = s.reasons.iter().map(|r| r.describe()).collect();
                Ok((company, RecordAction::Linked { reasons }))
            }
            n => {
                let candidates: Vec<CompanyCandidate> = same
                    .into_iter()
                    .map(|(c, s)| CompanyCandidate {
                        company_id: c.id.unwrap_or_default(),
                        name: c.company_name.unwrap_or_default(),
                        company_number: c.company_number,
                        phone: c.phone,
                        confidence: Some(s.confidence),
                        reasons: s.reasons,
                    })
                    .collect();
                Err(SyncError::conflict(
                    "several_matching_companies",
                    format!(
                        "{n} Autotask companies look like customer {} ({}); nothing was created.",
                        self.customer.number, self.customer.company_name
                    ),
                    "Open Map Customers and choose the right company for this customer, then export again.",
                    json!({ "candidates": candidates }),
                ))
            }
        }
    }

    async fn map_customer(&self, ctx: &TenantContext, company_id: i64) -> SyncResult<()> {
        let m = Mapping::new(
            MappingKind::Customer,
            &self.customer.number,
            company_id,
            ctx.clock.now(),
        );
        ctx.mappings.create_pair(&ctx.tenant, &m).await?;
        Ok(())
    }

    async fn create_company(&mut self, ctx: &TenantContext) -> SyncResult<(Company, RecordAction)> {
        let defaults = &ctx.settings.field_mappings.new_company;
        let company_type = defaults.company_type_id.ok_or_else(|| {
            SyncError::precondition(
                "company_type_not_set",
                "New Autotask companies need a company type, and none is set.",
                "Set 'company type for new companies' (field_mappings.new_company.company_type_id) in the integration settings.",
            )
        })?;
        let owner = defaults.owner_resource_id.ok_or_else(|| {
            SyncError::precondition(
                "company_owner_not_set",
                "New Autotask companies need an owner, and none is set.",
                "Set 'owner for new companies' (field_mappings.new_company.owner_resource_id) in the integration settings to an active, licensed Autotask resource.",
            )
        })?;
        let mut source = company_from_col(self.customer);
        if source.apply_default_phone(false) {
            self.note_default(
                RecordKind::Company,
                &self.customer.number.clone(),
                &self.customer.company_name.clone(),
            );
        }
        let body = convert::new_company(&source, company_type, owner);
        let number = self.customer.number.clone();
        let created = ctx
            .autotask
            .create_once(&body, || async {
                Ok(lookup::company_by_number(&ctx.autotask, &number)
                    .await?
                    .and_then(|c| c.id))
            })
            .await
            .map_err(|e| SyncError::from_autotask_write(e, self.company_record()))?;
        if created.wrote {
            self.writes += 1;
        }
        self.map_customer(ctx, created.id).await?;
        let company = Company {
            id: Some(created.id),
            ..body
        };
        Ok((company, RecordAction::Created))
    }

    async fn export_contacts(&mut self, ctx: &TenantContext, company_id: i64) -> SyncResult<()> {
        let customer = self.customer;
        if customer.contacts.is_empty() {
            return Ok(());
        }
        let at_contacts = lookup::company_contacts(&ctx.autotask, company_id).await?;
        let by_id: BTreeMap<i64, &AtContact> = at_contacts.iter().filter_map(|c| Some((c.id?, c))).collect();
        let ids: Vec<String> = customer.contacts.iter().map(|c| c.id.clone()).collect();
        let mapped: BTreeMap<String, Mapping> = ctx
            .mappings
            .batch_get_by_col(&ctx.tenant, MappingKind::Contact, &ids)
            .await?
            .into_iter()
            .map(|m| (m.col_id.clone(), m))
            .collect();
        let taken: BTreeSet<i64> = mapped.values().map(|m| m.at_id).collect();
        let mut unmapped: Vec<&ColContact> = Vec::new();
        for k in &customer.contacts {
            match mapped.get(&k.id) {
                Some(m) => match by_id.get(&m.at_id) {
                    Some(at) => self.update_contact(ctx, company_id, k, at, None).await?,
                    None => {
                        // The Autotask contact was deleted or moved: forget the stale pair.
                        ctx.mappings.delete_pair(&ctx.tenant, m).await?;
                        unmapped.push(k);
                    }
                },
                None => unmapped.push(k),
            }
        }
        let free: Vec<_> = at_contacts
            .iter()
            .filter(|c| c.id.is_some_and(|id| !taken.contains(&id)))
            .map(convert::at_contact_ref)
            .collect();
        let refs: Vec<_> = unmapped.iter().map(|k| convert::col_contact_ref(k)).collect();
        let matching = match_contacts(&refs, &free);
        for pair in matching.matched {
            let k = unmapped
                .iter()
                .find(|k| k.id == pair.col)
                .expect("matched id comes from the list");
            let at = by_id[&pair.at];
            match self.map_contact(ctx, &k.id, pair.at).await {
                Ok(()) => self.update_contact(ctx, company_id, k, at, Some(pair.by)).await?,
                // Mapped to another ChannelOnline contact meanwhile: this one gets its own.
                Err(SyncError::Store(StoreError::AlreadyMapped { .. })) => {
                    self.create_contact(ctx, company_id, k).await?
                }
                Err(e) => return Err(e),
            }
        }
        for col_id in matching.col_unmatched {
            let k = unmapped
                .iter()
                .find(|k| k.id == col_id)
                .expect("unmatched id comes from the list");
            self.create_contact(ctx, company_id, k).await?;
        }
        Ok(())
    }

    async fn map_contact(&self, ctx: &TenantContext, col_id: &str, at_id: i64) -> SyncResult<()> {
        let m = Mapping::new(MappingKind::Contact, col_id, at_id, ctx.clock.now());
        ctx.mappings.create_pair(&ctx.tenant, &m).await?;
        Ok(())
    }

    fn contact_record(&self, k: &ColContact) -> String {
        format!(
            "contact {} ({}) of customer {}",
            k.id,
            contact_from_col(k).display_name(),
            self.customer.number
        )
    }

    async fn update_contact(
        &mut self,
        ctx: &TenantContext,
        company_id: i64,
        k: &ColContact,
        at: &AtContact,
        linked: Option<MatchedBy>,
    ) -> SyncResult<()> {
        let current = contact_from_at(at);
        let mut source = contact_from_col(k);
        if source.apply_default_phone(current.phone.as_deref().is_some_and(|p| !p.trim().is_empty())) {
            self.note_default(RecordKind::Contact, &k.id, &source.display_name());
        }
        let changes = diff_contact(&source, &current);
        let at_id = at.id.unwrap_or_default();
        if !changes.is_empty() {
            ctx.autotask
                .update_child::<AtContact>(company_id, &convert::contact_patch(at_id, &changes))
                .await
                .map_err(|e| SyncError::from_autotask_write(e, self.contact_record(k)))?;
            self.writes += 1;
        }
        let (action, changes) = match linked {
            Some(by) => {
                let reason = match by {
                    MatchedBy::Email { email } => format!("same e-mail {email}"),
                    MatchedBy::Name => "same name, no e-mail in ChannelOnline".to_owned(),
                };
                (RecordAction::Linked { reasons: vec![reason] }, changes)
            }
            None if changes.is_empty() => (RecordAction::Unchanged, vec![]),
            None => (RecordAction::Updated { changes }, vec![]),
        };
        self.log
            .push(json!({ "contact": k.id, "at_id": at_id, "action": action }));
        self.contacts.push(ContactOutcome {
            col_id: k.id.clone(),
            at_id,
            name: source.display_name(),
            action,
            changes,
        });
        Ok(())
    }

    async fn create_contact(&mut self, ctx: &TenantContext, company_id: i64, k: &ColContact) -> SyncResult<()> {
        let mut source: ContactFields = contact_from_col(k);
        if source.apply_default_phone(false) {
            self.note_default(RecordKind::Contact, &k.id, &source.display_name());
        }
        let body = convert::new_contact(company_id, &source);
        let created = ctx
            .autotask
            .create_once(&body, || lookup::same_contact(&ctx.autotask, company_id, &source))
            .await
            .map_err(|e| SyncError::from_autotask_write(e, self.contact_record(k)))?;
        if created.wrote {
            self.writes += 1;
        }
        self.map_contact(ctx, &k.id, created.id).await?;
        self.log
            .push(json!({ "contact": k.id, "at_id": created.id, "action": "created" }));
        self.contacts.push(ContactOutcome {
            col_id: k.id.clone(),
            at_id: created.id,
            name: source.display_name(),
            action: RecordAction::Created,
            changes: vec![],
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_without_names_are_refused_before_any_write() {
        let mut c = Customer {
            number: "C-1".into(),
            company_name: "Acme".into(),
            ..Customer::default()
        };
        c.contacts.push(ColContact {
            id: "k1".into(),
            first_name: "Ann".into(),
            ..ColContact::default()
        });
        match check_exportable(&c) {
            Err(SyncError::Rejected { field, .. }) => assert_eq!(field.as_deref(), Some("lastName")),
            other => panic!("expected a refusal, got {other:?}"),
        }
        c.contacts[0].last_name = "Lee".into();
        assert!(check_exportable(&c).is_ok());
    }
}
