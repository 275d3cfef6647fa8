//! The integration settings of one tenant: everything the guide's setup screens hold
//! (Autotask and ChannelOnline connection, sales-rep mapping, miscellaneous field mappings,
//! the document-level custom field) plus the bulk-sync options.
//!
//! Stored as one versioned JSON document per tenant. Secrets are never part of it: they live
//! in the secrets port, and the settings view only says whether they are set.
//!
//! Input is parsed with `deny_unknown_fields` and every error names the field path
//! (`field_mappings.payment_terms[1].at_id`), so the caller knows what to fix.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantSettings {
    pub autotask: AutotaskConnection,
    pub channelonline: ChannelOnlineConnection,
    /// COL sales rep ↔ AT resource (employee), one-to-one.
    pub sales_reps: Vec<SalesRepMapping>,
    pub field_mappings: FieldMappings,
    /// Name of the COL document-level custom field that holds the AT opportunity id.
    pub opportunity_custom_field: Option<String>,
    pub bulk_sync: BulkSyncOptions,
}

/// The non-secret half of the Autotask connection; the API secret is write-only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutotaskConnection {
    /// The API user name (an email address); also used for zone discovery.
    pub username: Option<String>,
    /// The integration's tracking identifier (Autotask's `ApiIntegrationCode`).
    pub tracking_identifier: Option<String>,
    /// Act as this resource (`ImpersonationResourceId`) so records show a person, not the API user.
    pub impersonation_resource_id: Option<i64>,
    /// Concurrent Autotask calls per endpoint this integration may make across all its functions
    /// (1 to 3; default 3, Autotask's limit). Lower leaves threads to the reseller's other
    /// integrations that share the limit.
    pub max_concurrent_calls: Option<u8>,
}

/// Autotask's concurrent-call limit per endpoint and integration.
pub const AUTOTASK_MAX_CONCURRENT_CALLS: u8 = 3;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelOnlineConnection {
    /// The account shortcut (site name).
    pub shortcut: Option<String>,
    /// The API user's email; the password is write-only.
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesRepMapping {
    pub col_sales_rep_id: String,
    pub at_resource_id: i64,
}

/// A COL value (by its code or name) mapped to an AT picklist or entity id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMapping {
    pub col: String,
    pub at_id: i64,
}

/// COL category (and optional sub-category) → AT product category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryMapping {
    pub col_category: String,
    #[serde(default)]
    pub col_sub_category: Option<String>,
    pub at_product_category_id: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldMappings {
    /// COL payment terms → AT payment term id (required on every exported document).
    pub payment_terms: Vec<ValueMapping>,
    /// COL shipping type (carrier) → AT shipping type id, set on the AT quote.
    pub shipping_types: Vec<ValueMapping>,
    pub categories: Vec<CategoryMapping>,
    /// AT product category for products whose COL category is not mapped.
    pub default_product_category_id: Option<i64>,
    /// The opportunity an exported quote becomes.
    pub quote_opportunity: OpportunityDefaults,
    /// The opportunity an exported sales order becomes (AT cannot create sales orders by API).
    pub sales_order_opportunity: OpportunityDefaults,
    pub new_company: NewCompanyDefaults,
    /// AT billing code (material code) put on created products and quote items.
    pub default_billing_code_id: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpportunityDefaults {
    pub status_id: Option<i64>,
    pub stage_id: Option<i64>,
    /// Percent, 0-100.
    pub probability: Option<u8>,
}

/// What a company created in AT from a COL customer gets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewCompanyDefaults {
    pub company_type_id: Option<i64>,
    pub owner_resource_id: Option<i64>,
}

