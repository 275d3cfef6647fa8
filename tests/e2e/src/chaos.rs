//! The chaos suite: a seeded script of customer exports and re-exports, imports, quote and
//! sales-order exports of 1–120 lines, re-exports after a change, and add-line, run through the
//! real function binaries (Runtime API emulator) against both sandboxes over HTTP and the
//! embedded DynamoDB, with faults drawn at random on the write routes of both systems and some
//! invocations killed at their deadline. Every operation is retried as a user or the queue would
//! retry it, until it succeeds. `check` then proves: no duplicate by natural key, no lost mapping,
//! every failure told truthfully, and the same final state as a fault-free run of the script.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use autotask_sandbox::{AutotaskSandbox, Chaos as AtChaos, FaultKind, RunningSandbox as AtSandbox, SandboxConfig};
use channelonline_sandbox::{
    ChannelOnlineSandbox, Chaos as ColChaos, Fault, RunningSandbox as ColSandbox, SandboxConfig as ColConfig,
};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shared::channelonline::types::{
    Address, Contact, Customer, Document, DocumentContact, DocumentCustomer, DocumentLine, DocumentType, ProductType,
    SalesRep, Totals,
};
use shared::domain::mapping::MappingKind;
use shared::secret::SecretString;
use shared::secrets::file::FileSecretSource;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretSource, SigningKeysDocument};
use shared::store::dynamo::DynamoStore;
use shared::store::{MappingStore, SettingsStore};
use shared::tenant::TenantId;
use testkit::dynamo::EmbeddedDynamo;
use testkit::function_url::{EventSpec, UrlResponse, event};
use testkit::lambda_runtime_api::{Outcome, invoke_binary_until};

const TENANT: &str = "chaos-reseller";
const KEY: &str = "key-chaos-reseller-0123456789abcdef";
/// The functions' timeout as the template sets it for buttons.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the client waits for Autotask in this suite; injected delays wait longer.
const READ_TIMEOUT_MS: u64 = 200;
const FAULT_DELAY_MS: u64 = 300;
/// A killed invocation believed it had this long after the moment it was killed (a crash or an
/// out-of-memory stop, not its own deadline), so its claims outlive it.
const KILLED_SLACK: Duration = Duration::from_secs(2);
/// The Autotask sandbox's hourly budget in this suite: a 2,000-operation run makes far more
/// than Autotask's 10,000 calls within the hour (with that limit even its fault-free run was
/// answered "try again later" 5,490 times, and operations gave up).
const CHAOS_HOURLY_LIMIT: u64 = 1_000_000_000;
/// A user gives up after this many tries of one operation (a failure of the suite).
const MAX_ATTEMPTS: u32 = 40;

/// How the script is run.
#[derive(Clone, Debug)]
pub struct ChaosConfig {
    pub seed: u64,
    pub operations: usize,
    /// Share of write calls that fail (both systems).
    pub fault_rate: f64,
    /// Share of invocations killed before they answer (a Lambda timeout).
    pub kill_rate: f64,
}

/// One thing a user does.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    ExportCustomer {
        number: String,
    },
    ChangeCustomer {
        number: String,
        phone: String,
    },
    ImportCompany {
        company: String,
    },
    ExportDocument {
        number: String,
    },
    ChangeDocument {
        number: String,
        lines: usize,
        seed: u64,
    },
    AddLine {
        number: String,
        service: usize,
    },
    /// Attach the document to the opportunity its export made (the picker's Choose).
    Attach {
        number: String,
    },
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::ExportCustomer { .. } => "export_customer",
            Op::ChangeCustomer { .. } => "reexport_customer",
            Op::ImportCompany { .. } => "import_customer",
            Op::ExportDocument { .. } => "export_document",
            Op::ChangeDocument { .. } => "reexport_document",
            Op::AddLine { .. } => "add_line",
            Op::Attach { .. } => "attach",
        }
    }
}

/// The script: per customer a sequence of operations (they depend on each other in order), the
/// customers' sequences interleaved by the runner.
#[derive(Clone, Debug)]
pub struct Script {
    pub tracks: Vec<Vec<Op>>,
    pub customers: Vec<Customer>,
    pub documents: Vec<Document>,
    /// Autotask companies to import (name, contact e-mails).
    pub companies: Vec<(String, Vec<String>)>,
}

