//! The company and contact fields the integration owns, named as Autotask names them, and the
//! diff that yields only what changed: an unchanged re-export writes nothing.
//!
//! Rules of the diff (source = ChannelOnline on export, Autotask on import):
//! - values are trimmed and cut to the target's length first, so a value the target must shorten
//!   does not look changed on every run;
//! - phones compare by digits ("(555) 123-4567" equals "555-123-4567");
//! - e-mail addresses compare case-insensitively;
//! - an empty source value never clears a target value (the other side may own it);
//! - "fill-only" fields (the customer number ↔ `companyNumber`) are written only when empty.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::normalize::phone_digits;

/// How a field's values are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Text,
    Phone,
    Email,
}

/// One field the integration writes: its Autotask name, maximum length and comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub max_len: usize,
    pub compare: Compare,
    /// Written only while the target is empty (never overwrites a value set by someone else).
    pub fill_only: bool,
    /// Autotask requires a value: a write may change it but never clear it.
    pub required: bool,
}

const fn text(name: &'static str, max_len: usize) -> FieldSpec {
    FieldSpec {
        name,
        max_len,
        compare: Compare::Text,
        fill_only: false,
        required: false,
    }
}
const fn phone(name: &'static str, max_len: usize) -> FieldSpec {
    FieldSpec {
        name,
        max_len,
        compare: Compare::Phone,
        fill_only: false,
        required: false,
    }
}

/// Autotask `Companies` fields (lengths and required fields from the field table, §Appendix A of
/// the API reference).
pub mod company {
    use super::*;
    pub const NAME: FieldSpec = FieldSpec {
        required: true,
        ..text("companyName", 100)
    };
    pub const PHONE: FieldSpec = FieldSpec {
        required: true,
        ..phone("phone", 25)
    };
    pub const FAX: FieldSpec = phone("fax", 25);
    pub const WEB_ADDRESS: FieldSpec = text("webAddress", 255);
    pub const ADDRESS1: FieldSpec = text("address1", 128);
    pub const ADDRESS2: FieldSpec = text("address2", 128);
    pub const CITY: FieldSpec = text("city", 30);
    pub const STATE: FieldSpec = text("state", 40);
    pub const POSTAL_CODE: FieldSpec = text("postalCode", 10);
    pub const NUMBER: FieldSpec = FieldSpec {
        fill_only: true,
        ..text("companyNumber", 50)
    };
}

/// Autotask `Contacts` fields.
pub mod contact {
    use super::*;
    pub const FIRST_NAME: FieldSpec = FieldSpec {
        required: true,
        ..text("firstName", 50)
    };
    pub const LAST_NAME: FieldSpec = FieldSpec {
        required: true,
        ..text("lastName", 50)
    };
    pub const EMAIL: FieldSpec = FieldSpec {
        compare: Compare::Email,
        ..text("emailAddress", 254)
    };
    pub const PHONE: FieldSpec = phone("phone", 25);
    pub const EXTENSION: FieldSpec = text("extension", 10);
    pub const MOBILE_PHONE: FieldSpec = phone("mobilePhone", 25);
    pub const FAX: FieldSpec = phone("faxNumber", 25);
    pub const TITLE: FieldSpec = text("title", 50);
}

/// A company's fields in the integration's terms (either system's record converts into it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyFields {
    pub name: String,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub web_address: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ChannelOnline customer number ↔ Autotask `companyNumber`.
    pub number: Option<String>,
}

impl CompanyFields {
    pub fn entries(&self) -> [(FieldSpec, Option<&str>); 10] {
        use company::*;
        [
            (NAME, Some(self.name.as_str())),
            (PHONE, self.phone.as_deref()),
            (FAX, self.fax.as_deref()),
            (WEB_ADDRESS, self.web_address.as_deref()),
            (ADDRESS1, self.address1.as_deref()),
            (ADDRESS2, self.address2.as_deref()),
            (CITY, self.city.as_deref()),
            (STATE, self.state.as_deref()),
            (POSTAL_CODE, self.postal_code.as_deref()),
            (NUMBER, self.number.as_deref()),
        ]
    }
}

