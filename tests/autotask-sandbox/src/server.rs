//! Request dispatch. Paths are matched case-insensitively (as Autotask does), so routing is done
//! by hand on the lower-cased segments rather than with a static router.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use crate::SandboxConfig;
use crate::control::{Chaos, Controls, FaultKind, FaultRule};
use crate::meta::EntityMeta;
use crate::query::{self, ParsedQuery};
use crate::refusal::Refusal;
use crate::state::{SandboxState, insert_locked, now};
use crate::validate::{WriteKind, check_record, writable_fields};

pub(crate) struct App {
    pub config: SandboxConfig,
    pub state: SandboxState,
    pub controls: Controls,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    /// The current zone number; REST calls under another `/zoneN` prefix get 401.
    pub zone: AtomicU32,
}

type Outcome = Result<Value, Refusal>;

/// The longest GET URL Autotask serves (scheme, host, path and query string).
const MAX_GET_URL: usize = 2048;

pub(crate) async fn dispatch(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let lower = path.to_ascii_lowercase();
    if let Some(admin) = lower.strip_prefix("/__admin/") {
        return admin_call(&app, &method, admin, &body).into_response();
    }
    if lower == "/atservicesrest/v1.0/zoneinformation" {
        app.controls.record_call("GET", "zoneInformation");
        return zone_information(&app, &uri).into_response();
    }
    if lower == "/atservicesrest/versioninformation" {
        return axum::Json(json!({"apiVersions": ["1.0"]})).into_response();
    }
    // Optional `/zoneN` prefix: the zone host the client was sent to.
    let (zone, rest) = match lower.strip_prefix("/zone").and_then(|r| r.split_once('/')) {
        Some((n, r)) => (n.parse::<u32>().ok(), format!("/{r}")),
        None => (None, lower.clone()),
    };
    let Some(rest) = rest.strip_prefix("/atservicesrest/v1.0/") else {
        return Refusal::route_not_found().into_response();
    };
    // IIS request filtering refuses long GET URLs before the API sees them (not counted).
    if method == Method::GET && app.origin.len() + uri.to_string().len() > MAX_GET_URL {
        return Refusal::url_too_long().into_response();
    }
    let segs: Vec<String> = rest.split('/').map(str::to_owned).collect();
    let endpoint = endpoint_name(&app, &segs);

    if let Err(r) = authenticate(&app, &headers, zone) {
        return r.into_response();
    }
    app.controls.record_call(method.as_str(), &endpoint);
    if app.state.count_request() > app.config.hourly_limit {
        return Refusal::throttled(app.config.throttle_retry_after_secs, app.config.hourly_limit).into_response();
    }
    let code = header(&headers, "ApiIntegrationCode").unwrap_or_default();
    if !app.controls.enter(&code, &endpoint, app.config.thread_limit) {
        return Refusal::thread_limit(app.config.thread_limit).into_response();
    }
    let _slot = Slot {
        controls: &app.controls,
        code: &code,
        endpoint: &endpoint,
    };
    let write = method != Method::GET && !segs.iter().any(|s| s.eq_ignore_ascii_case("query"));
    let fault = app.controls.take_fault(method.as_str(), &endpoint, write);
    match &fault {
        Some(FaultKind::Throttle { retry_after_secs }) => {
            return Refusal::throttled(*retry_after_secs, app.config.hourly_limit).into_response();
        }
        Some(FaultKind::ServerError) => return Refusal::errors(StatusCode::INTERNAL_SERVER_ERROR, []).into_response(),
        Some(FaultKind::ThreadLimit) => return Refusal::thread_limit(app.config.thread_limit).into_response(),
        Some(FaultKind::Timeout { delay_ms }) => tokio::time::sleep(Duration::from_millis(*delay_ms)).await,
        Some(FaultKind::NoCommit { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
            return Refusal::errors(StatusCode::SERVICE_UNAVAILABLE, []).into_response();
        }
        Some(FaultKind::ValidationError) => {
            return Refusal::invalid(format!(
                "{endpoint}: a value of the request was refused (injected fault)"
            ))
            .into_response();
        }
        _ => {}
    }
    let latency = app.controls.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let impersonation = header(&headers, "ImpersonationResourceId").and_then(|v| v.parse::<i64>().ok());
    let outcome = route(&app, &method, &uri, &segs, &body, impersonation);
    match fault {
        Some(FaultKind::LoseResponse { delay_ms }) => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
        Some(FaultKind::ConnectionReset) => return broken_answer(),
        _ => {}
    }
    match outcome {
        Ok(v) => axum::Json(v).into_response(),
        Err(r) => r.into_response(),
    }
}

/// A 200 whose body breaks off after a few bytes, as when the connection is reset mid-answer.
fn broken_answer() -> Response {
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"item")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset (injected fault)",
        )),
    ];
    Response::new(axum::body::Body::from_stream(futures_util::stream::iter(parts)))
}

