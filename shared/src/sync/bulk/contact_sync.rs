//! Contacts both ways: an Autotask contact of a mapped company that changed is synced with its
//! mapped ChannelOnline contact field by field under the same owner rules as the company
//! ([`super::field_owner`], base snapshot in the contact mapping's `data.synced`). A contact new
//! on a mapped company is imported into ChannelOnline when `bulk_sync.import_new_contacts`
//! says so, through the import's own contact path (an existing contact with the same e-mail is
//! mapped, never duplicated).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::field_owner::{FieldOwnership, Resolution, SideState, resolve_fields};
use super::pair_sync::{HeldBack, customer_upsert};
use super::worker::Handled;
use crate::app::TenantContext;
use crate::autotask::Contact as AtContact;
use crate::channelonline::{Contact as ColContact, ContactUpsert, Customer};
use crate::domain::customer::fields::{ContactFields, FieldChange, FieldSpec, contact as at_field, fit};
use crate::domain::mapping::{Mapping, MappingKind};
use crate::store::AuditOutcome;
use crate::sync::SyncError;
use crate::sync::customers::convert::{contact_from_at, contact_from_col, contact_patch};
use crate::sync::customers::import::{map_landed_contacts, plan_contacts};

pub const ACTION: &str = "bulk-sync.contact";
pub const IMPORT_ACTION: &str = "bulk-sync.contact-import";

/// The contact fields both systems hold (canonical names, as the owner settings use them).
pub const SYNCED_FIELDS: [&str; 5] = ["first_name", "last_name", "email", "phone", "mobile_phone"];

fn autotask_field(name: &str) -> Option<FieldSpec> {
    Some(match name {
        "first_name" => at_field::FIRST_NAME,
        "last_name" => at_field::LAST_NAME,
        "email" => at_field::EMAIL,
        "phone" => at_field::PHONE,
        "mobile_phone" => at_field::MOBILE_PHONE,
        _ => return None,
    })
}

/// A contact's synced values in Autotask's terms (trimmed, cut to its lengths), from either
/// side's conversion ([`contact_from_col`], [`contact_from_at`]).
pub fn contact_values(f: &ContactFields) -> BTreeMap<String, Value> {
    let values = [
        ("first_name", Some(f.first_name.as_str())),
        ("last_name", Some(f.last_name.as_str())),
        ("email", f.email.as_deref()),
        ("phone", f.phone.as_deref()),
        ("mobile_phone", f.mobile_phone.as_deref()),
    ];
    values
        .into_iter()
        .map(|(name, v)| {
            let spec = autotask_field(name).expect("every synced contact field has an Autotask field");
            (name.to_owned(), fit(v, spec.max_len).map_or(Value::Null, Value::String))
        })
        .collect()
}

fn as_text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.trim().is_empty()).map(str::to_owned)
}

/// The contact PATCH for the fields Autotask must take. A blank value is held back (the
/// Autotask value stays): Autotask requires the names, and a contact's other fields are
/// never cleared by the sync.
pub fn contact_changes(fields: &BTreeMap<String, Value>) -> (Vec<FieldChange>, Vec<HeldBack>) {
    let mut changes = Vec::new();
    let mut held_back = Vec::new();
    for (field, value) in fields {
        let Some(spec) = autotask_field(field) else { continue };
        match fit(as_text(value).as_deref(), spec.max_len) {
            Some(after) => changes.push(FieldChange {
                field: spec.name.to_owned(),
                before: None,
                after,
            }),
            None => held_back.push(HeldBack {
                field: field.clone(),
                reason: format!(
                    "contact {field} is blank in ChannelOnline; the Autotask {} is kept (fill it in ChannelOnline)",
                    spec.name
                ),
            }),
        }
    }
    (changes, held_back)
}

/// The ChannelOnline contact with `fields` applied (an upsert keeps what it does not name).
pub fn col_contact_upsert(current: &ColContact, fields: &BTreeMap<String, Value>) -> ContactUpsert {
    let mut up = ContactUpsert {
        id: Some(current.id.clone()),
        first_name: current.first_name.clone(),
        last_name: current.last_name.clone(),
        email: current.email.clone(),
        work_phone: current.work_phone.clone(),
        mobile: current.mobile.clone(),
    };
    for (field, value) in fields {
        let v = as_text(value);
        match field.as_str() {
            "first_name" => up.first_name = v.unwrap_or(up.first_name),
            "last_name" => up.last_name = v.unwrap_or(up.last_name),
            "email" => up.email = v.or(up.email),
            "phone" => up.work_phone = v.or(up.work_phone),
            "mobile_phone" => up.mobile = v.or(up.mobile),
            _ => {}
        }
    }
    up
}

