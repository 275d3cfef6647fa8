//! Both-ways sync of one mapped customer ↔ company, field by field with the owner rule
//! ([`super::field_owner`]). The mapping keeps the values both sides had after the last sync
//! (`data.synced`), so a field changed on one side only simply flows to the other, and only
//! true conflicts are decided by the owner setting (each one audited).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::field_owner::{FieldOwnership, Resolution, SideState, resolve_fields};
use super::worker::Handled;
use crate::app::TenantContext;
use crate::autotask::{Company, CompanyPatch, Patch};
use crate::channelonline::{Address, Customer, CustomerUpsert};
use crate::domain::customer::fields::{FieldSpec, company as at_field, fit};
use crate::domain::mapping::Mapping;
use crate::store::{AuditOutcome, AuditRecord};
use crate::sync::SyncError;

/// The customer fields kept in sync both ways (canonical names used by the owner settings).
pub const SYNCED_FIELDS: [&str; 7] = ["name", "phone", "address1", "address2", "city", "state", "postal_code"];

/// The Autotask field a synced name writes: its length and whether Autotask requires it come
/// from the export's field table, so both paths fit and refuse values alike.
fn autotask_field(name: &str) -> Option<FieldSpec> {
    Some(match name {
        "name" => at_field::NAME,
        "phone" => at_field::PHONE,
        "address1" => at_field::ADDRESS1,
        "address2" => at_field::ADDRESS2,
        "city" => at_field::CITY,
        "state" => at_field::STATE,
        "postal_code" => at_field::POSTAL_CODE,
        _ => return None,
    })
}

/// A change the pair sync did not send to Autotask, and why (reported and audited every run
/// until someone fills the value in ChannelOnline).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct HeldBack {
    pub field: String,
    pub reason: String,
}

/// What a pair sync wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct PairSync {
    pub resolution: Resolution,
    pub autotask_calls: u64,
    /// Changes for Autotask that were not sent (a blank value where Autotask requires one).
    pub held_back: Vec<HeldBack>,
}

impl PairSync {
    pub fn summary(&self) -> String {
        let written = self.written_summary();
        if self.held_back.is_empty() {
            return written;
        }
        let held: Vec<&str> = self.held_back.iter().map(|h| h.reason.as_str()).collect();
        format!("{written}; not sent to Autotask: {}", held.join("; "))
    }

    /// The Autotask fields actually sent (the resolution minus what was held back).
    pub fn sent_to_autotask(&self) -> Vec<&str> {
        self.resolution
            .to_autotask
            .keys()
            .map(String::as_str)
            .filter(|f| !self.held_back.iter().any(|h| h.field == *f))
            .collect()
    }

    /// Nothing was written on either side (unchanged, or every change was held back).
    pub fn wrote_nothing(&self) -> bool {
        self.sent_to_autotask().is_empty() && self.resolution.to_channelonline.is_empty()
    }

    /// The worker's outcome: skipped (with the reason) when nothing could be written, so a pair
    /// whose only change is a blank required field is reported as not sent, never as synced.
    pub fn handled(&self) -> Handled {
        if !self.wrote_nothing() {
            return Handled::Done(self.summary());
        }
        if self.held_back.is_empty() {
            return Handled::Skipped("unchanged on both sides".into());
        }
        let held: Vec<&str> = self.held_back.iter().map(|h| h.reason.as_str()).collect();
        Handled::Skipped(format!("not sent to Autotask: {}", held.join("; ")))
    }

    fn written_summary(&self) -> String {
        let to_autotask = self.sent_to_autotask().join(", ");
        let to_channelonline = self
            .resolution
            .to_channelonline
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        match (to_autotask.is_empty(), to_channelonline.is_empty()) {
            (true, true) => "unchanged".into(),
            (false, true) => format!("Autotask updated: {to_autotask}"),
            (true, false) => format!("ChannelOnline updated: {to_channelonline}"),
            (false, false) => {
                format!("Autotask updated: {to_autotask}; ChannelOnline updated: {to_channelonline}")
            }
        }
    }
}

