//! The sandbox's account: customers, documents with revisions, injected faults and counters.
//! Tests seed and inspect it directly through `RunningSandbox::state()`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::channelonline::protocol::RequestKind;
use shared::channelonline::{
    AddedLine, Contact, ContactUpsert, CustomField, Customer, CustomerUpsert, Document, DocumentLine, DocumentType,
    NewLine, ProductType, SalesRep, TimeWindow, UpsertedContact, UpsertedCustomer,
};

/// A fault consumed by the next request (after authentication).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// Answer `<error code>` inside HTTP 200.
    Error { code: u32, message: String },
    /// Drop the request: an empty HTTP 503 with `Connection: close`.
    Drop,
    /// Answer normally after a delay.
    Latency { millis: u64 },
    /// Perform the request (a write commits), then drop the answer: the client cannot tell
    /// whether it happened.
    LoseResponse,
}

impl Fault {
    /// A short stable name, for the counters of injected faults.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Error { .. } => "error",
            Fault::Drop => "drop",
            Fault::Latency { .. } => "latency",
            Fault::LoseResponse => "lose_response",
        }
    }
}

/// Faults drawn at random for write requests (import customers, add lines, set custom fields),
/// from a seeded generator: each fails with probability `rate` (at least `rate` of every request
/// type's writes, less one), with one of `faults`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chaos {
    pub seed: u64,
    pub rate: f64,
    pub faults: Vec<Fault>,
    /// Stop after this many injected faults (`None`: no limit).
    #[serde(default)]
    pub max_faults: Option<u64>,
}

#[derive(Debug, Default)]
pub struct SandboxState {
    /// By Customer Number.
    pub customers: BTreeMap<String, Customer>,
    /// Latest revision by document number.
    pub documents: BTreeMap<String, Document>,
    /// Superseded revisions (served with the latest when a document is asked for by number).
    pub history: Vec<Document>,
    pub faults: VecDeque<Fault>,
    chaos: Option<(Chaos, fastrand::Rng)>,
    /// Injected faults by request and fault name (`"add_document_lines_request drop"`).
    pub injected: BTreeMap<String, u64>,
    /// Write requests by request name, faulted or not (the base of the injected share).
    pub write_requests: BTreeMap<String, u64>,
    calls: BTreeMap<RequestKind, u64>,
    /// Requests dropped because they came too soon after the previous one, or by a fault.
    pub dropped: u64,
    /// Requests refused for credentials or user agent.
    pub auth_failures: u64,
    next_id: u64,
}

impl SandboxState {
    /// Answered requests of one kind (dropped ones are not counted).
    pub fn calls(&self, kind: RequestKind) -> u64 {
        self.calls.get(&kind).copied().unwrap_or(0)
    }

    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    pub fn calls_by_root(&self) -> BTreeMap<String, u64> {
        self.calls
            .iter()
            .map(|(k, v)| (k.request_root().to_owned(), *v))
            .collect()
    }

    pub(crate) fn count(&mut self, kind: RequestKind) {
        *self.calls.entry(kind).or_default() += 1;
    }

    /// Turns random faults on write requests on (`Some`) or off (`None`).
    pub fn set_chaos(&mut self, chaos: Option<Chaos>) {
        self.chaos = chaos.map(|c| {
            let rng = fastrand::Rng::with_seed(c.seed);
            (c, rng)
        });
    }

