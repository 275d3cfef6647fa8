//! Authentication of function-URL calls: the tenant comes from the signature only.
//!
//! Cheap refusals come first, so a flood of bad calls costs no secret read: the claim's form
//! (tenant, timestamp, `v3=` and 64 hex digits) and its timestamp window are checked before the
//! tenant's keys are loaded, and a tenant the secret store does not know is remembered for
//! [`UNKNOWN_TENANT_TTL_SECS`]. Then the keys are loaded and the signature verified. Every
//! failure (unsigned, malformed, expired, unknown tenant, tampered, cross-tenant) gets the same
//! 401 with [`AuthError::PUBLIC_MESSAGE`]; which check failed is logged, never returned.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use lambda_http::Request;

use crate::clock::Clock;
use crate::secrets::SecretSource;
use crate::signing::{self, AuthError, CallToVerify};
use crate::tenant::TenantId;
use crate::web::ApiError;

/// How long a tenant without signing keys is refused without asking the secret store again.
/// A tenant whose keys are created is accepted at most this long after.
pub const UNKNOWN_TENANT_TTL_SECS: i64 = 60;
/// The most unknown tenants remembered per instance: bounded, whatever names a flood invents.
pub const UNKNOWN_TENANT_CAPACITY: usize = 1024;

/// Tenants the secret store answered "no keys" for, and when: a small in-process memory so a
/// flood of calls for one made-up tenant makes one secret read, not one per call.
#[derive(Debug, Default)]
pub struct UnknownTenants {
    seen: Mutex<HashMap<TenantId, DateTime<Utc>>>,
}

impl UnknownTenants {
    fn ttl() -> Duration {
        Duration::seconds(UNKNOWN_TENANT_TTL_SECS)
    }

    /// Whether `tenant` was found unknown less than the TTL before `now`.
    pub fn is_unknown(&self, tenant: &TenantId, now: DateTime<Utc>) -> bool {
        let seen = self.seen.lock().expect("unknown-tenant lock");
        seen.get(tenant).is_some_and(|at| now - *at < Self::ttl())
    }

    /// Remembers that `tenant` has no keys at `now`. When full, expired entries go first, then
    /// the oldest one, so the map never exceeds [`UNKNOWN_TENANT_CAPACITY`].
    pub fn remember(&self, tenant: &TenantId, now: DateTime<Utc>) {
        let mut seen = self.seen.lock().expect("unknown-tenant lock");
        if seen.len() >= UNKNOWN_TENANT_CAPACITY && !seen.contains_key(tenant) {
            seen.retain(|_, at| now - *at < Self::ttl());
            if seen.len() >= UNKNOWN_TENANT_CAPACITY
                && let Some(oldest) = seen.iter().min_by_key(|(_, at)| **at).map(|(t, _)| t.clone())
            {
                seen.remove(&oldest);
            }
        }
        seen.insert(tenant.clone(), now);
    }

