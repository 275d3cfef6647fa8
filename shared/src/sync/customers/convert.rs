//! Records of either system in the domain's terms (`CompanyFields`, `ContactFields`) and back:
//! create bodies and sparse patches holding only the changed fields.

use crate::autotask::{Company, CompanyPatch, Contact as AtContact, ContactPatch, Patch};
use crate::channelonline::{Address, Contact as ColContact, ContactUpsert, Customer};
use crate::domain::customer::contacts::ContactRef;
use crate::domain::customer::fields::{CompanyFields, ContactFields, FieldChange, company, contact, fit};
use crate::domain::customer::matching::CompanyProfile;

pub fn company_from_col(c: &Customer) -> CompanyFields {
    let a = c.address.clone().unwrap_or_default();
    CompanyFields {
        name: c.company_name.clone(),
        phone: c.phone.clone().filter(|p| !p.trim().is_empty()).or(a.phone),
        fax: None,
        web_address: None,
        address1: a.line1,
        address2: a.line2,
        city: a.city,
        state: a.state,
        postal_code: a.postal_code,
        number: Some(c.number.clone()),
    }
}

pub fn company_from_at(c: &Company) -> CompanyFields {
    CompanyFields {
        name: c.company_name.clone().unwrap_or_default(),
        phone: c.phone.clone(),
        fax: c.fax.clone(),
        web_address: c.web_address.clone(),
        address1: c.address1.clone(),
        address2: c.address2.clone(),
        city: c.city.clone(),
        state: c.state.clone(),
        postal_code: c.postal_code.clone(),
        number: c.company_number.clone(),
    }
}

pub fn contact_from_col(c: &ColContact) -> ContactFields {
    ContactFields {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        email: c.email.clone(),
        phone: c.work_phone.clone(),
        mobile_phone: c.mobile.clone(),
        ..ContactFields::default()
    }
}

pub fn contact_from_at(c: &AtContact) -> ContactFields {
    ContactFields {
        first_name: c.first_name.clone().unwrap_or_default(),
        last_name: c.last_name.clone().unwrap_or_default(),
        email: c.email_address.clone(),
        phone: c.phone.clone(),
        extension: c.extension.clone(),
        mobile_phone: c.mobile_phone.clone(),
        fax: c.fax_number.clone(),
        title: c.title.clone(),
    }
}

