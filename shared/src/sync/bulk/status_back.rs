//! Status back: the status of an exported document's Autotask opportunity (its `status`
//! picklist label, e.g. "Closed", "Lost") and the approval of its exported quote (the Quotes
//! `approvalStatus` label) written to ChannelOnline document custom fields named in the
//! settings (`bulk_sync.status_field_name`, `bulk_sync.approval_field_name`). The label last
//! written is kept in the document mapping (`data.status_back`, `data.approval_back`), so an
//! unchanged label, a redelivery or a re-run writes nothing; when the mapping has lost it (a
//! re-export saves its own record), the document's current value is compared instead.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::worker::Handled;
use crate::app::TenantContext;
use crate::autotask::{Entity, Opportunity, Quote};
use crate::domain::mapping::{Mapping, MappingKind};
use crate::store::{AuditOutcome, StoreError};
use crate::sync::SyncError;

pub const ACTION: &str = "bulk-sync.status-back";
pub const APPROVAL_ACTION: &str = "bulk-sync.approval-back";
/// The mapping data keys of the last writes.
const STATUS_KEY: &str = "status_back";
const APPROVAL_KEY: &str = "approval_back";
/// Re-reads of the mapping when a concurrent write (the other label, a re-export) won the race.
const REMEMBER_ATTEMPTS: usize = 3;

/// What the mapping remembers of the last write (`data.status_back` / `data.approval_back`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenStatus {
    /// The custom field written (a renamed setting writes the new field again).
    pub field: String,
    pub label: String,
    /// The Autotask picklist value the label was read for.
    pub status: i64,
}

impl WrittenStatus {
    pub fn from_mapping(m: &Mapping, key: &str) -> Option<Self> {
        serde_json::from_value(m.data.get(key)?.clone()).ok()
    }
}

/// True when `label` must be written to `field`: it differs from what was written last (case
/// and surrounding blanks aside), or nothing was written to that field yet.
pub fn needs_write(field: &str, label: &str, last: Option<&WrittenStatus>) -> bool {
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    !last.is_some_and(|w| same(&w.field, field) && same(&w.label, label))
}

/// What one opportunity or quote item did, for the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusBack {
    pub result: Handled,
    pub autotask_calls: u64,
}

fn skipped(reason: impl Into<String>, autotask_calls: u64) -> StatusBack {
    StatusBack {
        result: Handled::Skipped(reason.into()),
        autotask_calls,
    }
}

/// One label to write back to a document.
struct Label {
    /// The mapping data key remembering it.
    key: &'static str,
    action: &'static str,
    field: String,
    /// The picklist field it was read from (`status`, `approvalStatus`), for the audit.
    source: &'static str,
    label: String,
    code: i64,
    at_id: i64,
}

/// The label of picklist value `code` of `E.field`; reading the fields costs a call only when
/// they are not cached (counted in `calls`).
async fn picklist_label<E: Entity>(
    ctx: &TenantContext,
    field: &str,
    code: i64,
    calls: &mut u64,
) -> Result<String, SyncError> {
    if !ctx.autotask.fields_cached::<E>() {
        *calls += 1;
    }
    let fields = ctx.autotask.fields::<E>().await?;
    fields
        .picklist_label(field, &code.to_string())
        .map(|l| l.trim().to_owned())
        .ok_or_else(|| {
            SyncError::precondition(
                "status_not_in_picklist",
                format!("Autotask {} {field} {code} has no label in its picklist", E::COLLECTION),
                format!("Check the {} {field} picklist in Autotask.", E::COLLECTION),
            )
        })
}