/// Releases the thread-limit slot however the handler exits.
struct Slot<'a> {
    controls: &'a Controls,
    code: &'a str,
    endpoint: &'a str,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.controls.leave(self.code, self.endpoint);
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Thread-limit and counter bucket: the collection (child routes count on the child).
fn endpoint_name(app: &App, segs: &[String]) -> String {
    let schema = &app.state.schema;
    if segs.len() >= 3
        && segs[1].parse::<i64>().is_ok()
        && let Some(child) = schema.child(&segs[0], &segs[2])
    {
        return child.collection.clone();
    }
    match segs.first().map(String::as_str) {
        Some("thresholdinformation") => "ThresholdInformation".to_owned(),
        Some(first) => schema
            .entity(first)
            .map_or_else(|| first.to_owned(), |e| e.collection.clone()),
        None => String::new(),
    }
}

fn authenticate(app: &App, headers: &HeaderMap, zone: Option<u32>) -> Result<(), Refusal> {
    let unauthorized = || {
        Refusal::errors(
            StatusCode::UNAUTHORIZED,
            ["Authorization has been denied for this request.".to_owned()],
        )
    };
    if zone.is_some_and(|z| z != app.zone.load(Ordering::SeqCst)) {
        return Err(unauthorized());
    }
    let user_ok = header(headers, "UserName").is_some_and(|u| u.eq_ignore_ascii_case(&app.config.username));
    let secret_ok = header(headers, "Secret").is_some_and(|s| s == app.config.secret);
    if !user_ok || !secret_ok {
        return Err(unauthorized());
    }
    if header(headers, "ApiIntegrationCode").is_none_or(|c| c != app.config.integration_code) {
        return Err(Refusal::errors(
            app.config.integration_code_error_status,
            ["IntegrationCode is invalid.".to_owned()],
        ));
    }
    Ok(())
}

fn zone_information(app: &App, uri: &Uri) -> Response {
    let user = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("user"))
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if user.is_empty() || !user.eq_ignore_ascii_case(&app.config.username) {
        return Refusal::invalid("Zone information could not be determined").into_response();
    }
    let zone = app.zone.load(Ordering::SeqCst);
    axum::Json(json!({
        "zoneName": format!("Sandbox Zone {zone}"),
        "url": format!("{}/zone{zone}/ATServicesRest/", app.origin),
        "webUrl": format!("{}/", app.origin),
        "ci": 1,
    }))
    .into_response()
}