/// What one contact item did.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactSync {
    pub result: Handled,
    pub autotask_calls: u64,
}

fn skipped(reason: impl Into<String>, autotask_calls: u64) -> ContactSync {
    ContactSync {
        result: Handled::Skipped(reason.into()),
        autotask_calls,
    }
}

/// Syncs Autotask contact `contact_id`: its mapped ChannelOnline contact both ways, or an import
/// when it is new on a mapped company and the settings say so.
pub async fn sync_contact(ctx: &TenantContext, contact_id: i64) -> Result<ContactSync, SyncError> {
    let mut calls = 1;
    let Some(contact) = ctx.autotask.get::<AtContact>(contact_id).await? else {
        return Ok(skipped(
            format!("Autotask contact {contact_id} no longer exists"),
            calls,
        ));
    };
    let Some(company_id) = contact.company_id else {
        return Ok(skipped(format!("Autotask contact {contact_id} has no company"), calls));
    };
    let Some(customer) = ctx
        .mappings
        .get_by_at(&ctx.tenant, MappingKind::Customer, company_id)
        .await?
    else {
        return Ok(skipped(
            format!("contact {contact_id}: company {company_id} is not mapped (pair it in Map Customers)"),
            calls,
        ));
    };
    let mapping = ctx
        .mappings
        .get_by_at(&ctx.tenant, MappingKind::Contact, contact_id)
        .await?;
    let col_customer = ctx.channelonline.get_customer(&customer.col_id).await?;
    match mapping {
        Some(m) => {
            let (result, wrote) = sync_mapped(ctx, &m, &contact, company_id, &col_customer).await?;
            calls += wrote;
            Ok(ContactSync {
                result,
                autotask_calls: calls,
            })
        }
        None if contact.is_active == Some(0) => Ok(skipped(
            format!("contact {contact_id} is inactive in Autotask and not mapped"),
            calls,
        )),
        None if ctx.settings.bulk_sync.import_new_contacts => {
            let result = import_new(ctx, &contact, &col_customer).await?;
            Ok(ContactSync {
                result,
                autotask_calls: calls,
            })
        }
        None => Ok(skipped(
            format!(
                "contact {contact_id} of company {company_id} is not mapped; import it with Import/Map contacts or turn on bulk_sync.import_new_contacts"
            ),
            calls,
        )),
    }
}

/// Both-ways field sync of a mapped contact; returns the outcome and the Autotask writes made.
async fn sync_mapped(
    ctx: &TenantContext,
    mapping: &Mapping,
    contact: &AtContact,
    company_id: i64,
    customer: &Customer,
) -> Result<(Handled, u64), SyncError> {
    let Some(col_contact) = customer.contacts.iter().find(|k| k.id == mapping.col_id) else {
        return Ok((
            Handled::Skipped(format!(
                "ChannelOnline contact {} (mapped to Autotask contact {}) is no longer on customer {}; map it again with Import/Map contacts",
                mapping.col_id, mapping.at_id, customer.number
            )),
            0,
        ));
    };
    let col_values = contact_values(&contact_from_col(col_contact));
    let at_values = contact_values(&contact_from_at(contact));
    let base: Option<BTreeMap<String, Value>> = mapping
        .data
        .get("synced")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let resolution = resolve_fields(
        // ChannelOnline keeps no contact modification time: the customer's stands for it.
        SideState {
            values: &col_values,
            modified_at: customer.modified_at,
        },
        SideState {
            values: &at_values,
            modified_at: contact.last_modified_date.map(|d| d.0),
        },
        base.as_ref(),
        &FieldOwnership::from_settings(&ctx.settings.bulk_sync),
    );
    let (changes, held_back) = contact_changes(&resolution.to_autotask);
    let mut writes = 0;
    if !changes.is_empty() {
        writes += 1;
        ctx.autotask
            .update_child::<AtContact>(company_id, &contact_patch(mapping.at_id, &changes))
            .await
            .map_err(|e| SyncError::from_autotask_write(e, format!("contact {}", mapping.at_id)))?;
    }
    if !resolution.to_channelonline.is_empty() {
        let mut upsert = customer_upsert(customer, &BTreeMap::new());
        upsert.contacts = vec![col_contact_upsert(col_contact, &resolution.to_channelonline)];
        ctx.channelonline.upsert_customer(&upsert).await?;
    }
    store_snapshot(
        ctx,
        mapping,
        base.as_ref(),
        &col_values,
        &at_values,
        &resolution,
        &held_back,
    )
    .await?;
    if !resolution.is_noop() {
        audit_resolution(ctx, mapping, &resolution, &held_back).await;
    }
    Ok((outcome(&resolution, &changes, &held_back), writes))
}

