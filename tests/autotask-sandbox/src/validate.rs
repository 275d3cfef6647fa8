//! Write validation the way Autotask answers it (HTTP 500 + `errors[]`): types, required fields,
//! read-only fields ignored, picklist and reference existence, owner must be an active non-API
//! resource, user-defined fields known to the entity's UDF metadata, QuoteItem item-field (one,
//! and the one its `quoteItemType` label calls for) and discount rules.

use serde_json::{Map, Value};

use crate::meta::{EntityMeta, FieldMeta};
use crate::refusal::Refusal;
use crate::state::{API_USER_LICENSE, Data, SandboxState, picklist_in, udfs_in};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    /// PATCH: only the properties sent change.
    Patch,
    /// PUT: writable properties not sent become null.
    Put,
}

const QUOTE_ITEM_FIELDS: &[&str] = &[
    "productID",
    "chargeID",
    "laborID",
    "expenseID",
    "shippingID",
    "serviceID",
    "serviceBundleID",
];

/// Maps the body's properties to the entity's field names (case-insensitive), checks JSON types
/// and drops what Autotask ignores (unknown and read-only properties, `id`).
pub fn writable_fields(
    body: &Map<String, Value>,
    meta: &EntityMeta,
    kind: WriteKind,
) -> Result<Map<String, Value>, Refusal> {
    let mut out = Map::new();
    for (key, value) in body {
        if key.eq_ignore_ascii_case("userDefinedFields") && meta.has_udfs {
            out.insert("userDefinedFields".into(), value.clone());
            continue;
        }
        let Some(field) = meta.field(key) else { continue };
        if field.name == "id" {
            continue;
        }
        check_type(field, value)?;
        let writable = !field.read_only || (kind == WriteKind::Create && field.create_only());
        if writable {
            out.insert(field.name.clone(), value.clone());
        }
    }
    Ok(out)
}

fn check_type(field: &FieldMeta, value: &Value) -> Result<(), Refusal> {
    let bad = match (field.data_type.as_str(), value) {
        (_, Value::Null) => None,
        ("integer" | "long" | "double", Value::Bool(b)) => Some(if *b { 't' } else { 'f' }),
        ("integer" | "long", Value::Number(n))
            if n.as_i64().is_none() && n.as_f64().is_some_and(|f| f.fract() != 0.0) =>
        {
            Some('.')
        }
        ("integer" | "long" | "double", Value::String(s)) if s.trim().parse::<f64>().is_err() => s.chars().next(),
        ("boolean", Value::String(s)) if s.parse::<bool>().is_err() => s.chars().next(),
        ("string", Value::Array(_) | Value::Object(_)) => Some('['),
        _ => None,
    };
    match bad {
        Some(c) => Err(Refusal::invalid(format!(
            "Unexpected character encountered while parsing value: {c}. Path '{}'.",
            field.name
        ))),
        None => {
            if let (Some(len), Value::String(s)) = (field.length, value)
                && s.chars().count() as i64 > len
            {
                return Err(Refusal::invalid(format!(
                    "{} exceeds the maximum length of {len} characters.",
                    field.name
                )));
            }
            Ok(())
        }
    }
}