fn route(app: &App, method: &Method, uri: &Uri, segs: &[String], body: &Bytes, imp: Option<i64>) -> Outcome {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    if s == ["thresholdinformation"] {
        return if method == Method::GET {
            Ok(json!({
                "externalRequestThreshold": app.config.hourly_limit,
                "requestThresholdTimeframe": 60,
                "currentTimeframeRequestCount": app.state.requests_this_hour(),
            }))
        } else {
            Err(Refusal::method_not_allowed(method.as_str()))
        };
    }
    let schema = app.state.schema.clone();
    // Child routes: /{Parent}/{parentId}/{Segment}[/{id}]
    if s.len() >= 3
        && let Ok(pid) = s[1].parse::<i64>()
        && let Some(meta) = schema.child(s[0], s[2])
    {
        let child = meta.routes.child.clone().expect("child route");
        return match (&s[3..], method.as_str()) {
            ([], m) if child.verbs.iter().any(|v| v == m) => match m {
                "GET" => list_children(app, meta, &child.parent_field, pid),
                "POST" => create(app, meta, &json_body(body)?, Some((&child.parent_field, pid)), imp),
                "PATCH" => update(
                    app,
                    meta,
                    &json_body(body)?,
                    WriteKind::Patch,
                    Some((&child.parent_field, pid)),
                ),
                _ => update(
                    app,
                    meta,
                    &json_body(body)?,
                    WriteKind::Put,
                    Some((&child.parent_field, pid)),
                ),
            },
            ([], m) => Err(Refusal::method_not_allowed(m)),
            ([id], m) => {
                let id = id.parse::<i64>().map_err(|_| Refusal::route_not_found())?;
                match m {
                    "GET" if child.item_verbs.iter().any(|v| v == "GET") => {
                        get_one(app, meta, id, Some((&child.parent_field, pid)))
                    }
                    "DELETE" if child.item_verbs.iter().any(|v| v == "DELETE") => {
                        delete(app, meta, id, Some((&child.parent_field, pid)))
                    }
                    _ => Err(Refusal::method_not_allowed(m)),
                }
            }
            _ => Err(Refusal::route_not_found()),
        };
    }
    let Some(meta) = schema.entity(s.first().copied().unwrap_or_default()) else {
        return Err(Refusal::route_not_found());
    };
    let m = method.as_str();
    match &s[1..] {
        [] => {
            if meta.routes.root.is_empty() {
                // Child entities have no root write route at all: IIS answers 404.
                return Err(Refusal::route_not_found());
            }
            if !meta.routes.root.iter().any(|v| v == m) {
                return Err(Refusal::method_not_allowed(m));
            }
            match m {
                "POST" => create(app, meta, &json_body(body)?, None, imp),
                "PATCH" => update(app, meta, &json_body(body)?, WriteKind::Patch, None),
                _ => update(app, meta, &json_body(body)?, WriteKind::Put, None),
            }
        }
        ["query"] => match m {
            "POST" => run_query(app, meta, &json_body(body)?, None, None),
            "GET" => {
                let search =
                    param(uri, "search").ok_or_else(|| Refusal::invalid("The search parameter is required."))?;
                let q: Value =
                    serde_json::from_str(&search).map_err(|e| Refusal::invalid(format!("Invalid search: {e}")))?;
                run_query(app, meta, &q, None, Some(&search))
            }
            _ => Err(Refusal::method_not_allowed(m)),
        },
        ["query", "count"] => {
            let q = match m {
                "POST" => json_body(body)?,
                "GET" => serde_json::from_str(&param(uri, "search").unwrap_or_default())
                    .map_err(|e| Refusal::invalid(format!("Invalid search: {e}")))?,
                _ => return Err(Refusal::method_not_allowed(m)),
            };
            let parsed = parse_query(app, meta, &q)?;
            let d = app.state.lock();
            let n = d.records.get(&meta.collection).map_or(0, |recs| {
                recs.values()
                    .filter(|r| parsed.filter.iter().all(|c| query::matches(c, r)))
                    .count()
            });
            Ok(json!({ "queryCount": n }))
        }
        ["query", "next"] => {
            let after = param(uri, "paging")
                .and_then(|p| decode_paging(&p))
                .ok_or_else(|| Refusal::invalid("Invalid paging parameter."))?;
            match (m, param(uri, "search")) {
                ("POST", _) => run_query(app, meta, &json_body(body)?, Some(after), None),
                ("GET", Some(search)) => {
                    let q: Value =
                        serde_json::from_str(&search).map_err(|e| Refusal::invalid(format!("Invalid search: {e}")))?;
                    run_query(app, meta, &q, Some(after), Some(&search))
                }
                // A POST query's next page: POST only.
                _ => Err(Refusal::method_not_allowed(m)),
            }
        }
        ["entityinformation"] => Ok(json!({"info": {
            "name": meta.collection,
            "canCreate": meta.routes.root.iter().any(|v| v == "POST") || meta.routes.child.as_ref().is_some_and(|c| c.verbs.iter().any(|v| v == "POST")),
            "canUpdate": meta.routes.root.iter().any(|v| v == "PATCH") || meta.routes.child.as_ref().is_some_and(|c| c.verbs.iter().any(|v| v == "PATCH")),
            "canDelete": meta.routes.item.iter().any(|v| v == "DELETE") || meta.routes.child.as_ref().is_some_and(|c| c.item_verbs.iter().any(|v| v == "DELETE")),
            "canQuery": true,
            "hasUserDefinedFields": meta.has_udfs,
        }})),
        ["entityinformation", "fields"] => Ok(json!({ "fields": field_information(app, meta) })),
        ["entityinformation", "userdefinedfields"] => {
            Ok(json!({ "fields": app.state.user_defined_fields(&meta.collection) }))
        }
        [id] => {
            let Ok(id) = id.parse::<i64>() else {
                return Err(Refusal::route_not_found());
            };
            match m {
                "GET" => get_one(app, meta, id, None),
                "DELETE" if meta.routes.item.iter().any(|v| v == "DELETE") => delete(app, meta, id, None),
                // PATCH/PUT go to the collection URL with the id in the body.
                _ => Err(Refusal::method_not_allowed(m)),
            }
        }
        _ => Err(Refusal::route_not_found()),
    }
}