impl Script {
    pub fn operations(&self) -> usize {
        self.tracks.iter().map(Vec::len).sum()
    }
}

fn line(n: u32, sku: &str, quantity: u32, price: u32) -> DocumentLine {
    DocumentLine {
        line_id: format!("L{n}"),
        order: n,
        product_type: ProductType::Hardware,
        autotask: None,
        manufacturer: Some("Cisco".into()),
        part_number: Some(format!("MPN-{sku}")),
        sku: Some(sku.into()),
        description: Some(format!("Item {sku}")),
        description2: None,
        category: Some("Networking".into()),
        sub_category: None,
        price: Some(Decimal::from(price)),
        cost: Some(Decimal::from(price * 7 / 10)),
        quantity: Decimal::from(quantity),
        taxable: true,
    }
}

/// 1–120 lines, mostly small, a few large; SKUs from a shared catalogue so products repeat.
fn lines(rng: &mut fastrand::Rng, count: usize) -> Vec<DocumentLine> {
    (1..=count as u32)
        .map(|n| {
            let sku = format!("SKU-{:03}", rng.u32(0..160));
            line(n, &sku, rng.u32(1..20), rng.u32(50..900))
        })
        .collect()
}

fn line_count(rng: &mut fastrand::Rng) -> usize {
    match rng.u32(0..100) {
        0..70 => rng.usize(1..=10),
        70..95 => rng.usize(11..=40),
        _ => 120,
    }
}

fn document(number: &str, customer: &Customer, doc_type: DocumentType, lines: Vec<DocumentLine>) -> Document {
    let address = Address {
        line1: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        ..Address::default()
    };
    let contact = &customer.contacts[0];
    Document {
        document_id: format!("d-{number}"),
        number: number.into(),
        revision: 1,
        doc_type,
        status: None,
        deleted: false,
        description: None,
        customer: DocumentCustomer {
            number: customer.number.clone(),
            company_name: Some(customer.company_name.clone()),
        },
        contact: Some(DocumentContact {
            id: Some(contact.id.clone()),
            email: contact.email.clone(),
            ..DocumentContact::default()
        }),
        sales_rep: Some(SalesRep {
            id: Some("rep-1".into()),
            ..SalesRep::default()
        }),
        payment_terms: Some("Net 30".into()),
        delivery_method: Some("UPS".into()),
        po_number: None,
        ship_to: Some(address.clone()),
        bill_to: Some(address),
        sold_to: None,
        lines,
        totals: Totals::default(),
        notes: vec![],
        expires_on: None,
        custom_fields: vec![],
        created_at: Some(Utc::now()),
        modified_at: Some(Utc::now()),
    }
}

/// Builds the script for `operations` operations from `seed`.
pub fn script(seed: u64, operations: usize) -> Script {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut script = Script {
        tracks: vec![],
        customers: vec![],
        documents: vec![],
        companies: vec![],
    };
    let mut planned = 0;
    let mut c = 0;
    while planned < operations {
        c += 1;
        if rng.u32(0..100) < 15 {
            // An Autotask company imported into ChannelOnline (sometimes twice).
            let name = format!("Imported Co {c:04}");
            let emails = (0..rng.usize(1..=3))
                .map(|k| format!("p{k}@imported{c}.test"))
                .collect();
            script.companies.push((name.clone(), emails));
            let mut track = vec![Op::ImportCompany { company: name.clone() }];
            if rng.bool() {
                track.push(Op::ImportCompany { company: name });
            }
            planned += track.len();
            script.tracks.push(track);
            continue;
        }
        let number = format!("CH{c:04}");
        let customer = Customer {
            customer_id: format!("id-{number}"),
            number: number.clone(),
            company_name: format!("Chaos Customer {c:04}"),
            phone: Some(format!("555-{c:04}")),
            contacts: (0..rng.usize(1..=3))
                .map(|k| Contact {
                    id: format!("{number}-c{k}"),
                    first_name: format!("First{k}"),
                    last_name: format!("Last{c}"),
                    email: Some(format!("c{k}@cust{c}.test")),
                    work_phone: None,
                    mobile: None,
                })
                .collect(),
            modified_at: Some(Utc::now()),
            ..Customer::default()
        };
        let mut track = vec![Op::ExportCustomer { number: number.clone() }];
        if rng.u32(0..100) < 30 {
            track.push(Op::ChangeCustomer {
                number: number.clone(),
                phone: format!("555-9{c:03}"),
            });
        }
        for d in 0..rng.usize(1..=2) {
            let doc_number = format!("{number}-Q{d}");
            let doc_type = if rng.bool() {
                DocumentType::Quote
            } else {
                DocumentType::SalesOrder
            };
            let count = line_count(&mut rng);
            script
                .documents
                .push(document(&doc_number, &customer, doc_type, lines(&mut rng, count)));
            track.push(Op::ExportDocument {
                number: doc_number.clone(),
            });
            if rng.u32(0..100) < 25 {
                track.push(Op::Attach {
                    number: doc_number.clone(),
                });
            }
            if rng.u32(0..100) < 40 {
                track.push(Op::ChangeDocument {
                    number: doc_number.clone(),
                    lines: (count + rng.usize(0..=3)).clamp(1, 120),
                    seed: rng.u64(..),
                });
            }
            if rng.u32(0..100) < 30 {
                track.push(Op::AddLine {
                    number: doc_number,
                    service: rng.usize(0..SERVICES),
                });
            }
        }
        planned += track.len();
        script.customers.push(customer);
        script.tracks.push(track);
    }
    script
}