/// Who wins when both systems changed a field since the last sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldOwner {
    #[default]
    MostRecentlyModified,
    ChannelOnline,
    Autotask,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BulkSyncOptions {
    pub enabled: bool,
    /// An EventBridge Scheduler expression: `rate(…)` or `cron(…)`.
    pub schedule: String,
    pub field_owner_default: FieldOwner,
    /// Per-field owners (canonical customer field names such as `phone`, `city`), overriding
    /// `field_owner_default` for that field.
    pub field_owners: std::collections::BTreeMap<String, FieldOwner>,
    /// Re-export COL documents that changed since their last export.
    pub reexport_changed_documents: bool,
    /// Create AT companies for COL customers that are not mapped yet (otherwise they are reported).
    pub create_unmapped_customers: bool,
    /// Share of the tenant's hourly Autotask request budget a bulk run may use, in (0, 1].
    pub budget_share: f64,
    /// The ChannelOnline document custom field that receives the status label of the exported
    /// document's Autotask opportunity ("Closed", "Lost", …); `None` turns status write-back off.
    pub status_field_name: Option<String>,
    /// The ChannelOnline document custom field that receives the `approvalStatus` label of the
    /// exported quote in Autotask ("Approved", …); `None` turns it off.
    pub approval_field_name: Option<String>,
    /// Import Autotask contacts new on a mapped company into its ChannelOnline customer (an
    /// existing contact with the same e-mail is mapped instead); otherwise they are reported.
    pub import_new_contacts: bool,
}

impl Default for BulkSyncOptions {
    fn default() -> Self {
        Self {
            enabled: false,
            schedule: "rate(1 hour)".into(),
            field_owner_default: FieldOwner::MostRecentlyModified,
            field_owners: std::collections::BTreeMap::new(),
            reexport_changed_documents: true,
            create_unmapped_customers: false,
            budget_share: 0.5,
            status_field_name: None,
            approval_field_name: None,
            import_new_contacts: false,
        }
    }
}

/// Why settings were refused: the field path and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SettingsError {
    /// Dotted path with indexes, e.g. `sales_reps[2].at_resource_id`; `.` for the whole document.
    pub path: String,
    pub message: String,
}