fn param(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

fn json_body(body: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| Refusal::invalid(format!("Unexpected character encountered while parsing value: {e}")))
}

fn encode_paging(after: i64) -> String {
    hex::encode(json!({ "previousId": after }).to_string())
}

fn decode_paging(raw: &str) -> Option<i64> {
    let bytes = hex::decode(raw).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("previousId")?
        .as_i64()
}

/// Parses the query and checks the user-defined fields it filters on exist on the entity.
fn parse_query(app: &App, meta: &EntityMeta, body: &Value) -> Result<ParsedQuery, Refusal> {
    let parsed = query::parse(body, meta)?;
    let defined = app.state.user_defined_fields(&meta.collection);
    for name in parsed.udf_names() {
        if !defined
            .iter()
            .any(|d| d["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        {
            return Err(Refusal::unknown_field(name));
        }
    }
    Ok(parsed)
}

fn run_query(app: &App, meta: &EntityMeta, body: &Value, after: Option<i64>, get_search: Option<&str>) -> Outcome {
    let parsed = parse_query(app, meta, body)?;
    let d = app.state.lock();
    let empty = Default::default();
    let recs = d.records.get(&meta.collection).unwrap_or(&empty);
    let mut page: Vec<&Map<String, Value>> = recs
        .range(after.map_or(i64::MIN, |a| a + 1)..)
        .map(|(_, r)| r)
        .filter(|r| parsed.filter.iter().all(|c| query::matches(c, r)))
        .take(parsed.max_records + 1)
        .collect();
    let more = page.len() > parsed.max_records;
    page.truncate(parsed.max_records);
    let next = match (more, page.last()) {
        (true, Some(last)) => {
            let last_id = last.get("id").and_then(Value::as_i64).unwrap_or_default();
            let base = format!(
                "{}/ATServicesRest/V1.0/{}/query/next?paging={}",
                app.origin,
                meta.collection,
                encode_paging(last_id)
            );
            Some(match get_search {
                Some(search) => {
                    let enc: String = url::form_urlencoded::byte_serialize(search.as_bytes()).collect();
                    format!("{base}&search={enc}")
                }
                None => base,
            })
        }
        _ => None,
    };
    let items: Vec<Value> = page
        .iter()
        .map(|r| query::project(r, meta, &parsed.include_fields))
        .collect();
    Ok(json!({
        "items": items,
        "pageDetails": { "count": items.len(), "requestCount": parsed.max_records, "prevPageUrl": null, "nextPageUrl": next },
    }))
}

fn list_children(app: &App, meta: &EntityMeta, parent_field: &str, pid: i64) -> Outcome {
    let d = app.state.lock();
    let items: Vec<Value> = d
        .records
        .get(&meta.collection)
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|r| r.get(parent_field).and_then(Value::as_i64) == Some(pid))
        .take(query::MAX_RECORDS)
        .map(|r| query::project(r, meta, &[]))
        .collect();
    Ok(
        json!({"items": items, "pageDetails": {"count": items.len(), "requestCount": query::MAX_RECORDS, "prevPageUrl": null, "nextPageUrl": null}}),
    )
}