    pub fn len(&self) -> usize {
        self.seen.lock().expect("unknown-tenant lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Verifies a call signed for the function `audience` and returns the authenticated tenant.
/// A repeated query parameter is refused first (400 naming it): the query must be canonical.
pub async fn authenticate(
    secrets: &dyn SecretSource,
    unknown: &UnknownTenants,
    clock: &dyn Clock,
    window_secs: i64,
    audience: &str,
    req: &Request,
) -> Result<TenantId, ApiError> {
    let raw_query = req.uri().query().unwrap_or("");
    if let Some(name) = signing::duplicate_parameter(raw_query) {
        return Err(ApiError::bad_request(
            "duplicate_parameter",
            format!("{name} appears more than once in the query"),
        )
        .with_fix(format!("Send {name} once."))
        .with_details(serde_json::json!({ "field": name })));
    }
    let call = CallToVerify {
        audience,
        method: req.method().as_str(),
        path: req.uri().path(),
        raw_query,
        headers: req.headers(),
        body: req.body().as_ref(),
    };
    let now = clock.now();
    // No key is needed for these: refuse before any secret is read.
    let claim = signing::read_claim(&call).map_err(refused)?;
    signing::check_fresh(&claim, now, window_secs).map_err(refused)?;
    // An unknown tenant looks exactly like a bad signature from the outside.
    if unknown.is_unknown(&claim.tenant, now) {
        return Err(refused(AuthError::Mismatch));
    }
    let keys = match secrets.signing_keys(&claim.tenant).await {
        Ok(Some(keys)) => keys,
        Ok(None) => {
            unknown.remember(&claim.tenant, now);
            return Err(refused(AuthError::Mismatch));
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot load signing keys");
            return Err(ApiError::internal());
        }
    };
    signing::verify(&call, &claim, &keys, now, window_secs).map_err(refused)?;
    Ok(claim.tenant)
}

fn refused(why: AuthError) -> ApiError {
    tracing::warn!(reason = %why, "refused an unauthenticated call");
    ApiError::unauthorized()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use http::StatusCode;
    use lambda_http::Body;

    use super::*;
    use crate::clock::ManualClock;
    use crate::secret::SecretString;
    use crate::secrets::file::FileSecretSource;
    use crate::secrets::{SecretKind, SecretsError, SigningKeysDocument};

    const NOW: i64 = 1_800_000_000;
    const AUDIENCE: &str = "settings";
    const KEY_ACME: &str = "key-acme-0123456789abcdef01234567";
    const KEY_OTHER: &str = "key-other-0123456789abcdef0123456";

    /// Counts the reads that reach the wrapped source.
    struct Counting {
        inner: Arc<dyn SecretSource>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl SecretSource for Counting {
        async fn read(&self, tenant: &TenantId, kind: SecretKind) -> Result<Option<SecretString>, SecretsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.read(tenant, kind).await
        }
        async fn write(&self, tenant: &TenantId, kind: SecretKind, doc: SecretString) -> Result<(), SecretsError> {
            self.inner.write(tenant, kind, doc).await
        }
    }

    struct Harness {
        secrets: Arc<Counting>,
        unknown: UnknownTenants,
        clock: ManualClock,
        _dir: tempfile::TempDir,
    }

    impl Harness {
        async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let file: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(dir.path().join("s.json")));
            for (t, k) in [("acme", KEY_ACME), ("other", KEY_OTHER)] {
                let doc = SigningKeysDocument::current_only(k);
                file.store(&TenantId::parse(t).unwrap(), &doc).await.unwrap();
            }
            Self {
                secrets: Arc::new(Counting {
                    inner: file,
                    reads: AtomicUsize::new(0),
                }),
                unknown: UnknownTenants::default(),
                clock: ManualClock::at(DateTime::from_timestamp(NOW, 0).unwrap()),
                _dir: dir,
            }
        }

        async fn check(&self, req: &Request) -> Result<TenantId, ApiError> {
            authenticate(self.secrets.as_ref(), &self.unknown, &self.clock, 300, AUDIENCE, req).await
        }

        fn reads(&self) -> usize {
            self.secrets.reads.swap(0, Ordering::SeqCst)
        }
    }

    async fn check(req: &Request) -> Result<TenantId, ApiError> {
        Harness::new().await.check(req).await
    }

    fn signed(tenant: &str, key: &str, ts: i64, body: &str) -> Request {
        let t = TenantId::parse(tenant).unwrap();
        let mut b = http::Request::builder()
            .method("PUT")
            .uri("https://x.lambda-url.eu-west-1.on.aws/?a=1");
        for (name, value) in signing::signed_headers(
            &SecretString::new(key),
            &t,
            AUDIENCE,
            "PUT",
            "/",
            "a=1",
            ts,
            body.as_bytes(),
        ) {
            b = b.header(name, value);
        }
        b.body(Body::from(body)).unwrap()
    }

    /// A kind of bad call: its name, how to make the i-th one, and the secret reads it may cost.
    type Flood = (&'static str, fn(usize) -> Request, usize);

    fn assert_public_401(e: &ApiError) {
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert_eq!(*e, ApiError::unauthorized());
        assert_eq!(e.message, AuthError::PUBLIC_MESSAGE);
    }

    #[tokio::test]
    async fn a_correctly_signed_call_yields_its_tenant() {
        let req = signed("acme", KEY_ACME, NOW - 10, "{}");
        assert_eq!(check(&req).await.unwrap().as_str(), "acme");
    }

    #[tokio::test]
    async fn every_failure_gets_the_same_non_revealing_401() {
        // GIVEN unsigned, malformed, tampered, expired, unknown-tenant and cross-tenant calls
        let unsigned = http::Request::builder().uri("https://x/").body(Body::Empty).unwrap();
        let malformed = http::Request::builder()
            .uri(format!("https://x/?tenant=acme&ts={NOW}&sig=v2%3D00"))
            .body(Body::Empty)
            .unwrap();
        let mut tampered = signed("acme", KEY_ACME, NOW, "{}");
        *tampered.body_mut() = Body::from("{\"x\":1}");
        let expired = signed("acme", KEY_ACME, NOW - 301, "{}");
        let unknown = signed("nobody", KEY_ACME, NOW, "{}");
        let cross = signed("other", KEY_ACME, NOW, "{}");
        // WHEN each is authenticated THEN each gets the identical 401 answer
        for req in [unsigned, malformed, tampered, expired, unknown, cross] {
            assert_public_401(&check(&req).await.unwrap_err());
        }
    }

    #[tokio::test]
    async fn a_flood_of_cheaply_refused_calls_reads_no_secret() {
        let h = Harness::new().await;
        // GIVEN 1,000 each of unsigned, expired, malformed-signature and unknown-tenant calls
        let floods: [Flood; 4] = [
            (
                "unsigned",
                |i| {
                    http::Request::builder()
                        .uri(format!("https://x/?tenant=acme&ts={NOW}&n={i}"))
                        .body(Body::Empty)
                        .unwrap()
                },
                0,
            ),
            ("expired", |i| signed("acme", KEY_ACME, NOW - 301 - i as i64, "{}"), 0),
            (
                "malformed",
                |i| {
                    let hex = "0".repeat(64);
                    let sig = [
                        format!("v3%3D{}", &hex[..2]),
                        format!("v1%3D{hex}"),
                        format!("v3%3D{hex}zz"),
                    ];
                    http::Request::builder()
                        .uri(format!("https://x/?tenant=acme&ts={NOW}&sig={}", sig[i % 3]))
                        .body(Body::Empty)
                        .unwrap()
                },
                0,
            ),
            ("unknown tenant", |_| signed("nobody", KEY_ACME, NOW, "{}"), 1),
        ];
        for (name, make, max_reads) in floods {
            // WHEN they are authenticated
            for i in 0..1_000 {
                assert_public_401(&h.check(&make(i)).await.unwrap_err());
            }
            // THEN the secret store was not (or, for the unknown tenant, once) asked
            let reads = h.reads();
            assert!(reads <= max_reads, "{name}: {reads} secret reads");
        }
        // AND a valid call still reads its keys
        h.check(&signed("acme", KEY_ACME, NOW, "{}")).await.unwrap();
        assert_eq!(h.reads(), 1);
    }

    #[tokio::test]
    async fn an_unknown_tenant_is_asked_about_again_after_a_minute() {
        // GIVEN "late" was refused as unknown
        let h = Harness::new().await;
        let call = |ts| signed("late", KEY_ACME, ts, "{}");
        assert_public_401(&h.check(&call(NOW)).await.unwrap_err());
        assert_eq!(h.reads(), 1);
        // WHEN its keys are created and it calls within the TTL THEN it is still refused, unread
        let late = TenantId::parse("late").unwrap();
        let store: &dyn SecretSource = h.secrets.as_ref();
        store
            .store(&late, &SigningKeysDocument::current_only(KEY_ACME))
            .await
            .unwrap();
        h.clock.advance(Duration::seconds(UNKNOWN_TENANT_TTL_SECS - 1));
        let ts = h.clock.now().timestamp();
        assert_public_401(&h.check(&call(ts)).await.unwrap_err());
        assert_eq!(h.reads(), 0);
        // WHEN the TTL has passed THEN its keys are read and the call accepted
        h.clock.advance(Duration::seconds(1));
        let ts = h.clock.now().timestamp();
        assert_eq!(h.check(&call(ts)).await.unwrap(), late);
        assert_eq!(h.reads(), 1);
    }

    #[test]
    fn the_unknown_tenant_memory_stays_bounded() {
        // GIVEN more invented tenants than the memory holds, all within the TTL
        let unknown = UnknownTenants::default();
        let t0 = DateTime::from_timestamp(NOW, 0).unwrap();
        let name = |i: usize| TenantId::parse(&format!("t{i}")).unwrap();
        for i in 0..UNKNOWN_TENANT_CAPACITY + 10 {
            unknown.remember(&name(i), t0 + Duration::milliseconds(i as i64));
        }
        // THEN it holds no more than its capacity, dropping the oldest first
        assert_eq!(unknown.len(), UNKNOWN_TENANT_CAPACITY);
        let now = t0 + Duration::seconds(1);
        assert!(!unknown.is_unknown(&name(0), now));
        assert!(unknown.is_unknown(&name(UNKNOWN_TENANT_CAPACITY + 9), now));
    }

    #[tokio::test]
    async fn a_repeated_parameter_is_refused_with_400_before_verification() {
        // GIVEN a correctly signed call whose query then gains a second `a`
        let mut req = signed("acme", KEY_ACME, NOW, "{}");
        *req.uri_mut() = "https://x.lambda-url.eu-west-1.on.aws/?a=1&a=2".parse().unwrap();
        // WHEN it is authenticated THEN the answer is 400 naming `a`, not 401
        let e = check(&req).await.unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains('a'), "{}", e.message);
        // AND an unsigned call with a repeated `sig` is refused the same way
        let unsigned = http::Request::builder()
            .uri("https://x/?sig=v2%3D00&sig=v2%3D01")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(check(&unsigned).await.unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