const SERVICES: usize = 4;
/// The document custom field that holds the attached opportunity.
const OPPORTUNITY_FIELD: &str = "AT Opportunity";

/// One import of an Autotask company with two contacts (its only ChannelOnline write is the
/// customer import).
pub fn import_script() -> Script {
    let name = "Imported Once Co".to_owned();
    Script {
        tracks: vec![vec![Op::ImportCompany { company: name.clone() }]],
        customers: vec![],
        documents: vec![],
        companies: vec![(name, vec!["a@once.test".into(), "b@once.test".into()])],
    }
}

/// A customer export, a 3-line quote export and one add-line (its only ChannelOnline write).
pub fn add_line_script() -> Script {
    let customer = Customer {
        customer_id: "id-ONCE".into(),
        number: "ONCE".into(),
        company_name: "Once Customer".into(),
        phone: Some("555-0001".into()),
        contacts: vec![Contact {
            id: "ONCE-c0".into(),
            first_name: "Pat".into(),
            last_name: "Once".into(),
            email: Some("pat@once.test".into()),
            work_phone: None,
            mobile: None,
        }],
        modified_at: Some(Utc::now()),
        ..Customer::default()
    };
    let doc = document(
        "ONCE-Q0",
        &customer,
        DocumentType::Quote,
        (1..=3).map(|n| line(n, &format!("SKU-ONCE-{n}"), n, 100)).collect(),
    );
    Script {
        tracks: vec![vec![
            Op::ExportCustomer { number: "ONCE".into() },
            Op::ExportDocument {
                number: "ONCE-Q0".into(),
            },
            Op::AddLine {
                number: "ONCE-Q0".into(),
                service: 0,
            },
        ]],
        customers: vec![customer],
        documents: vec![doc],
        companies: vec![],
    }
}

/// The whole local system the script runs against.
pub struct ChaosStack {
    pub at: AtSandbox,
    pub col: ColSandbox,
    pub store: DynamoStore,
    tenant: TenantId,
    services: Vec<i64>,
    env: Vec<(String, String)>,
    binaries: BTreeMap<&'static str, PathBuf>,
    _dynamo: EmbeddedDynamo,
    _dir: tempfile::TempDir,
}

