//! The button operations of sections 1 and 2, each run in a fresh [`Lab`] through the same
//! domain services the functions call (`shared::sync::customers`, `shared::sync::documents`).
//! Setup (seeding, a first export an operation depends on) is not metered; the operation is.

use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use shared::channelonline::{Contact, Customer, Document, DocumentLine, ProductType};
use shared::sync::customers::{self, ImportRequest};
use shared::sync::documents::{self, ExportDocumentRequest};

use crate::lab::{CallCount, Lab, TEMPLATE_QUOTE};

/// The demo customer (3 contacts) that is new to Autotask, and the demo quote used as template.
const CUSTOMER: &str = "AC1001";
/// An Autotask demo company with a contact, for import by name.
const IMPORT_NAME: &str = "Contoso Ltd";
/// Autotask's page size (and OR-list limit).
const PAGE: u64 = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    NewCustomer,
    UnchangedCustomer,
    /// First export of an `lines`-line quote whose lines name `new_products` products Autotask lacks.
    FirstQuote {
        lines: usize,
        new_products: usize,
    },
    UnchangedQuote {
        lines: usize,
        new_products: usize,
    },
    OneLineChange {
        lines: usize,
        new_products: usize,
    },
    ImportByName,
    MapCustomers {
        size: usize,
    },
}

/// What an operation's calls are compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// 0 writes and at most 3 reads.
    Unchanged,
    /// At most `n + k + 8` calls.
    FirstExport { limit: u64 },
    /// No target; the lower bound is shown.
    None,
}

/// One metered run.
#[derive(Clone, Debug)]
pub struct Measured {
    pub calls: CallCount,
    pub elapsed: Duration,
    /// Company records on the Autotask side (map-customers: the lower bound depends on it).
    pub companies: u64,
}

impl Operation {
    pub fn name(&self) -> String {
        match self {
            Operation::NewCustomer => "export new customer (3 contacts)".into(),
            Operation::UnchangedCustomer => "re-export unchanged customer".into(),
            Operation::FirstQuote { lines, new_products } => {
                format!("export {lines}-line quote, first (k={new_products} new products)")
            }
            Operation::UnchangedQuote { lines, .. } => format!("re-export unchanged {lines}-line quote"),
            Operation::OneLineChange { lines, .. } => format!("re-export {lines}-line quote, one line changed"),
            Operation::ImportByName => "import customer by name".into(),
            Operation::MapCustomers { size } => format!("map-customers proposal {size} x {size}"),
        }
    }

    /// The fewest Autotask calls the operation can need, and why.
    pub fn lower_bound(&self, companies: u64) -> (u64, String) {
        match self {
            Operation::NewCustomer => (5, "1 duplicate check + 1 company + 3 contacts".into()),
            Operation::UnchangedCustomer | Operation::UnchangedQuote { .. } => {
                (0, "nothing changed (stored hashes)".into())
            }
            Operation::FirstQuote { lines, new_products } => (
                (lines + new_products + 4) as u64,
                format!("1 product lookup + opportunity + location + quote + {new_products} products + {lines} items"),
            ),
            Operation::OneLineChange { .. } => (1, "1 item update".into()),
            Operation::ImportByName => (2, "company by name + its contacts".into()),
            Operation::MapCustomers { .. } => {
                let pages = companies.div_ceil(PAGE);
                (pages, format!("{pages} pages of {companies} companies"))
            }
        }
    }

    pub fn target(&self) -> Target {
        match self {
            Operation::UnchangedCustomer | Operation::UnchangedQuote { .. } => Target::Unchanged,
            Operation::FirstQuote { lines, new_products } => Target::FirstExport {
                limit: (lines + new_products + 8) as u64,
            },
            _ => Target::None,
        }
    }

    /// Seeds what the operation needs in `lab`, then runs and meters it with Autotask answering
    /// after `latency` (setup runs without it).
    pub async fn run(&self, lab: &Lab, latency: Duration) -> Result<Measured, String> {
        match self {
            Operation::NewCustomer => metered(lab, latency, export_customer(lab)).await,
            Operation::UnchangedCustomer => {
                export_customer(lab).await?;
                lab.advance_clock(chrono::Duration::days(1));
                metered(lab, latency, export_customer(lab)).await
            }
            Operation::FirstQuote { lines, new_products } => {
                let number = seed_quote(lab, *lines, *new_products).await?;
                metered(lab, latency, export_quote(lab, &number)).await
            }
            Operation::UnchangedQuote { lines, new_products } => {
                let number = seed_quote(lab, *lines, *new_products).await?;
                export_quote(lab, &number).await?;
                lab.advance_clock(chrono::Duration::days(1));
                metered(lab, latency, export_quote(lab, &number)).await
            }
            Operation::OneLineChange { lines, new_products } => {
                let number = seed_quote(lab, *lines, *new_products).await?;
                export_quote(lab, &number).await?;
                change_one_line(lab, &number)?;
                lab.advance_clock(chrono::Duration::days(1));
                metered(lab, latency, export_quote(lab, &number)).await
            }
            Operation::ImportByName => metered(lab, latency, import_by_name(lab)).await,
            Operation::MapCustomers { size } => {
                seed_map_population(lab, *size);
                metered(lab, latency, propose(lab)).await
            }
        }
    }
}

async fn metered(
    lab: &Lab,
    latency: Duration,
    op: impl Future<Output = Result<(), String>>,
) -> Result<Measured, String> {
    lab.renew_clients().map_err(|e| e.to_string())?;
    lab.set_latency(latency);
    let meter = lab.meter();
    let started = Instant::now();
    let result = op.await;
    let elapsed = started.elapsed();
    lab.set_latency(Duration::ZERO);
    result?;
    let calls = lab.calls_since(&meter);
    Ok(Measured {
        calls,
        elapsed,
        companies: lab.autotask.state().count("Companies") as u64,
    })
}