fn get_one(app: &App, meta: &EntityMeta, id: i64, parent: Option<(&str, i64)>) -> Outcome {
    let d = app.state.lock();
    let rec = d
        .records
        .get(&meta.collection)
        .and_then(|m| m.get(&id))
        .filter(|r| parent.is_none_or(|(f, pid)| r.get(f).and_then(Value::as_i64) == Some(pid)))
        .ok_or_else(Refusal::record_not_found)?;
    Ok(json!({ "item": query::project(rec, meta, &[]) }))
}

fn create(app: &App, meta: &EntityMeta, body: &Value, parent: Option<(&str, i64)>, imp: Option<i64>) -> Outcome {
    let obj = body
        .as_object()
        .ok_or_else(|| Refusal::invalid("The request body must be a JSON object."))?;
    let mut sent = writable_fields(obj, meta, WriteKind::Create)?;
    if let Some((field, pid)) = parent {
        sent.insert(field.to_owned(), json!(pid));
    }
    let mut rec = sent.clone();
    let api_user = app.state.api_user_resource_id();
    for (field, value) in [
        ("createDate", json!(now())),
        ("createdTime", json!(now())),
        ("creatorResourceID", json!(imp.unwrap_or(api_user))),
        ("createdByResourceID", json!(imp.unwrap_or(api_user))),
    ] {
        if meta.field(field).is_some() {
            rec.insert(field.to_owned(), value);
        }
    }
    stamp_modified(meta, &mut rec);
    if imp.is_some() && meta.field("impersonatorCreatorResourceID").is_some() {
        rec.insert("impersonatorCreatorResourceID".into(), json!(api_user));
    }
    let mut d = app.state.lock();
    check_record(&app.state, &d, meta, &rec, &sent)?;
    if meta.collection == "Quotes" {
        rec.insert("quoteNumber".into(), json!(d.next_quote_number));
        d.next_quote_number += 1;
    }
    if meta.collection == "Companies" && !rec.contains_key("isActive") {
        rec.insert("isActive".into(), json!(true));
    }
    let id = insert_locked(&mut d, &meta.collection, Value::Object(rec.clone()));
    if meta.collection == "Companies" {
        // Autotask creates a primary location with every company.
        let mut loc = Map::new();
        loc.insert("companyID".into(), json!(id));
        loc.insert("name".into(), json!("Primary"));
        loc.insert("isPrimary".into(), json!(true));
        loc.insert("isActive".into(), json!(true));
        for f in [
            "address1",
            "address2",
            "city",
            "state",
            "postalCode",
            "countryID",
            "phone",
        ] {
            if let Some(v) = rec.get(f) {
                loc.insert(f.into(), v.clone());
            }
        }
        insert_locked(&mut d, "CompanyLocations", Value::Object(loc));
    }
    Ok(json!({ "itemId": id }))
}

/// An update changes only the UDFs it sends (Autotask: "send only the UDFs you change").
fn merge_udfs(rec: &mut Map<String, Value>, sent: &Value) {
    let mut merged = rec
        .get("userDefinedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for udf in sent.as_array().into_iter().flatten() {
        let name = udf.get("name").and_then(Value::as_str).unwrap_or_default();
        match merged.iter_mut().find(|u| {
            u.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            Some(existing) => *existing = udf.clone(),
            None => merged.push(udf.clone()),
        }
    }
    rec.insert("userDefinedFields".into(), Value::Array(merged));
}

/// Every create and update (PATCH or PUT, even one that changes no value) moves the entity's
/// modification stamps (`lastActivity` on Opportunities), as Autotask documents for `lastActivityDate`: the bulk feed sees the
/// integration's own writes as changes.
fn stamp_modified(meta: &EntityMeta, rec: &mut Map<String, Value>) {
    let at = now();
    for field in [
        "lastActivityDate",
        "lastActivity",
        "lastModifiedDate",
        "lastTrackedModifiedDateTime",
    ] {
        if meta.field(field).is_some() {
            rec.insert(field.to_owned(), json!(at));
        }
    }
}

fn update(app: &App, meta: &EntityMeta, body: &Value, kind: WriteKind, parent: Option<(&str, i64)>) -> Outcome {
    let obj = body
        .as_object()
        .ok_or_else(|| Refusal::invalid("The request body must be a JSON object."))?;
    let id = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("id"))
        .and_then(|(_, v)| v.as_i64())
        .filter(|id| *id > 0)
        .ok_or_else(|| Refusal::invalid("An update must include the id of the entity to update."))?;
    let sent = writable_fields(obj, meta, kind)?;
    let mut d = app.state.lock();
    let existing = d
        .records
        .get(&meta.collection)
        .and_then(|m| m.get(&id))
        .filter(|r| parent.is_none_or(|(f, pid)| r.get(f).and_then(Value::as_i64) == Some(pid)))
        .cloned()
        .ok_or_else(|| Refusal::invalid("No matching records found. The logged in Resource may not have the required permissions to update the data."))?;
    let mut rec = existing.clone();
    if kind == WriteKind::Put {
        for f in meta.fields.iter().filter(|f| !f.read_only) {
            rec.insert(f.name.clone(), Value::Null);
        }
    }
    for (k, v) in &sent {
        if k == "userDefinedFields" {
            merge_udfs(&mut rec, v);
        } else {
            rec.insert(k.clone(), v.clone());
        }
    }
    stamp_modified(meta, &mut rec);
    check_record(&app.state, &d, meta, &rec, &sent)?;
    insert_locked(&mut d, &meta.collection, Value::Object(rec));
    Ok(json!({ "itemId": id }))
}