impl ChaosStack {
    pub async fn start(script: &Script) -> Self {
        let binaries: BTreeMap<&'static str, PathBuf> = tokio::task::spawn_blocking(|| {
            [
                "export-customer",
                "import-customer",
                "export-document",
                "query-services",
                "query-opportunities",
            ]
            .into_iter()
            .map(|name| (name, crate::function_binary(name)))
            .collect()
        })
        .await
        .unwrap();
        let dynamo = EmbeddedDynamo::start().await.expect("start DynamoDB");
        let store = dynamo.store().await;
        let at = AutotaskSandbox::start(SandboxConfig {
            demo_seed: true,
            // A large run makes hours of a tenant's calls in minutes; the 10,000-per-hour budget
            // is tested on its own (the limiter and the planner), not by making this user wait.
            hourly_limit: CHAOS_HOURLY_LIMIT,
            ..SandboxConfig::default()
        })
        .await
        .expect("start Autotask sandbox");
        let col = ChannelOnlineSandbox::start(ColConfig {
            seed_demo: false,
            ..ColConfig::default()
        })
        .await
        .expect("start ChannelOnline sandbox");
        let tenant = TenantId::parse(TENANT).unwrap();
        let (settings, services) = seed(&at, script);
        {
            let mut col_state = col.state();
            for c in &script.customers {
                col_state.insert_customer(c.clone());
            }
            for d in &script.documents {
                col_state.insert_document(d.clone());
            }
        }
        store.put_settings(&tenant, &settings, None, Utc::now()).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let secrets_file = dir.path().join("secrets.json");
        let secrets: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&secrets_file));
        secrets
            .store(&tenant, &SigningKeysDocument::current_only(KEY))
            .await
            .unwrap();
        let atc = at.config().clone();
        secrets
            .store(
                &tenant,
                &AutotaskCredentials {
                    username: atc.username.clone(),
                    secret: SecretString::new(atc.secret.clone()),
                    integration_code: SecretString::new(atc.integration_code.clone()),
                    impersonation_resource_id: None,
                },
            )
            .await
            .unwrap();
        let colc = col.config().clone();
        secrets
            .store(
                &tenant,
                &ChannelOnlineCredentials {
                    shortcut: colc.shortcut.clone(),
                    email: colc.email.clone(),
                    password: SecretString::new(colc.password.clone()),
                },
            )
            .await
            .unwrap();
        let env = vec![
            ("MAPPING_TABLE".into(), store.tables().mappings.clone()),
            ("IDEMPOTENCY_TABLE".into(), store.tables().idempotency.clone()),
            ("DYNAMODB_ENDPOINT".into(), dynamo.endpoint().to_owned()),
            ("SECRETS_FILE".into(), secrets_file.display().to_string()),
            ("AUTOTASK_ZONE_URL".into(), at.zone_lookup_url()),
            ("AUTOTASK_READ_TIMEOUT_MS".into(), READ_TIMEOUT_MS.to_string()),
            ("CHANNELONLINE_URL".into(), col.base_url()),
            ("CHANNELONLINE_USER_AGENT".into(), colc.user_agent.clone()),
            ("CHANNELONLINE_PAUSE_MS".into(), "0".into()),
            ("RUST_LOG".into(), "error".into()),
        ];
        Self {
            at,
            col,
            store,
            tenant,
            services,
            env,
            binaries,
            _dynamo: dynamo,
            _dir: dir,
        }
    }

    /// Faults on (`Some(rate)`) or off on both systems' write routes.
    pub fn set_faults(&self, seed: u64, rate: Option<f64>) {
        let at = rate.map(|rate| AtChaos {
            seed,
            rate,
            kinds: vec![
                FaultKind::LoseResponse {
                    delay_ms: FAULT_DELAY_MS,
                },
                FaultKind::NoCommit {
                    delay_ms: FAULT_DELAY_MS,
                },
                FaultKind::Throttle { retry_after_secs: 0 },
                FaultKind::ThreadLimit,
                FaultKind::ServerError,
                FaultKind::ValidationError,
                FaultKind::ConnectionReset,
            ],
        });
        self.at.counters().set_chaos(at);
        let col = rate.map(|rate| ColChaos {
            seed: seed ^ 0x5eed,
            rate,
            faults: vec![Fault::LoseResponse, Fault::Drop],
            max_faults: None,
        });
        self.col.state().set_chaos(col);
    }

    /// The next ChannelOnline write commits and its answer is lost (once).
    pub fn lose_next_channelonline_answer(&self) {
        self.col.state().set_chaos(Some(ColChaos {
            seed: 1,
            rate: 1.0,
            faults: vec![Fault::LoseResponse],
            max_faults: Some(1),
        }));
    }

    fn event_for(&self, op: &Op) -> (&'static str, Value) {
        let (binary, path, body) = match op {
            Op::ExportCustomer { number } | Op::ChangeCustomer { number, .. } => {
                ("export-customer", "/", json!({ "customer_number": number }))
            }
            Op::ImportCompany { company } => (
                "import-customer",
                "/",
                json!({ "account_name": company, "import_all_contacts": true }),
            ),
            Op::ExportDocument { number } | Op::ChangeDocument { number, .. } => {
                ("export-document", "/", json!({ "document_number": number }))
            }
            Op::Attach { number } => {
                let opportunity = self
                    .at
                    .state()
                    .all("Quotes")
                    .into_iter()
                    .find(|q| q["externalQuoteNumber"].as_str() == Some(number.as_str()))
                    .and_then(|q| q["opportunityID"].as_i64())
                    .unwrap_or_default();
                (
                    "query-opportunities",
                    "/attach",
                    json!({ "document_number": number, "opportunity_id": opportunity.to_string() }),
                )
            }
            Op::AddLine { number, service } => (
                "query-services",
                "/add",
                json!({ "document_number": number, "kind": "service", "id": self.services[*service].to_string(), "quantity": "1" }),
            ),
        };
        let body = body.to_string();
        let spec = EventSpec {
            audience: binary,
            method: "POST",
            path,
            query: "",
            body: &body,
            signer: Some((TENANT, KEY, crate::customers::now())),
            headers: &[],
        };
        (binary, event(&spec))
    }

    /// Applies the ChannelOnline-side edit an operation starts with (once, before its first try).
    fn prepare(&self, op: &Op) {
        let mut col = self.col.state();
        match op {
            Op::ChangeCustomer { number, phone } => {
                if let Some(c) = col.customers.get_mut(number) {
                    c.phone = Some(phone.clone());
                    c.modified_at = Some(Utc::now());
                }
            }
            Op::ChangeDocument {
                number,
                lines: count,
                seed,
            } => {
                if let Some(d) = col.documents.get(number).cloned() {
                    let mut rng = fastrand::Rng::with_seed(*seed);
                    let mut doc = d;
                    // Change some quantities and prices, append lines up to `count`.
                    for l in doc.lines.iter_mut().filter(|l| l.autotask.is_none()) {
                        if rng.u32(0..100) < 30 {
                            l.quantity += Decimal::ONE;
                        }
                    }
                    let next = doc.lines.iter().map(|l| l.order).max().unwrap_or(0);
                    let products = doc.lines.iter().filter(|l| l.autotask.is_none()).count();
                    for n in 0..count.saturating_sub(products) as u32 {
                        let sku = format!("SKU-{:03}", rng.u32(0..160));
                        doc.lines
                            .push(line(next + 1 + n, &sku, rng.u32(1..20), rng.u32(50..900)));
                    }
                    doc.revision += 1;
                    doc.modified_at = Some(Utc::now());
                    col.insert_document(doc);
                }
            }
            _ => {}
        }
    }

    /// One invocation, killed after `kill_after` when it has not answered by then.
    fn invoke(&self, binary: &str, ev: &Value, kill_after: Duration, deadline: Duration) -> Outcome {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        invoke_binary_until(&self.binaries[binary], &ev.to_string(), &env, kill_after, deadline)
    }
}

