//! Field-by-field comparison of what we want in Autotask with what is there.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

/// Money and quantities are equal within half a cent.
const TOLERANCE: f64 = 0.005;

/// The fields of `desired` whose value differs from `existing` (absent counts as null).
/// Field names are compared case-insensitively, as Autotask does.
pub fn changed_fields(desired: &Map<String, Value>, existing: &Map<String, Value>) -> Map<String, Value> {
    desired
        .iter()
        .filter(|(field, want)| {
            let have = existing
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field))
                .map(|(_, v)| v)
                .unwrap_or(&Value::Null);
            !same(want, have)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Equality as Autotask round-trips values: numbers within tolerance, integers sent as strings,
/// date-times in any ISO form, empty strings as null, surrounding whitespace ignored.
pub fn same(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Null, Value::Null) => true,
        (Value::String(s), Value::Null) | (Value::Null, Value::String(s)) => s.trim().is_empty(),
        (Value::Number(a), Value::Number(b)) => numbers_equal(a.as_f64(), b.as_f64()),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            numbers_equal(n.as_f64(), s.trim().parse().ok())
        }
        (Value::String(a), Value::String(b)) => match (instant(a), instant(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a.trim() == b.trim(),
        },
        (Value::Bool(a), Value::Number(n)) | (Value::Number(n), Value::Bool(a)) => {
            n.as_i64().is_some_and(|i| (i != 0) == *a)
        }
        _ => want == have,
    }
}

fn numbers_equal(a: Option<f64>, b: Option<f64>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if (a - b).abs() < TOLERANCE)
}

/// Parses the ISO forms Autotask sends: with or without zone, fraction, or time.
fn instant(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if s.len() < 10 || !s.as_bytes()[4].eq(&b'-') {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.naive_utc());
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(dt);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn equal_values_in_autotask_forms_are_not_changes() {
        let desired = obj(json!({
            "quantity": 2.0, "unitPrice": 10.004, "projectedCloseDate": "2026-12-01T00:00:00Z",
            "description": "", "paymentTerm": 3, "isOptional": false,
        }));
        let existing = obj(json!({
            "Quantity": 2, "unitPrice": 10.0, "projectedCloseDate": "2026-12-01T00:00:00.000",
            "description": null, "paymentTerm": "3", "isOptional": false, "extra": 1,
        }));
        assert!(changed_fields(&desired, &existing).is_empty());
    }

    #[test]
    fn differences_are_reported_with_the_desired_value() {
        let desired = obj(json!({ "quantity": 3.0, "name": "Switch", "expirationDate": "2026-12-02T00:00:00Z" }));
        let existing = obj(json!({ "quantity": 2.0, "name": "Switch ", "expirationDate": "2026-12-01T00:00:00.000Z" }));
        let changed = changed_fields(&desired, &existing);
        assert_eq!(
            changed,
            obj(json!({ "quantity": 3.0, "expirationDate": "2026-12-02T00:00:00Z" }))
        );
    }

    #[test]
    fn a_missing_field_is_a_change_unless_we_want_null() {
        let changed = changed_fields(&obj(json!({ "shippingType": 4, "comment": null })), &Map::new());
        assert_eq!(changed, obj(json!({ "shippingType": 4 })));
    }
}
