//! The secret documents, as stored (JSON). Every value that grants access is a `SecretString`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TypedSecret;
use crate::secret::SecretString;
use crate::signing::{MIN_KEY_BYTES, PreviousKey, SigningKeys};

/// The systems a tenant holds secrets for; each is one document in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    Autotask,
    ChannelOnline,
    Signing,
}

impl SecretKind {
    pub const ALL: [SecretKind; 3] = [SecretKind::Autotask, SecretKind::ChannelOnline, SecretKind::Signing];

    /// The name segment used in secret names and file keys.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Autotask => "autotask",
            SecretKind::ChannelOnline => "channelonline",
            SecretKind::Signing => "signing",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Autotask API user credentials. The tracking identifier is Autotask's "integration code".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutotaskCredentials {
    pub username: String,
    pub secret: SecretString,
    pub integration_code: SecretString,
    /// Resource id to act as (`ImpersonationResourceId` header), when the tenant wants
    /// records attributed to a person rather than the API user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonation_resource_id: Option<i64>,
}

impl TypedSecret for AutotaskCredentials {
    const KIND: SecretKind = SecretKind::Autotask;
}

/// ChannelOnline XML API credentials (sent in the request body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelOnlineCredentials {
    /// The account shortcut (the tenant's ChannelOnline site name).
    pub shortcut: String,
    pub email: String,
    pub password: SecretString,
}

impl TypedSecret for ChannelOnlineCredentials {
    const KIND: SecretKind = SecretKind::ChannelOnline;
}

/// Stored form of [`SigningKeys`] (which lives in `signing` and has no serde):
/// `{"current": "…", "previous": "…", "previous_expires_at": "2026-01-31T00:00:00Z"}`.
/// A previous key must carry its expiry; every key is at least [`MIN_KEY_BYTES`] long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeysDocument {
    pub current: SecretString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<SecretString>,
    /// When the previous key stops being accepted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_expires_at: Option<DateTime<Utc>>,
}

impl SigningKeysDocument {
    /// A document with one key and nothing being rotated out.
    pub fn current_only(key: impl Into<String>) -> Self {
        Self {
            current: SecretString::new(key),
            previous: None,
            previous_expires_at: None,
        }
    }

    /// The keys, or why this document must not be used. The reason names the field, never a key.
    pub fn keys(&self) -> Result<SigningKeys, String> {
        let long_enough = |k: &SecretString| k.expose().len() >= MIN_KEY_BYTES;
        if !long_enough(&self.current) {
            return Err(format!("the current key is shorter than {MIN_KEY_BYTES} bytes"));
        }
        let previous = match (&self.previous, self.previous_expires_at) {
            (None, None) => None,
            (None, Some(_)) => return Err("previous_expires_at is set but there is no previous key".into()),
            (Some(_), None) => {
                return Err("the previous key needs previous_expires_at (when it stops being accepted)".into());
            }
            (Some(key), Some(_)) if !long_enough(key) => {
                return Err(format!("the previous key is shorter than {MIN_KEY_BYTES} bytes"));
            }
            (Some(key), Some(expires_at)) => Some(PreviousKey {
                key: key.clone(),
                expires_at,
            }),
        };
        Ok(SigningKeys {
            current: self.current.clone(),
            previous,
        })
    }
}

impl TypedSecret for SigningKeysDocument {
    const KIND: SecretKind = SecretKind::Signing;

    fn check(&self) -> Result<(), String> {
        self.keys().map(|_| ())
    }
}

/// Which of a tenant's secrets are set: all the settings view ever shows about them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TenantSecrets {
    pub autotask: bool,
    pub channelonline: bool,
    pub signing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_secret_values() {
        // GIVEN credentials with recognisable secret values
        let at = AutotaskCredentials {
            username: "api@acme.example".into(),
            secret: "s3cr3t-AT".into(),
            integration_code: "TRACK-42".into(),
            impersonation_resource_id: Some(7),
        };
        let col = ChannelOnlineCredentials {
            shortcut: "acme".into(),
            email: "ops@acme.example".into(),
            password: "pw-COL".into(),
        };
        let keys = SigningKeysDocument {
            current: "key-now-0123456789abcdef0123456789".into(),
            previous: Some("key-then-0123456789abcdef012345678".into()),
            previous_expires_at: Some(DateTime::from_timestamp(2_000_000_000, 0).unwrap()),
        };
        // WHEN they are formatted for a log line
        let text = format!("{at:?} {col:?} {keys:?} {:?}", keys.keys().unwrap());
        // THEN no secret value appears, but the non-secret fields do
        for secret in ["s3cr3t-AT", "TRACK-42", "pw-COL", "key-now", "key-then"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert!(text.contains("api@acme.example"));
    }

    #[test]
    fn stored_form_round_trips_and_rejects_unknown_fields() {
        let json = r#"{"username":"u","secret":"s","integration_code":"c"}"#;
        let at: AutotaskCredentials = serde_json::from_str(json).unwrap();
        assert_eq!(at.secret.expose(), "s");
        assert_eq!(at.impersonation_resource_id, None);
        assert_eq!(serde_json::to_string(&at).unwrap(), json);
        assert!(
            serde_json::from_str::<AutotaskCredentials>(
                r#"{"username":"u","secret":"s","integration_code":"c","x":1}"#
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod signing_document_tests {
    use super::*;

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    fn doc(json: &str) -> SigningKeysDocument {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn keys_shorter_than_32_bytes_are_refused_without_quoting_them() {
        // GIVEN a 16-byte current key, and a 16-byte previous key
        let short_current = doc(r#"{"current":"sixteen-byte-key"}"#);
        let short_previous = doc(&format!(
            r#"{{"current":"{LONG}","previous":"sixteen-byte-key","previous_expires_at":"2030-01-01T00:00:00Z"}}"#
        ));
        // WHEN they are turned into keys THEN each is refused, naming the field and not the key
        for (d, field) in [(short_current, "current"), (short_previous, "previous")] {
            let why = d.keys().unwrap_err();
            assert!(why.contains(field) && why.contains("32 bytes"), "{why}");
            assert!(!why.contains("sixteen-byte-key"), "{why}");
        }
        // AND 32 bytes are enough
        assert!(SigningKeysDocument::current_only(LONG).keys().is_ok());
        assert!(SigningKeysDocument::current_only(&LONG[1..]).keys().is_err());
    }

    #[test]
    fn a_previous_key_needs_its_expiry_which_is_kept() {
        let without = doc(&format!(r#"{{"current":"{LONG}","previous":"{LONG}"}}"#));
        assert!(without.keys().unwrap_err().contains("previous_expires_at"));
        let with = doc(&format!(
            r#"{{"current":"{LONG}","previous":"{LONG}","previous_expires_at":"2030-01-01T00:00:00Z"}}"#
        ));
        let keys = with.keys().unwrap();
        assert_eq!(
            keys.previous.unwrap().expires_at,
            "2030-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let orphan = doc(&format!(
            r#"{{"current":"{LONG}","previous_expires_at":"2030-01-01T00:00:00Z"}}"#
        ));
        assert!(orphan.keys().is_err());
    }
}
