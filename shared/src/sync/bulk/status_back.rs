//! Status back: the status of an exported document's Autotask opportunity (its `status`
//! picklist label, e.g. "Closed", "Lost") written to a ChannelOnline document custom field
//! named in the settings (`bulk_sync.status_field_name`). The label last written is kept in the
//! document mapping (`data.status_back`), so an unchanged status, a redelivery or a re-run
//! writes nothing; when the mapping has lost it (a re-export saves its own record), the
//! document's current value is compared instead.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::worker::Handled;
use crate::app::TenantContext;
use crate::autotask::Opportunity;
use crate::domain::mapping::{Mapping, MappingKind};
use crate::store::AuditOutcome;
use crate::sync::SyncError;

pub const ACTION: &str = "bulk-sync.status-back";

/// What the mapping remembers of the last write (`data.status_back`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenStatus {
    /// The custom field written (a renamed setting writes the new field again).
    pub field: String,
    pub label: String,
    /// The Autotask status value the label was read for.
    pub status: i64,
}

impl WrittenStatus {
    pub fn from_mapping(m: &Mapping) -> Option<Self> {
        serde_json::from_value(m.data.get("status_back")?.clone()).ok()
    }
}

/// True when `label` must be written to `field`: it differs from what was written last (case
/// and surrounding blanks aside), or nothing was written to that field yet.
pub fn needs_write(field: &str, label: &str, last: Option<&WrittenStatus>) -> bool {
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    !last.is_some_and(|w| same(&w.field, field) && same(&w.label, label))
}

/// What one opportunity item did, for the worker.
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
    if !ctx.autotask.fields_cached::<Opportunity>() {
        calls += 1;
    }
    let fields = ctx.autotask.fields::<Opportunity>().await?;
    let label = fields
        .picklist_label("status", &status.to_string())
        .map(|l| l.trim().to_owned())
        .ok_or_else(|| {
            SyncError::precondition(
                "status_not_in_picklist",
                format!("Autotask opportunity status {status} has no label in the Opportunities status picklist"),
                "Check the opportunity status picklist in Autotask (Admin > Opportunity Status).",
            )
        })?;
    let last = WrittenStatus::from_mapping(&mapping);
    if !needs_write(&field, &label, last.as_ref()) {
        return Ok(skipped(
            format!("document {}: status \"{label}\" already written", mapping.col_id),
            calls,
        ));
    }
    let document = &mapping.col_id;
    let written = WrittenStatus {
        field: field.clone(),
        label: label.clone(),
        status,
    };
    // Nothing remembered (first time, or a re-export saved the mapping afresh): the document
    // may hold the label already; then it is only remembered.
    if last.is_none() && document_holds(ctx, document, &field, &label).await? {
        remember(ctx, mapping.clone(), &written).await?;
        return Ok(skipped(
            format!("document {document}: {field} already shows \"{label}\""),
            calls,
        ));
    }
    ctx.channelonline
        .set_document_custom_field(document, &field, &label)
        .await?;
    remember(ctx, mapping.clone(), &written).await?;
    ctx.record(
        ACTION,
        vec![document.clone()],
        vec![opportunity_id],
        json!({
            "field": field,
            "from": last.map(|w| w.label),
            "to": label,
            "status": status,
            "quote_id": mapping.data.get("quote_id"),
        }),
        AuditOutcome::Succeeded,
    )
    .await;
    Ok(StatusBack {
        result: Handled::Done(format!("document {document}: {field} set to \"{label}\"")),
        autotask_calls: calls,
    })
}

async fn document_holds(ctx: &TenantContext, number: &str, field: &str, label: &str) -> Result<bool, SyncError> {
    let doc = ctx.channelonline.get_document(number).await?;
    Ok(doc
        .custom_field(field)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(label.trim())))
}

/// Stores the written label in the mapping. A version conflict (a re-export saved the mapping
/// meanwhile) is an error worth a retry: the retry finds the field written and stores it.
async fn remember(ctx: &TenantContext, mut mapping: Mapping, written: &WrittenStatus) -> Result<(), SyncError> {
    if !mapping.data.is_object() {
        mapping.data = json!({});
    }
    mapping.data["status_back"] = json!(written);
    mapping.updated_at = ctx.clock.now();
    ctx.mappings.update(&ctx.tenant, &mapping).await?;
    Ok(())
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
        assert_eq!(WrittenStatus::from_mapping(&m), None);
        m.data = json!({ "quote_id": 9, "status_back": written("AT Status", "Lost") });
        assert_eq!(WrittenStatus::from_mapping(&m), Some(written("AT Status", "Lost")));
        // An unreadable entry counts as nothing written (the label is written again).
        m.data["status_back"] = json!("Lost");
        assert_eq!(WrittenStatus::from_mapping(&m), None);
    }
}