pub fn col_contact_ref(c: &ColContact) -> ContactRef<String> {
    ContactRef {
        id: c.id.clone(),
        emails: c.email.iter().cloned().collect(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        active: true,
    }
}

pub fn at_contact_ref(c: &AtContact) -> ContactRef<i64> {
    ContactRef {
        id: c.id.unwrap_or_default(),
        emails: [&c.email_address, &c.email_address2]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        first_name: c.first_name.clone().unwrap_or_default(),
        last_name: c.last_name.clone().unwrap_or_default(),
        active: c.is_active.unwrap_or(1) != 0,
    }
}

pub fn col_profile(c: &Customer) -> CompanyProfile {
    CompanyProfile {
        name: c.company_name.clone(),
        phones: c
            .phone
            .iter()
            .chain(c.address.as_ref().and_then(|a| a.phone.as_ref()))
            .cloned()
            .collect(),
        number: Some(c.number.clone()),
        emails: c.contacts.iter().filter_map(|k| k.email.clone()).collect(),
    }
}

pub fn at_profile(c: &Company, contact_emails: &[String]) -> CompanyProfile {
    CompanyProfile {
        name: c.company_name.clone().unwrap_or_default(),
        phones: c.phone.iter().cloned().collect(),
        number: c.company_number.clone(),
        emails: contact_emails.to_vec(),
    }
}

fn text(f: &Option<String>, max: usize) -> Option<String> {
    fit(f.as_deref(), max)
}

/// A new company: the owned fields plus the type and owner from settings.
pub fn new_company(f: &CompanyFields, company_type: i64, owner: i64) -> Company {
    Company {
        company_name: fit(Some(&f.name), company::NAME.max_len),
        company_number: text(&f.number, company::NUMBER.max_len),
        company_type: Some(company_type),
        owner_resource_id: Some(owner),
        phone: text(&f.phone, company::PHONE.max_len),
        fax: text(&f.fax, company::FAX.max_len),
        web_address: text(&f.web_address, company::WEB_ADDRESS.max_len),
        address1: text(&f.address1, company::ADDRESS1.max_len),
        address2: text(&f.address2, company::ADDRESS2.max_len),
        city: text(&f.city, company::CITY.max_len),
        state: text(&f.state, company::STATE.max_len),
        postal_code: text(&f.postal_code, company::POSTAL_CODE.max_len),
        is_active: Some(true),
        ..Company::default()
    }
}

/// A new, active contact of `company_id`.
pub fn new_contact(company_id: i64, f: &ContactFields) -> AtContact {
    AtContact {
        company_id: Some(company_id),
        first_name: fit(Some(&f.first_name), contact::FIRST_NAME.max_len),
        last_name: fit(Some(&f.last_name), contact::LAST_NAME.max_len),
        email_address: text(&f.email, contact::EMAIL.max_len),
        phone: text(&f.phone, contact::PHONE.max_len),
        extension: text(&f.extension, contact::EXTENSION.max_len),
        mobile_phone: text(&f.mobile_phone, contact::MOBILE_PHONE.max_len),
        fax_number: text(&f.fax, contact::FAX.max_len),
        title: text(&f.title, contact::TITLE.max_len),
        is_active: Some(1),
        ..AtContact::default()
    }
}

pub fn company_patch(id: i64, changes: &[FieldChange]) -> CompanyPatch {
    let mut p = CompanyPatch::new(id);
    for c in changes {
        let v = Patch::Set(c.after.clone());
        match c.field.as_str() {
            "companyName" => p.company_name = v,
            "phone" => p.phone = v,
            "fax" => p.fax = v,
            "webAddress" => p.web_address = v,
            "address1" => p.address1 = v,
            "address2" => p.address2 = v,
            "city" => p.city = v,
            "state" => p.state = v,
            "postalCode" => p.postal_code = v,
            "companyNumber" => p.company_number = v,
            other => unreachable!("company diff produced unknown field {other}"),
        }
    }
    p
}

pub fn contact_patch(id: i64, changes: &[FieldChange]) -> ContactPatch {
    let mut p = ContactPatch::new(id);
    for c in changes {
        let v = Patch::Set(c.after.clone());
        match c.field.as_str() {
            "firstName" => p.first_name = v,
            "lastName" => p.last_name = v,
            "emailAddress" => p.email_address = v,
            "phone" => p.phone = v,
            "extension" => p.extension = v,
            "mobilePhone" => p.mobile_phone = v,
            "faxNumber" => p.fax_number = v,
            "title" => p.title = v,
            other => unreachable!("contact diff produced unknown field {other}"),
        }
    }
    p
}

/// A ChannelOnline customer (create or update) from an Autotask company.
pub fn customer_upsert(number: Option<String>, c: &Company, contacts: Vec<ContactUpsert>) -> CustomerUpsert {
    CustomerUpsert {
        number,
        company_name: c.company_name.clone().unwrap_or_default(),
        phone: c.phone.clone(),
        address: Some(Address {
            company_name: c.company_name.clone(),
            line1: c.address1.clone(),
            line2: c.address2.clone(),
            city: c.city.clone(),
            state: c.state.clone(),
            postal_code: c.postal_code.clone(),
            phone: c.phone.clone(),
            ..Address::default()
        }),
        contacts,
        ..CustomerUpsert::default()
    }
}

pub fn contact_upsert(col_id: Option<String>, c: &AtContact) -> ContactUpsert {
    ContactUpsert {
        id: col_id,
        first_name: c.first_name.clone().unwrap_or_default(),
        last_name: c.last_name.clone().unwrap_or_default(),
        email: c.email_address.clone(),
        work_phone: c.phone.clone(),
        mobile: c.mobile_phone.clone(),
    }
}

use crate::channelonline::CustomerUpsert;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::fields::diff_company;

    #[test]
    fn a_company_created_from_a_customer_diffs_to_nothing() {
        let col = Customer {
            number: "C-1".into(),
            company_name: "Acme Inc".into(),
            phone: Some("(555) 123-4567".into()),
            address: Some(Address {
                line1: Some("1 Main St".into()),
                city: Some("Springfield".into()),
                ..Address::default()
            }),
            ..Customer::default()
        };
        let source = company_from_col(&col);
        let created = new_company(&source, 1, 5);
        assert!(diff_company(&source, &company_from_at(&created)).is_empty());
        assert_eq!(created.company_number.as_deref(), Some("C-1"));
    }

    #[test]
    fn patches_carry_only_the_changed_fields() {
        let changes = vec![FieldChange {
            field: "phone".into(),
            before: None,
            after: "555".into(),
        }];
        let body = serde_json::to_value(company_patch(7, &changes)).unwrap();
        assert_eq!(body, serde_json::json!({"id": 7, "phone": "555"}));
        let body = serde_json::to_value(contact_patch(8, &changes)).unwrap();
        assert_eq!(body, serde_json::json!({"id": 8, "phone": "555"}));
    }
}
