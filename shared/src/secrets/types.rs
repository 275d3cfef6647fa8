//! The secret documents, as stored (JSON). Every value that grants access is a `SecretString`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TypedSecret;
use crate::secret::SecretString;
use crate::signing::SigningKeys;

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

/// Stored form of [`SigningKeys`] (which lives in `signing` and has no serde).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeysDocument {
    pub current: SecretString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<SecretString>,
}

impl TypedSecret for SigningKeysDocument {
    const KIND: SecretKind = SecretKind::Signing;
}

impl From<SigningKeysDocument> for SigningKeys {
    fn from(d: SigningKeysDocument) -> Self {
        SigningKeys {
            current: d.current,
            previous: d.previous,
        }
    }
}

impl From<SigningKeys> for SigningKeysDocument {
    fn from(k: SigningKeys) -> Self {
        SigningKeysDocument {
            current: k.current,
            previous: k.previous,
        }
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
            current: "key-now".into(),
            previous: Some("key-then".into()),
        };
        // WHEN they are formatted for a log line
        let text = format!("{at:?} {col:?} {keys:?} {:?}", SigningKeys::from(keys.clone()));
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