async fn export_customer(lab: &Lab) -> Result<(), String> {
    let ctx = lab.context().await.map_err(|e| e.to_string())?;
    customers::export_customer(&ctx, CUSTOMER)
        .await
        .map(drop)
        .map_err(|e| format!("export_customer: {e}"))
}

pub async fn export_quote(lab: &Lab, number: &str) -> Result<(), String> {
    let ctx = lab.context().await.map_err(|e| e.to_string())?;
    let request = ExportDocumentRequest {
        document_number: number.to_owned(),
        opportunity_id: None,
        custom_name: None,
        dry_run: false,
    };
    let outcome = documents::export_document(&ctx, &request, None)
        .await
        .map_err(|e| format!("export_document: {e}"))?;
    if outcome.failed_lines > 0 {
        return Err(format!(
            "export_document: {} of {} lines failed: {}",
            outcome.failed_lines,
            outcome.lines.len(),
            outcome.message
        ));
    }
    Ok(())
}

async fn import_by_name(lab: &Lab) -> Result<(), String> {
    let ctx = lab.context().await.map_err(|e| e.to_string())?;
    let request = ImportRequest {
        account_name: Some(IMPORT_NAME.to_owned()),
        import_all_contacts: true,
        ..ImportRequest::default()
    };
    customers::import_customer(&ctx, &request)
        .await
        .map(drop)
        .map_err(|e| format!("import_customer: {e}"))
}

async fn propose(lab: &Lab) -> Result<(), String> {
    let ctx = lab.context().await.map_err(|e| e.to_string())?;
    customers::propose_pairs(&ctx)
        .await
        .map(drop)
        .map_err(|e| format!("propose_pairs: {e}"))
}

/// Exports the customer (unmetered), then adds an `lines`-line quote for it to ChannelOnline:
/// `new_products` lines name products Autotask lacks, the others products it already has.
pub async fn seed_quote(lab: &Lab, lines: usize, new_products: usize) -> Result<String, String> {
    export_customer(lab).await?;
    let number = format!("QB{lines}");
    let template = lab
        .col
        .state()
        .document(TEMPLATE_QUOTE)
        .cloned()
        .ok_or("the ChannelOnline demo quote is missing")?;
    let doc = quote_from_template(&template, &number, lines, new_products, |sku, name| {
        let state = lab.autotask.state();
        let billing_code = state
            .all("Products")
            .first()
            .and_then(|p| p["productBillingCodeID"].as_i64())
            .unwrap_or_default();
        state.add_product(name, sku, billing_code, 100.0);
    });
    lab.col.state().insert_document(doc);
    Ok(number)
}

/// A quote with the template's header and `lines` hardware lines modelled on its first one.
/// `existing` is called for each SKU that must already exist in Autotask.
pub fn quote_from_template(
    template: &Document,
    number: &str,
    lines: usize,
    new_products: usize,
    mut existing: impl FnMut(&str, &str),
) -> Document {
    let model = template
        .lines
        .iter()
        .find(|l| l.product_type == ProductType::Hardware && l.autotask.is_none())
        .cloned()
        .unwrap_or_else(|| template.lines[0].clone());
    let lines: Vec<DocumentLine> = (0..lines)
        .map(|i| {
            let (sku, name) = if i < new_products {
                (format!("BN-NEW-{i:04}"), format!("Bench new product {i}"))
            } else {
                (format!("BN-OLD-{i:04}"), format!("Bench stocked product {i}"))
            };
            if i >= new_products {
                existing(&sku, &name);
            }
            DocumentLine {
                line_id: format!("{number}-L{i:04}"),
                order: i as u32 + 1,
                sku: Some(sku.clone()),
                part_number: Some(sku),
                description: Some(name),
                quantity: Decimal::from(1 + (i % 5) as i64),
                ..model.clone()
            }
        })
        .collect();
    Document {
        document_id: format!("{number}-ID"),
        number: number.to_owned(),
        revision: 1,
        lines,
        modified_at: Some(Utc::now()),
        ..template.clone()
    }
}

pub fn change_one_line(lab: &Lab, number: &str) -> Result<(), String> {
    let mut state = lab.col.state();
    let mut doc = state.document(number).cloned().ok_or("quote vanished")?;
    doc.revision += 1;
    doc.lines[0].quantity += Decimal::ONE;
    doc.modified_at = Some(Utc::now());
    state.insert_document(doc);
    Ok(())
}

/// `size` Autotask companies and `size` ChannelOnline customers, 90% with the same name.
fn seed_map_population(lab: &Lab, size: usize) {
    let owner = lab.owner_resource_id;
    {
        let state = lab.autotask.state();
        for i in 0..size {
            state.add_company(&format!("Mapco {i:05} Holdings"), owner);
        }
    }
    let mut col = lab.col.state();
    for i in 0..size {
        let name = if i % 10 == 9 {
            format!("Unrelated Customer {i:05}")
        } else {
            format!("Mapco {i:05} Holdings")
        };
        col.insert_customer(Customer {
            customer_id: format!("MC{i:05}"),
            number: format!("MAP{i:05}"),
            company_name: name,
            phone: None,
            address: None,
            contacts: vec![Contact {
                id: format!("MK{i:05}"),
                first_name: "Pat".into(),
                last_name: format!("Buyer{i}"),
                email: Some(format!("pat{i}@mapco{i}.example")),
                work_phone: None,
                mobile: None,
            }],
            sales_rep: None,
            terms: None,
            modified_at: Some(Utc::now()),
        });
    }
}