impl SettingsError {
    fn at(path: impl fmt::Display, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl TenantSettings {
    /// Parses a complete settings document and validates it.
    pub fn from_json(value: Value) -> Result<Self, SettingsError> {
        let settings: TenantSettings = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            SettingsError::at(path, without_location(&e.into_inner().to_string()))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Applies a JSON merge patch (RFC 7386) to these settings and validates the result.
    pub fn patched(&self, patch: &Value) -> Result<Self, SettingsError> {
        if !patch.is_object() {
            return Err(SettingsError::at(".", "a patch must be a JSON object"));
        }
        let mut doc = serde_json::to_value(self).expect("settings serialise");
        merge_patch(&mut doc, patch);
        Self::from_json(doc)
    }

    /// Rules serde cannot express: uniqueness, ranges, formats.
    pub fn validate(&self) -> Result<(), SettingsError> {
        unique(&self.sales_reps, "sales_reps", "col_sales_rep_id", |m| {
            m.col_sales_rep_id.clone()
        })?;
        unique(&self.sales_reps, "sales_reps", "at_resource_id", |m| m.at_resource_id)?;
        for (i, m) in self.sales_reps.iter().enumerate() {
            non_blank(&m.col_sales_rep_id, format!("sales_reps[{i}].col_sales_rep_id"))?;
            positive(m.at_resource_id, format!("sales_reps[{i}].at_resource_id"))?;
        }
        let fm = &self.field_mappings;
        for (name, list) in [
            ("payment_terms", &fm.payment_terms),
            ("shipping_types", &fm.shipping_types),
        ] {
            let prefix = format!("field_mappings.{name}");
            unique(list, &prefix, "col", |m| m.col.trim().to_lowercase())?;
            for (i, m) in list.iter().enumerate() {
                non_blank(&m.col, format!("{prefix}[{i}].col"))?;
                positive(m.at_id, format!("{prefix}[{i}].at_id"))?;
            }
        }
        unique(&fm.categories, "field_mappings.categories", "col_sub_category", |m| {
            (
                m.col_category.trim().to_lowercase(),
                m.col_sub_category.as_deref().map(|s| s.trim().to_lowercase()),
            )
        })?;
        for (i, m) in fm.categories.iter().enumerate() {
            non_blank(&m.col_category, format!("field_mappings.categories[{i}].col_category"))?;
            positive(
                m.at_product_category_id,
                format!("field_mappings.categories[{i}].at_product_category_id"),
            )?;
        }
        let optional_ids = [
            (
                fm.default_product_category_id,
                "field_mappings.default_product_category_id",
            ),
            (fm.default_billing_code_id, "field_mappings.default_billing_code_id"),
            (
                fm.new_company.company_type_id,
                "field_mappings.new_company.company_type_id",
            ),
            (
                fm.new_company.owner_resource_id,
                "field_mappings.new_company.owner_resource_id",
            ),
            (
                fm.quote_opportunity.status_id,
                "field_mappings.quote_opportunity.status_id",
            ),
            (
                fm.quote_opportunity.stage_id,
                "field_mappings.quote_opportunity.stage_id",
            ),
            (
                fm.sales_order_opportunity.status_id,
                "field_mappings.sales_order_opportunity.status_id",
            ),
            (
                fm.sales_order_opportunity.stage_id,
                "field_mappings.sales_order_opportunity.stage_id",
            ),
            (
                self.autotask.impersonation_resource_id,
                "autotask.impersonation_resource_id",
            ),
        ];
        if self
            .autotask
            .max_concurrent_calls
            .is_some_and(|n| !(1..=AUTOTASK_MAX_CONCURRENT_CALLS).contains(&n))
        {
            return Err(SettingsError::at(
                "autotask.max_concurrent_calls",
                "must be 1, 2 or 3 (Autotask allows 3 concurrent calls per endpoint)",
            ));
        }
        for (id, path) in optional_ids {
            if let Some(id) = id {
                positive(id, path)?;
            }
        }
        for (o, path) in [
            (&fm.quote_opportunity, "field_mappings.quote_opportunity.probability"),
            (
                &fm.sales_order_opportunity,
                "field_mappings.sales_order_opportunity.probability",
            ),
        ] {
            if o.probability.is_some_and(|p| p > 100) {
                return Err(SettingsError::at(path, "must be a percentage from 0 to 100"));
            }
        }
        if let Some(name) = &self.opportunity_custom_field {
            non_blank(name, "opportunity_custom_field")?;
        }
        let b = &self.bulk_sync;
        if let Some(name) = &b.status_field_name {
            non_blank(name, "bulk_sync.status_field_name")?;
        }
        if let Some(name) = &b.approval_field_name {
            non_blank(name, "bulk_sync.approval_field_name")?;
        }
        if !(b.budget_share > 0.0 && b.budget_share <= 1.0) {
            return Err(SettingsError::at(
                "bulk_sync.budget_share",
                "must be more than 0 and at most 1 (e.g. 0.5 for half of the hourly Autotask budget)",
            ));
        }
        let schedule = b.schedule.trim();
        let well_formed = (schedule.starts_with("rate(") || schedule.starts_with("cron(")) && schedule.ends_with(')');
        if !well_formed {
            return Err(SettingsError::at(
                "bulk_sync.schedule",
                "must be an EventBridge schedule such as rate(1 hour) or cron(0 * * * ? *)",
            ));
        }
        Ok(())
    }

    /// The AT resource mapped to a COL sales rep.
    pub fn resource_for_sales_rep(&self, col_sales_rep_id: &str) -> Option<i64> {
        self.sales_reps
            .iter()
            .find(|m| m.col_sales_rep_id == col_sales_rep_id)
            .map(|m| m.at_resource_id)
    }

    /// The AT product category for a COL category and sub-category: the exact pair, else the
    /// category alone, else the default category.
    pub fn product_category_for(&self, category: &str, sub_category: Option<&str>) -> Option<i64> {
        let eq = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        let cats = &self.field_mappings.categories;
        let exact = cats.iter().find(|m| {
            eq(&m.col_category, category)
                && match (&m.col_sub_category, sub_category) {
                    (Some(a), Some(b)) => eq(a, b),
                    _ => false,
                }
        });
        let category_only = || {
            cats.iter()
                .find(|m| eq(&m.col_category, category) && m.col_sub_category.is_none())
        };
        exact
            .or_else(category_only)
            .map(|m| m.at_product_category_id)
            .or(self.field_mappings.default_product_category_id)
    }
}

/// serde_json appends " at line 1 column 42"; the path already says where.
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn unique<T, K: std::hash::Hash + Eq>(
    list: &[T],
    list_path: &str,
    field: &str,
    key: impl Fn(&T) -> K,
) -> Result<(), SettingsError> {
    let mut seen = HashSet::new();
    for (i, item) in list.iter().enumerate() {
        if !seen.insert(key(item)) {
            return Err(SettingsError::at(
                format!("{list_path}[{i}].{field}"),
                "duplicate: this value is already mapped by an earlier entry; each may appear once",
            ));
        }
    }
    Ok(())
}

fn non_blank(value: &str, path: impl fmt::Display) -> Result<(), SettingsError> {
    if value.trim().is_empty() {
        Err(SettingsError::at(path, "must not be empty"))
    } else {
        Ok(())
    }
}

fn positive(id: i64, path: impl fmt::Display) -> Result<(), SettingsError> {
    if id > 0 {
        Ok(())
    } else {
        Err(SettingsError::at(path, "must be a positive Autotask id"))
    }
}

/// Whether a stored settings document turns the scheduled bulk sync on (the stores keep their
/// bulk-sync directory by it). Off unless `bulk_sync.enabled` is `true`, as the default is.
pub fn bulk_sync_enabled(doc: &Value) -> bool {
    doc.pointer("/bulk_sync/enabled") == Some(&Value::Bool(true))
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn full() -> Value {
        json!({
            "autotask": { "username": "api@acme.example", "tracking_identifier": "TRACK" },
            "channelonline": { "shortcut": "acme", "email": "ops@acme.example" },
            "sales_reps": [
                { "col_sales_rep_id": "rep-1", "at_resource_id": 29682885 },
                { "col_sales_rep_id": "rep-2", "at_resource_id": 29682886 }
            ],
            "field_mappings": {
                "payment_terms": [{ "col": "Net 30", "at_id": 2 }],
                "shipping_types": [{ "col": "UPS Ground", "at_id": 4 }],
                "categories": [
                    { "col_category": "Hardware", "at_product_category_id": 10 },
                    { "col_category": "Hardware", "col_sub_category": "Laptops", "at_product_category_id": 11 }
                ],
                "default_product_category_id": 1,
                "quote_opportunity": { "status_id": 1, "stage_id": 2, "probability": 50 },
                "sales_order_opportunity": { "status_id": 3, "stage_id": 4, "probability": 100 },
                "new_company": { "company_type_id": 1, "owner_resource_id": 29682885 },
                "default_billing_code_id": 29682801
            },
            "opportunity_custom_field": "AT Opportunity",
            "bulk_sync": { "enabled": true, "schedule": "rate(1 hour)", "budget_share": 0.25,
                           "field_owner_default": "most_recently_modified",
                           "reexport_changed_documents": true, "create_unmapped_customers": false }
        })
    }

    fn err_path(v: Value) -> String {
        TenantSettings::from_json(v).unwrap_err().path
    }

    #[test]
    fn full_document_round_trips() {
        let s = TenantSettings::from_json(full()).unwrap();
        assert_eq!(s.resource_for_sales_rep("rep-2"), Some(29682886));
        assert_eq!(s.bulk_sync.budget_share, 0.25);
        let again = TenantSettings::from_json(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn empty_document_gets_safe_defaults() {
        let s = TenantSettings::from_json(json!({})).unwrap();
        assert!(!s.bulk_sync.enabled);
        assert_eq!(s.bulk_sync.field_owner_default, FieldOwner::MostRecentlyModified);
        assert_eq!(s.bulk_sync.budget_share, 0.5);
        assert_eq!(s.bulk_sync.status_field_name, None);
        assert!(!s.bulk_sync.import_new_contacts);
    }

    #[test]
    fn status_back_and_contact_import_settings_load_and_a_blank_field_name_is_refused() {
        // GIVEN a bulk_sync section saved before these settings existed: it still loads
        let old = TenantSettings::from_json(full()).unwrap();
        assert_eq!(old.bulk_sync.status_field_name, None);
        // WHEN they are set THEN they are read back
        let on = old
            .patched(&json!({ "bulk_sync": { "status_field_name": "AT Status", "import_new_contacts": true } }))
            .unwrap();
        assert_eq!(on.bulk_sync.status_field_name.as_deref(), Some("AT Status"));
        assert!(on.bulk_sync.import_new_contacts);
        // AND a blank field name is refused with its path
        let mut v = full();
        v["bulk_sync"]["status_field_name"] = json!("  ");
        assert_eq!(err_path(v), "bulk_sync.status_field_name");
        let mut v = full();
        v["bulk_sync"]["approval_field_name"] = json!("");
        assert_eq!(err_path(v), "bulk_sync.approval_field_name");
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let mut v = full();
        v["field_mappings"]["new_company"]["colour"] = json!("red");
        let e = TenantSettings::from_json(v).unwrap_err();
        assert_eq!(e.path, "field_mappings.new_company.colour");
        assert!(e.message.contains("unknown field `colour`"), "{}", e.message);
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        let mut v = full();
        v["field_mappings"]["payment_terms"][0]["at_id"] = json!("two");
        assert_eq!(err_path(v), "field_mappings.payment_terms[0].at_id");
        let mut v = full();
        v["bulk_sync"]["enabled"] = json!("yes");
        assert_eq!(err_path(v), "bulk_sync.enabled");
    }

    #[test]
    fn duplicates_in_one_to_one_mapping_are_refused_on_either_side() {
        // GIVEN two COL reps mapped to the same AT resource
        let mut v = full();
        v["sales_reps"][1]["at_resource_id"] = json!(29682885);
        // THEN the second entry's resource id is named
        assert_eq!(err_path(v), "sales_reps[1].at_resource_id");
        // GIVEN one COL rep mapped twice
        let mut v = full();
        v["sales_reps"][1]["col_sales_rep_id"] = json!("rep-1");
        assert_eq!(err_path(v), "sales_reps[1].col_sales_rep_id");
    }

    #[test]
    fn duplicate_col_values_and_category_pairs_are_refused() {
        let mut v = full();
        v["field_mappings"]["payment_terms"] =
            json!([{ "col": "Net 30", "at_id": 2 }, { "col": "net 30 ", "at_id": 3 }]);
        assert_eq!(err_path(v), "field_mappings.payment_terms[1].col");
        let mut v = full();
        v["field_mappings"]["categories"][1] = json!({ "col_category": "hardware", "at_product_category_id": 12 });
        assert_eq!(err_path(v), "field_mappings.categories[1].col_sub_category");
    }

    #[test]
    fn ranges_and_formats_are_checked() {
        let mut v = full();
        v["field_mappings"]["quote_opportunity"]["probability"] = json!(101);
        assert_eq!(err_path(v), "field_mappings.quote_opportunity.probability");
        let mut v = full();
        v["bulk_sync"]["budget_share"] = json!(1.5);
        assert_eq!(err_path(v), "bulk_sync.budget_share");
        let mut v = full();
        v["bulk_sync"]["schedule"] = json!("every hour");
        assert_eq!(err_path(v), "bulk_sync.schedule");
        let mut v = full();
        v["field_mappings"]["new_company"]["owner_resource_id"] = json!(0);
        assert_eq!(err_path(v), "field_mappings.new_company.owner_resource_id");
    }

    #[test]
    fn merge_patch_changes_only_what_it_names() {
        // GIVEN full settings
        let s = TenantSettings::from_json(full()).unwrap();
        // WHEN a patch changes one nested value and removes the custom field name
        let patched = s
            .patched(&json!({ "bulk_sync": { "budget_share": 0.75 }, "opportunity_custom_field": null }))
            .unwrap();
        // THEN only those change
        assert_eq!(patched.bulk_sync.budget_share, 0.75);
        assert!(patched.bulk_sync.enabled);
        assert_eq!(patched.opportunity_custom_field, None);
        assert_eq!(patched.sales_reps, s.sales_reps);
        // AND an invalid patch is refused with its path
        let e = s
            .patched(&json!({ "sales_reps": [{ "col_sales_rep_id": "x" }] }))
            .unwrap_err();
        assert_eq!(e.path, "sales_reps[0]");
        assert!(e.message.contains("at_resource_id"), "{}", e.message);
    }

    #[test]
    fn category_lookup_prefers_exact_pair_then_category_then_default() {
        let s = TenantSettings::from_json(full()).unwrap();
        assert_eq!(s.product_category_for("hardware", Some("laptops")), Some(11));
        assert_eq!(s.product_category_for("Hardware", Some("Servers")), Some(10));
        assert_eq!(s.product_category_for("Software", None), Some(1));
    }
}
