//! Both-ways sync of one mapped customer ↔ company, field by field with the owner rule
//! ([`super::field_owner`]). The mapping keeps the values both sides had after the last sync
//! (`data.synced`), so a field changed on one side only simply flows to the other, and only
//! true conflicts are decided by the owner setting (each one audited).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::field_owner::{FieldOwnership, Resolution, SideState, resolve_fields};
use crate::app::TenantContext;
use crate::autotask::{Company, CompanyPatch, Patch};
use crate::channelonline::{Address, Customer, CustomerUpsert};
use crate::domain::mapping::Mapping;
use crate::store::{AuditOutcome, AuditRecord};
use crate::sync::SyncError;

/// The customer fields kept in sync both ways (canonical names used by the owner settings).
pub const SYNCED_FIELDS: [&str; 7] = ["name", "phone", "address1", "address2", "city", "state", "postal_code"];

/// What a pair sync wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct PairSync {
    pub resolution: Resolution,
    pub autotask_calls: u64,
}

impl PairSync {
    pub fn summary(&self) -> String {
        let names = |m: &BTreeMap<String, Value>| m.keys().cloned().collect::<Vec<_>>().join(", ");
        match (
            self.resolution.to_autotask.is_empty(),
            self.resolution.to_channelonline.is_empty(),
        ) {
            (true, true) => "unchanged".into(),
            (false, true) => format!("Autotask updated: {}", names(&self.resolution.to_autotask)),
            (true, false) => format!("ChannelOnline updated: {}", names(&self.resolution.to_channelonline)),
            (false, false) => format!(
                "Autotask updated: {}; ChannelOnline updated: {}",
                names(&self.resolution.to_autotask),
                names(&self.resolution.to_channelonline)
            ),
        }
    }
}

fn text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

pub fn customer_values(c: &Customer) -> BTreeMap<String, Value> {
    let a = c.address.clone().unwrap_or_default();
    BTreeMap::from([
        ("name".into(), Value::String(c.company_name.clone())),
        ("phone".into(), text(&c.phone)),
        ("address1".into(), text(&a.line1)),
        ("address2".into(), text(&a.line2)),
        ("city".into(), text(&a.city)),
        ("state".into(), text(&a.state)),
        ("postal_code".into(), text(&a.postal_code)),
    ])
}

pub fn company_values(c: &Company) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("name".into(), text(&c.company_name)),
        ("phone".into(), text(&c.phone)),
        ("address1".into(), text(&c.address1)),
        ("address2".into(), text(&c.address2)),
        ("city".into(), text(&c.city)),
        ("state".into(), text(&c.state)),
        ("postal_code".into(), text(&c.postal_code)),
    ])
}

fn as_text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.trim().is_empty()).map(str::to_owned)
}

fn company_patch(id: i64, fields: &BTreeMap<String, Value>) -> CompanyPatch {
    let mut p = CompanyPatch::new(id);
    for (field, value) in fields {
        let v = Patch::from_option(as_text(value));
        match field.as_str() {
            "name" => p.company_name = v,
            "phone" => p.phone = v,
            "address1" => p.address1 = v,
            "address2" => p.address2 = v,
            "city" => p.city = v,
            "state" => p.state = v,
            "postal_code" => p.postal_code = v,
            _ => {}
        }
    }
    p
}

fn customer_upsert(current: &Customer, fields: &BTreeMap<String, Value>) -> CustomerUpsert {
    let mut address: Address = current.address.clone().unwrap_or_default();
    let mut name = current.company_name.clone();
    let mut phone = current.phone.clone();
    for (field, value) in fields {
        let v = as_text(value);
        match field.as_str() {
            "name" => name = v.unwrap_or(name),
            "phone" => phone = v,
            "address1" => address.line1 = v,
            "address2" => address.line2 = v,
            "city" => address.city = v,
            "state" => address.state = v,
            "postal_code" => address.postal_code = v,
            _ => {}
        }
    }
    CustomerUpsert {
        number: Some(current.number.clone()),
        company_name: name,
        phone,
        address: Some(address),
        sales_rep_email: current.sales_rep.as_ref().and_then(|r| r.email.clone()),
        terms: current.terms.clone(),
        // Contacts are not touched by a field sync of the account.
        contacts: Vec::new(),
    }
}

/// Syncs one mapped pair. Reads both sides (1 Autotask call), writes each side only the fields
/// it must take (≤ 1 PATCH), stores the new synced snapshot, audits every overwritten change.
pub async fn sync_pair(ctx: &TenantContext, mapping: &Mapping) -> Result<PairSync, SyncError> {
    let mut calls = 0;
    let customer = ctx.channelonline.get_customer(&mapping.col_id).await?;
    calls += 1;
    let company = ctx.autotask.get::<Company>(mapping.at_id).await?.ok_or_else(|| {
        SyncError::not_found(
            "company_missing",
            format!(
                "Autotask company {} mapped to customer {} no longer exists",
                mapping.at_id, mapping.col_id
            ),
            "Map the customer again in Map Customers.",
        )
    })?;
    let col_values = customer_values(&customer);
    let at_values = company_values(&company);
    let base: Option<BTreeMap<String, Value>> = mapping
        .data
        .get("synced")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let resolution = resolve_fields(
        SideState {
            values: &col_values,
            modified_at: customer.modified_at,
        },
        SideState {
            values: &at_values,
            modified_at: company.last_activity_date.map(|d| d.0),
        },
        base.as_ref(),
        &FieldOwnership::from_settings(&ctx.settings.bulk_sync),
    );
    if !resolution.to_autotask.is_empty() {
        calls += 1;
        ctx.autotask
            .update::<Company>(&company_patch(mapping.at_id, &resolution.to_autotask))
            .await
            .map_err(|e| SyncError::from_autotask_write(e, format!("company {}", mapping.at_id)))?;
    }
    if !resolution.to_channelonline.is_empty() {
        ctx.channelonline
            .upsert_customer(&customer_upsert(&customer, &resolution.to_channelonline))
            .await?;
    }
    // Both sides now hold these values: the base of the next comparison.
    let mut synced = col_values.clone();
    synced.extend(resolution.to_channelonline.clone());
    let snapshot = json!(synced);
    if base.as_ref().map(|b| json!(b)) != Some(snapshot.clone()) {
        let mut updated = mapping.clone();
        if !updated.data.is_object() {
            updated.data = json!({});
        }
        updated.data["synced"] = snapshot;
        updated.updated_at = ctx.clock.now();
        ctx.mappings.update(&ctx.tenant, &updated).await?;
    }
    if !resolution.is_noop() {
        let mut changes = resolution.audit_changes();
        changes["to_autotask"] = json!(resolution.to_autotask);
        changes["to_channelonline"] = json!(resolution.to_channelonline);
        ctx.audit
            .append(&AuditRecord {
                tenant: ctx.tenant.clone(),
                at: ctx.clock.now(),
                action: "bulk-sync.customer".into(),
                actor: ctx.actor.clone(),
                col_ids: vec![mapping.col_id.clone()],
                at_ids: vec![mapping.at_id],
                changes,
                outcome: AuditOutcome::Succeeded,
            })
            .await?;
    }
    Ok(PairSync {
        resolution,
        autotask_calls: calls,
    })
}
