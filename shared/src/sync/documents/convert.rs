//! ChannelOnline records and tenant settings → the planner's inputs.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::channelonline::types as col;
use crate::domain::document::input::ContactRef;
use crate::domain::document::{
    AutotaskIdentity, AutotaskItemKind, DocumentAddress, DocumentInput, DocumentKind, DocumentLine,
    DocumentOpportunityDefaults, DocumentSettings, LineKind,
};
use crate::domain::settings::{OpportunityDefaults, TenantSettings};

/// A shipping-type mapping whose ChannelOnline value is `*` is the default shipping type.
pub const DEFAULT_SHIPPING_KEY: &str = "*";

/// The planner's view of a ChannelOnline document; `opportunity_field` is the tenant's custom field.
pub fn document_input(doc: &col::Document, opportunity_field: Option<&str>) -> DocumentInput {
    DocumentInput {
        number: doc.number.clone(),
        doc_type: match doc.doc_type {
            col::DocumentType::Quote => DocumentKind::Quote,
            col::DocumentType::SalesOrder => DocumentKind::SalesOrder,
        },
        customer_number: doc.customer.number.clone(),
        contact: doc.contact.as_ref().map(|c| ContactRef {
            col_id: c.id.clone().or_else(|| c.email.clone()).unwrap_or_default(),
            email: c.email.clone(),
        }),
        sales_rep_id: doc.sales_rep.as_ref().and_then(sales_rep_key),
        payment_terms: doc.payment_terms.clone(),
        shipping_method: doc.delivery_method.clone(),
        shipping_charge: doc.totals.shipping_handling.map(to_f64).unwrap_or_default(),
        description: doc.description.clone(),
        po_number: doc.po_number.clone(),
        created: doc.created_at.map(|t| t.date_naive()),
        expires: doc.expires_on,
        bill_to: doc.bill_to.as_ref().map(address),
        ship_to: doc.ship_to.as_ref().map(address),
        sold_to: doc.sold_to.as_ref().map(address),
        opportunity_field: opportunity_field
            .and_then(|name| doc.custom_field(name))
            .map(str::to_owned),
        lines: sorted_lines(doc).into_iter().map(line).collect(),
    }
}

/// The key a sales rep is mapped by: its COL id, else its email.
pub fn sales_rep_key(rep: &col::SalesRep) -> Option<String> {
    rep.id
        .clone()
        .or_else(|| rep.email.clone())
        .filter(|k| !k.trim().is_empty())
}

fn sorted_lines(doc: &col::Document) -> Vec<&col::DocumentLine> {
    let mut lines: Vec<_> = doc.lines.iter().collect();
    lines.sort_by_key(|l| l.order);
    lines
}

fn line(l: &col::DocumentLine) -> DocumentLine {
    let kind = match l.autotask {
        Some(r) => LineKind::Autotask(AutotaskIdentity {
            kind: match r.kind {
                col::AutotaskItemKind::Service => AutotaskItemKind::Service,
                col::AutotaskItemKind::ServiceBundle => AutotaskItemKind::ServiceBundle,
                col::AutotaskItemKind::Labor => AutotaskItemKind::Labor,
            },
            id: r.id,
        }),
        None => LineKind::Product {
            sku: l.sku.clone(),
            part_number: l.part_number.clone(),
            manufacturer: l.manufacturer.clone(),
            category: l.category.clone(),
            sub_category: l.sub_category.clone(),
        },
    };
    let name = l
        .description
        .clone()
        .or_else(|| l.part_number.clone())
        .unwrap_or_else(|| format!("Line {}", l.order));
    DocumentLine {
        line_id: l.line_id.clone(),
        kind,
        name,
        description: l.description2.clone(),
        quantity: to_f64(l.quantity),
        unit_price: l.price.map(to_f64).unwrap_or_default(),
        unit_cost: l.cost.map(to_f64).unwrap_or_default(),
        taxable: l.taxable,
    }
}

fn address(a: &col::Address) -> DocumentAddress {
    DocumentAddress {
        company_name: a.company_name.clone(),
        address1: a.line1.clone(),
        address2: a.line2.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        postal_code: a.postal_code.clone(),
    }
}

fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or_default()
}

/// The document-export slice of the tenant settings.
pub fn document_settings(s: &TenantSettings) -> DocumentSettings {
    let fm = &s.field_mappings;
    let shipping: BTreeMap<String, i64> = fm
        .shipping_types
        .iter()
        .filter(|m| m.col.trim() != DEFAULT_SHIPPING_KEY)
        .map(|m| (m.col.clone(), m.at_id))
        .collect();
    DocumentSettings {
        payment_terms: fm.payment_terms.iter().map(|m| (m.col.clone(), m.at_id)).collect(),
        shipping_types: shipping,
        default_shipping_type: fm
            .shipping_types
            .iter()
            .find(|m| m.col.trim() == DEFAULT_SHIPPING_KEY)
            .map(|m| m.at_id),
        categories: fm
            .categories
            .iter()
            .map(|c| {
                let key = match c.col_sub_category.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    Some(sub) => format!("{}/{sub}", c.col_category),
                    None => c.col_category.clone(),
                };
                (key, c.at_product_category_id)
            })
            .collect(),
        default_category: fm.default_product_category_id,
        default_billing_code: fm.default_billing_code_id,
        quote_defaults: opportunity_defaults(&fm.quote_opportunity),
        sales_order_defaults: opportunity_defaults(&fm.sales_order_opportunity),
        opportunity_field_name: s.opportunity_custom_field.clone(),
    }
}

fn opportunity_defaults(d: &OpportunityDefaults) -> Option<DocumentOpportunityDefaults> {
    Some(DocumentOpportunityDefaults {
        status: d.status_id?,
        stage: d.stage_id?,
        probability: i64::from(d.probability?),
    })
}

/// The Autotask resource mapped to a COL sales rep in the settings (SalesRep Mapping screen).
pub fn mapped_resource(s: &TenantSettings, sales_rep: &str) -> Option<i64> {
    s.sales_reps
        .iter()
        .find(|m| m.col_sales_rep_id.eq_ignore_ascii_case(sales_rep.trim()))
        .map(|m| m.at_resource_id)
}

/// Today in UTC, the date new opportunities start.
pub fn today(now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    now.date_naive()
}
