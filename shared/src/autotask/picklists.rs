//! `entityInformation/fields`: field metadata and picklists, which differ per Autotask instance.
//! Cached per tenant and collection for a while (an admin may edit picklists); labels are
//! matched case-insensitively.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    /// The integer value of the active entry labelled `label` (picklist values are strings).
    pub fn picklist_code(&self, field: &str, label: &str) -> Option<i64> {
        self.picklist_value(field, label)?.value.trim().parse().ok()
    }

    /// The labels of the active entries of `field`, in Autotask's order (for messages).
    pub fn picklist_labels(&self, field: &str) -> Vec<String> {
        let mut values: Vec<&PicklistValue> = self
            .field(field)
            .and_then(|f| f.picklist_values.as_deref())
            .unwrap_or_default()
            .iter()
            .filter(|p| p.is_active)
            .collect();
        values.sort_by_key(|p| p.sort_order);
        values.into_iter().map(|p| p.label.trim().to_owned()).collect()
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

/// How long a collection's fields are trusted before they are read again.
pub const DEFAULT_PICKLIST_TTL: Duration = Duration::from_secs(30 * 60);

type Key = (TenantId, String);

#[derive(Debug)]
pub struct PicklistCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, (Instant, Arc<EntityFields>)>>,
}

impl Default for PicklistCache {
    fn default() -> Self {
        Self::new(DEFAULT_PICKLIST_TTL)
    }
}

impl PicklistCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
        }
    }

    /// The cached fields, unless they are older than the TTL.
    pub fn get(&self, tenant: &TenantId, collection: &str) -> Option<Arc<EntityFields>> {
        self.get_at(tenant, collection, Instant::now())
    }

    fn get_at(&self, tenant: &TenantId, collection: &str, now: Instant) -> Option<Arc<EntityFields>> {
        let entries = self.lock();
        let (fetched, fields) = entries.get(&(tenant.clone(), collection.to_owned()))?;
        (now.saturating_duration_since(*fetched) < self.ttl).then(|| fields.clone())
    }

    pub fn put(&self, tenant: &TenantId, collection: &str, fields: Arc<EntityFields>) {
        self.put_at(tenant, collection, fields, Instant::now());
    }

    fn put_at(&self, tenant: &TenantId, collection: &str, fields: Arc<EntityFields>, now: Instant) {
        self.lock()
            .insert((tenant.clone(), collection.to_owned()), (now, fields));
    }

    /// Drops one collection of a tenant (Autotask refused a value read from it).
    pub fn forget(&self, tenant: &TenantId, collection: &str) {
        self.lock().remove(&(tenant.clone(), collection.to_owned()));
    }

    /// Drops a tenant's cache (after someone edits picklists in Autotask).
    pub fn forget_tenant(&self, tenant: &TenantId) {
        self.lock().retain(|(t, _), _| t != tenant);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Instant, Arc<EntityFields>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields() -> EntityFields {
        let field: FieldInformation = serde_json::from_value(json!({
            "name": "quoteItemType",
            "isPickList": true,
            "picklistValues": [
                {"value": "12", "label": "Service Bundle", "sortOrder": 3},
                {"value": " 1 ", "label": "Product", "sortOrder": 1},
                {"value": "3", "label": "Labor", "sortOrder": 2, "isActive": false},
                {"value": "x", "label": "Broken", "sortOrder": 4},
            ]
        }))
        .unwrap();
        EntityFields(vec![field])
    }

    #[test]
    fn codes_are_read_by_active_label() {
        let f = fields();
        assert_eq!(f.picklist_code("QUOTEITEMTYPE", " product "), Some(1));
        assert_eq!(f.picklist_code("quoteItemType", "Service Bundle"), Some(12));
        assert_eq!(f.picklist_code("quoteItemType", "Labor"), None, "inactive");
        assert_eq!(f.picklist_code("quoteItemType", "Broken"), None, "not a number");
        assert_eq!(
            f.picklist_labels("quoteItemType"),
            ["Product", "Service Bundle", "Broken"]
        );
        assert!(f.picklist_labels("nope").is_empty());
    }

    #[test]
    fn entries_expire_after_the_ttl_and_can_be_forgotten_per_collection() {
        let tenant = TenantId::parse("acme").unwrap();
        let cache = PicklistCache::new(Duration::from_secs(60));
        let t0 = Instant::now();
        cache.put_at(&tenant, "QuoteItems", Arc::new(fields()), t0);
        cache.put_at(&tenant, "Products", Arc::new(fields()), t0);
        assert!(
            cache
                .get_at(&tenant, "QuoteItems", t0 + Duration::from_secs(59))
                .is_some()
        );
        assert!(
            cache
                .get_at(&tenant, "QuoteItems", t0 + Duration::from_secs(60))
                .is_none()
        );
        cache.forget(&tenant, "QuoteItems");
        assert!(cache.get_at(&tenant, "QuoteItems", t0).is_none());
        assert!(cache.get_at(&tenant, "Products", t0).is_some());
    }
}