    /// The fault for this request: the next queued one, else (for a write) a chaos draw.
    pub(crate) fn take_fault(&mut self, kind: RequestKind) -> Option<Fault> {
        let write = matches!(
            kind,
            RequestKind::ImportCustomers | RequestKind::AddDocumentLines | RequestKind::SetDocumentCustomFields
        );
        let fault = match self.faults.pop_front() {
            Some(f) => f,
            None if write => {
                let prefix = format!("{} ", kind.request_root());
                let hit: u64 = self
                    .injected
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, n)| n)
                    .sum();
                let seen = *self.write_requests.entry(kind.request_root().to_owned()).or_default() as f64;
                *self.write_requests.entry(kind.request_root().to_owned()).or_default() += 1;
                let (chaos, rng) = self.chaos.as_mut()?;
                if chaos
                    .max_faults
                    .is_some_and(|max| self.injected.values().sum::<u64>() >= max)
                {
                    return None;
                }
                // Random, but a request type that fell behind `rate` is caught up.
                let behind = (hit as f64) < chaos.rate * (seen + 1.0) - 1.0;
                if chaos.faults.is_empty() || (rng.f64() >= chaos.rate && !behind) {
                    return None;
                }
                chaos.faults[rng.usize(..chaos.faults.len())].clone()
            }
            None => return None,
        };
        *self
            .injected
            .entry(format!("{} {}", kind.request_root(), fault.name()))
            .or_default() += 1;
        Some(fault)
    }

    /// Clears everything, counters included.
    pub fn reset(&mut self) {
        *self = SandboxState::default();
    }

    pub fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", 90_000 + self.next_id)
    }

    pub fn insert_customer(&mut self, customer: Customer) {
        self.customers.insert(customer.number.clone(), customer);
    }

    /// Inserts a document; an existing one with the same number becomes history.
    pub fn insert_document(&mut self, document: Document) {
        if let Some(previous) = self.documents.insert(document.number.clone(), document) {
            self.history.push(previous);
        }
    }

    pub fn customer(&self, number: &str) -> Option<&Customer> {
        self.customers.get(number)
    }

    pub fn document(&self, number: &str) -> Option<&Document> {
        self.documents.get(number)
    }

    /// Every stored revision of a document, oldest first.
    pub fn revisions(&self, number: &str, doc_type: Option<DocumentType>) -> Vec<Document> {
        self.history
            .iter()
            .chain(self.documents.get(number))
            .filter(|d| d.number == number && doc_type.is_none_or(|t| d.doc_type == t))
            .cloned()
            .collect()
    }

    /// Latest revisions of one type modified in `[after, before]` (bounds inclusive, as the
    /// observed client's overlapping halves suggest).
    pub fn modified_in(&self, doc_type: Option<DocumentType>, window: TimeWindow) -> Vec<Document> {
        self.documents
            .values()
            .filter(|d| doc_type.is_none_or(|t| d.doc_type == t))
            .filter(|d| {
                d.modified_at
                    .or(d.created_at)
                    .is_some_and(|m| m >= window.after && m <= window.before)
            })
            .cloned()
            .collect()
    }

    /// Customers by exact number, name fragment (case-insensitive) and modified-since.
    pub fn find_customers(
        &self,
        number: Option<&str>,
        name_contains: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Vec<Customer> {
        let name = name_contains.map(str::to_lowercase);
        self.customers
            .values()
            .filter(|c| number.is_none_or(|n| c.number.eq_ignore_ascii_case(n)))
            .filter(|c| name.as_ref().is_none_or(|n| c.company_name.to_lowercase().contains(n)))
            .filter(|c| since.is_none_or(|s| c.modified_at.is_some_and(|m| m >= s)))
            .cloned()
            .collect()
    }

    /// [`Self::modified_in`] under COL's cap: `None` when more than `cap` match (error 507).
    pub fn modified_in_capped(
        &self,
        doc_type: Option<DocumentType>,
        window: TimeWindow,
        cap: usize,
    ) -> Option<Vec<Document>> {
        let docs = self.modified_in(doc_type, window);
        (docs.len() <= cap).then_some(docs)
    }

    /// Update else create, as COL's account import does. Contacts match by id, then email.
    pub fn upsert_customer(&mut self, upsert: &CustomerUpsert, now: DateTime<Utc>) -> UpsertedCustomer {
        let existing = upsert.number.as_ref().and_then(|n| self.customers.get(n)).cloned();
        let created = existing.is_none();
        let mut customer = match existing {
            Some(c) => c,
            None => {
                let number = upsert.number.clone().unwrap_or_else(|| {
                    let mut n = self.next_id("AT");
                    n.truncate(6);
                    while self.customers.contains_key(&n) {
                        n = self.next_id("AT");
                    }
                    n
                });
                Customer {
                    customer_id: self.next_id("C"),
                    number,
                    ..Customer::default()
                }
            }
        };
        customer.company_name = upsert.company_name.clone();
        customer.phone = upsert.phone.clone().or(customer.phone);
        customer.address = upsert.address.clone().or(customer.address);
        customer.terms = upsert.terms.clone().or(customer.terms);
        if let Some(email) = &upsert.sales_rep_email {
            customer.sales_rep = Some(SalesRep {
                email: Some(email.clone()),
                ..SalesRep::default()
            });
        }
        customer.modified_at = Some(now);
        let mut contacts = Vec::new();
        for c in &upsert.contacts {
            contacts.push(self.upsert_contact(&mut customer, c));
        }
        let result = UpsertedCustomer {
            customer_id: customer.customer_id.clone(),
            number: customer.number.clone(),
            created,
            contacts,
        };
        self.insert_customer(customer);
        result
    }

    fn upsert_contact(&mut self, customer: &mut Customer, c: &ContactUpsert) -> UpsertedContact {
        let by_id =
            c.id.as_ref()
                .and_then(|id| customer.contacts.iter().position(|k| &k.id == id));
        let by_email = || {
            c.email.as_ref().and_then(|e| {
                customer
                    .contacts
                    .iter()
                    .position(|k| k.email.as_deref().is_some_and(|ke| ke.eq_ignore_ascii_case(e)))
            })
        };
        let position = by_id.or_else(by_email);
        let created = position.is_none();
        let index = match position {
            Some(i) => i,
            None => {
                let id = self.next_id("K");
                customer.contacts.push(Contact {
                    id,
                    ..Contact::default()
                });
                customer.contacts.len() - 1
            }
        };
        let contact = &mut customer.contacts[index];
        contact.first_name = c.first_name.clone();
        contact.last_name = c.last_name.clone();
        contact.email = c.email.clone().or(contact.email.take());
        contact.work_phone = c.work_phone.clone().or(contact.work_phone.take());
        contact.mobile = c.mobile.clone().or(contact.mobile.take());
        UpsertedContact {
            contact_id: contact.id.clone(),
            email: contact.email.clone(),
            created,
        }
    }

    /// Appends a line as a new revision; `None` for an unknown document.
    pub fn add_line(&mut self, number: &str, line: &NewLine, now: DateTime<Utc>) -> Option<AddedLine> {
        let line_id = self.next_id("L");
        let current = self.documents.get(number)?.clone();
        let mut next = current.clone();
        next.revision += 1;
        next.modified_at = Some(now);
        let order = next.lines.iter().map(|l| l.order).max().unwrap_or(0) + 1;
        next.lines.push(DocumentLine {
            line_id: line_id.clone(),
            order,
            product_type: match line.autotask.kind {
                shared::channelonline::AutotaskItemKind::Service => ProductType::Service,
                shared::channelonline::AutotaskItemKind::ServiceBundle => ProductType::ServiceBundle,
                shared::channelonline::AutotaskItemKind::Labor => ProductType::Labor,
            },
            autotask: Some(line.autotask),
            manufacturer: None,
            part_number: line.part_number.clone(),
            sku: None,
            description: Some(line.description.clone()),
            description2: line.description2.clone(),
            category: line.category.clone(),
            sub_category: line.sub_category.clone(),
            price: Some(line.price),
            cost: line.cost,
            quantity: line.quantity,
            taxable: line.taxable,
        });
        let revision = next.revision;
        self.insert_document(next);
        Some(AddedLine {
            line_id,
            order,
            revision,
        })
    }

    /// Sets (or replaces) a document custom field in place; returns the revision.
    pub fn set_custom_field(&mut self, number: &str, name: &str, value: &str, now: DateTime<Utc>) -> Option<u32> {
        let doc = self.documents.get_mut(number)?;
        match doc.custom_fields.iter_mut().find(|f| f.name.eq_ignore_ascii_case(name)) {
            Some(f) => f.value = value.to_owned(),
            None => doc.custom_fields.push(CustomField {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
        }
        doc.modified_at = Some(now);
        Some(doc.revision)
    }
}

/// Sandbox behaviour that is not data.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub shortcut: String,
    pub email: String,
    pub password: String,
    /// The registered user agent; any other gets error 105.
    pub user_agent: String,
    /// Documents per list request before error 507 (COL: 500).
    pub document_cap: usize,
    /// Requests arriving sooner than this after the previous answer are dropped (COL drops
    /// rapid requests). `None` accepts everything.
    pub min_interval: Option<Duration>,
    /// Insert stray control characters into text elements of every response, as real
    /// payloads have.
    pub inject_control_chars: bool,
    /// Load the demo account at start and on reset.
    pub seed_demo: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            shortcut: "demo-reseller".into(),
            email: "integration@demo-reseller.example".into(),
            password: "sandbox-password".into(),
            user_agent: "COLATSYNC".into(),
            document_cap: shared::channelonline::protocol::DOCUMENT_CAP,
            min_interval: None,
            inject_control_chars: false,
            seed_demo: true,
        }
    }
}
