//! AWS Secrets Manager adapter: one secret per tenant and system, named
//! `<prefix><tenant>/<system>` (e.g. `col-autotask/acme/autotask`), holding the JSON document.
//! Wrap it in [`super::cache::CachedSecretSource`]; this adapter calls AWS on every read.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use super::{SecretKind, SecretSource, SecretsError};
use crate::secret::SecretString;
use crate::tenant::TenantId;

pub struct SecretsManagerSource {
    client: Client,
    prefix: String,
}

impl SecretsManagerSource {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
        }
    }

    /// The secret name for a tenant and system. Tenant ids are restricted to `[A-Za-z0-9._-]`,
    /// all valid in secret names, so no escaping is needed.
    pub fn secret_name(&self, tenant: &TenantId, kind: SecretKind) -> String {
        secret_name(&self.prefix, tenant, kind)
    }
}

pub fn secret_name(prefix: &str, tenant: &TenantId, kind: SecretKind) -> String {
    format!("{prefix}{tenant}/{kind}")
}

const NOT_FOUND: &str = "ResourceNotFoundException";

/// The service's error code and message only: SDK errors never carry the secret value.
fn backend<E: ProvideErrorMetadata, R>(action: &str, name: &str, e: &SdkError<E, R>) -> SecretsError {
    let code = e.code().unwrap_or("unknown");
    let message = e.message().unwrap_or("no message");
    SecretsError::Backend(format!("{action} {name}: {code}: {message}"))
}

fn is_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some(NOT_FOUND)
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn read(&self, tenant: &TenantId, kind: SecretKind) -> Result<Option<SecretString>, SecretsError> {
        let name = self.secret_name(tenant, kind);
        match self.client.get_secret_value().secret_id(&name).send().await {
            Ok(out) => Ok(out.secret_string.map(SecretString::new)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(backend("GetSecretValue", &name, &e)),
        }
    }

    async fn write(&self, tenant: &TenantId, kind: SecretKind, document: SecretString) -> Result<(), SecretsError> {
        let name = self.secret_name(tenant, kind);
        let put = self
            .client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(document.expose())
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            // First write for this tenant and system: the secret itself does not exist yet.
            Err(e) if is_not_found(&e) => self
                .client
                .create_secret()
                .name(&name)
                .description(format!("{kind} secret of ChannelOnline tenant {tenant}"))
                .secret_string(document.expose())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| backend("CreateSecret", &name, &e)),
            Err(e) => Err(backend("PutSecretValue", &name, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_scoped_by_prefix_tenant_and_system() {
        let t = TenantId::parse("acme-01").unwrap();
        assert_eq!(
            secret_name("col-autotask/", &t, SecretKind::ChannelOnline),
            "col-autotask/acme-01/channelonline"
        );
        assert_eq!(secret_name("", &t, SecretKind::Signing), "acme-01/signing");
    }
}
