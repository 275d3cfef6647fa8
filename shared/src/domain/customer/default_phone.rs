//! The guide's rule: Autotask needs a work phone on every company and contact; when
//! ChannelOnline has none, the integration sends `555-555-5555` and says which records got it.

use serde::{Deserialize, Serialize};

use super::fields::{CompanyFields, ContactFields};

pub const DEFAULT_WORK_PHONE: &str = "555-555-5555";

/// Which kind of record received the default phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Company,
    Contact,
}

/// A record that was written with the default phone, for the answer to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultPhoneUse {
    pub record: RecordKind,
    /// ChannelOnline customer number or contact id.
    pub col_id: String,
    pub name: String,
}

fn fill(phone: &mut Option<String>, target_has_phone: bool) -> bool {
    let missing = phone.as_deref().is_none_or(|p| p.trim().is_empty());
    if missing && !target_has_phone {
        *phone = Some(DEFAULT_WORK_PHONE.to_owned());
        return true;
    }
    false
}

impl CompanyFields {
    /// Puts the default phone in when the source has none and the target has none either
    /// (a real phone already in Autotask is never replaced by the placeholder). True when used.
    pub fn apply_default_phone(&mut self, target_has_phone: bool) -> bool {
        fill(&mut self.phone, target_has_phone)
    }
}

impl ContactFields {
    /// As for companies: the default only when neither side has a work phone.
    pub fn apply_default_phone(&mut self, target_has_phone: bool) -> bool {
        fill(&mut self.phone, target_has_phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_blank_phone_gets_the_default_on_create() {
        for phone in [None, Some(""), Some("  ")] {
            let mut c = CompanyFields {
                name: "Acme".into(),
                phone: phone.map(str::to_owned),
                ..Default::default()
            };
            assert!(c.apply_default_phone(false));
            assert_eq!(c.phone.as_deref(), Some(DEFAULT_WORK_PHONE));
        }
    }

    #[test]
    fn a_real_phone_is_kept() {
        let mut c = ContactFields {
            phone: Some("555-123-4567".into()),
            ..Default::default()
        };
        assert!(!c.apply_default_phone(false));
        assert_eq!(c.phone.as_deref(), Some("555-123-4567"));
    }

    #[test]
    fn the_default_never_replaces_a_phone_the_target_already_has() {
        let mut c = ContactFields::default();
        assert!(!c.apply_default_phone(true));
        assert_eq!(c.phone, None);
    }
}