/// The Autotask side every script needs: owner, billing code, shipping, payment terms, services,
/// the companies to import with their contacts. Answers the settings and the service ids.
fn seed(at: &AtSandbox, script: &Script) -> (Value, Vec<i64>) {
    let s = at.state();
    let owner = s.add_resource("Sam", "Seller", "sam@reseller.test", false);
    let material = s.add_billing_code("Hardware", 2);
    let shipping = s.add_shipping_type("UPS");
    let payment = s.add_payment_term("Net 30", 30);
    let services = (0..SERVICES)
        .map(|i| s.add_service(&format!("Managed service {i}"), material, 2, 100.0 + i as f64))
        .collect();
    for (name, emails) in &script.companies {
        let company = s.add_company(name, owner);
        for (i, email) in emails.iter().enumerate() {
            s.add_contact(company, &format!("Imp{i}"), "Person", email);
        }
    }
    let settings = json!({
        "opportunity_custom_field": OPPORTUNITY_FIELD,
        "sales_reps": [{ "col_sales_rep_id": "rep-1", "at_resource_id": owner }],
        "field_mappings": {
            "new_company": { "company_type_id": 1, "owner_resource_id": owner },
            "payment_terms": [{ "col": "Net 30", "at_id": payment }],
            "shipping_types": [{ "col": "UPS", "at_id": shipping }],
            "default_product_category_id": 1,
            "default_billing_code_id": material,
            "quote_opportunity": { "status_id": 1, "stage_id": 1, "probability": 50 },
            "sales_order_opportunity": { "status_id": 1, "stage_id": 1, "probability": 90 }
        }
    });
    (settings, services)
}