/// Both sides now hold the new values; a held-back field keeps its old base so it stays a
/// pending ChannelOnline change rather than Autotask's value flowing back over it.
async fn store_snapshot(
    ctx: &TenantContext,
    mapping: &Mapping,
    base: Option<&BTreeMap<String, Value>>,
    col_values: &BTreeMap<String, Value>,
    at_values: &BTreeMap<String, Value>,
    resolution: &Resolution,
    held_back: &[HeldBack],
) -> Result<(), SyncError> {
    let mut synced = col_values.clone();
    synced.extend(resolution.to_channelonline.clone());
    for held in held_back {
        let before = base.and_then(|b| b.get(&held.field)).or(at_values.get(&held.field));
        synced.insert(held.field.clone(), before.cloned().unwrap_or(Value::Null));
    }
    let snapshot = json!(synced);
    if base.map(|b| json!(b)) == Some(snapshot.clone()) {
        return Ok(());
    }
    let mut updated = mapping.clone();
    if !updated.data.is_object() {
        updated.data = json!({});
    }
    updated.data["synced"] = snapshot;
    updated.updated_at = ctx.clock.now();
    ctx.mappings.update(&ctx.tenant, &updated).await?;
    Ok(())
}

/// Every overwritten change (a field both sides changed) is in the audit entry, with the rule.
async fn audit_resolution(ctx: &TenantContext, mapping: &Mapping, resolution: &Resolution, held_back: &[HeldBack]) {
    let mut changes = resolution.audit_changes();
    changes["to_autotask"] = json!(resolution.to_autotask);
    changes["to_channelonline"] = json!(resolution.to_channelonline);
    if !held_back.is_empty() {
        changes["held_back"] = json!(held_back);
    }
    ctx.record(
        ACTION,
        vec![mapping.col_id.clone()],
        vec![mapping.at_id],
        changes,
        AuditOutcome::Succeeded,
    )
    .await;
}

fn outcome(resolution: &Resolution, sent: &[FieldChange], held_back: &[HeldBack]) -> Handled {
    let to_at: Vec<&str> = sent.iter().map(|c| c.field.as_str()).collect();
    let to_col: Vec<&str> = resolution.to_channelonline.keys().map(String::as_str).collect();
    let held: Vec<&str> = held_back.iter().map(|h| h.reason.as_str()).collect();
    let mut parts = Vec::new();
    if !to_at.is_empty() {
        parts.push(format!("Autotask contact updated: {}", to_at.join(", ")));
    }
    if !to_col.is_empty() {
        parts.push(format!("ChannelOnline contact updated: {}", to_col.join(", ")));
    }
    if parts.is_empty() {
        return Handled::Skipped(if held.is_empty() {
            "contact unchanged on both sides".into()
        } else {
            format!("not sent to Autotask: {}", held.join("; "))
        });
    }
    if !held.is_empty() {
        parts.push(format!("not sent to Autotask: {}", held.join("; ")));
    }
    Handled::Done(parts.join("; "))
}

