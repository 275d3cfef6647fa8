//! `entityInformation/fields`: field metadata and picklists, which differ per Autotask instance.
//! Cached per tenant and collection; labels are matched case-insensitively.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::tenant::TenantId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldInformation {
    pub name: String,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default)]
    pub length: Option<i64>,
    #[serde(default)]
    pub is_required: bool,
    #[serde(default)]
    pub is_read_only: bool,
    #[serde(default)]
    pub is_queryable: bool,
    #[serde(default)]
    pub is_reference: bool,
    #[serde(default)]
    pub reference_entity_type: Option<String>,
    #[serde(default)]
    pub is_pick_list: bool,
    #[serde(default)]
    pub picklist_values: Option<Vec<PicklistValue>>,
    #[serde(default)]
    pub picklist_parent_value_field: Option<String>,
}

/// One picklist entry. `value` is a string even for integer fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PicklistValue {
    pub value: String,
    pub label: String,
    #[serde(default)]
    pub is_default_value: bool,
    #[serde(default)]
    pub sort_order: i64,
    #[serde(default)]
    pub parent_value: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub is_system: bool,
}

fn yes() -> bool {
    true
}

/// The fields of one collection, as Autotask described them.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityFields(pub Vec<FieldInformation>);

impl EntityFields {
    pub fn field(&self, name: &str) -> Option<&FieldInformation> {
        self.0.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The value of the active picklist entry labelled `label` (case-insensitive).
    pub fn picklist_value(&self, field: &str, label: &str) -> Option<&PicklistValue> {
        let label = label.trim();
        self.field(field)?
            .picklist_values
            .as_deref()?
            .iter()
            .find(|p| p.is_active && p.label.trim().eq_ignore_ascii_case(label))
    }

    /// The label of a picklist value (for showing Autotask data to users).
    pub fn picklist_label(&self, field: &str, value: &str) -> Option<&str> {
        self.field(field)?
            .picklist_values
            .as_deref()?
            .iter()
            .find(|p| p.value == value)
            .map(|p| p.label.as_str())
    }
}

#[derive(Debug, Default)]
pub struct PicklistCache {
    entries: Mutex<HashMap<(TenantId, String), Arc<EntityFields>>>,
}

impl PicklistCache {
    pub fn get(&self, tenant: &TenantId, collection: &str) -> Option<Arc<EntityFields>> {
        self.lock().get(&(tenant.clone(), collection.to_owned())).cloned()
    }

    pub fn put(&self, tenant: &TenantId, collection: &str, fields: Arc<EntityFields>) {
        self.lock().insert((tenant.clone(), collection.to_owned()), fields);
    }

    /// Drops a tenant's cache (after someone edits picklists in Autotask).
    pub fn forget_tenant(&self, tenant: &TenantId) {
        self.lock().retain(|(t, _), _| t != tenant);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), Arc<EntityFields>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
