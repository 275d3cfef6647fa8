//! The demo account: realistic and messy, like real COL data.
//!
//! - `AC1001` Acme Widgets: three contacts, one without a work phone; two share an email.
//! - `NB2002` Nordbrücke Logistik GmbH: Unicode names, no phone on the account or contacts.
//! - `GL3003` Globex Services: one contact, terms COD.
//! - `Q100045` quote for Acme: 120 lines (hardware with categories, a service and a labor line
//!   carrying the Autotask ids of the Autotask sandbox's demo seed: service 29682830, role
//!   29682810), payment terms and delivery method set, revision 2 (revision 1
//!   kept as history), an expiry date and notes.
//! - `S200017` sales order for Nordbrücke with stray control characters in its text.
//! - `Q100046` quote for Globex without payment terms (COL's own export refuses it).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use shared::channelonline::*;

use crate::state::SandboxState;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn contact(id: &str, first: &str, last: &str, email: &str, work: Option<&str>, mobile: Option<&str>) -> Contact {
    Contact {
        id: id.into(),
        first_name: first.into(),
        last_name: last.into(),
        email: s(email),
        work_phone: work.map(str::to_owned),
        mobile: mobile.map(str::to_owned),
    }
}

fn rep() -> SalesRep {
    SalesRep {
        id: s("U501"),
        first_name: s("Dana"),
        last_name: s("Seller"),
        email: s("dana.seller@demo-reseller.example"),
    }
}

fn address(company: &str, line1: &str, city: &str, state: &str, zip: &str) -> Address {
    Address {
        company_name: s(company),
        line1: s(line1),
        city: s(city),
        state: s(state),
        postal_code: s(zip),
        country: s("US"),
        ..Address::default()
    }
}

pub fn customers(now: DateTime<Utc>) -> Vec<Customer> {
    vec![
        Customer {
            customer_id: "C1001".into(),
            number: "AC1001".into(),
            company_name: "Acme Widgets Inc.".into(),
            phone: s("312-555-0100"),
            address: Some(address(
                "Acme Widgets Inc.",
                "1 Industrial Way",
                "Chicago",
                "IL",
                "60601",
            )),
            contacts: vec![
                contact(
                    "K1",
                    "Wile",
                    "Coyote",
                    "wile@acme.example",
                    Some("312-555-0101"),
                    Some("312-555-0199"),
                ),
                contact(
                    "K2",
                    "Road",
                    "Runner",
                    "purchasing@acme.example",
                    None,
                    Some("312-555-0188"),
                ),
                contact(
                    "K3",
                    "Penny",
                    "Pincher",
                    "purchasing@acme.example",
                    Some("312-555-0102"),
                    None,
                ),
            ],
            sales_rep: Some(rep()),
            terms: s("Net 30"),
            modified_at: Some(now - Duration::days(2)),
        },
        Customer {
            customer_id: "C1002".into(),
            number: "NB2002".into(),
            company_name: "Nordbrücke Logistik GmbH".into(),
            phone: None,
            address: Some(Address {
                country: s("DE"),
                ..address("Nordbrücke Logistik GmbH", "Hafenstraße 12", "Hamburg", "HH", "20457")
            }),
            contacts: vec![contact(
                "K4",
                "Jürgen",
                "Straßer",
                "j.strasser@nordbruecke.example",
                None,
                None,
            )],
            sales_rep: Some(rep()),
            terms: s("Net 45"),
            modified_at: Some(now - Duration::days(10)),
        },
        Customer {
            customer_id: "C1003".into(),
            number: "GL3003".into(),
            company_name: "Globex Services".into(),
            phone: s("555-0300"),
            address: Some(address(
                "Globex Services",
                "300 Cypress Creek",
                "Springfield",
                "OR",
                "97477",
            )),
            contacts: vec![contact(
                "K5",
                "Hank",
                "Scorpio",
                "hank@globex.example",
                Some("555-0301"),
                None,
            )],
            sales_rep: None,
            terms: s("COD"),
            modified_at: Some(now - Duration::days(40)),
        },
    ]
}

fn hardware_line(i: u32) -> DocumentLine {
    let (category, sub_category, manufacturer) = match i % 3 {
        0 => ("Networking", "Switches", "Cisco"),
        1 => ("Computers", "Notebooks", "HP Inc."),
        _ => ("Accessories", "Cables", "StarTech"),
    };
    DocumentLine {
        line_id: format!("L{}", 10_000 + i),
        order: i,
        product_type: ProductType::Hardware,
        autotask: None,
        manufacturer: s(manufacturer),
        part_number: Some(format!("PN-{i:04}")),
        sku: Some(format!("ING-{i:05}")),
        description: Some(format!("{manufacturer} item {i}")),
        description2: None,
        category: s(category),
        sub_category: s(sub_category),
        price: Some(Decimal::new(10_000 + i as i64 * 25, 2)),
        cost: Some(Decimal::new(8_000 + i as i64 * 20, 2)),
        quantity: Decimal::from(1 + i % 4),
        taxable: true,
    }
}

fn autotask_line(i: u32, kind: AutotaskItemKind, id: i64, description: &str, price: i64) -> DocumentLine {
    DocumentLine {
        line_id: format!("L{}", 10_000 + i),
        order: i,
        product_type: match kind {
            AutotaskItemKind::Service => ProductType::Service,
            AutotaskItemKind::ServiceBundle => ProductType::ServiceBundle,
            AutotaskItemKind::Labor => ProductType::Labor,
        },
        autotask: Some(AutotaskItemRef { kind, id }),
        manufacturer: None,
        part_number: None,
        sku: None,
        description: s(description),
        description2: None,
        category: s("Services"),
        sub_category: None,
        price: Some(Decimal::new(price, 2)),
        cost: None,
        quantity: Decimal::ONE,
        taxable: false,
    }
}