/// Imports a contact new on a mapped company into its ChannelOnline customer with the import's
/// contact path, maps it and stores the synced snapshot, so its next change syncs both ways.
async fn import_new(ctx: &TenantContext, contact: &AtContact, customer: &Customer) -> Result<Handled, SyncError> {
    let at_id = contact.id.unwrap_or_default();
    let chosen = [contact];
    let plan = plan_contacts(ctx, &chosen, Some(customer)).await?;
    let mut upsert = customer_upsert(customer, &BTreeMap::new());
    upsert.contacts = plan.upserts.clone();
    let upserted = ctx.channelonline.upsert_customer(&upsert).await?;
    let landed = map_landed_contacts(ctx, &plan, &chosen, &upserted.contacts).await?;
    let Some(imported) = landed.into_iter().next() else {
        return Err(SyncError::precondition(
            "contact_not_imported",
            format!(
                "ChannelOnline answered no contact for Autotask contact {at_id} on customer {}",
                customer.number
            ),
            "Import it with Import/Map contacts and check the customer in ChannelOnline.",
        ));
    };
    // The upsert wrote Autotask's values: both sides now hold them.
    if let Some(mut m) = ctx.mappings.get_by_at(&ctx.tenant, MappingKind::Contact, at_id).await? {
        m.data = json!({ "synced": contact_values(&contact_from_at(contact)) });
        m.updated_at = ctx.clock.now();
        ctx.mappings.update(&ctx.tenant, &m).await?;
    }
    ctx.record(
        IMPORT_ACTION,
        vec![customer.number.clone(), imported.col_id.clone()],
        vec![at_id],
        json!({ "contact": imported, "customer": customer.number }),
        AuditOutcome::Succeeded,
    )
    .await;
    Ok(Handled::Done(format!(
        "contact {} {} ChannelOnline contact {} of customer {}",
        imported.name,
        match imported.action.as_str() {
            "created" => "imported as",
            _ => "mapped by e-mail to",
        },
        imported.col_id,
        customer.number
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(first: &str, email: Option<&str>, phone: Option<&str>) -> ColContact {
        ColContact {
            id: "K1".into(),
            first_name: first.into(),
            last_name: "Lovelace".into(),
            email: email.map(str::to_owned),
            work_phone: phone.map(str::to_owned),
            mobile: None,
        }
    }

    fn fields(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn both_sides_compare_in_the_same_terms() {
        let k = col(" Ada ", Some("ada@example.test"), Some("512-555-0100"));
        let at = AtContact {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email_address: Some("ada@example.test".into()),
            phone: Some("512-555-0100".into()),
            title: Some("CTO".into()),
            ..AtContact::default()
        };
        // GIVEN the same person on both sides (Autotask has a title ChannelOnline cannot hold)
        let col_values = contact_values(&contact_from_col(&k));
        let at_values = contact_values(&contact_from_at(&at));
        // THEN the values are equal, so resolving finds nothing to write
        assert_eq!(col_values, at_values);
        assert_eq!(col_values.len(), SYNCED_FIELDS.len());
        assert_eq!(col_values["mobile_phone"], Value::Null);
    }

    #[test]
    fn blank_values_are_held_back_from_autotask_and_names_use_its_field_names() {
        let (changes, held) = contact_changes(&fields(&[
            ("first_name", json!("  ")),
            ("phone", json!("512-555-0199")),
            ("email", Value::Null),
        ]));
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].field.as_str(), changes[0].after.as_str()),
            ("phone", "512-555-0199")
        );
        let names: Vec<&str> = held.iter().map(|h| h.field.as_str()).collect();
        assert_eq!(names, ["email", "first_name"]);
        let body = serde_json::to_value(contact_patch(7, &changes)).unwrap();
        assert_eq!(body, json!({ "id": 7, "phone": "512-555-0199" }));
    }

    #[test]
    fn the_channelonline_upsert_keeps_the_contact_and_changes_only_the_resolved_fields() {
        let k = col("Ada", Some("ada@example.test"), Some("512-555-0100"));
        let up = col_contact_upsert(
            &k,
            &fields(&[("phone", json!("512-555-0199")), ("first_name", json!(""))]),
        );
        assert_eq!(up.id.as_deref(), Some("K1"));
        assert_eq!(up.work_phone.as_deref(), Some("512-555-0199"));
        // a blank never clears a ChannelOnline name
        assert_eq!(up.first_name, "Ada");
        assert_eq!(up.email.as_deref(), Some("ada@example.test"));
    }

    #[test]
    fn an_owner_setting_decides_a_contact_field_both_sides_changed() {
        // GIVEN both sides changed the phone since the last sync, ChannelOnline owns phone
        let base = fields(&[("phone", json!("111"))]);
        let col_values = fields(&[("phone", json!("222"))]);
        let at_values = fields(&[("phone", json!("333"))]);
        let ownership = FieldOwnership {
            default: crate::domain::settings::FieldOwner::Autotask,
            per_field: [("phone".to_owned(), crate::domain::settings::FieldOwner::ChannelOnline)].into(),
        };
        let r = resolve_fields(
            SideState {
                values: &col_values,
                modified_at: None,
            },
            SideState {
                values: &at_values,
                modified_at: None,
            },
            Some(&base),
            &ownership,
        );
        // THEN ChannelOnline's phone goes to Autotask, the override is in the audit body
        let (changes, _) = contact_changes(&r.to_autotask);
        assert_eq!(changes[0].after, "222");
        assert_eq!(r.audit_changes()["field_conflicts"][0]["rule"], "owner");
        match outcome(&r, &changes, &[]) {
            Handled::Done(s) => assert_eq!(s, "Autotask contact updated: phone"),
            other => panic!("expected done, got {other:?}"),
        }
    }
}