fn delete(app: &App, meta: &EntityMeta, id: i64, parent: Option<(&str, i64)>) -> Outcome {
    let mut d = app.state.lock();
    let recs = d.records.entry(meta.collection.clone()).or_default();
    let owned = recs
        .get(&id)
        .is_some_and(|r| parent.is_none_or(|(f, pid)| r.get(f).and_then(Value::as_i64) == Some(pid)));
    if !owned {
        return Err(Refusal::invalid(
            "No message. No matching records found. The logged in Resource may not have the required permissions to delete the data.",
        ));
    }
    recs.remove(&id);
    Ok(json!({ "itemId": id }))
}

fn field_information(app: &App, meta: &EntityMeta) -> Vec<Value> {
    meta.fields
        .iter()
        .map(|f| {
            let picklist = if f.picklist {
                app.state.picklist(&meta.collection, &f.name)
            } else {
                None
            };
            json!({
                "name": f.name,
                "dataType": f.data_type,
                "length": f.length.unwrap_or(0),
                "isRequired": f.required,
                "isReadOnly": f.read_only,
                "isQueryable": f.queryable,
                "isReference": f.reference.is_some(),
                "referenceEntityType": f.reference.clone().unwrap_or_default(),
                "isPickList": f.picklist,
                "picklistValues": picklist.map(|l| l.iter().enumerate().map(|(i, (v, label))| json!({
                    "value": v, "label": label, "isDefaultValue": false, "sortOrder": i,
                    "parentValue": "", "isActive": true, "isSystem": false,
                })).collect::<Vec<_>>()),
                "picklistParentValueField": "",
                "isSupportedWebhookField": false,
            })
        })
        .collect()
}

fn admin_call(app: &App, method: &Method, path: &str, body: &Bytes) -> Response {
    let parsed = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "counters") => axum::Json(app.controls.snapshot()).into_response(),
        ("POST", "reset") => {
            app.controls.reset();
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "latency") => {
            let ms = parsed().get("ms").and_then(Value::as_u64).unwrap_or(0);
            app.controls.set_latency(Duration::from_millis(ms));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "chaos") => match serde_json::from_slice::<Option<Chaos>>(body) {
            Ok(chaos) => {
                app.controls.set_chaos(chaos);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        },
        ("POST", "faults") => match serde_json::from_slice::<FaultRule>(body) {
            Ok(rule) => {
                app.controls.add_fault(rule);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        },
        ("POST", "fixture") => match parsed() {
            fixture @ Value::Object(_) => {
                app.state.load_fixture(&fixture);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => (
                StatusCode::BAD_REQUEST,
                "The body must be a fixture object: {\"picklists\": …, \"userDefinedFields\": …, \"records\": …}",
            )
                .into_response(),
        },
        ("POST", "move-zone") => {
            app.zone.fetch_add(1, Ordering::SeqCst);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
