//! The Autotask query body (`QueryModel`): the full filter grammar, `includeFields`, `maxRecords`,
//! and the split of long `in` lists (Autotask allows at most 500 OR/IN conditions per query).

use serde::Serialize;
use serde_json::Value;

/// Autotask's cap on page size and on OR/IN conditions per query.
pub const MAX_RECORDS: u32 = 500;
pub const MAX_OR_CONDITIONS: usize = 500;

/// Filter operators, spelled exactly as Autotask expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "eq")]
    Eq,
    #[serde(rename = "noteq")]
    NotEq,
    #[serde(rename = "gt")]
    Gt,
    #[serde(rename = "gte")]
    Gte,
    #[serde(rename = "lt")]
    Lt,
    #[serde(rename = "lte")]
    Lte,
    #[serde(rename = "beginsWith")]
    BeginsWith,
    #[serde(rename = "endsWith")]
    EndsWith,
    #[serde(rename = "contains")]
    Contains,
    #[serde(rename = "exist")]
    Exist,
    #[serde(rename = "notExist")]
    NotExist,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "notIn")]
    NotIn,
    #[serde(rename = "and")]
    And,
    #[serde(rename = "or")]
    Or,
}

/// One filter condition or group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Filter {
    pub op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub udf: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Filter>,
}

impl Filter {
    fn cmp(op: Op, field: &str, value: impl Into<Value>) -> Self {
        Self {
            op,
            field: Some(field.to_owned()),
            value: Some(value.into()),
            udf: false,
            items: vec![],
        }
    }

    pub fn eq(field: &str, value: impl Into<Value>) -> Self {
        Self::cmp(Op::Eq, field, value)
    }
    pub fn not_eq(field: &str, value: impl Into<Value>) -> Self {
        Self::cmp(Op::NotEq, field, value)
    }
    pub fn gt(field: &str, value: impl Into<Value>) -> Self {
        Self::cmp(Op::Gt, field, value)
    }
    pub fn gte(field: &str, value: impl Into<Value>) -> Self {
        Self::cmp(Op::Gte, field, value)
    }
    pub fn lt(field: &str, value: impl Into<Value>) -> Self {
        Self::cmp(Op::Lt, field, value)
    }
    pub fn lte(field: &str, value: impl Into<Value>) -> Self {
        Self::cmp(Op::Lte, field, value)
    }
    pub fn begins_with(field: &str, value: &str) -> Self {
        Self::cmp(Op::BeginsWith, field, value)
    }
    pub fn ends_with(field: &str, value: &str) -> Self {
        Self::cmp(Op::EndsWith, field, value)
    }
    pub fn contains(field: &str, value: &str) -> Self {
        Self::cmp(Op::Contains, field, value)
    }
    pub fn exist(field: &str) -> Self {
        Self {
            op: Op::Exist,
            field: Some(field.to_owned()),
            value: None,
            udf: false,
            items: vec![],
        }
    }
    pub fn not_exist(field: &str) -> Self {
        Self {
            op: Op::NotExist,
            ..Self::exist(field)
        }
    }
    pub fn is_in<V: Into<Value>>(field: &str, values: impl IntoIterator<Item = V>) -> Self {
        let list: Vec<Value> = values.into_iter().map(Into::into).collect();
        Self::cmp(Op::In, field, Value::Array(list))
    }
    pub fn not_in<V: Into<Value>>(field: &str, values: impl IntoIterator<Item = V>) -> Self {
        Self {
            op: Op::NotIn,
            ..Self::is_in(field, values)
        }
    }
    pub fn and(items: Vec<Filter>) -> Self {
        Self {
            op: Op::And,
            field: None,
            value: None,
            udf: false,
            items,
        }
    }
    pub fn or(items: Vec<Filter>) -> Self {
        Self {
            op: Op::Or,
            field: None,
            value: None,
            udf: false,
            items,
        }
    }
    /// Marks the condition as a user-defined-field condition (`"udf": true`).
    pub fn udf(mut self) -> Self {
        self.udf = true;
        self
    }

    /// OR/IN conditions this filter costs against Autotask's limit of 500.
    pub fn or_conditions(&self) -> usize {
        match self.op {
            Op::In | Op::NotIn => self.value.as_ref().and_then(Value::as_array).map_or(0, Vec::len),
            Op::Or => self.items.len().max(1) - 1 + self.items.iter().map(Filter::or_conditions).sum::<usize>(),
            _ => self.items.iter().map(Filter::or_conditions).sum(),
        }
    }

    fn udf_count(&self) -> usize {
        usize::from(self.udf) + self.items.iter().map(Filter::udf_count).sum::<usize>()
    }
}

/// A query body: top-level filters are ANDed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    pub filter: Vec<Filter>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include_fields: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records: Option<u32>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("maxRecords must be between 1 and {MAX_RECORDS}, got {0}")]
    MaxRecords(u32),
    #[error("the query has {0} OR/IN conditions outside one top-level `in` list; Autotask allows {MAX_OR_CONDITIONS}")]
    TooManyConditions(usize),
    #[error("the query filters on {0} user-defined fields; Autotask allows one per query")]
    TooManyUdfs(usize),
}

