//! Query evaluation: QueryModel keys and field names case-insensitive, the documented operators,
//! the errors Autotask gives (unknown field, non-queryable field, > 500 OR/IN conditions, more than
//! one UDF, maxRecords outside 1..=500), `includeFields` projection.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::meta::EntityMeta;
use crate::refusal::Refusal;

pub const MAX_RECORDS: usize = 500;

/// A parsed, validated query body.
#[derive(Debug, Clone)]
pub struct ParsedQuery {
    pub filter: Vec<Cond>,
    pub include_fields: Vec<String>,
    pub max_records: usize,
}

impl ParsedQuery {
    /// The user-defined fields the filter names (checked against the entity's UDF metadata).
    pub fn udf_names(&self) -> Vec<&str> {
        fn walk<'a>(c: &'a Cond, out: &mut Vec<&'a str>) {
            match c {
                Cond::Field { field, udf: true, .. } => out.push(field),
                Cond::Field { .. } => {}
                Cond::And(items) | Cond::Or(items) => items.iter().for_each(|i| walk(i, out)),
            }
        }
        let mut out = Vec::new();
        self.filter.iter().for_each(|c| walk(c, &mut out));
        out
    }
}

#[derive(Debug, Clone)]
pub enum Cond {
    Field {
        op: String,
        field: String,
        udf: bool,
        value: Value,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

pub fn parse(body: &Value, meta: &EntityMeta) -> Result<ParsedQuery, Refusal> {
    let obj = body
        .as_object()
        .ok_or_else(|| Refusal::invalid("The query body is not a JSON object."))?;
    let max_records = match get_ci(obj, "maxRecords") {
        None | Some(Value::Null) => MAX_RECORDS,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=MAX_RECORDS as i64).contains(&n) => n as usize,
            _ => {
                return Err(Refusal::invalid(format!(
                    "MaxRecords must be between 1 and {MAX_RECORDS}. Value provided: {v}"
                )));
            }
        },
    };
    let mut include_fields = Vec::new();
    for f in get_ci(obj, "includeFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = f.as_str().unwrap_or_default();
        let field = meta.field(name).ok_or_else(|| Refusal::unknown_field(name))?;
        include_fields.push(field.name.clone());
    }
    let raw = get_ci(obj, "filter")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if raw.is_empty() {
        return Err(Refusal::invalid("A query must contain at least one filter."));
    }
    let filter = raw.iter().map(|f| parse_cond(f, meta)).collect::<Result<Vec<_>, _>>()?;
    let conditions: usize = filter.iter().map(or_conditions).sum();
    if conditions > 500 {
        return Err(Refusal::invalid(
            "Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions.",
        ));
    }
    if filter.iter().map(udf_count).sum::<usize>() > 1 {
        return Err(Refusal::invalid(
            "You can only query by one user-defined field at a time.",
        ));
    }
    Ok(ParsedQuery {
        filter,
        include_fields,
        max_records,
    })
}

fn parse_cond(v: &Value, meta: &EntityMeta) -> Result<Cond, Refusal> {
    let obj = v
        .as_object()
        .ok_or_else(|| Refusal::invalid("A filter must be a JSON object."))?;
    let op = get_ci(obj, "op")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if op == "and" || op == "or" {
        let items = get_ci(obj, "items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let parsed = items
            .iter()
            .map(|i| parse_cond(i, meta))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if op == "and" {
            Cond::And(parsed)
        } else {
            Cond::Or(parsed)
        });
    }
    const OPS: &[&str] = &[
        "eq",
        "noteq",
        "gt",
        "gte",
        "lt",
        "lte",
        "beginswith",
        "endswith",
        "contains",
        "exist",
        "notexist",
        "in",
        "notin",
    ];
    if !OPS.contains(&op.as_str()) {
        return Err(Refusal::invalid(format!("Invalid filter operator: {op}")));
    }
    let name = get_ci(obj, "field").and_then(Value::as_str).unwrap_or_default();
    let udf = get_ci(obj, "udf").and_then(Value::as_bool).unwrap_or(false);
    let value = get_ci(obj, "value").cloned().unwrap_or(Value::Null);
    let field = if udf {
        if !meta.has_udfs {
            return Err(Refusal::unknown_field(name));
        }
        name.to_owned()
    } else {
        let f = meta.field(name).ok_or_else(|| Refusal::unknown_field(name))?;
        if !f.queryable {
            return Err(Refusal::invalid(format!("The field {} cannot be queried.", f.name)));
        }
        if f.data_type == "boolean"
            && !matches!(value, Value::Bool(_) | Value::Null)
            && !matches!(op.as_str(), "exist" | "notexist")
        {
            return Err(Refusal::invalid(format!(
                "Invalid value for {}: boolean values must be true or false.",
                f.name
            )));
        }
        f.name.clone()
    };
    if matches!(op.as_str(), "in" | "notin") && !value.is_array() {
        return Err(Refusal::invalid(format!("The {op} operator requires an array value.")));
    }
    Ok(Cond::Field { op, field, udf, value })
}

