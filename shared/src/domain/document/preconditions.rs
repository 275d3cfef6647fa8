//! What must be true before anything is written to Autotask, each failure in the user's words.

use serde::Serialize;

use super::input::{DocumentInput, DocumentKind};
use super::settings::{DocumentOpportunityDefaults, DocumentSettings};

/// The Autotask ids our mappings give for the document's customer, contact and sales rep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappedIds {
    pub company_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub resource_id: Option<i64>,
}

/// Everything the planner needs once the preconditions hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ready {
    pub company_id: i64,
    pub contact_id: i64,
    pub owner_resource_id: i64,
    pub payment_term_id: i64,
    pub shipping_type_id: Option<i64>,
    pub defaults: DocumentOpportunityDefaults,
}

/// One unmet precondition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unmet {
    NotExportable {
        doc_type: String,
    },
    NoOpportunityDefaults {
        doc_type: String,
    },
    CustomerNotMapped {
        customer_number: String,
        export_link: Option<String>,
    },
    NoContact,
    ContactNotMapped {
        col_id: String,
        email: Option<String>,
    },
    NoSalesRep,
    SalesRepNotMapped {
        sales_rep_id: String,
    },
    NoPaymentTerms,
    PaymentTermsNotMapped {
        name: String,
    },
    ShippingTypeNotMapped {
        name: String,
    },
}

impl Unmet {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotExportable { .. } => "document_type_not_exportable",
            Self::NoOpportunityDefaults { .. } => "opportunity_defaults_missing",
            Self::CustomerNotMapped { .. } => "customer_not_mapped",
            Self::NoContact => "document_contact_missing",
            Self::ContactNotMapped { .. } => "contact_not_mapped",
            Self::NoSalesRep => "sales_rep_missing",
            Self::SalesRepNotMapped { .. } => "sales_rep_not_mapped",
            Self::NoPaymentTerms => "payment_terms_missing",
            Self::PaymentTermsNotMapped { .. } => "payment_terms_not_mapped",
            Self::ShippingTypeNotMapped { .. } => "shipping_type_not_mapped",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::NotExportable { doc_type } => format!(
                "A {doc_type} cannot be exported to Autotask: only quotes and sales orders become opportunities."
            ),
            Self::NoOpportunityDefaults { doc_type } => {
                format!("No opportunity status, stage and probability are set for a {doc_type}.")
            }
            Self::CustomerNotMapped { customer_number, .. } => format!(
                "Customer {customer_number} is not linked to an Autotask company yet, so its documents cannot be exported."
            ),
            Self::NoContact => "The document has no contact; Autotask quotes need one.".into(),
            Self::ContactNotMapped { col_id, email } => match email {
                Some(email) => format!("The document contact {email} is not linked to an Autotask contact."),
                None => format!("The document contact {col_id} is not linked to an Autotask contact."),
            },
            Self::NoSalesRep => "The document has no sales rep; Autotask opportunities need an owner.".into(),
            Self::SalesRepNotMapped { sales_rep_id } => {
                format!("Sales rep {sales_rep_id} is not mapped to an Autotask resource (employee).")
            }
            Self::NoPaymentTerms => "The document has no payment terms; they are required for the export.".into(),
            Self::PaymentTermsNotMapped { name } => {
                format!("Payment terms \"{name}\" are not mapped to Autotask payment terms.")
            }
            Self::ShippingTypeNotMapped { name } => {
                format!("Shipping method \"{name}\" is not mapped to an Autotask shipping type and no default is set.")
            }
        }
    }

    pub fn fix(&self) -> String {
        match self {
            Self::NotExportable { .. } => "Export the quote or sales order this document came from.".into(),
            Self::NoOpportunityDefaults { doc_type } => format!(
                "In the integration settings, set the opportunity status, stage and probability for a {doc_type}."
            ),
            Self::CustomerNotMapped { export_link, .. } => match export_link {
                Some(link) => format!("Export the customer first: {link}"),
                None => "Export the customer first (Export to Autotask on the customer page).".into(),
            },
            Self::NoContact => "Choose a contact on the document, then export again.".into(),
            Self::ContactNotMapped { .. } => {
                "Export the customer again (it links contacts by email), or use Import/Map Contacts from Autotask."
                    .into()
            }
            Self::NoSalesRep => "Set the sales rep on the document, then export again.".into(),
            Self::SalesRepNotMapped { .. } => {
                "In the integration settings (SalesRep Mapping), map this sales rep to an Autotask resource.".into()
            }
            Self::NoPaymentTerms => "Select payment terms on the document, then export again.".into(),
            Self::PaymentTermsNotMapped { .. } => {
                "In the integration settings (Miscellaneous Field Mapping), map these payment terms.".into()
            }
            Self::ShippingTypeNotMapped { .. } => {
                "Map this shipping method in the integration settings, or set a default shipping type.".into()
            }
        }
    }
}