fn totals(lines: &[DocumentLine]) -> Totals {
    let sub: Decimal = lines.iter().map(|l| l.price.unwrap_or_default() * l.quantity).sum();
    let cost: Decimal = lines.iter().map(|l| l.cost.unwrap_or_default() * l.quantity).sum();
    let tax = (sub * Decimal::new(8, 2)).round_dp(2);
    Totals {
        item_cost: Some(cost),
        sub_total: Some(sub),
        tax: Some(tax),
        shipping_handling: Some(Decimal::new(2500, 2)),
        misc: Some(Decimal::ZERO),
        total: Some(sub + tax + Decimal::new(2500, 2)),
    }
}

pub fn documents(now: DateTime<Utc>) -> Vec<Document> {
    let mut lines: Vec<DocumentLine> = (1..=118).map(hardware_line).collect();
    lines.push(autotask_line(
        119,
        AutotaskItemKind::Service,
        29_682_830,
        "Managed backup (monthly)",
        4_900,
    ));
    lines.push(autotask_line(
        120,
        AutotaskItemKind::Labor,
        29_682_810,
        "Installation labor",
        15_000,
    ));
    let quote = Document {
        document_id: "D5001".into(),
        number: "Q100045".into(),
        revision: 2,
        doc_type: DocumentType::Quote,
        status: s("Open"),
        deleted: false,
        description: s("Office refresh 2026"),
        customer: DocumentCustomer {
            number: "AC1001".into(),
            company_name: s("Acme Widgets Inc."),
        },
        contact: Some(DocumentContact {
            id: s("K1"),
            first_name: s("Wile"),
            last_name: s("Coyote"),
            email: s("wile@acme.example"),
        }),
        sales_rep: Some(rep()),
        payment_terms: s("Net 30"),
        delivery_method: s("UPS Ground"),
        po_number: None,
        ship_to: Some(address(
            "Acme Widgets Inc.",
            "1 Industrial Way",
            "Chicago",
            "IL",
            "60601",
        )),
        bill_to: Some(address("Acme Widgets Inc.", "PO Box 42", "Chicago", "IL", "60602")),
        sold_to: Some(address(
            "Acme Widgets Inc.",
            "1 Industrial Way",
            "Chicago",
            "IL",
            "60601",
        )),
        totals: totals(&lines),
        lines,
        notes: vec![Note {
            kind: "Internal".into(),
            text: "Customer asked for delivery before month end".into(),
        }],
        expires_on: NaiveDate::from_ymd_opt(2026, 12, 31),
        custom_fields: Vec::new(),
        created_at: Some(now - Duration::days(3)),
        modified_at: Some(now - Duration::hours(5)),
    };
    let mut first_revision = quote.clone();
    first_revision.revision = 1;
    first_revision.lines.truncate(10);
    first_revision.totals = totals(&first_revision.lines);
    first_revision.modified_at = Some(now - Duration::days(3));

    let order_lines = vec![hardware_line(1), hardware_line(2)];
    let order = Document {
        document_id: "D6001".into(),
        number: "S200017".into(),
        revision: 1,
        doc_type: DocumentType::SalesOrder,
        status: s("Submitted"),
        deleted: false,
        description: s("Lager\u{b} Umbau\u{1}"),
        customer: DocumentCustomer {
            number: "NB2002".into(),
            company_name: s("Nordbrücke Logistik GmbH"),
        },
        contact: Some(DocumentContact {
            id: s("K4"),
            first_name: s("Jürgen"),
            last_name: s("Straßer"),
            email: s("j.strasser@nordbruecke.example"),
        }),
        sales_rep: Some(rep()),
        payment_terms: s("Net 45"),
        delivery_method: s("DHL Express"),
        po_number: s("PO-7781"),
        ship_to: None,
        bill_to: None,
        sold_to: None,
        totals: totals(&order_lines),
        lines: order_lines,
        notes: vec![Note {
            kind: "Shipping".into(),
            text: "Rampe\u{c} 3".into(),
        }],
        expires_on: None,
        custom_fields: vec![CustomField {
            name: "Cost Center".into(),
            value: "HH-01".into(),
        }],
        created_at: Some(now - Duration::days(1)),
        modified_at: Some(now - Duration::hours(2)),
    };
    let unpaid = Document {
        document_id: "D5002".into(),
        number: "Q100046".into(),
        revision: 1,
        doc_type: DocumentType::Quote,
        status: s("Open"),
        deleted: false,
        description: s("Firewall renewal"),
        customer: DocumentCustomer {
            number: "GL3003".into(),
            company_name: s("Globex Services"),
        },
        contact: None,
        sales_rep: None,
        payment_terms: None,
        delivery_method: None,
        po_number: None,
        ship_to: None,
        bill_to: None,
        sold_to: None,
        totals: totals(&[hardware_line(3)]),
        lines: vec![hardware_line(3)],
        notes: Vec::new(),
        expires_on: None,
        custom_fields: Vec::new(),
        created_at: Some(now - Duration::hours(30)),
        modified_at: Some(now - Duration::hours(30)),
    };
    vec![first_revision, quote, order, unpaid]
}

/// Loads the demo account into `state`.
pub fn demo(state: &mut SandboxState, now: DateTime<Utc>) {
    for c in customers(now) {
        state.insert_customer(c);
    }
    for d in documents(now) {
        state.insert_document(d);
    }
}
