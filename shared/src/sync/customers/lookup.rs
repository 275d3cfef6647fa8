//! The few, batched Autotask reads the customer services need, each with `includeFields`.

use crate::autotask::{AutotaskError, Company, Contact as AtContact, Filter, Query, TenantClient};
use crate::domain::customer::fields::{CompanyFields, ContactFields};
use crate::domain::customer::normalize::{name_words, normalize_email, phone_query_variants};

pub const COMPANY_FIELDS: &[&str] = &[
    "id",
    "companyName",
    "companyNumber",
    "phone",
    "fax",
    "webAddress",
    "address1",
    "address2",
    "city",
    "state",
    "postalCode",
    "isActive",
];
pub const CONTACT_FIELDS: &[&str] = &[
    "id",
    "companyID",
    "firstName",
    "lastName",
    "emailAddress",
    "emailAddress2",
    "phone",
    "extension",
    "mobilePhone",
    "faxNumber",
    "title",
    "isActive",
];

/// Most candidates one look-up reads (one page): more means the name is too common to decide on.
const MAX_CANDIDATES: usize = 200;

/// Companies that may be the same as `f`, in one query: the exact name, names containing its
/// first significant word, any spelling of its phone, or its number as `companyNumber`.
/// The caller scores them; this only narrows the search.
pub async fn company_candidates(at: &TenantClient, f: &CompanyFields) -> Result<Vec<Company>, AutotaskError> {
    let mut any = vec![Filter::eq("companyName", f.name.trim())];
    if let Some(word) = name_words(&f.name).into_iter().find(|w| w.chars().count() >= 3) {
        any.push(Filter::contains("companyName", &word));
    }
    if let Some(phone) = &f.phone {
        let variants = phone_query_variants(phone);
        if !variants.is_empty() {
            any.push(Filter::is_in("phone", variants));
        }
    }
    if let Some(number) = f.number.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        any.push(Filter::eq("companyNumber", number));
    }
    let q = Query::filter(vec![Filter::or(any)]).include_fields(COMPANY_FIELDS.iter().copied());
    at.query_at_most::<Company>(&q, MAX_CANDIDATES).await
}

/// The company whose `companyNumber` is `number` (the natural key of a company this integration
/// created): the reconcile step after a create whose answer was lost.
pub async fn company_by_number(at: &TenantClient, number: &str) -> Result<Option<Company>, AutotaskError> {
    let q = Query::filter(vec![Filter::eq("companyNumber", number)]).include_fields(COMPANY_FIELDS.iter().copied());
    at.query_one::<Company>(&q).await
}

/// Every contact of one company.
pub async fn company_contacts(at: &TenantClient, company_id: i64) -> Result<Vec<AtContact>, AutotaskError> {
    let q = Query::filter(vec![Filter::eq("companyID", company_id)]).include_fields(CONTACT_FIELDS.iter().copied());
    at.query::<AtContact>(&q).await
}

/// The natural key of a contact: the contact of `company_id` with the same e-mail (or, without
/// one, the same full name); the reconcile step after a contact create whose answer was lost.
pub async fn same_contact(at: &TenantClient, company_id: i64, f: &ContactFields) -> Result<Option<i64>, AutotaskError> {
    let existing = company_contacts(at, company_id).await?;
    Ok(find_same_contact(&existing, f))
}

/// The contact in `existing` with the same e-mail (or, without one, the same full name).
pub fn find_same_contact(existing: &[AtContact], f: &ContactFields) -> Option<i64> {
    let email = f.email.as_deref().and_then(normalize_email);
    existing
        .iter()
        .find(|c| match &email {
            Some(e) => [&c.email_address, &c.email_address2]
                .into_iter()
                .flatten()
                .any(|x| normalize_email(x).as_deref() == Some(e.as_str())),
            None => {
                c.first_name
                    .as_deref()
                    .map(str::trim)
                    .is_some_and(|n| n.eq_ignore_ascii_case(f.first_name.trim()))
                    && c.last_name
                        .as_deref()
                        .map(str::trim)
                        .is_some_and(|n| n.eq_ignore_ascii_case(f.last_name.trim()))
            }
        })
        .and_then(|c| c.id)
}

/// Companies named exactly `name` (Autotask compares case-insensitively; checked again here).
pub async fn companies_named(at: &TenantClient, name: &str) -> Result<Vec<Company>, AutotaskError> {
    let q = Query::filter(vec![Filter::eq("companyName", name.trim())]).include_fields(COMPANY_FIELDS.iter().copied());
    let found = at.query::<Company>(&q).await?;
    Ok(found
        .into_iter()
        .filter(|c| {
            c.company_name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim()))
        })
        .collect())
}

/// Up to `limit` names beginning with or containing `name`, for "did you mean".
pub async fn close_names(at: &TenantClient, name: &str, limit: usize) -> Result<Vec<Company>, AutotaskError> {
    let name = name.trim();
    let q = Query::filter(vec![Filter::or(vec![
        Filter::begins_with("companyName", name),
        Filter::contains("companyName", name),
    ])])
    .include_fields(["id", "companyName", "companyNumber", "phone"]);
    at.query_at_most::<Company>(&q, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_contact_is_found_by_email_or_by_name_without_email() {
        let existing = vec![
            AtContact {
                id: Some(1),
                email_address: Some("ANN@x.com".into()),
                ..AtContact::default()
            },
            AtContact {
                id: Some(2),
                first_name: Some("Bob".into()),
                last_name: Some("Ray".into()),
                ..AtContact::default()
            },
        ];
        let ann = ContactFields {
            email: Some("ann@X.com".into()),
            ..ContactFields::default()
        };
        let bob = ContactFields {
            first_name: "bob".into(),
            last_name: "ray ".into(),
            ..ContactFields::default()
        };
        let cy = ContactFields {
            first_name: "Cy".into(),
            last_name: "Ray".into(),
            ..ContactFields::default()
        };
        assert_eq!(find_same_contact(&existing, &ann), Some(1));
        assert_eq!(find_same_contact(&existing, &bob), Some(2));
        assert_eq!(find_same_contact(&existing, &cy), None);
    }
}