fn or_conditions(c: &Cond) -> usize {
    match c {
        Cond::Field { op, value, .. } if op == "in" || op == "notin" => value.as_array().map_or(0, Vec::len),
        Cond::Field { .. } => 0,
        Cond::And(items) => items.iter().map(or_conditions).sum(),
        Cond::Or(items) => items.len().saturating_sub(1) + items.iter().map(or_conditions).sum::<usize>(),
    }
}

fn udf_count(c: &Cond) -> usize {
    match c {
        Cond::Field { udf, .. } => usize::from(*udf),
        Cond::And(items) | Cond::Or(items) => items.iter().map(udf_count).sum(),
    }
}

pub fn matches(cond: &Cond, rec: &Map<String, Value>) -> bool {
    match cond {
        Cond::And(items) => items.iter().all(|c| matches(c, rec)),
        Cond::Or(items) => items.iter().any(|c| matches(c, rec)),
        Cond::Field { op, field, udf, value } => {
            let actual = if *udf {
                rec.get("userDefinedFields")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter().find(|u| {
                            u.get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| n.eq_ignore_ascii_case(field))
                        })
                    })
                    .and_then(|u| u.get("value"))
                    .cloned()
                    .unwrap_or(Value::Null)
            } else {
                rec.get(field).cloned().unwrap_or(Value::Null)
            };
            eval(op, &actual, value)
        }
    }
}

fn eval(op: &str, actual: &Value, expected: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    };
    match op {
        "exist" => !actual.is_null(),
        "notexist" => actual.is_null(),
        "eq" => compare(actual, expected) == Some(Ordering::Equal),
        "noteq" => compare(actual, expected) != Some(Ordering::Equal),
        "gt" => compare(actual, expected) == Some(Ordering::Greater),
        "gte" => matches!(compare(actual, expected), Some(Ordering::Greater | Ordering::Equal)),
        "lt" => compare(actual, expected) == Some(Ordering::Less),
        "lte" => matches!(compare(actual, expected), Some(Ordering::Less | Ordering::Equal)),
        "beginswith" => !actual.is_null() && text(actual).starts_with(&text(expected)),
        "endswith" => !actual.is_null() && text(actual).ends_with(&text(expected)),
        "contains" => !actual.is_null() && text(actual).contains(&text(expected)),
        "in" => expected
            .as_array()
            .is_some_and(|l| l.iter().any(|e| compare(actual, e) == Some(Ordering::Equal))),
        "notin" => expected
            .as_array()
            .is_some_and(|l| l.iter().all(|e| compare(actual, e) != Some(Ordering::Equal))),
        _ => false,
    }
}

/// Numbers numerically (strings holding numbers too), date-times as instants, strings
/// case-insensitively (Autotask's collation), booleans for equality.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::String(y)) | (Value::String(y), Value::Bool(x)) => {
            y.parse::<bool>().ok().map(|y| x.cmp(&y))
        }
        (Value::String(x), Value::String(y)) => {
            if let (Some(dx), Some(dy)) = (datetime(x), datetime(y)) {
                return Some(dx.cmp(&dy));
            }
            Some(x.to_lowercase().cmp(&y.to_lowercase()))
        }
        _ => num(a)?.partial_cmp(&num(b)?),
    }
}

fn datetime(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.naive_utc())
        .ok()
        .or_else(|| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// The record as Autotask returns it: every model field (null when empty), or only
/// `includeFields`; `userDefinedFields` only when one has a value.
pub fn project(rec: &Map<String, Value>, meta: &EntityMeta, include: &[String]) -> Value {
    let mut out = Map::new();
    for f in &meta.fields {
        if include.is_empty() || include.iter().any(|i| i == &f.name) {
            out.insert(f.name.clone(), rec.get(&f.name).cloned().unwrap_or(Value::Null));
        }
    }
    if meta.has_udfs
        && let Some(udfs) = rec.get("userDefinedFields").and_then(Value::as_array)
        && udfs.iter().any(|u| u.get("value").is_some_and(|v| !v.is_null()))
    {
        out.insert("userDefinedFields".into(), Value::Array(udfs.clone()));
    }
    Value::Object(out)
}
