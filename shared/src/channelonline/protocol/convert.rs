//! Wire shapes <-> domain records. Reading is lenient (empty elements are absent, unparsable
//! numbers are absent, timestamps with any offset become UTC); writing is what the sandbox
//! serves and what the client sends.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;

use super::wire::*;
use super::{DOCUMENT_TYPE_QUOTE, DOCUMENT_TYPE_SALES_ORDER};
use crate::channelonline::types::*;

/// Trims and turns empty text into `None`.
pub fn text(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn decimal(v: &Option<String>) -> Option<Decimal> {
    text(v).and_then(|s| Decimal::from_str(&s.replace([',', '$'], "")).ok())
}

fn flag(v: &Option<String>) -> bool {
    matches!(
        text(v).map(|s| s.to_ascii_lowercase()).as_deref(),
        Some("true" | "yes" | "y" | "1" | "taxable")
    )
}

/// ISO-8601 with any offset, as COL sends it; `None` when unparsable.
pub fn timestamp(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The observed `after` / `before` format: ISO-8601 UTC, seconds precision.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn date(v: &Option<String>) -> Option<NaiveDate> {
    let s = text(v)?;
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&s, "%m/%d/%Y"))
        .ok()
        .or_else(|| timestamp(&s).map(|t| t.date_naive()))
}

pub fn document_type_option(t: DocumentType) -> &'static str {
    match t {
        DocumentType::Quote => DOCUMENT_TYPE_QUOTE,
        DocumentType::SalesOrder => DOCUMENT_TYPE_SALES_ORDER,
    }
}

/// `documentType` option ("Sales Order") or attribute ("SalesOrder").
pub fn parse_document_type(s: &str) -> Option<DocumentType> {
    match s.replace(' ', "").to_ascii_lowercase().as_str() {
        "quote" => Some(DocumentType::Quote),
        "salesorder" => Some(DocumentType::SalesOrder),
        _ => None,
    }
}

fn product_type(s: Option<String>) -> ProductType {
    match s
        .as_deref()
        .map(|s| s.replace([' ', '_'], "").to_ascii_lowercase())
        .as_deref()
    {
        Some("hardware") | None => ProductType::Hardware,
        Some("software") => ProductType::Software,
        Some("service") => ProductType::Service,
        Some("servicebundle") | Some("bundle") => ProductType::ServiceBundle,
        Some("labor") | Some("labour") => ProductType::Labor,
        Some(_) => ProductType::Other(s.unwrap_or_default()),
    }
}

pub fn product_type_name(t: &ProductType) -> String {
    match t {
        ProductType::Hardware => "Hardware".into(),
        ProductType::Software => "Software".into(),
        ProductType::Service => "Service".into(),
        ProductType::ServiceBundle => "ServiceBundle".into(),
        ProductType::Labor => "Labor".into(),
        ProductType::Other(s) => s.clone(),
    }
}

pub fn autotask_kind_name(k: AutotaskItemKind) -> &'static str {
    match k {
        AutotaskItemKind::Service => "Service",
        AutotaskItemKind::ServiceBundle => "ServiceBundle",
        AutotaskItemKind::Labor => "Labor",
    }
}

fn autotask_item(w: &WireAutotaskItem) -> Option<AutotaskItemRef> {
    let kind = match w.kind.trim() {
        "Service" => AutotaskItemKind::Service,
        "ServiceBundle" => AutotaskItemKind::ServiceBundle,
        "Labor" => AutotaskItemKind::Labor,
        _ => return None,
    };
    Some(AutotaskItemRef {
        kind,
        id: w.id.trim().parse().ok()?,
    })
}

fn address(w: &WireAddress) -> Option<Address> {
    let a = Address {
        company_name: text(&w.company_name),
        first_name: text(&w.first_name),
        last_name: text(&w.last_name),
        line1: text(&w.address_line1),
        line2: text(&w.address_line2),
        city: text(&w.city),
        state: w
            .state
            .as_ref()
            .and_then(|s| text(&s.abbreviation).or_else(|| text(&s.name))),
        postal_code: text(&w.postal_code),
        country: text(&w.country),
        phone: text(&w.phone),
    };
    (a != Address::default()).then_some(a)
}

fn person(w: &WirePerson) -> Option<SalesRep> {
    let p = SalesRep {
        id: text(&w.id),
        first_name: text(&w.first_name),
        last_name: text(&w.last_name),
        email: text(&w.email),
    };
    (p != SalesRep::default()).then_some(p)
}

