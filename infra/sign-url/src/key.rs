//! Where the tenant's current signing key comes from.

use std::path::PathBuf;

use shared::secret::SecretString;
use shared::signing::MIN_KEY_BYTES;
use shared::tenant::TenantId;

use crate::SignUrlError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The local secrets file of the local stack (the layout `shared::secrets`' file adapter
    /// reads: `tenants.<tenant>.signing.current`).
    File(PathBuf),
    /// An environment variable holding the key itself.
    EnvVar(String),
}

/// Loads the tenant's current signing key. Errors name the place, never the key.
pub fn load_key(
    source: &KeySource,
    tenant: &TenantId,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SecretString, SignUrlError> {
    let key = match source {
        KeySource::EnvVar(name) => env(name).ok_or_else(|| {
            SignUrlError::Key(format!(
                "environment variable {name} is not set; export the tenant's signing key in it"
            ))
        })?,
        KeySource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                SignUrlError::Key(format!(
                    "cannot read {}: {e}; run the local stack once (it seeds the demo tenant) or pass --key-env NAME",
                    path.display()
                ))
            })?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| SignUrlError::Key(format!("{} is not valid JSON: {e}", path.display())))?;
            doc["tenants"][tenant.as_str()]["signing"]["current"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| {
                    SignUrlError::Key(format!(
                        "{} has no signing key for tenant {tenant} (tenants.{tenant}.signing.current)",
                        path.display()
                    ))
                })?
        }
    };
    // The functions refuse such a key when they load it: say so here rather than print a link
    // that can only be refused.
    if key.len() < MIN_KEY_BYTES {
        return Err(SignUrlError::Key(format!(
            "the signing key of tenant {tenant} is shorter than {MIN_KEY_BYTES} bytes; \
             generate a new one (e.g. `openssl rand -hex 32`) and rotate to it"
        )));
    }
    Ok(SecretString::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> TenantId {
        TenantId::parse("demo").unwrap()
    }

    #[test]
    fn reads_the_current_key_of_the_tenant_from_the_secrets_file() {
        let path = std::env::temp_dir().join(format!("sign-url-key-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{"tenants":{"demo":{"signing":{"current":"k-now-0123456789abcdef0123456789ab","previous":"k-old"}},"other":{"signing":{"current":"x"}}}}"#,
        )
        .unwrap();
        let key = load_key(&KeySource::File(path.clone()), &demo(), |_| None).unwrap();
        assert_eq!(key.expose(), "k-now-0123456789abcdef0123456789ab");
        let missing = load_key(
            &KeySource::File(path.clone()),
            &TenantId::parse("nobody").unwrap(),
            |_| None,
        );
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("no signing key for tenant nobody")
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn env_source_reads_the_named_variable_and_errors_never_contain_the_key() {
        let source = KeySource::EnvVar("DEMO_KEY".into());
        let long = "s3cret-0123456789abcdef0123456789";
        let key = load_key(&source, &demo(), |n| (n == "DEMO_KEY").then(|| long.into())).unwrap();
        assert_eq!(key.expose(), long);
        assert!(!format!("{key:?}").contains("s3cret"));
        let err = load_key(&source, &demo(), |_| None).unwrap_err().to_string();
        assert!(err.contains("DEMO_KEY is not set"), "{err}");
    }

    #[test]
    fn a_key_shorter_than_32_bytes_is_refused_naming_the_tenant_not_the_key() {
        let source = KeySource::EnvVar("DEMO_KEY".into());
        let err = load_key(&source, &demo(), |_| Some("sixteen-byte-key".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tenant demo") && err.contains("32 bytes"), "{err}");
        assert!(!err.contains("sixteen-byte-key"), "{err}");
        let empty = load_key(&source, &demo(), |_| Some(String::new()));
        assert!(empty.is_err());
    }
}