/// A contact's fields in the integration's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactFields {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub extension: Option<String>,
    pub mobile_phone: Option<String>,
    pub fax: Option<String>,
    pub title: Option<String>,
}

impl ContactFields {
    pub fn entries(&self) -> [(FieldSpec, Option<&str>); 8] {
        use contact::*;
        [
            (FIRST_NAME, Some(self.first_name.as_str())),
            (LAST_NAME, Some(self.last_name.as_str())),
            (EMAIL, self.email.as_deref()),
            (PHONE, self.phone.as_deref()),
            (EXTENSION, self.extension.as_deref()),
            (MOBILE_PHONE, self.mobile_phone.as_deref()),
            (FAX, self.fax.as_deref()),
            (TITLE, self.title.as_deref()),
        ]
    }

    /// "First Last", or the e-mail address when both names are empty.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let name = name.trim();
        if name.is_empty() {
            self.email.clone().unwrap_or_default()
        } else {
            name.to_owned()
        }
    }
}

/// One field to write: its name, the target's value before and the value to write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: String,
}

/// A source value as the target will store it: trimmed, cut to `max_len` characters, `None` when empty.
pub fn fit(value: Option<&str>, max_len: usize) -> Option<String> {
    let v = value?.trim();
    if v.is_empty() {
        return None;
    }
    Some(match v.char_indices().nth(max_len) {
        Some((cut, _)) => v[..cut].trim_end().to_owned(),
        None => v.to_owned(),
    })
}

fn same(spec: &FieldSpec, a: &str, b: &str) -> bool {
    match spec.compare {
        Compare::Text => a == b,
        Compare::Email => a.eq_ignore_ascii_case(b),
        Compare::Phone => {
            let (da, db) = (phone_digits(a), phone_digits(b));
            if da.is_empty() && db.is_empty() {
                a == b
            } else {
                da == db
            }
        }
    }
}

/// The fields to write so that `target` holds `source` (see the module rules).
pub fn diff_entries(source: &[(FieldSpec, Option<&str>)], target: &[(FieldSpec, Option<&str>)]) -> Vec<FieldChange> {
    source
        .iter()
        .filter_map(|(spec, src)| {
            let want = fit(*src, spec.max_len)?;
            let have = target
                .iter()
                .find(|(t, _)| t.name == spec.name)
                .and_then(|(_, v)| v.map(str::trim))
                .filter(|v| !v.is_empty());
            match have {
                Some(_) if spec.fill_only => None,
                Some(h) if same(spec, h, &want) => None,
                _ => Some(FieldChange {
                    field: spec.name.to_owned(),
                    before: have.map(str::to_owned),
                    after: want,
                }),
            }
        })
        .collect()
}

pub fn diff_company(source: &CompanyFields, target: &CompanyFields) -> Vec<FieldChange> {
    diff_entries(&source.entries(), &target.entries())
}

pub fn diff_contact(source: &ContactFields, target: &ContactFields) -> Vec<FieldChange> {
    diff_entries(&source.entries(), &target.entries())
}

/// The JSON body of a sparse update (Autotask PATCH): the record id plus only the changed fields.
pub fn patch_body(id: i64, changes: &[FieldChange]) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), Value::from(id));
    for c in changes {
        body.insert(c.field.clone(), Value::String(c.after.clone()));
    }
    Value::Object(body)
}