impl Query {
    /// An empty filter is not reliably accepted, so "everything" is `id gte 0` (Autotask's idiom).
    pub fn all() -> Self {
        Self::filter(vec![Filter::gte("id", 0)])
    }

    pub fn filter(filter: Vec<Filter>) -> Self {
        Self {
            filter,
            include_fields: vec![],
            max_records: None,
        }
    }

    pub fn and(mut self, filter: Filter) -> Self {
        self.filter.push(filter);
        self
    }

    /// Returns only these fields. `id` is added: Autotask needs it to page past 500 rows.
    pub fn include_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.include_fields = fields.into_iter().map(Into::into).collect();
        if !self.include_fields.iter().any(|f| f.eq_ignore_ascii_case("id")) {
            self.include_fields.insert(0, "id".to_owned());
        }
        self
    }

    pub fn max_records(mut self, n: u32) -> Self {
        self.max_records = Some(n);
        self
    }

    /// Checks the limits Autotask enforces and splits the largest top-level `in` list into
    /// queries of at most 500 values each (the union of their results is the original result).
    pub fn split(&self) -> Result<Vec<Query>, QueryError> {
        if let Some(n) = self.max_records
            && !(1..=MAX_RECORDS).contains(&n)
        {
            return Err(QueryError::MaxRecords(n));
        }
        let udfs: usize = self.filter.iter().map(Filter::udf_count).sum();
        if udfs > 1 {
            return Err(QueryError::TooManyUdfs(udfs));
        }
        let big_in = self
            .filter
            .iter()
            .enumerate()
            .filter(|(_, f)| f.op == Op::In)
            .max_by_key(|(_, f)| f.or_conditions())
            .filter(|(_, f)| f.or_conditions() > MAX_OR_CONDITIONS)
            .map(|(i, _)| i);
        let rest: usize = self
            .filter
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != big_in)
            .map(|(_, f)| f.or_conditions())
            .sum();
        let Some(idx) = big_in else {
            if rest > MAX_OR_CONDITIONS {
                return Err(QueryError::TooManyConditions(rest));
            }
            return Ok(vec![self.clone()]);
        };
        let budget = MAX_OR_CONDITIONS.saturating_sub(rest);
        if budget == 0 {
            return Err(QueryError::TooManyConditions(rest));
        }
        let values = self.filter[idx]
            .value
            .as_ref()
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(values
            .chunks(budget)
            .map(|chunk| {
                let mut q = self.clone();
                q.filter[idx].value = Some(Value::Array(chunk.to_vec()));
                q
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_the_grammar_as_autotask_expects() {
        let q = Query::filter(vec![
            Filter::eq("isActive", true),
            Filter::or(vec![
                Filter::begins_with("companyName", "Acme"),
                Filter::not_exist("phone"),
            ]),
            Filter::eq("Customer Ranking", "Gold").udf(),
        ])
        .include_fields(["companyName"])
        .max_records(50);
        let v = serde_json::to_value(&q).unwrap();
        assert_eq!(
            v,
            json!({
                "filter": [
                    {"op": "eq", "field": "isActive", "value": true},
                    {"op": "or", "items": [
                        {"op": "beginsWith", "field": "companyName", "value": "Acme"},
                        {"op": "notExist", "field": "phone"}
                    ]},
                    {"op": "eq", "field": "Customer Ranking", "value": "Gold", "udf": true}
                ],
                "includeFields": ["id", "companyName"],
                "maxRecords": 50
            })
        );
    }

    #[test]
    fn in_lists_split_at_500_and_keep_other_filters() {
        let q = Query::filter(vec![Filter::eq("isActive", true), Filter::is_in("id", 1..=1200)]);
        let parts = q.split().unwrap();
        let sizes: Vec<usize> = parts.iter().map(|p| p.filter[1].or_conditions()).collect();
        assert_eq!(sizes, vec![500, 500, 200]);
        assert!(parts.iter().all(|p| p.filter[0] == Filter::eq("isActive", true)));
        let all: Vec<i64> = parts
            .iter()
            .flat_map(|p| p.filter[1].value.as_ref().unwrap().as_array().unwrap().clone())
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(all, (1..=1200).collect::<Vec<_>>());
    }

    #[test]
    fn limits_are_checked_before_sending() {
        assert_eq!(Query::all().max_records(501).split(), Err(QueryError::MaxRecords(501)));
        let two_udfs = Query::filter(vec![Filter::eq("A", "1").udf(), Filter::eq("B", "2").udf()]);
        assert_eq!(two_udfs.split(), Err(QueryError::TooManyUdfs(2)));
        let nested = Query::filter(vec![Filter::or(vec![Filter::not_in("id", 0..600)])]);
        assert!(matches!(nested.split(), Err(QueryError::TooManyConditions(_))));
    }
}
