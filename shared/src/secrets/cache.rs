//! A TTL cache in front of any secret source: one Secrets Manager call per secret per TTL per
//! warm Lambda instance. Misses are not cached, so a secret set a moment ago is seen at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{SecretKind, SecretSource, SecretsError};
use crate::clock::Clock;
use crate::secret::SecretString;
use crate::tenant::TenantId;

/// A cached document and when it was fetched, per tenant and system.
type Entries = HashMap<(TenantId, SecretKind), (SecretString, DateTime<Utc>)>;

pub struct CachedSecretSource {
    inner: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    entries: Mutex<Entries>,
}

impl CachedSecretSource {
    pub fn new(inner: Arc<dyn SecretSource>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            inner,
            clock,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &(TenantId, SecretKind)) -> Option<SecretString> {
        let now = self.clock.now();
        let entries = self.entries.lock().expect("secret cache lock");
        entries
            .get(key)
            .filter(|(_, fetched)| now - *fetched < self.ttl)
            .map(|(doc, _)| doc.clone())
    }

    fn remember(&self, key: (TenantId, SecretKind), doc: SecretString) {
        let now = self.clock.now();
        self.entries.lock().expect("secret cache lock").insert(key, (doc, now));
    }
}

#[async_trait]
impl SecretSource for CachedSecretSource {
    async fn read(&self, tenant: &TenantId, kind: SecretKind) -> Result<Option<SecretString>, SecretsError> {
        let key = (tenant.clone(), kind);
        if let Some(doc) = self.cached(&key) {
            return Ok(Some(doc));
        }
        let fetched = self.inner.read(tenant, kind).await?;
        if let Some(doc) = &fetched {
            self.remember(key, doc.clone());
        }
        Ok(fetched)
    }

    async fn write(&self, tenant: &TenantId, kind: SecretKind, document: SecretString) -> Result<(), SecretsError> {
        self.inner.write(tenant, kind, document.clone()).await?;
        self.remember((tenant.clone(), kind), document);
        Ok(())
    }

    fn invalidate(&self, tenant: &TenantId, kind: SecretKind) {
        self.entries
            .lock()
            .expect("secret cache lock")
            .remove(&(tenant.clone(), kind));
        self.inner.invalidate(tenant, kind);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::clock::ManualClock;
    use crate::secrets::{AutotaskCredentials, CredentialedError, with_fresh_secret};

    /// A source that counts reads and can change its value, like a rotated secret.
    #[derive(Default)]
    struct CountingSource {
        reads: AtomicUsize,
        value: Mutex<Option<String>>,
    }

    #[async_trait]
    impl SecretSource for CountingSource {
        async fn read(&self, _: &TenantId, _: SecretKind) -> Result<Option<SecretString>, SecretsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.value.lock().unwrap().clone().map(SecretString::new))
        }
        async fn write(&self, _: &TenantId, _: SecretKind, doc: SecretString) -> Result<(), SecretsError> {
            *self.value.lock().unwrap() = Some(doc.expose().to_owned());
            Ok(())
        }
    }

    fn at_doc(secret: &str) -> String {
        format!(r#"{{"username":"u","secret":"{secret}","integration_code":"c"}}"#)
    }

    fn setup() -> (Arc<CountingSource>, Arc<ManualClock>, Arc<dyn SecretSource>, TenantId) {
        let inner = Arc::new(CountingSource::default());
        *inner.value.lock().unwrap() = Some(at_doc("one"));
        let clock = Arc::new(ManualClock::at(DateTime::from_timestamp(1_000_000, 0).unwrap()));
        let cached: Arc<dyn SecretSource> = Arc::new(CachedSecretSource::new(
            inner.clone(),
            clock.clone(),
            Duration::seconds(300),
        ));
        (inner, clock, cached, TenantId::parse("acme").unwrap())
    }

    #[tokio::test]
    async fn serves_from_cache_until_ttl_then_refetches() {
        // GIVEN a cached source with a 300 s TTL
        let (inner, clock, cached, t) = setup();
        // WHEN read twice within the TTL THEN the store is asked once
        cached.autotask(&t).await.unwrap().unwrap();
        clock.advance(Duration::seconds(299));
        cached.autotask(&t).await.unwrap().unwrap();
        assert_eq!(inner.reads.load(Ordering::SeqCst), 1);
        // WHEN the TTL has passed and the secret was rotated THEN the new value is fetched
        *inner.value.lock().unwrap() = Some(at_doc("two"));
        clock.advance(Duration::seconds(1));
        let fresh = cached.autotask(&t).await.unwrap().unwrap();
        assert_eq!(fresh.secret.expose(), "two");
        assert_eq!(inner.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn misses_are_not_cached_and_writes_update_the_cache() {
        let (inner, _clock, cached, t) = setup();
        *inner.value.lock().unwrap() = None;
        assert!(cached.autotask(&t).await.unwrap().is_none());
        assert!(cached.autotask(&t).await.unwrap().is_none());
        assert_eq!(inner.reads.load(Ordering::SeqCst), 2);
        let creds: AutotaskCredentials = serde_json::from_str(&at_doc("new")).unwrap();
        cached.store(&t, &creds).await.unwrap();
        assert_eq!(cached.autotask(&t).await.unwrap().unwrap().secret.expose(), "new");
        assert_eq!(
            inner.reads.load(Ordering::SeqCst),
            2,
            "served from the write-through cache"
        );
    }

    #[tokio::test]
    async fn auth_failure_invalidates_and_retries_exactly_once() {
        // GIVEN a cached secret "one" and a store that has since been rotated to "two"
        let (inner, _clock, cached, t) = setup();
        cached.autotask(&t).await.unwrap();
        *inner.value.lock().unwrap() = Some(at_doc("two"));
        // WHEN a call fails with 401 on the stale secret and succeeds on the fresh one
        let mut seen = Vec::new();
        let result = with_fresh_secret::<AutotaskCredentials, _, u16, _, _>(
            cached.as_ref(),
            &t,
            |status| *status == 401,
            |creds| {
                seen.push(creds.secret.expose().to_owned());
                let ok = creds.secret.expose() == "two";
                async move { if ok { Ok("done") } else { Err(401) } }
            },
        )
        .await;
        // THEN the call was tried with the stale then the fresh secret, and succeeded
        assert_eq!(result.unwrap(), "done");
        assert_eq!(seen, ["one", "two"]);

        // WHEN the call keeps failing with 401 THEN it is repeated once only
        let mut calls = 0;
        let result = with_fresh_secret::<AutotaskCredentials, (), u16, _, _>(
            cached.as_ref(),
            &t,
            |status| *status == 401,
            |_| {
                calls += 1;
                async { Err(401) }
            },
        )
        .await;
        assert!(matches!(result, Err(CredentialedError::Call(401))));
        assert_eq!(calls, 2);
    }
}