/// Every non-empty field, fitted to its length, for a create body.
pub fn create_entries(source: &[(FieldSpec, Option<&str>)]) -> Map<String, Value> {
    source
        .iter()
        .filter_map(|(spec, v)| fit(*v, spec.max_len).map(|v| (spec.name.to_owned(), Value::String(v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> CompanyFields {
        CompanyFields {
            name: "Acme Inc".into(),
            phone: Some("(555) 123-4567".into()),
            city: Some("Springfield".into()),
            number: Some("C-1001".into()),
            ..Default::default()
        }
    }

    #[test]
    fn identical_records_yield_no_change() {
        assert!(diff_company(&acme(), &acme()).is_empty());
    }

    #[test]
    fn formatting_only_differences_are_not_changes() {
        let mut target = acme();
        target.phone = Some("555-123-4567".into());
        target.city = Some(" Springfield ".into());
        assert!(diff_company(&acme(), &target).is_empty());

        let c = ContactFields {
            email: Some("Jo@Acme.com".into()),
            ..Default::default()
        };
        let t = ContactFields {
            email: Some("jo@acme.COM".into()),
            ..Default::default()
        };
        assert!(diff_contact(&c, &t).is_empty());
    }

    #[test]
    fn only_the_changed_field_is_reported() {
        let mut source = acme();
        source.phone = Some("555-999-0000".into());
        let changes = diff_company(&source, &acme());
        assert_eq!(
            changes,
            vec![FieldChange {
                field: "phone".into(),
                before: Some("(555) 123-4567".into()),
                after: "555-999-0000".into()
            }]
        );
        assert_eq!(
            patch_body(42, &changes),
            serde_json::json!({"id": 42, "phone": "555-999-0000"})
        );
    }

    #[test]
    fn empty_source_values_never_clear_the_target() {
        let mut source = acme();
        source.city = None;
        source.phone = Some("   ".into());
        assert!(diff_company(&source, &acme()).is_empty());
    }

    #[test]
    fn company_number_is_filled_but_never_overwritten() {
        let mut target = acme();
        target.number = Some("AT-77".into());
        assert!(diff_company(&acme(), &target).is_empty());
        target.number = None;
        let changes = diff_company(&acme(), &target);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "companyNumber");
    }

    #[test]
    fn over_long_values_are_cut_so_they_do_not_differ_forever() {
        let mut source = acme();
        source.postal_code = Some("12345-6789-000".into());
        let changes = diff_company(&source, &acme());
        assert_eq!(changes[0].after, "12345-6789");
        let mut target = acme();
        target.postal_code = Some("12345-6789".into());
        assert!(diff_company(&source, &target).is_empty());
        assert_eq!(fit(Some("Zürich ≠ Zurich"), 6).as_deref(), Some("Zürich"));
    }

    /// Property: after applying the changes to the target, the diff is empty.
    #[test]
    fn applying_the_diff_converges() {
        let mut rng = fastrand::Rng::with_seed(11);
        let pick = |rng: &mut fastrand::Rng, opts: &[&str]| -> Option<String> {
            let i = rng.usize(..=opts.len());
            opts.get(i).map(|s| s.to_string())
        };
        for _ in 0..300 {
            let mk = |rng: &mut fastrand::Rng| ContactFields {
                first_name: pick(rng, &["Ann", "Bob", " ann "]).unwrap_or_default(),
                last_name: pick(rng, &["Lee", "Diaz"]).unwrap_or_default(),
                email: pick(rng, &["a@x.com", "A@X.com", "b@y.org"]),
                phone: pick(rng, &["555-123-4567", "(555) 123 4567", "555-000-1111"]),
                extension: None,
                mobile_phone: pick(rng, &["555-222-3333"]),
                fax: None,
                title: pick(
                    rng,
                    &["CTO", "a very long title that exceeds the fifty character limit of AT"],
                ),
            };
            let (source, mut target) = (mk(&mut rng), mk(&mut rng));
            for change in diff_contact(&source, &target) {
                let v = Some(change.after.clone());
                match change.field.as_str() {
                    "firstName" => target.first_name = change.after,
                    "lastName" => target.last_name = change.after,
                    "emailAddress" => target.email = v,
                    "phone" => target.phone = v,
                    "mobilePhone" => target.mobile_phone = v,
                    "title" => target.title = v,
                    other => panic!("unexpected field {other}"),
                }
            }
            assert!(diff_contact(&source, &target).is_empty(), "{source:?} vs {target:?}");
        }
    }
}
