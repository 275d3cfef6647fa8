//! Contract check: every request the Autotask client can build (method, path template, body
//! property names) exists in Kaseya's swagger, as kept in the repository's compact reference
//! (`reference/autotask/autotask-reference.json`, see `reference/autotask/regenerate.py`).

use serde_json::Value;
use shared::autotask::client::{global_request_templates, request_templates};
use shared::autotask::query::{Filter, Query};
use shared::autotask::*;

const REFERENCE: &str = include_str!("../../reference/autotask/autotask-reference.json");

fn swagger() -> Value {
    serde_json::from_str(REFERENCE).expect("the reference is JSON")
}

/// The property names of a swagger model.
fn properties(spec: &Value, model: &str) -> Vec<String> {
    spec["models"][model]
        .as_array()
        .unwrap_or_else(|| panic!("the reference has no model {model}"))
        .iter()
        .map(|p| p.as_str().expect("property names are strings").to_owned())
        .collect()
}

/// Whether the swagger lists `method` (any case) on `path`.
fn has_route(spec: &Value, method: &str, path: &str) -> bool {
    spec["paths"][path].as_array().is_some_and(|verbs| {
        verbs
            .iter()
            .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(method)))
    })
}

fn check_entity<E: Entity>(spec: &Value, problems: &mut Vec<String>) {
    let props = properties(spec, E::MODEL);
    for field in E::FIELDS {
        if !props.iter().any(|p| p == field) {
            problems.push(format!("{}: field {field} is not in {}", E::COLLECTION, E::MODEL));
        }
    }
    for (method, path) in request_templates::<E>() {
        if !has_route(spec, method.as_str(), &path) {
            problems.push(format!("{}: {method} {path} is not in the swagger", E::COLLECTION));
        }
    }
}

#[test]
fn every_request_the_client_builds_is_in_the_swagger() {
    let spec = swagger();
    let mut problems = Vec::new();
    check_entity::<Company>(&spec, &mut problems);
    check_entity::<Contact>(&spec, &mut problems);
    check_entity::<Opportunity>(&spec, &mut problems);
    check_entity::<Quote>(&spec, &mut problems);
    check_entity::<QuoteLocation>(&spec, &mut problems);
    check_entity::<QuoteItem>(&spec, &mut problems);
    check_entity::<Product>(&spec, &mut problems);
    check_entity::<Service>(&spec, &mut problems);
    check_entity::<ServiceBundle>(&spec, &mut problems);
    check_entity::<BillingCode>(&spec, &mut problems);
    check_entity::<Role>(&spec, &mut problems);
    check_entity::<Resource>(&spec, &mut problems);
    check_entity::<ShippingType>(&spec, &mut problems);
    check_entity::<PaymentTerm>(&spec, &mut problems);
    for (method, path) in global_request_templates() {
        if !has_route(&spec, method.as_str(), &path) {
            problems.push(format!("{method} {path} is not in the swagger"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn bodies_use_only_swagger_property_names() {
    let spec = swagger();
    // Query body: QueryModel and Filter.
    let q = Query::filter(vec![Filter::or(vec![Filter::eq("id", 1), Filter::eq("X", "y").udf()])])
        .include_fields(["id"])
        .max_records(5);
    let v = serde_json::to_value(&q).unwrap();
    let qm = properties(&spec, "QueryModel");
    assert!(v.as_object().unwrap().keys().all(|k| qm.contains(k)), "{v}");
    let fm = properties(&spec, "Filter");
    let mut stack = v["filter"].as_array().unwrap().clone();
    while let Some(f) = stack.pop() {
        assert!(f.as_object().unwrap().keys().all(|k| fm.contains(k)), "{f}");
        stack.extend(f["items"].as_array().cloned().unwrap_or_default());
    }
    // UDF shape and the threshold answer.
    let udf = serde_json::to_value(UserDefinedField::new("a", "b")).unwrap();
    let um = properties(&spec, "UserDefinedField");
    assert!(udf.as_object().unwrap().keys().all(|k| um.contains(k)));
    let t = serde_json::to_value(ThresholdInformation {
        external_request_threshold: 1,
        request_threshold_timeframe: 1,
        current_timeframe_request_count: 1,
    })
    .unwrap();
    let tm = properties(&spec, "ThresholdStatusResultModel");
    assert!(t.as_object().unwrap().keys().all(|k| tm.contains(k)));
    // A full patch body serialises only modelled names.
    let patch = CompanyPatch {
        phone: Patch::Set("1".into()),
        fax: Patch::Null,
        ..CompanyPatch::new(1)
    };
    let pv = serde_json::to_value(&patch).unwrap();
    let cm = properties(&spec, "CompanyModel");
    assert!(pv.as_object().unwrap().keys().all(|k| cm.contains(k)), "{pv}");
}