/// Checks every precondition and reports all that fail, so the user fixes them in one go.
pub fn check_preconditions(
    doc: &DocumentInput,
    settings: &DocumentSettings,
    mapped: &MappedIds,
    export_customer_link: Option<&str>,
) -> Result<Ready, Vec<Unmet>> {
    let mut unmet = Vec::new();

    let defaults = match &doc.doc_type {
        DocumentKind::Other(name) => {
            unmet.push(Unmet::NotExportable { doc_type: name.clone() });
            None
        }
        doc_type => {
            let defaults = settings.opportunity_defaults(doc_type);
            if defaults.is_none() {
                unmet.push(Unmet::NoOpportunityDefaults {
                    doc_type: doc_type.label().to_owned(),
                });
            }
            defaults
        }
    };
    if mapped.company_id.is_none() {
        unmet.push(Unmet::CustomerNotMapped {
            customer_number: doc.customer_number.clone(),
            export_link: export_customer_link.map(str::to_owned),
        });
    }
    match (&doc.contact, mapped.contact_id) {
        (None, _) => unmet.push(Unmet::NoContact),
        (Some(contact), None) => unmet.push(Unmet::ContactNotMapped {
            col_id: contact.col_id.clone(),
            email: contact.email.clone(),
        }),
        (Some(_), Some(_)) => {}
    }
    match (non_empty(&doc.sales_rep_id), mapped.resource_id) {
        (None, _) => unmet.push(Unmet::NoSalesRep),
        (Some(rep), None) => unmet.push(Unmet::SalesRepNotMapped {
            sales_rep_id: rep.to_owned(),
        }),
        (Some(_), Some(_)) => {}
    }
    let payment_term_id = match non_empty(&doc.payment_terms) {
        None => {
            unmet.push(Unmet::NoPaymentTerms);
            None
        }
        Some(name) => {
            let id = settings.payment_term(name);
            if id.is_none() {
                unmet.push(Unmet::PaymentTermsNotMapped { name: name.to_owned() });
            }
            id
        }
    };
    let shipping_type_id = match non_empty(&doc.shipping_method) {
        Some(name) => {
            let id = settings.shipping_type(name).or(settings.default_shipping_type);
            if id.is_none() {
                unmet.push(Unmet::ShippingTypeNotMapped { name: name.to_owned() });
            }
            id
        }
        None => settings.default_shipping_type,
    };

    match (
        defaults,
        mapped.company_id,
        mapped.contact_id,
        mapped.resource_id,
        payment_term_id,
    ) {
        (Some(defaults), Some(company_id), Some(contact_id), Some(owner_resource_id), Some(payment_term_id))
            if unmet.is_empty() =>
        {
            Ok(Ready {
                company_id,
                contact_id,
                owner_resource_id,
                payment_term_id,
                shipping_type_id,
                defaults,
            })
        }
        _ => Err(unmet),
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    use super::super::fixtures::doc;

    fn settings() -> DocumentSettings {
        let defaults = DocumentOpportunityDefaults {
            status: 1,
            stage: 2,
            probability: 50,
        };
        DocumentSettings {
            payment_terms: BTreeMap::from([("Net 30".into(), 3)]),
            shipping_types: BTreeMap::from([("UPS Ground".into(), 9)]),
            quote_defaults: Some(defaults),
            sales_order_defaults: Some(defaults),
            ..DocumentSettings::default()
        }
    }

    fn mapped() -> MappedIds {
        MappedIds {
            company_id: Some(100),
            contact_id: Some(200),
            resource_id: Some(300),
        }
    }

    fn codes(result: Result<Ready, Vec<Unmet>>) -> Vec<&'static str> {
        result.unwrap_err().iter().map(Unmet::code).collect()
    }

    #[test]
    fn all_met_gives_the_ids() {
        let ready = check_preconditions(&doc(), &settings(), &mapped(), None).unwrap();
        assert_eq!(ready.company_id, 100);
        assert_eq!(ready.contact_id, 200);
        assert_eq!(ready.owner_resource_id, 300);
        assert_eq!(ready.payment_term_id, 3);
        assert_eq!(ready.shipping_type_id, Some(9));
    }

    #[test]
    fn unmapped_customer_says_export_the_customer_first_with_the_link() {
        let ids = MappedIds {
            company_id: None,
            ..mapped()
        };
        let err =
            check_preconditions(&doc(), &settings(), &ids, Some("https://x/export-customer?c=AC0001")).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].code(), "customer_not_mapped");
        assert!(err[0].fix().starts_with("Export the customer first"));
        assert!(err[0].fix().contains("https://x/export-customer?c=AC0001"));
    }

    #[test]
    fn each_missing_piece_has_its_own_code() {
        let s = settings();
        let mut d = doc();
        d.contact = None;
        assert_eq!(
            codes(check_preconditions(&d, &s, &mapped(), None)),
            ["document_contact_missing"]
        );
        let ids = MappedIds {
            contact_id: None,
            ..mapped()
        };
        assert_eq!(
            codes(check_preconditions(&doc(), &s, &ids, None)),
            ["contact_not_mapped"]
        );
        let ids = MappedIds {
            resource_id: None,
            ..mapped()
        };
        assert_eq!(
            codes(check_preconditions(&doc(), &s, &ids, None)),
            ["sales_rep_not_mapped"]
        );
        let mut d = doc();
        d.payment_terms = Some("  ".into());
        assert_eq!(
            codes(check_preconditions(&d, &s, &mapped(), None)),
            ["payment_terms_missing"]
        );
        let mut d = doc();
        d.payment_terms = Some("COD".into());
        assert_eq!(
            codes(check_preconditions(&d, &s, &mapped(), None)),
            ["payment_terms_not_mapped"]
        );
        let mut d = doc();
        d.shipping_method = Some("Pigeon".into());
        assert_eq!(
            codes(check_preconditions(&d, &s, &mapped(), None)),
            ["shipping_type_not_mapped"]
        );
        let mut d = doc();
        d.doc_type = DocumentKind::Other("Invoice".into());
        assert_eq!(
            codes(check_preconditions(&d, &s, &mapped(), None)),
            ["document_type_not_exportable"]
        );
    }

    #[test]
    fn unmapped_shipping_method_falls_back_to_the_default() {
        let mut s = settings();
        s.default_shipping_type = Some(4);
        let mut d = doc();
        d.shipping_method = Some("Pigeon".into());
        assert_eq!(
            check_preconditions(&d, &s, &mapped(), None).unwrap().shipping_type_id,
            Some(4)
        );
        d.shipping_method = None;
        assert_eq!(
            check_preconditions(&d, &s, &mapped(), None).unwrap().shipping_type_id,
            Some(4)
        );
    }

    #[test]
    fn reports_every_failure_at_once() {
        let mut d = doc();
        d.sales_rep_id = None;
        d.payment_terms = None;
        let err = check_preconditions(&d, &settings(), &MappedIds::default(), None).unwrap_err();
        let codes: Vec<_> = err.iter().map(Unmet::code).collect();
        assert_eq!(
            codes,
            [
                "customer_not_mapped",
                "contact_not_mapped",
                "sales_rep_missing",
                "payment_terms_missing"
            ]
        );
        assert!(err.iter().all(|u| !u.message().is_empty() && !u.fix().is_empty()));
    }
}
