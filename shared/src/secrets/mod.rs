//! Per-tenant secrets: Autotask and ChannelOnline credentials and the signing keys of signed calls.
//!
//! `SecretSource` is the port. Adapters store one JSON document per tenant and system
//! ([`SecretKind`]): AWS Secrets Manager in production ([`aws::SecretsManagerSource`]), a local JSON
//! file for the local stack ([`file::FileSecretSource`]). [`cache::CachedSecretSource`] wraps any of
//! them with a TTL. Every credential type redacts itself in `Debug`; nothing here is ever logged.

pub mod aws;
pub mod cache;
pub mod file;
mod types;

use std::future::Future;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::secret::SecretString;
use crate::signing::SigningKeys;
use crate::tenant::TenantId;

pub use types::{AutotaskCredentials, ChannelOnlineCredentials, SecretKind, SigningKeysDocument, TenantSecrets};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The secret store could not be reached or refused the call (network, permissions, throttling).
    #[error("the secret store failed: {0}")]
    Backend(String),
    /// A stored secret is not the JSON shape this version expects, or breaks a rule of its type
    /// (a signing key shorter than 32 bytes). `why` never quotes a secret value.
    #[error("the stored {kind} secret of tenant {tenant} is malformed: {why}")]
    Malformed {
        tenant: TenantId,
        kind: SecretKind,
        why: String,
    },
    /// A secret about to be written breaks a rule of its type; nothing was written.
    #[error("the {kind} secret of tenant {tenant} was not written: {why}")]
    Refused {
        tenant: TenantId,
        kind: SecretKind,
        why: String,
    },
}

/// The port. Adapters deal in the raw JSON document of one secret; typed access is
/// [`SecretSource::load`] / [`SecretSource::store`] on top.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret document, or `None` when the tenant has not set it yet.
    async fn read(&self, tenant: &TenantId, kind: SecretKind) -> Result<Option<SecretString>, SecretsError>;

    /// Creates or replaces the secret document.
    async fn write(&self, tenant: &TenantId, kind: SecretKind, document: SecretString) -> Result<(), SecretsError>;

    /// Forgets any cached copy, so the next read goes to the store (after an auth failure:
    /// the secret may have been rotated). A no-op for uncached sources.
    fn invalidate(&self, _tenant: &TenantId, _kind: SecretKind) {}
}

/// A typed secret: which document it lives in.
pub trait TypedSecret: Serialize + DeserializeOwned + Send + Sync {
    const KIND: SecretKind;

    /// The rules beyond the JSON shape, checked on every load and before every write.
    /// The reason must not quote a secret value.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

impl<'a> dyn SecretSource + 'a {
    /// Reads and decodes one typed secret.
    pub async fn load<T: TypedSecret>(&self, tenant: &TenantId) -> Result<Option<T>, SecretsError> {
        let Some(doc) = self.read(tenant, T::KIND).await? else {
            return Ok(None);
        };
        let malformed = |why| SecretsError::Malformed {
            tenant: tenant.clone(),
            kind: T::KIND,
            why,
        };
        let value: T = serde_json::from_str(doc.expose()).map_err(|e| malformed(redacted_serde_error(&e)))?;
        value.check().map_err(malformed)?;
        Ok(Some(value))
    }

    /// Encodes and writes one typed secret, once it keeps the rules of its type.
    pub async fn store<T: TypedSecret>(&self, tenant: &TenantId, value: &T) -> Result<(), SecretsError> {
        value.check().map_err(|why| SecretsError::Refused {
            tenant: tenant.clone(),
            kind: T::KIND,
            why,
        })?;
        let doc = serde_json::to_string(value).expect("secret types serialise");
        self.write(tenant, T::KIND, SecretString::new(doc)).await
    }

    pub async fn autotask(&self, tenant: &TenantId) -> Result<Option<AutotaskCredentials>, SecretsError> {
        self.load(tenant).await
    }

    pub async fn channelonline(&self, tenant: &TenantId) -> Result<Option<ChannelOnlineCredentials>, SecretsError> {
        self.load(tenant).await
    }

    pub async fn signing_keys(&self, tenant: &TenantId) -> Result<Option<SigningKeys>, SecretsError> {
        let Some(doc) = self.load::<SigningKeysDocument>(tenant).await? else {
            return Ok(None);
        };
        // `load` has checked the document, so `keys` cannot fail here; map it anyway, never panic.
        doc.keys().map(Some).map_err(|why| SecretsError::Malformed {
            tenant: tenant.clone(),
            kind: SecretKind::Signing,
            why,
        })
    }

    /// Which secrets a tenant has set, for the settings view ("set" / "not set").
    pub async fn status(&self, tenant: &TenantId) -> Result<TenantSecrets, SecretsError> {
        Ok(TenantSecrets {
            autotask: self.read(tenant, SecretKind::Autotask).await?.is_some(),
            channelonline: self.read(tenant, SecretKind::ChannelOnline).await?.is_some(),
            signing: self.read(tenant, SecretKind::Signing).await?.is_some(),
        })
    }
}

/// serde's message for a wrong type quotes the value (`invalid type: string "…"`); a secret must
/// not reach a log that way, so only the position is kept. Missing and unknown field messages
/// name fields only and are kept whole.
pub(crate) fn redacted_serde_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("invalid type") || text.contains("invalid value") || text.contains("invalid length") {
        format!(
            "a value has the wrong type or format at line {} column {}",
            e.line(),
            e.column()
        )
    } else {
        text
    }
}

/// What a credentialed call returns when it fails.
#[derive(Debug, thiserror::Error)]
pub enum CredentialedError<E> {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The tenant has not stored this secret yet.
    #[error("the {0} credentials are not set")]
    NotSet(SecretKind),
    /// The call itself failed (after at most one refresh on an auth failure).
    #[error(transparent)]
    Call(E),
}

/// Runs `call` with the tenant's secret `T`; when it fails with an auth failure (as judged by
/// `is_auth_failure`), the cached copy is dropped, the secret re-read and the call repeated once:
/// the secret may have been rotated since it was cached.
pub async fn with_fresh_secret<T, R, E, F, Fut>(
    source: &dyn SecretSource,
    tenant: &TenantId,
    is_auth_failure: impl Fn(&E) -> bool,
    mut call: F,
) -> Result<R, CredentialedError<E>>
where
    T: TypedSecret,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    let secret = source
        .load::<T>(tenant)
        .await?
        .ok_or(CredentialedError::NotSet(T::KIND))?;
    match call(secret).await {
        Err(e) if is_auth_failure(&e) => {
            source.invalidate(tenant, T::KIND);
            let fresh = source
                .load::<T>(tenant)
                .await?
                .ok_or(CredentialedError::NotSet(T::KIND))?;
            call(fresh).await.map_err(CredentialedError::Call)
        }
        other => other.map_err(CredentialedError::Call),
    }
}