/// What happened, for the report and the checks.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub operations: usize,
    pub by_kind: BTreeMap<&'static str, usize>,
    pub invocations: usize,
    pub killed: usize,
    /// Answers by status (`"503 retryable"`, `"422 fix"`, `"200"` …).
    pub answers: BTreeMap<String, usize>,
    /// Operations that needed more than one try.
    pub retried_operations: usize,
    /// Answers that broke the promise (wrong retryable flag, no fix, a crash, no answer).
    pub untruthful: Vec<String>,
    /// Operations that never succeeded.
    pub gave_up: Vec<String>,
    pub autotask_faults: BTreeMap<String, u64>,
    pub autotask_write_calls: BTreeMap<String, u64>,
    pub channelonline_faults: BTreeMap<String, u64>,
    pub channelonline_write_calls: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

/// What a user concludes from one answer.
enum Verdict {
    Done,
    /// Try again after this long (as the answer says, or a user would).
    Again(Duration),
}

fn judge(op: &Op, outcome: &Outcome, report: &mut RunReport) -> Verdict {
    let response = match outcome {
        Outcome::Response(envelope) => UrlResponse::from_envelope(envelope),
        Outcome::TimedOut => {
            report.killed += 1;
            // The claim of the killed run lasts until its deadline plus the margin: a user who
            // clicks earlier is told "in progress"; this one comes back after it.
            return Verdict::Again(KILLED_SLACK + shared::app::CLAIM_MARGIN.to_std().unwrap_or_default());
        }
        other => {
            report.untruthful.push(format!("{op:?}: no answer: {other:?}"));
            return Verdict::Again(Duration::from_millis(200));
        }
    };
    let body = response.json();
    let status = response.status;
    let error = &body["error"];
    let retryable = error["retryable"].as_bool();
    let has_fix = error["fix"].as_str().is_some_and(|f| !f.is_empty());
    let key = match (status, retryable) {
        (200, _) => "200".to_owned(),
        (s, Some(true)) => format!("{s} retryable"),
        (s, _) if has_fix => format!("{s} fix"),
        (s, _) => format!("{s} other"),
    };
    *report.answers.entry(key).or_default() += 1;
    if status == 200 {
        // A document export that left lines failed says so per line; the user exports again.
        let failed = body["failed_lines"].as_u64().unwrap_or(0);
        return if failed == 0 {
            Verdict::Done
        } else {
            Verdict::Again(Duration::from_millis(100))
        };
    }
    let truthful = match status {
        503 | 409 | 429 => retryable == Some(true),
        400..=499 => retryable == Some(false) && has_fix,
        _ => false,
    };
    if !truthful {
        report.untruthful.push(format!(
            "{op:?}: {status} {}",
            body.to_string().chars().take(400).collect::<String>()
        ));
    }
    let wait = error["retry_after_secs"]
        .as_u64()
        .or_else(|| error["details"]["retry_after_secs"].as_u64())
        .map(Duration::from_secs);
    Verdict::Again(wait.unwrap_or(Duration::from_millis(if status == 409 { 1000 } else { 100 })))
}

struct TrackState {
    ops: VecDeque<Op>,
    prepared: bool,
    attempts: u32,
    not_before: Instant,
}

