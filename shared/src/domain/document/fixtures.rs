//! Test data shared by the planner's unit tests.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::input::{
    AutotaskIdentity, AutotaskItemKind, ContactRef, DocumentAddress, DocumentInput, DocumentKind, DocumentLine,
    LineKind,
};
use super::lines::QuoteItemTypes;
use super::preconditions::Ready;
use super::settings::{DocumentOpportunityDefaults, DocumentSettings};

/// A tenant whose `quoteItemType` codes are not the ones third-party code guesses.
pub fn item_types() -> QuoteItemTypes {
    let picklist = [
        ("Product", 101),
        ("Labor", 103),
        ("Shipping", 106),
        ("Service", 111),
        ("Service Bundle", 112),
    ];
    QuoteItemTypes::resolve(
        |label| {
            picklist
                .iter()
                .find(|(l, _)| l.eq_ignore_ascii_case(label))
                .map(|(_, c)| *c)
        },
        picklist.iter().map(|(l, _)| (*l).to_owned()).collect(),
    )
}

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
}

pub fn doc() -> DocumentInput {
    DocumentInput {
        number: "Q1001".into(),
        doc_type: DocumentKind::Quote,
        customer_number: "AC0001".into(),
        contact: Some(ContactRef {
            col_id: "c1".into(),
            email: Some("pat@acme.test".into()),
        }),
        sales_rep_id: Some("rep7".into()),
        payment_terms: Some("Net 30".into()),
        shipping_method: Some("UPS Ground".into()),
        shipping_charge: 0.0,
        description: Some("Office refresh".into()),
        po_number: None,
        created: NaiveDate::from_ymd_opt(2026, 11, 20),
        expires: NaiveDate::from_ymd_opt(2026, 12, 20),
        bill_to: Some(DocumentAddress {
            address1: Some("1 Main St".into()),
            city: Some("Springfield".into()),
            state: Some("IL".into()),
            postal_code: Some("62701".into()),
            ..DocumentAddress::default()
        }),
        ship_to: None,
        sold_to: None,
        opportunity_field: None,
        lines: vec![],
    }
}

pub fn settings() -> DocumentSettings {
    let defaults = DocumentOpportunityDefaults {
        status: 1,
        stage: 2,
        probability: 50,
    };
    DocumentSettings {
        payment_terms: BTreeMap::from([("Net 30".into(), 3)]),
        shipping_types: BTreeMap::from([("UPS Ground".into(), 9)]),
        categories: BTreeMap::from([("Networking/Switches".into(), 7)]),
        default_category: Some(1),
        default_billing_code: Some(55),
        quote_defaults: Some(defaults),
        sales_order_defaults: Some(DocumentOpportunityDefaults {
            status: 3,
            stage: 5,
            probability: 100,
        }),
        ..DocumentSettings::default()
    }
}

pub fn ready() -> Ready {
    Ready {
        company_id: 100,
        contact_id: 200,
        owner_resource_id: 300,
        payment_term_id: 3,
        shipping_type_id: Some(9),
        defaults: settings().quote_defaults.unwrap(),
    }
}

pub fn product_line(n: usize) -> DocumentLine {
    DocumentLine {
        line_id: format!("L{n}"),
        kind: LineKind::Product {
            sku: Some(format!("SKU-{n}")),
            part_number: Some(format!("MPN-{n}")),
            manufacturer: Some("Cisco".into()),
            category: Some("Networking".into()),
            sub_category: Some("Switches".into()),
        },
        name: format!("Product {n}"),
        description: None,
        quantity: 1.0 + n as f64,
        unit_price: 100.0 + n as f64,
        unit_cost: 70.0 + n as f64,
        taxable: true,
    }
}

pub fn service_line(n: usize, kind: AutotaskItemKind, id: i64) -> DocumentLine {
    DocumentLine {
        line_id: format!("L{n}"),
        kind: LineKind::Autotask(AutotaskIdentity { kind, id }),
        name: format!("Service {n}"),
        description: Some("Monthly".into()),
        quantity: 1.0,
        unit_price: 50.0,
        unit_cost: 20.0,
        taxable: false,
    }
}
