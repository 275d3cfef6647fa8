//! A tenant is one ChannelOnline account. Every key, secret, setting and mapping is scoped by it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated tenant id: 1-64 characters of `[A-Za-z0-9._-]`, starting with a letter or digit.
/// The restricted alphabet keeps it safe inside DynamoDB keys (`T#<tenant>#…`) and secret names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid tenant id {0:?}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")]
pub struct InvalidTenantId(pub String);

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, InvalidTenantId> {
        let ok_len = (1..=64).contains(&raw.len());
        let ok_first = raw.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let ok_chars = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok_len && ok_first && ok_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidTenantId(raw.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenantId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_account_ids() {
        assert_eq!(TenantId::parse("acme-01").unwrap().as_str(), "acme-01");
        assert!(TenantId::parse("A.b_c-9").is_ok());
    }

    #[test]
    fn rejects_ids_that_could_break_keys_or_paths() {
        for bad in ["", "-lead", "a#b", "a/b", "a b", &"x".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<TenantId>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<TenantId>("\"not ok\"").is_err());
    }
}