/// Runs `script` to the end: the tracks round-robin, each operation retried until it succeeds.
pub async fn run(stack: &ChaosStack, script: &Script, config: &ChaosConfig) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport {
        operations: script.operations(),
        ..RunReport::default()
    };
    let mut kill = fastrand::Rng::with_seed(config.seed ^ 0x4b11);
    let mut tracks: Vec<TrackState> = script
        .tracks
        .iter()
        .map(|t| TrackState {
            ops: t.iter().cloned().collect(),
            prepared: false,
            attempts: 0,
            not_before: started,
        })
        .collect();
    while tracks.iter().any(|t| !t.ops.is_empty()) {
        let now = Instant::now();
        let Some(track) = tracks
            .iter_mut()
            .filter(|t| !t.ops.is_empty() && t.not_before <= now)
            .min_by_key(|t| t.not_before)
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let op = track.ops.front().cloned().expect("non-empty track");
        if !track.prepared {
            stack.prepare(&op);
            track.prepared = true;
        }
        let (binary, ev) = stack.event_for(&op);
        // Some invocations are killed mid-run (the process dies; its deadline was still ahead).
        // Every n-th invocation (n = 1 / kill_rate) is the one to kill, at a random moment.
        let every = (1.0 / config.kill_rate.max(1e-9)).round() as usize;
        let (kill_after, deadline) = if config.kill_rate > 0.0 && report.invocations % every == every / 2 {
            let at = Duration::from_millis(kill.u64(30..400));
            (at, at + KILLED_SLACK)
        } else {
            (FUNCTION_TIMEOUT, FUNCTION_TIMEOUT)
        };
        let outcome = tokio::task::block_in_place(|| stack.invoke(binary, &ev, kill_after, deadline));
        report.invocations += 1;
        track.attempts += 1;
        match judge(&op, &outcome, &mut report) {
            Verdict::Done => {
                *report.by_kind.entry(op.kind()).or_default() += 1;
                if track.attempts > 1 {
                    report.retried_operations += 1;
                }
                track.ops.pop_front();
                track.prepared = false;
                track.attempts = 0;
            }
            Verdict::Again(wait) if track.attempts >= MAX_ATTEMPTS => {
                report.gave_up.push(format!("{op:?} after {MAX_ATTEMPTS} tries"));
                track.ops.clear();
                let _ = wait;
            }
            Verdict::Again(wait) => track.not_before = Instant::now() + wait,
        }
    }
    let snapshot = stack.at.counters().snapshot();
    report.autotask_faults = snapshot.injected;
    report.autotask_write_calls = snapshot.write_calls;
    {
        let col = stack.col.state();
        report.channelonline_faults = col.injected.clone();
        report.channelonline_write_calls = col.write_requests.clone();
    }
    report.elapsed = started.elapsed();
    report
}

/// Records grouped by their natural key, with more than one record per key listed.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    pub duplicates: Vec<String>,
    pub lost_mappings: Vec<String>,
    /// The final state, without ids, for the comparison with a fault-free run.
    pub state: Value,
}

fn duplicates_by(records: &[Value], what: &str, key: impl Fn(&Value) -> Option<String>, out: &mut Vec<String>) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        if let Some(k) = key(r) {
            *seen.entry(k).or_default() += 1;
        }
    }
    out.extend(
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| format!("{what} {k}: {n} records")),
    );
}

fn text(v: &Value, field: &str) -> Option<String> {
    v[field].as_str().map(str::to_owned)
}