/// Writes opportunity `opportunity_id`'s status label to its exported document when it changed.
/// Autotask: the opportunity read, plus the Opportunities fields once per instance (cached).
pub async fn write_back_status(ctx: &TenantContext, opportunity_id: i64) -> Result<StatusBack, SyncError> {
    let Some(field) = ctx.settings.bulk_sync.status_field_name.clone() else {
        return Ok(skipped(
            "status write-back is off (set bulk_sync.status_field_name to the document custom field)",
            0,
        ));
    };
    let Some(mapping) = ctx
        .mappings
        .get_by_at(&ctx.tenant, MappingKind::Document, opportunity_id)
        .await?
    else {
        return Ok(skipped(
            format!("opportunity {opportunity_id} has no exported ChannelOnline document"),
            0,
        ));
    };
    let mut calls = 1;
    let Some(opportunity) = ctx.autotask.get::<Opportunity>(opportunity_id).await? else {
        return Ok(skipped(format!("opportunity {opportunity_id} no longer exists"), calls));
    };
    let Some(status) = opportunity.status else {
        return Ok(skipped(format!("opportunity {opportunity_id} has no status"), calls));
    };
    let label = picklist_label::<Opportunity>(ctx, "status", status, &mut calls).await?;
    let label = Label {
        key: STATUS_KEY,
        action: ACTION,
        field,
        source: "status",
        label,
        code: status,
        at_id: opportunity_id,
    };
    write_label(ctx, mapping, label, calls).await
}

/// Writes quote `quote_id`'s approval label to the document exported as that quote when it
/// changed. Autotask: the quote read, plus the Quotes fields once per instance (cached).
pub async fn write_back_approval(ctx: &TenantContext, quote_id: i64) -> Result<StatusBack, SyncError> {
    let Some(field) = ctx.settings.bulk_sync.approval_field_name.clone() else {
        return Ok(skipped(
            "approval write-back is off (set bulk_sync.approval_field_name to the document custom field)",
            0,
        ));
    };
    let mut calls = 1;
    let Some(quote) = ctx.autotask.get::<Quote>(quote_id).await? else {
        return Ok(skipped(format!("quote {quote_id} no longer exists"), calls));
    };
    let mapping = match quote.opportunity_id {
        Some(opportunity) => {
            ctx.mappings
                .get_by_at(&ctx.tenant, MappingKind::Document, opportunity)
                .await?
        }
        None => None,
    };
    // Only the quote the export wrote (an opportunity may hold others).
    let Some(mapping) = mapping.filter(|m| m.data.get("quote_id").and_then(|q| q.as_i64()) == Some(quote_id)) else {
        return Ok(skipped(
            format!("quote {quote_id} is not the quote of an exported ChannelOnline document"),
            calls,
        ));
    };
    let Some(approval) = quote.approval_status else {
        return Ok(skipped(format!("quote {quote_id} has no approval status"), calls));
    };
    let label = picklist_label::<Quote>(ctx, "approvalStatus", approval, &mut calls).await?;
    let label = Label {
        key: APPROVAL_KEY,
        action: APPROVAL_ACTION,
        field,
        source: "approvalStatus",
        label,
        code: approval,
        at_id: quote_id,
    };
    write_label(ctx, mapping, label, calls).await
}

/// Writes `l` to the mapping's document unless it is there already, remembers it, audits it.
async fn write_label(ctx: &TenantContext, mapping: Mapping, l: Label, calls: u64) -> Result<StatusBack, SyncError> {
    let document = mapping.col_id.clone();
    let last = WrittenStatus::from_mapping(&mapping, l.key);
    if !needs_write(&l.field, &l.label, last.as_ref()) {
        return Ok(skipped(
            format!("document {document}: {} \"{}\" already written", l.source, l.label),
            calls,
        ));
    }
    let written = WrittenStatus {
        field: l.field.clone(),
        label: l.label.clone(),
        status: l.code,
    };
    // Nothing remembered (first time, or a re-export saved the mapping afresh): the document
    // may hold the label already; then it is only remembered.
    if last.is_none() && document_holds(ctx, &document, &l.field, &l.label).await? {
        remember(ctx, mapping, l.key, &written).await?;
        return Ok(skipped(
            format!("document {document}: {} already shows \"{}\"", l.field, l.label),
            calls,
        ));
    }
    ctx.channelonline
        .set_document_custom_field(&document, &l.field, &l.label)
        .await?;
    let quote_id = mapping.data.get("quote_id").cloned();
    remember(ctx, mapping, l.key, &written).await?;
    ctx.record(
        l.action,
        vec![document.clone()],
        vec![l.at_id],
        json!({
            "field": l.field,
            "from": last.map(|w| w.label),
            "to": l.label,
            (l.source): l.code,
            "quote_id": quote_id,
        }),
        AuditOutcome::Succeeded,
    )
    .await;
    Ok(StatusBack {
        result: Handled::Done(format!("document {document}: {} set to \"{}\"", l.field, l.label)),
        autotask_calls: calls,
    })
}