fn text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// The customer's synced values as Autotask can hold them (trimmed, cut to Autotask's lengths, as
/// the customer export fits them), so a value Autotask must shorten is not a change on every run.
pub fn customer_values(c: &Customer) -> BTreeMap<String, Value> {
    let a = c.address.clone().unwrap_or_default();
    let fitted = |field: &str, v: Option<&str>| {
        let spec = autotask_field(field).expect("every synced field has an Autotask field");
        (
            field.to_owned(),
            fit(v, spec.max_len).map_or(Value::Null, Value::String),
        )
    };
    BTreeMap::from([
        fitted("name", Some(&c.company_name)),
        fitted("phone", c.phone.as_deref()),
        fitted("address1", a.line1.as_deref()),
        fitted("address2", a.line2.as_deref()),
        fitted("city", a.city.as_deref()),
        fitted("state", a.state.as_deref()),
        fitted("postal_code", a.postal_code.as_deref()),
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

/// The PATCH for the fields Autotask must take, fitted to its lengths, and what cannot be sent:
/// a blank value for a field Autotask requires is held back (the Autotask value stays).
fn company_patch(id: i64, fields: &BTreeMap<String, Value>) -> (CompanyPatch, Vec<HeldBack>) {
    let mut p = CompanyPatch::new(id);
    let mut held_back = Vec::new();
    for (field, value) in fields {
        let Some(spec) = autotask_field(field) else {
            continue;
        };
        let fitted = fit(as_text(value).as_deref(), spec.max_len);
        if fitted.is_none() && spec.required {
            held_back.push(HeldBack {
                field: field.clone(),
                reason: format!(
                    "{field} is blank in ChannelOnline but Autotask requires {}; the Autotask value is kept (fill it in ChannelOnline)",
                    spec.name
                ),
            });
            continue;
        }
        let v = Patch::from_option(fitted);
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
    (p, held_back)
}

/// The customer as it is with `fields` applied (no contacts: an upsert leaves those it does not
/// name alone).
pub(crate) fn customer_upsert(current: &Customer, fields: &BTreeMap<String, Value>) -> CustomerUpsert {
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
    let (patch, held_back) = company_patch(mapping.at_id, &resolution.to_autotask);
    if resolution.to_autotask.len() > held_back.len() {
        calls += 1;
        ctx.autotask
            .update::<Company>(&patch)
            .await
            .map_err(|e| SyncError::from_autotask_write(e, format!("company {}", mapping.at_id)))?;
    }
    if !resolution.to_channelonline.is_empty() {
        ctx.channelonline
            .upsert_customer(&customer_upsert(&customer, &resolution.to_channelonline))
            .await?;
    }
    // Both sides now hold these values: the base of the next comparison. A held-back field keeps
    // its old base, so it stays a pending ChannelOnline change (reported again) rather than
    // letting Autotask's value flow back over the user's edit.
    let mut synced = col_values.clone();
    synced.extend(resolution.to_channelonline.clone());
    for held in &held_back {
        let before = base
            .as_ref()
            .and_then(|b| b.get(&held.field))
            .or(at_values.get(&held.field));
        synced.insert(held.field.clone(), before.cloned().unwrap_or(Value::Null));
    }
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
        if !held_back.is_empty() {
            changes["held_back"] = json!(held_back);
        }
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
        held_back,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn a_blank_required_field_is_held_back_and_never_cleared() {
        let (patch, held) = company_patch(
            7,
            &fields(&[("phone", Value::Null), ("name", json!("  ")), ("address2", Value::Null)]),
        );
        assert_eq!(patch.phone, Patch::Keep);
        assert_eq!(patch.company_name, Patch::Keep);
        // An optional field may be cleared: Autotask does not require it.
        assert_eq!(patch.address2, Patch::Null);
        let names: Vec<&str> = held.iter().map(|h| h.field.as_str()).collect();
        assert_eq!(names, ["name", "phone"]);
        assert!(held[1].reason.contains("Autotask requires phone"), "{}", held[1].reason);
        let body = serde_json::to_value(&patch).unwrap();
        assert!(
            body.get("phone").is_none() && body.get("companyName").is_none(),
            "{body}"
        );
    }

    #[test]
    fn values_are_fitted_to_autotask_lengths_before_they_are_sent() {
        let (patch, held) = company_patch(
            7,
            &fields(&[
                ("city", json!("Llanfairpwllgwyngyllgogerychwyrndrobwll")),
                ("postal_code", json!("60601-1234-XYZ")),
            ]),
        );
        assert!(held.is_empty());
        assert_eq!(patch.city, Patch::Set("Llanfairpwllgwyngyllgogerychwy".to_owned()));
        assert_eq!(patch.postal_code, Patch::Set("60601-1234".to_owned()));
    }

    fn pair(to_autotask: &[(&str, Value)], to_channelonline: &[(&str, Value)]) -> PairSync {
        let to_autotask = fields(to_autotask);
        let (_, held_back) = company_patch(7, &to_autotask);
        PairSync {
            resolution: Resolution {
                to_autotask,
                to_channelonline: fields(to_channelonline),
                decisions: Vec::new(),
                most_recent: super::super::field_owner::Side::ChannelOnline,
            },
            autotask_calls: 1,
            held_back,
        }
    }

    #[test]
    fn a_pair_whose_only_change_is_held_back_is_skipped_with_the_reason() {
        let only_blank_phone = pair(&[("phone", Value::Null)], &[]);
        match only_blank_phone.handled() {
            Handled::Skipped(reason) => {
                assert!(reason.starts_with("not sent to Autotask: phone is blank"), "{reason}")
            }
            other => panic!("expected a skip, got {other:?}"),
        }
        assert_eq!(
            pair(&[], &[]).handled(),
            Handled::Skipped("unchanged on both sides".into())
        );
    }

    #[test]
    fn the_summary_names_only_the_fields_sent() {
        let mixed = pair(&[("phone", Value::Null), ("city", json!("Springfield"))], &[]);
        assert_eq!(mixed.sent_to_autotask(), ["city"]);
        let Handled::Done(summary) = mixed.handled() else {
            panic!("city was sent");
        };
        assert!(
            summary.starts_with("Autotask updated: city; not sent to Autotask: phone"),
            "{summary}"
        );
    }

    #[test]
    fn required_flags_come_from_the_export_field_table() {
        for (field, required) in [("name", true), ("phone", true), ("city", false), ("postal_code", false)] {
            assert_eq!(autotask_field(field).unwrap().required, required, "{field}");
        }
        let last_name = crate::domain::customer::fields::contact::LAST_NAME;
        assert_eq!((last_name.name, last_name.required), ("lastName", true));
    }

    #[test]
    fn customer_values_compare_in_autotask_terms() {
        let customer = Customer {
            customer_id: "1".into(),
            number: "AC1".into(),
            company_name: "Acme".into(),
            phone: Some(" 312-555-0100 ".into()),
            address: Some(Address {
                city: Some("A".repeat(40)),
                ..Address::default()
            }),
            contacts: Vec::new(),
            sales_rep: None,
            terms: None,
            modified_at: None,
        };
        let values = customer_values(&customer);
        assert_eq!(values["phone"], json!("312-555-0100"));
        assert_eq!(values["city"], json!("A".repeat(30)));
        assert_eq!(values["address1"], Value::Null);
    }
}