/// Checks the merged record (after create/patch/put) against the entity's rules.
pub fn check_record(
    state: &SandboxState,
    data: &Data,
    meta: &EntityMeta,
    rec: &Map<String, Value>,
    sent: &Map<String, Value>,
) -> Result<(), Refusal> {
    let missing: Vec<String> = meta
        .fields
        .iter()
        .filter(|f| f.required && rec.get(&f.name).is_none_or(Value::is_null))
        .map(|f| format!("Missing Required Field: {}", f.name))
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::errors(http::StatusCode::INTERNAL_SERVER_ERROR, missing));
    }
    for (name, value) in sent {
        if value.is_null() {
            continue;
        }
        let Some(field) = meta.field(name) else { continue };
        if field.picklist
            && let Some(list) = picklist_in(data, &meta.collection, &field.name)
        {
            let v = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !list.iter().any(|(pv, _)| pv == &v) {
                return Err(Refusal::no_such_reference(&field.name));
            }
        }
        if let Some(target) = &field.reference
            && let Some(target_meta) = state.schema.entity(target)
        {
            let id = value.as_i64().or_else(|| value.as_str().and_then(|s| s.parse().ok()));
            let exists = id.is_some_and(|id| {
                data.records
                    .get(&target_meta.collection)
                    .is_some_and(|m| m.contains_key(&id))
            });
            if !exists {
                return Err(Refusal::no_such_reference(&field.name));
            }
        }
    }
    if let Some(owner) = sent.get("ownerResourceID").and_then(Value::as_i64) {
        let res = data.records.get("Resources").and_then(|m| m.get(&owner));
        let usable = res.is_some_and(|r| {
            r.get("isActive").and_then(Value::as_bool).unwrap_or(false)
                && r.get("licenseType").and_then(Value::as_i64) != Some(API_USER_LICENSE)
        });
        if !usable {
            // What Autotask really answers for an API-only or inactive owner: an opaque error.
            return Err(Refusal::unexpected(54_000 + owner.rem_euclid(1000)));
        }
    }
    if let Some(udfs) = sent.get("userDefinedFields") {
        check_udfs(udfs_in(data, &meta.collection), udfs)?;
    }
    if meta.collection == "QuoteItems" {
        let items: Vec<&str> = QUOTE_ITEM_FIELDS
            .iter()
            .copied()
            .filter(|f| rec.get(*f).is_some_and(|v| !v.is_null()))
            .collect();
        if items.len() > 1 {
            return Err(Refusal::invalid(
                "Each QuoteItem entity allows only one 'Item' field: productID, chargeID, laborID, expenseID, shippingID, serviceID or serviceBundleID.",
            ));
        }
        check_item_type(data, rec, items.first().copied())?;
        let discounts = ["unitDiscount", "percentageDiscount", "lineDiscount"]
            .iter()
            .filter(|f| rec.get(**f).and_then(Value::as_f64).unwrap_or(0.0) > 0.0)
            .count();
        if discounts > 1 {
            return Err(Refusal::invalid(
                "A QuoteItem can have no discount or only one type of discount: only one of unitDiscount, percentageDiscount and lineDiscount can be greater than 0.",
            ));
        }
    }
    Ok(())
}

/// `userDefinedFields` must be `[{name, value}]` naming UDFs the entity has (its UDF metadata).
fn check_udfs(defined: &[Value], sent: &Value) -> Result<(), Refusal> {
    // A wrong shape gets Autotask's opaque error (Anteris-Dev/autotask-client issue 34).
    let bad_shape = || Refusal::unexpected(54_634);
    for udf in sent.as_array().ok_or_else(bad_shape)? {
        let name = udf.get("name").and_then(Value::as_str).ok_or_else(bad_shape)?;
        let known = defined
            .iter()
            .any(|d| d["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)));
        if !known {
            return Err(Refusal::unknown_field(name));
        }
    }
    Ok(())
}

/// The item id field a `quoteItemType` label calls for; `None` for the types that have none
/// (Discount, Contract Setup Fee…). Labels, not codes: codes differ per Autotask instance.
fn item_field_of(label: &str) -> Option<&'static str> {
    let key: String = label
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    match key.as_str() {
        "product" => Some("productID"),
        "cost" | "charge" => Some("chargeID"),
        "labor" | "labour" => Some("laborID"),
        "expense" => Some("expenseID"),
        "shipping" => Some("shippingID"),
        "service" => Some("serviceID"),
        "servicebundle" => Some("serviceBundleID"),
        _ => None,
    }
}

/// The item id field set (`item`) must be the one the record's `quoteItemType` calls for, read
/// by the label of the seeded `quoteItemType` picklist (no picklist seeded: not checked).
fn check_item_type(data: &Data, rec: &Map<String, Value>, item: Option<&str>) -> Result<(), Refusal> {
    let Some(types) = picklist_in(data, "QuoteItems", "quoteItemType") else {
        return Ok(());
    };
    let code = match rec.get("quoteItemType") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Ok(()),
    };
    let Some((_, label)) = types.iter().find(|(v, _)| *v == code) else {
        return Ok(());
    };
    match (item_field_of(label), item) {
        (Some(want), Some(got)) if want == got => Ok(()),
        (None, None) => Ok(()),
        (Some(want), None) => Err(Refusal::invalid(format!(
            "A QuoteItem of type {label} ({code}) requires {want}."
        ))),
        (Some(want), Some(got)) => Err(Refusal::invalid(format!(
            "A QuoteItem of type {label} ({code}) requires {want}; {got} belongs to another quoteItemType."
        ))),
        (None, Some(got)) => Err(Refusal::invalid(format!(
            "A QuoteItem of type {label} ({code}) takes no 'Item' field; {got} belongs to another quoteItemType."
        ))),
    }
}