/// Checks the sandboxes and the store after a run.
pub async fn check(stack: &ChaosStack, script: &Script) -> Findings {
    let at = stack.at.state();
    let mut f = Findings::default();
    let companies = at.all("Companies");
    let contacts = at.all("Contacts");
    let opportunities = at.all("Opportunities");
    let quotes = at.all("Quotes");
    let products = at.all("Products");
    let items = at.all("QuoteItems");
    duplicates_by(&companies, "company", |c| text(c, "companyNumber"), &mut f.duplicates);
    duplicates_by(
        &companies,
        "company name",
        |c| text(c, "companyName"),
        &mut f.duplicates,
    );
    duplicates_by(
        &contacts,
        "contact",
        |c| Some(format!("{}/{}", c["companyID"], text(c, "emailAddress")?)),
        &mut f.duplicates,
    );
    duplicates_by(
        &opportunities,
        "opportunity",
        |o| Some(format!("{}/{}", o["companyID"], text(o, "title")?)),
        &mut f.duplicates,
    );
    duplicates_by(&quotes, "quote", |q| text(q, "externalQuoteNumber"), &mut f.duplicates);
    duplicates_by(&products, "product", |p| text(p, "sku"), &mut f.duplicates);
    // A copy, so no lock is held across the store reads below.
    let (col_all, col_documents) = {
        let col = stack.col.state();
        (col.customers.clone(), col.documents.clone())
    };
    let col_customers: Vec<Value> = col_all
        .values()
        .map(|c| json!({ "name": c.company_name, "number": c.number }))
        .collect();
    duplicates_by(
        &col_customers,
        "ChannelOnline customer",
        |c| text(c, "name"),
        &mut f.duplicates,
    );

    let sku_of: BTreeMap<i64, String> = products
        .iter()
        .filter_map(|p| Some((p["id"].as_i64()?, text(p, "sku")?)))
        .collect();
    let mut state = serde_json::Map::new();
    for d in &script.documents {
        let number = &d.number;
        let final_doc = col_documents.get(number).cloned();
        let quote = quotes
            .iter()
            .find(|q| q["externalQuoteNumber"].as_str() == Some(number.as_str()));
        let mut quote_items: Vec<String> = quote
            .map(|q| {
                items
                    .iter()
                    .filter(|i| i["quoteID"] == q["id"])
                    .map(|i| {
                        let product = i["productID"].as_i64().and_then(|p| sku_of.get(&p).cloned());
                        format!(
                            "{}|{}|{}|{}",
                            product.unwrap_or_else(|| i["serviceID"].to_string()),
                            i["quantity"],
                            i["unitPrice"],
                            i["quoteItemType"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        quote_items.sort();
        let added_lines = final_doc
            .as_ref()
            .map(|doc| doc.lines.iter().filter(|l| l.autotask.is_some()).count())
            .unwrap_or(0);
        let attached = final_doc
            .as_ref()
            .and_then(|doc| doc.custom_field(OPPORTUNITY_FIELD).map(str::to_owned));
        let title = quote
            .and_then(|q| opportunities.iter().find(|o| o["id"] == q["opportunityID"]))
            .and_then(|o| text(o, "title"));
        // The field names the opportunity by id and title; ids differ between runs, titles do not.
        let attached = attached.map(|v| title.as_ref().is_some_and(|t| v.contains(t.as_str())));
        state.insert(
            number.clone(),
            json!({ "quote": quote.is_some(), "items": quote_items, "added_lines": added_lines, "attached": attached }),
        );
        match stack
            .store
            .get_by_col(&stack.tenant, MappingKind::Document, number)
            .await
        {
            Ok(Some(m)) if quote.is_some_and(|q| q["opportunityID"].as_i64() == Some(m.at_id)) => {}
            other => f.lost_mappings.push(format!("document {number}: {other:?}")),
        }
    }
    for c in &script.customers {
        let company = companies
            .iter()
            .find(|k| k["companyNumber"].as_str() == Some(c.number.as_str()));
        let mut emails: Vec<String> = company
            .map(|k| {
                contacts
                    .iter()
                    .filter(|x| x["companyID"] == k["id"])
                    .filter_map(|x| text(x, "emailAddress"))
                    .collect()
            })
            .unwrap_or_default();
        emails.sort();
        state.insert(
            c.number.clone(),
            json!({ "company": company.map(|k| (k["companyName"].clone(), k["phone"].clone())), "contacts": emails }),
        );
        match (
            company,
            stack
                .store
                .get_by_col(&stack.tenant, MappingKind::Customer, &c.number)
                .await,
        ) {
            (Some(k), Ok(Some(m))) if k["id"].as_i64() == Some(m.at_id) => {}
            (k, m) => f.lost_mappings.push(format!(
                "customer {}: company {:?}, mapping {m:?}",
                c.number,
                k.map(|k| &k["id"])
            )),
        }
    }
    for (name, _) in &script.companies {
        let imported: Vec<&Value> = col_customers.iter().filter(|c| c["name"] == json!(name)).collect();
        let company = companies.iter().find(|k| k["companyName"] == json!(name));
        let mut col_contacts: Vec<String> = col_all
            .values()
            .filter(|c| &c.company_name == name)
            .flat_map(|c| c.contacts.iter().filter_map(|k| k.email.clone()))
            .collect();
        col_contacts.sort();
        state.insert(
            name.clone(),
            json!({ "imported": imported.len(), "contacts": col_contacts }),
        );
        let mapped = match company.and_then(|k| k["id"].as_i64()) {
            Some(id) => stack
                .store
                .get_by_at(&stack.tenant, MappingKind::Customer, id)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        if mapped
            .as_ref()
            .is_none_or(|m| !imported.iter().any(|c| c["number"] == json!(m.col_id)))
        {
            f.lost_mappings.push(format!("import {name}: mapping {mapped:?}"));
        }
    }
    f.state = Value::Object(state);
    f
}
