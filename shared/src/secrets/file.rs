//! Secrets from a local JSON file (`SECRETS_FILE`), for the local stack and end-to-end tests:
//!
//! ```json
//! { "tenants": { "demo": { "signing": { "current": "…" }, "autotask": { "username": "…", … } } } }
//! ```
//!
//! The file is re-read on every call, so hand edits take effect without a restart. Writes replace
//! the file atomically (write a sibling, then rename) and keep it readable by the owner only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{SecretKind, SecretSource, SecretsError};
use crate::secret::SecretString;
use crate::tenant::TenantId;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    #[serde(default)]
    tenants: BTreeMap<TenantId, BTreeMap<SecretKind, Value>>,
}

pub struct FileSecretSource {
    path: PathBuf,
    /// Serialises read-modify-write cycles within this process.
    write_lock: Mutex<()>,
}

impl FileSecretSource {
    /// A source backed by `path`; a missing file reads as "no secrets set".
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            write_lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn load(&self) -> Result<SecretsFile, SecretsError> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| SecretsError::Backend(format!("secrets file {} is not valid: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SecretsFile::default()),
            Err(e) => Err(SecretsError::Backend(format!(
                "cannot read secrets file {}: {e}",
                self.path.display()
            ))),
        }
    }

    async fn save(&self, file: &SecretsFile) -> Result<(), SecretsError> {
        let io = |e: std::io::Error| SecretsError::Backend(format!("cannot write {}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(file).expect("secrets file serialises");
        tokio::fs::write(&tmp, text).await.map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .await
                .map_err(io)?;
        }
        tokio::fs::rename(&tmp, &self.path).await.map_err(io)
    }
}

#[async_trait]
impl SecretSource for FileSecretSource {
    async fn read(&self, tenant: &TenantId, kind: SecretKind) -> Result<Option<SecretString>, SecretsError> {
        let file = self.load().await?;
        Ok(file
            .tenants
            .get(tenant)
            .and_then(|docs| docs.get(&kind))
            .map(|doc| SecretString::new(doc.to_string())))
    }

    async fn write(&self, tenant: &TenantId, kind: SecretKind, document: SecretString) -> Result<(), SecretsError> {
        let doc: Value = serde_json::from_str(document.expose()).map_err(|e| SecretsError::Malformed {
            tenant: tenant.clone(),
            kind,
            why: super::redacted_serde_error(&e),
        })?;
        let _guard = self.write_lock.lock().await;
        let mut file = self.load().await?;
        file.tenants.entry(tenant.clone()).or_default().insert(kind, doc);
        self.save(&file).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SigningKeysDocument};

    #[tokio::test]
    async fn round_trip_through_the_file_keeps_tenants_apart() {
        // GIVEN an empty directory
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secrets.json");
        let source: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&path));
        let acme = TenantId::parse("acme").unwrap();
        let other = TenantId::parse("other").unwrap();
        assert!(source.autotask(&acme).await.unwrap().is_none());

        // WHEN two tenants' secrets are written
        let at = AutotaskCredentials {
            username: "api@acme".into(),
            secret: "at-secret".into(),
            integration_code: "code".into(),
            impersonation_resource_id: None,
        };
        source.store(&acme, &at).await.unwrap();
        let col = ChannelOnlineCredentials {
            shortcut: "acme".into(),
            email: "a@acme".into(),
            password: "pw".into(),
        };
        source.store(&acme, &col).await.unwrap();
        let keys = SigningKeysDocument::current_only("k-other-0123456789abcdef0123456789");
        source.store(&other, &keys).await.unwrap();

        // THEN a fresh source on the same file reads each back under its own tenant only
        let reopened: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&path));
        assert_eq!(reopened.autotask(&acme).await.unwrap(), Some(at));
        assert_eq!(reopened.channelonline(&acme).await.unwrap(), Some(col));
        assert!(reopened.autotask(&other).await.unwrap().is_none());
        assert_eq!(
            reopened.signing_keys(&other).await.unwrap().unwrap().current.expose(),
            "k-other-0123456789abcdef0123456789"
        );
        let status = reopened.status(&acme).await.unwrap();
        assert!(status.autotask && status.channelonline && !status.signing);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "secrets file must not be readable by others");
        }
    }

    #[tokio::test]
    async fn malformed_document_is_reported_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(
            &path,
            r#"{"tenants":{"acme":{"autotask":{"username":"u","secret":"leak-me"}}}}"#,
        )
        .unwrap();
        let source: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&path));
        let err = source.autotask(&TenantId::parse("acme").unwrap()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("integration_code"), "{text}");
        assert!(!text.contains("leak-me"), "{text}");

        // AND a wrong type does not quote the value either
        std::fs::write(
            &path,
            r#"{"tenants":{"acme":{"autotask":{"username":"u","secret":"s","integration_code":"c","impersonation_resource_id":"leak-me"}}}}"#,
        )
        .unwrap();
        let text = source
            .autotask(&TenantId::parse("acme").unwrap())
            .await
            .unwrap_err()
            .to_string();
        assert!(!text.contains("leak-me"), "{text}");
    }

    #[tokio::test]
    async fn a_16_byte_signing_key_is_refused_when_loaded_and_when_written() {
        // GIVEN a secrets file whose tenant has a 16-byte signing key (written by hand)
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(
            &path,
            r#"{"tenants":{"acme":{"signing":{"current":"sixteen-byte-key"}}}}"#,
        )
        .unwrap();
        let source: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&path));
        let acme = TenantId::parse("acme").unwrap();
        // WHEN the keys are loaded THEN the error names the tenant and the rule, never the key
        let text = source.signing_keys(&acme).await.unwrap_err().to_string();
        assert!(text.contains("acme") && text.contains("32 bytes"), "{text}");
        assert!(!text.contains("sixteen-byte-key"), "{text}");
        // WHEN such a key is written THEN it is refused and the file keeps what it had
        let short = SigningKeysDocument::current_only("another-16-bytes");
        let text = source.store(&acme, &short).await.unwrap_err().to_string();
        assert!(text.contains("acme") && text.contains("not written"), "{text}");
        assert!(!text.contains("another-16-bytes"), "{text}");
        assert!(!std::fs::read_to_string(&path).unwrap().contains("another-16-bytes"));
    }
}
