//! The XML endpoint (`POST /REQUEST`) and the JSON admin routes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};
use shared::channelonline::protocol::convert::{
    self, customer_to_wire, document_to_wire, parse_document_type, timestamp, upsert_from_wire,
};
use shared::channelonline::protocol::parse::{self, Checked};
use shared::channelonline::protocol::wire::*;
use shared::channelonline::protocol::{self, RequestKind, SCHEMA_VERSION};
use shared::channelonline::{DocumentType, TimeWindow};

use crate::state::{Fault, SandboxConfig, SandboxState};

pub struct Shared {
    pub config: SandboxConfig,
    pub state: Mutex<SandboxState>,
    /// When the previous answer went out (for dropping rapid requests).
    pub last_answer: Mutex<Option<Instant>>,
}

impl Shared {
    pub fn new(config: SandboxConfig) -> Self {
        let mut state = SandboxState::default();
        if config.seed_demo {
            crate::seed::demo(&mut state, Utc::now());
        }
        Self {
            config,
            state: Mutex::new(state),
            last_answer: Mutex::new(None),
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, SandboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Answer = Result<String, (u32, String)>;

fn xml_ok(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn dropped() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [(header::CONNECTION, "close")], "").into_response()
}

pub async fn request(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    if let Some(min) = shared.config.min_interval {
        let last = *shared.last_answer.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < min) {
            shared.lock().dropped += 1;
            return dropped();
        }
    }
    let response = answer(&shared, &body).await;
    *shared.last_answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    response
}

async fn answer(shared: &Shared, body: &[u8]) -> Response {
    let (root, xml) = match parse::check(body, parse::DEFAULT_MAX_BYTES) {
        Ok(Checked::Body { root, xml }) => (root, xml),
        Ok(Checked::Error { .. }) | Err(_) => {
            return xml_ok(protocol::error_xml(
                "error_response",
                protocol::CODE_MALFORMED_REQUEST,
                "Malformed request",
            ));
        }
    };
    let Some(kind) = RequestKind::from_request_root(&root) else {
        return xml_ok(protocol::error_xml(
            "error_response",
            protocol::CODE_MALFORMED_REQUEST,
            &format!("Unknown request type {root}"),
        ));
    };
    let auth = parse::deserialize::<AuthOnly>(&xml)
        .map(|a| a.authentication)
        .unwrap_or_default();
    let config = &shared.config;
    if auth.user_agent.name != config.user_agent {
        shared.lock().auth_failures += 1;
        return xml_ok(protocol::error_xml(
            kind.response_root(),
            protocol::CODE_INVALID_USER_AGENT,
            "Invalid User Agent",
        ));
    }
    if auth.shortcut != config.shortcut || auth.email != config.email || auth.password != config.password {
        shared.lock().auth_failures += 1;
        return xml_ok(protocol::error_xml(
            kind.response_root(),
            protocol::CODE_INVALID_LOGIN,
            "Invalid login: check shortcut, email and password",
        ));
    }
    let fault = shared.lock().take_fault(kind);
    match fault {
        Some(Fault::Drop) => {
            shared.lock().dropped += 1;
            return dropped();
        }
        Some(Fault::Error { code, message }) => {
            shared.lock().count(kind);
            return xml_ok(protocol::error_xml(kind.response_root(), code, &message));
        }
        Some(Fault::Latency { millis }) => tokio::time::sleep(Duration::from_millis(millis)).await,
        Some(Fault::LoseResponse) | None => {}
    }
    let mut state = shared.lock();
    state.count(kind);
    let answer = match kind {
        RequestKind::ExportDocuments => export_documents(&mut state, config, &xml),
        RequestKind::ExportCustomers => export_customers(&state, &xml),
        RequestKind::ImportCustomers => import_customers(&mut state, &xml),
        RequestKind::AddDocumentLines => add_lines(&mut state, &xml),
        RequestKind::SetDocumentCustomFields => set_custom_fields(&mut state, &xml),
    };
    if fault == Some(Fault::LoseResponse) {
        state.dropped += 1;
        return dropped();
    }
    drop(state);
    match answer {
        Ok(body) if config.inject_control_chars => xml_ok(with_control_chars(&body)),
        Ok(body) => xml_ok(body),
        Err((code, message)) => xml_ok(protocol::error_xml(kind.response_root(), code, &message)),
    }
}

/// Stray characters like those in real payloads: a vertical tab, a NUL-adjacent SOH and a
/// form feed inside text.
fn with_control_chars(xml: &str) -> String {
    xml.replace("<descriptionLine1>", "<descriptionLine1>\u{b}")
        .replace("<companyName>", "<companyName>\u{1}")
        .replace("</firstName>", "\u{c}</firstName>")
}

fn bad_request(e: impl std::fmt::Display) -> (u32, String) {
    (protocol::CODE_MALFORMED_REQUEST, format!("Malformed request: {e}"))
}

fn serialize<T: serde::Serialize>(kind: RequestKind, body: &T) -> Answer {
    protocol::to_xml(kind.response_root(), body).map_err(bad_request)
}

fn export_documents(state: &mut SandboxState, config: &SandboxConfig, xml: &str) -> Answer {
    let request: ExportDocumentsRequest = parse::deserialize(xml).map_err(bad_request)?;
    let options = request.options;
    let doc_type: Option<DocumentType> = match options.document_type.as_deref() {
        Some(t) => Some(parse_document_type(t).ok_or_else(|| bad_request(format!("documentType {t}")))?),
        None => None,
    };
    let docs = if let Some(number) = convert::text(&options.document_number) {
        state.revisions(&number, doc_type)
    } else if let Some(range) = options.event_in_range {
        let after = range.after.as_deref().and_then(timestamp);
        let before = range.before.as_deref().and_then(timestamp);
        let window = TimeWindow {
            after: after.unwrap_or(chrono::DateTime::<Utc>::MIN_UTC),
            before: before.unwrap_or(chrono::DateTime::<Utc>::MAX_UTC),
        };
        let Some(docs) = state.modified_in_capped(doc_type, window, config.document_cap) else {
            return Err((
                protocol::CODE_TOO_MANY_DOCUMENTS,
                "The number of documents is limited to 500. Please update your filters to reduce the result set."
                    .into(),
            ));
        };
        docs
    } else {
        return Err(bad_request("give a documentNumber or an eventInRange"));
    };
    let response = ExportDocumentsResponse {
        version: SCHEMA_VERSION.into(),
        documents: WireDocuments {
            document: docs.iter().map(document_to_wire).collect(),
        },
    };
    serialize(RequestKind::ExportDocuments, &response)
}

fn export_customers(state: &SandboxState, xml: &str) -> Answer {
    let request: ExportCustomersRequest = parse::deserialize(xml).map_err(bad_request)?;
    let o = request.options;
    let since = o
        .event_in_range
        .as_ref()
        .and_then(|r| r.after.as_deref())
        .and_then(timestamp);
    let matching = state.find_customers(
        convert::text(&o.customer_number).as_deref(),
        convert::text(&o.company_name_contains).as_deref(),
        since,
    );
    let page = o.page.unwrap_or(WirePage {
        number: 1,
        size: u32::MAX,
    });
    let size = page.size.max(1) as usize;
    let skip = (page.number.max(1) as usize - 1).saturating_mul(size);
    let response = ExportCustomersResponse {
        version: SCHEMA_VERSION.into(),
        customers: WireCustomers {
            more_pages: Some(matching.len() > skip.saturating_add(size)),
            customer: matching.iter().skip(skip).take(size).map(customer_to_wire).collect(),
        },
    };
    serialize(RequestKind::ExportCustomers, &response)
}

fn import_customers(state: &mut SandboxState, xml: &str) -> Answer {
    let request: ImportCustomersRequest = parse::deserialize(xml).map_err(bad_request)?;
    let mut imported = Vec::new();
    for c in &request.customers.customer {
        let upsert = upsert_from_wire(c);
        if upsert.company_name.is_empty() {
            return Err(bad_request("companyName is required"));
        }
        let done = state.upsert_customer(&upsert, Utc::now());
        imported.push(ImportedCustomer {
            customer_id: done.customer_id,
            customer_number: done.number,
            created: done.created,
            contact: done
                .contacts
                .into_iter()
                .map(|k| ImportedContact {
                    contact_id: k.contact_id,
                    email: k.email,
                    created: k.created,
                })
                .collect(),
        });
    }
    let response = ImportCustomersResponse {
        version: SCHEMA_VERSION.into(),
        customer: imported,
    };
    serialize(RequestKind::ImportCustomers, &response)
}

fn unknown_document(number: &str) -> (u32, String) {
    (protocol::CODE_UNKNOWN_DOCUMENT, format!("Document {number} not found"))
}

fn add_lines(state: &mut SandboxState, xml: &str) -> Answer {
    let request: AddDocumentLinesRequest = parse::deserialize(xml).map_err(bad_request)?;
    let number = request.document_number.trim().to_owned();
    let mut written = WrittenDocument {
        document_number: number.clone(),
        ..WrittenDocument::default()
    };
    for product in &request.item_list.product {
        let line = convert::new_line_from_wire(product)
            .ok_or_else(|| bad_request("a line needs an autotaskItem type and id"))?;
        let added = state
            .add_line(&number, &line, Utc::now())
            .ok_or_else(|| unknown_document(&number))?;
        written.revision_number = added.revision;
        written.line.push(WrittenLine {
            line_item_id: added.line_id,
            line_order: added.order,
        });
    }
    let response = DocumentWriteResponse {
        version: SCHEMA_VERSION.into(),
        document: written,
    };
    serialize(RequestKind::AddDocumentLines, &response)
}

fn set_custom_fields(state: &mut SandboxState, xml: &str) -> Answer {
    let request: SetDocumentCustomFieldsRequest = parse::deserialize(xml).map_err(bad_request)?;
    let number = request.document_number.trim().to_owned();
    let mut revision = state
        .document(&number)
        .map(|d| d.revision)
        .ok_or_else(|| unknown_document(&number))?;
    for field in &request.custom_fields.custom_field {
        let value = convert::text(&field.value).unwrap_or_default();
        revision = state
            .set_custom_field(&number, field.name.trim(), &value, Utc::now())
            .ok_or_else(|| unknown_document(&number))?;
    }
    let response = DocumentWriteResponse {
        version: SCHEMA_VERSION.into(),
        document: WrittenDocument {
            document_number: number,
            revision_number: revision,
            line: Vec::new(),
        },
    };
    serialize(RequestKind::SetDocumentCustomFields, &response)
}

// ------------------------------------------------------------------------------ admin (JSON)

pub async fn counters(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let state = shared.lock();
    Json(json!({
        "calls": state.calls_by_root(),
        "total": state.total_calls(),
        "dropped": state.dropped,
        "auth_failures": state.auth_failures,
        "pending_faults": state.faults.len(),
    }))
}

pub async fn add_fault(State(shared): State<Arc<Shared>>, Json(fault): Json<Fault>) -> StatusCode {
    shared.lock().faults.push_back(fault);
    StatusCode::NO_CONTENT
}

pub async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    let mut state = shared.lock();
    state.reset();
    if shared.config.seed_demo {
        crate::seed::demo(&mut state, Utc::now());
    }
    StatusCode::NO_CONTENT
}