async fn document_holds(ctx: &TenantContext, number: &str, field: &str, label: &str) -> Result<bool, SyncError> {
    let doc = ctx.channelonline.get_document(number).await?;
    Ok(doc
        .custom_field(field)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(label.trim())))
}

/// Stores the written label in the mapping. On a version conflict (the other label or a
/// re-export saved the mapping meanwhile) the mapping is read again and the label set on it.
async fn remember(
    ctx: &TenantContext,
    mut mapping: Mapping,
    key: &str,
    written: &WrittenStatus,
) -> Result<(), SyncError> {
    for _ in 1..REMEMBER_ATTEMPTS {
        match ctx
            .mappings
            .update(&ctx.tenant, &with_written(mapping.clone(), key, written, ctx))
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::VersionConflict { .. }) => {
                let fresh = ctx
                    .mappings
                    .get_by_col(&ctx.tenant, MappingKind::Document, &mapping.col_id)
                    .await?;
                match fresh {
                    Some(m) => mapping = m,
                    // Unmapped meanwhile: nothing left to remember on.
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    ctx.mappings
        .update(&ctx.tenant, &with_written(mapping, key, written, ctx))
        .await?;
    Ok(())
}

fn with_written(m: Mapping, key: &str, written: &WrittenStatus, ctx: &TenantContext) -> Mapping {
    let mut m = with_written_data(m, key, written);
    m.updated_at = ctx.clock.now();
    m
}

/// The mapping with `written` under `key`, its other data (the export record) kept.
fn with_written_data(mut m: Mapping, key: &str, written: &WrittenStatus) -> Mapping {
    if !m.data.is_object() {
        m.data = json!({});
    }
    m.data[key] = json!(written);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn written(field: &str, label: &str) -> WrittenStatus {
        WrittenStatus {
            field: field.into(),
            label: label.into(),
            status: 3,
        }
    }

    #[test]
    fn writes_a_new_or_changed_label_and_never_the_same_one_twice() {
        assert!(needs_write("AT Status", "Closed", None));
        assert!(needs_write("AT Status", "Lost", Some(&written("AT Status", "Closed"))));
        assert!(!needs_write(
            "AT Status",
            "Closed",
            Some(&written("AT Status", "Closed"))
        ));
        assert!(!needs_write(
            "at status ",
            " closed",
            Some(&written("AT Status", "Closed"))
        ));
        // A renamed setting writes the new field once.
        assert!(needs_write(
            "Opportunity",
            "Closed",
            Some(&written("AT Status", "Closed"))
        ));
    }

    #[test]
    fn the_last_write_round_trips_through_the_mapping_data() {
        let mut m = Mapping::new(MappingKind::Document, "Q-1", 7, Utc::now());
        assert_eq!(WrittenStatus::from_mapping(&m, STATUS_KEY), None);
        m.data = json!({ "quote_id": 9, "status_back": written("AT Status", "Lost") });
        assert_eq!(
            WrittenStatus::from_mapping(&m, STATUS_KEY),
            Some(written("AT Status", "Lost"))
        );
        // The two labels are remembered apart: a status write says nothing of the approval.
        assert_eq!(WrittenStatus::from_mapping(&m, APPROVAL_KEY), None);
        let approval = written("AT Approval", "Approved");
        let ctx_free = with_written_data(m.clone(), APPROVAL_KEY, &approval);
        assert_eq!(WrittenStatus::from_mapping(&ctx_free, APPROVAL_KEY), Some(approval));
        assert_eq!(
            WrittenStatus::from_mapping(&ctx_free, STATUS_KEY),
            Some(written("AT Status", "Lost"))
        );
        // An unreadable entry counts as nothing written (the label is written again).
        m.data["status_back"] = json!("Lost");
        assert_eq!(WrittenStatus::from_mapping(&m, STATUS_KEY), None);
    }
}