fn line(w: &WireProduct, index: usize) -> DocumentLine {
    let sku = w
        .supplier_product
        .iter()
        .find(|s| flag(&s.selected))
        .or(w.supplier_product.first())
        .and_then(|s| text(&s.sku));
    DocumentLine {
        line_id: w.line_item_id.trim().to_owned(),
        order: text(&w.line_order)
            .or_else(|| text(&w.line_item_number))
            .and_then(|s| s.parse().ok())
            .unwrap_or(index as u32 + 1),
        product_type: product_type(text(&w.product_type)),
        autotask: w.autotask_item.as_ref().and_then(autotask_item),
        manufacturer: w.manufacturer.as_ref().and_then(|m| text(&m.name)),
        part_number: text(&w.part_number),
        sku,
        description: text(&w.description_line1),
        description2: text(&w.description_line2),
        category: text(&w.category),
        sub_category: text(&w.sub_category),
        price: decimal(&w.price),
        cost: decimal(&w.cost),
        quantity: w
            .quantity
            .as_ref()
            .and_then(|q| decimal(&q.value))
            .unwrap_or(Decimal::ONE),
        taxable: flag(&w.taxable),
    }
}

/// A wire document as a domain document; `None` when it has no usable number or type.
pub fn document_from_wire(w: &WireDocument) -> Option<Document> {
    let number = w.document_number.trim();
    if number.is_empty() {
        return None;
    }
    let doc_type = parse_document_type(&w.document_type)?;
    let event = |kind: &str| {
        w.event
            .iter()
            .filter(|e| e.kind.eq_ignore_ascii_case(kind))
            .filter_map(|e| timestamp(&e.when))
            .max()
    };
    let mut lines: Vec<DocumentLine> = w
        .item_list
        .as_ref()
        .map(|l| l.product.iter().enumerate().map(|(i, p)| line(p, i)).collect())
        .unwrap_or_default();
    lines.sort_by_key(|l| l.order);
    let customer = w.customer.clone().unwrap_or_default();
    Some(Document {
        document_id: Some(w.document_id.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or(number)
            .to_owned(),
        number: number.to_owned(),
        revision: text(&w.revision_number).and_then(|r| r.parse().ok()).unwrap_or(1),
        doc_type,
        status: text(&w.status),
        deleted: flag(&w.deleted),
        description: text(&w.description),
        customer: DocumentCustomer {
            number: customer.customer_number.trim().to_owned(),
            company_name: text(&customer.company_name),
        },
        contact: w.contact.as_ref().and_then(person).map(|p| DocumentContact {
            id: p.id,
            first_name: p.first_name,
            last_name: p.last_name,
            email: p.email,
        }),
        sales_rep: w.sales_person.as_ref().and_then(person),
        payment_terms: customer.terms.as_ref().and_then(|t| text(&t.description)),
        delivery_method: text(&w.delivery_method),
        po_number: w.payment.as_ref().and_then(|p| text(&p.po_number)),
        ship_to: w.ship_to.as_ref().and_then(address),
        bill_to: w.bill_to.as_ref().and_then(address),
        sold_to: w.sold_to.as_ref().and_then(address),
        lines,
        totals: Totals {
            item_cost: decimal(&w.total_item_cost),
            sub_total: decimal(&w.sub_total),
            tax: decimal(&w.tax),
            shipping_handling: decimal(&w.shipping_handling),
            misc: decimal(&w.misc_amount),
            total: decimal(&w.total),
        },
        notes: w
            .note
            .iter()
            .filter_map(|n| {
                text(&n.text).map(|t| Note {
                    kind: n.kind.trim().to_owned(),
                    text: t,
                })
            })
            .collect(),
        expires_on: date(&w.expiration_date),
        custom_fields: w
            .custom_fields
            .as_ref()
            .map(|c| {
                c.custom_field
                    .iter()
                    .map(|f| CustomField {
                        name: f.name.trim().to_owned(),
                        value: text(&f.value).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        created_at: event("created"),
        modified_at: event("modified").or_else(|| event("created")),
    })
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn money(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

pub fn address_to_wire(a: &Address) -> WireAddress {
    WireAddress {
        company_name: a.company_name.clone(),
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        address_line1: a.line1.clone(),
        address_line2: a.line2.clone(),
        city: a.city.clone(),
        state: a.state.as_ref().map(|s| WireState {
            abbreviation: Some(s.clone()),
            name: None,
        }),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
        phone: a.phone.clone(),
    }
}

fn person_to_wire(p: &SalesRep) -> WirePerson {
    WirePerson {
        id: p.id.clone(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        email: p.email.clone(),
    }
}

pub fn line_to_wire(l: &DocumentLine) -> WireProduct {
    WireProduct {
        line_item_id: l.line_id.clone(),
        line_item_number: Some(l.order.to_string()),
        line_order: Some(l.order.to_string()),
        product_type: Some(product_type_name(&l.product_type)),
        autotask_item: l.autotask.map(|a| WireAutotaskItem {
            kind: autotask_kind_name(a.kind).to_owned(),
            id: a.id.to_string(),
        }),
        status: None,
        manufacturer: l.manufacturer.as_ref().map(|m| WireManufacturer {
            manufacturer_id: None,
            name: Some(m.clone()),
        }),
        part_number: l.part_number.clone(),
        description_line1: l.description.clone(),
        description_line2: l.description2.clone(),
        category: l.category.clone(),
        sub_category: l.sub_category.clone(),
        taxable: Some(l.taxable.to_string()),
        cost: money(l.cost),
        price: money(l.price),
        quantity: Some(WireQuantity {
            cancelled: None,
            value: Some(l.quantity.to_string()),
        }),
        supplier_product: l
            .sku
            .iter()
            .map(|sku| WireSupplierProduct {
                selected: some("true"),
                supplier: None,
                sku: Some(sku.clone()),
            })
            .collect(),
    }
}

/// A domain document as the sandbox serves it.
pub fn document_to_wire(d: &Document) -> WireDocument {
    let mut event = Vec::new();
    for (kind, at) in [("created", d.created_at), ("modified", d.modified_at)] {
        if let Some(at) = at {
            event.push(WireEvent {
                kind: kind.into(),
                when: format_time(at),
                user: None,
            });
        }
    }
    WireDocument {
        document_id: d.document_id.clone(),
        document_number: d.number.clone(),
        document_type: match d.doc_type {
            DocumentType::Quote => "Quote".into(),
            DocumentType::SalesOrder => "SalesOrder".into(),
        },
        revision_number: Some(d.revision.to_string()),
        status: d.status.clone(),
        stage: None,
        probability: None,
        deleted: Some(d.deleted.to_string()),
        description: d.description.clone(),
        expiration_date: d.expires_on.map(|e| e.format("%Y-%m-%d").to_string()),
        event,
        customer: Some(WireDocumentCustomer {
            customer_number: d.customer.number.clone(),
            company_name: d.customer.company_name.clone(),
            terms: d.payment_terms.as_ref().map(|t| WireTerms {
                description: Some(t.clone()),
            }),
            price_profile: None,
        }),
        contact: d.contact.as_ref().map(|c| WirePerson {
            id: c.id.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
        }),
        sales_person: d.sales_rep.as_ref().map(person_to_wire),
        account_manager: None,
        payment: d.po_number.as_ref().map(|po| WirePayment {
            po_number: Some(po.clone()),
        }),
        delivery_method: d.delivery_method.clone(),
        ship_to: d.ship_to.as_ref().map(address_to_wire),
        bill_to: d.bill_to.as_ref().map(address_to_wire),
        sold_to: d.sold_to.as_ref().map(address_to_wire),
        note: d
            .notes
            .iter()
            .map(|n| WireNote {
                kind: n.kind.clone(),
                text: Some(n.text.clone()),
            })
            .collect(),
        total_item_cost: money(d.totals.item_cost),
        sub_total: money(d.totals.sub_total),
        tax: money(d.totals.tax),
        shipping_handling: money(d.totals.shipping_handling),
        misc_amount: money(d.totals.misc),
        total: money(d.totals.total),
        item_list: Some(WireItemList {
            product: d.lines.iter().map(line_to_wire).collect(),
        }),
        custom_fields: (!d.custom_fields.is_empty()).then(|| WireCustomFields {
            custom_field: d
                .custom_fields
                .iter()
                .map(|f| WireCustomField {
                    name: f.name.clone(),
                    value: Some(f.value.clone()),
                })
                .collect(),
        }),
    }
}

pub fn contact_from_wire(w: &WireContact) -> Option<Contact> {
    Some(Contact {
        id: text(&w.contact_id)?,
        first_name: text(&w.first_name).unwrap_or_default(),
        last_name: text(&w.last_name).unwrap_or_default(),
        email: text(&w.email),
        work_phone: text(&w.work_phone),
        mobile: text(&w.mobile_phone),
    })
}

pub fn customer_from_wire(w: &WireCustomer) -> Option<Customer> {
    let number = w.customer_number.trim();
    if number.is_empty() {
        return None;
    }
    Some(Customer {
        customer_id: w.customer_id.trim().to_owned(),
        number: number.to_owned(),
        company_name: text(&w.company_name).unwrap_or_default(),
        phone: text(&w.phone),
        address: w.address.as_ref().and_then(address),
        contacts: w
            .contacts
            .as_ref()
            .map(|c| c.contact.iter().filter_map(contact_from_wire).collect())
            .unwrap_or_default(),
        sales_rep: w.sales_person.as_ref().and_then(person),
        terms: w.terms.as_ref().and_then(|t| text(&t.description)),
        modified_at: w.modified.as_deref().and_then(timestamp),
    })
}

pub fn customer_to_wire(c: &Customer) -> WireCustomer {
    WireCustomer {
        customer_id: c.customer_id.clone(),
        customer_number: c.number.clone(),
        modified: c.modified_at.map(format_time),
        company_name: Some(c.company_name.clone()),
        phone: c.phone.clone(),
        address: c.address.as_ref().map(address_to_wire),
        sales_person: c.sales_rep.as_ref().map(person_to_wire),
        terms: c.terms.as_ref().map(|t| WireTerms {
            description: Some(t.clone()),
        }),
        contacts: Some(WireContacts {
            contact: c
                .contacts
                .iter()
                .map(|k| WireContact {
                    contact_id: Some(k.id.clone()),
                    first_name: Some(k.first_name.clone()),
                    last_name: Some(k.last_name.clone()),
                    email: k.email.clone(),
                    work_phone: k.work_phone.clone(),
                    mobile_phone: k.mobile.clone(),
                })
                .collect(),
        }),
    }
}

pub fn upsert_to_wire(u: &CustomerUpsert) -> ImportCustomer {
    ImportCustomer {
        action: if u.number.is_some() { "update" } else { "create" }.into(),
        customer_number: u.number.clone(),
        company_name: u.company_name.clone(),
        phone: u.phone.clone(),
        address: u.address.as_ref().map(address_to_wire),
        sales_person_email: u.sales_rep_email.clone(),
        terms: u.terms.as_ref().map(|t| WireTerms {
            description: Some(t.clone()),
        }),
        contacts: Some(WireContacts {
            contact: u
                .contacts
                .iter()
                .map(|k| WireContact {
                    contact_id: k.id.clone(),
                    first_name: Some(k.first_name.clone()),
                    last_name: Some(k.last_name.clone()),
                    email: k.email.clone(),
                    work_phone: k.work_phone.clone(),
                    mobile_phone: k.mobile.clone(),
                })
                .collect(),
        }),
    }
}

/// The sandbox's reading of an import request (inverse of [`upsert_to_wire`]).
pub fn upsert_from_wire(w: &ImportCustomer) -> CustomerUpsert {
    CustomerUpsert {
        number: text(&w.customer_number),
        company_name: w.company_name.trim().to_owned(),
        phone: text(&w.phone),
        address: w.address.as_ref().and_then(address),
        sales_rep_email: text(&w.sales_person_email),
        terms: w.terms.as_ref().and_then(|t| text(&t.description)),
        contacts: w
            .contacts
            .as_ref()
            .map(|c| {
                c.contact
                    .iter()
                    .map(|k| ContactUpsert {
                        id: text(&k.contact_id),
                        first_name: text(&k.first_name).unwrap_or_default(),
                        last_name: text(&k.last_name).unwrap_or_default(),
                        email: text(&k.email),
                        work_phone: text(&k.work_phone),
                        mobile: text(&k.mobile_phone),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub fn new_line_to_wire(l: &NewLine) -> WireProduct {
    let product_type = match l.autotask.kind {
        AutotaskItemKind::Service => ProductType::Service,
        AutotaskItemKind::ServiceBundle => ProductType::ServiceBundle,
        AutotaskItemKind::Labor => ProductType::Labor,
    };
    line_to_wire(&DocumentLine {
        line_id: String::new(),
        order: 0,
        product_type,
        autotask: Some(l.autotask),
        manufacturer: None,
        part_number: l.part_number.clone(),
        sku: None,
        description: Some(l.description.clone()),
        description2: l.description2.clone(),
        category: l.category.clone(),
        sub_category: l.sub_category.clone(),
        price: Some(l.price),
        cost: l.cost,
        quantity: l.quantity,
        taxable: l.taxable,
    })
}

/// The sandbox's reading of a line to add; `None` without an Autotask identity.
pub fn new_line_from_wire(w: &WireProduct) -> Option<NewLine> {
    let l = line(w, 0);
    Some(NewLine {
        autotask: l.autotask?,
        part_number: l.part_number,
        description: l.description.unwrap_or_default(),
        description2: l.description2,
        category: l.category,
        sub_category: l.sub_category,
        price: l.price.unwrap_or_default(),
        cost: l.cost,
        quantity: l.quantity,
        taxable: l.taxable,
    })
}
