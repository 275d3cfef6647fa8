//! Authentication of function-URL calls: the tenant comes from the signature only.
//!
//! Read the claimed tenant from the call → load that tenant's signing keys → verify. Every failure
//! (unsigned, unknown tenant, tampered, expired, cross-tenant) gets the same 401 with
//! [`AuthError::PUBLIC_MESSAGE`]; which check failed is logged, never returned.

use lambda_http::Request;

use crate::clock::Clock;
use crate::secrets::SecretSource;
use crate::signing::{self, AuthError, CallToVerify};
use crate::tenant::TenantId;
use crate::web::ApiError;

/// Verifies a signed call and returns the authenticated tenant.
pub async fn authenticate(
    secrets: &dyn SecretSource,
    clock: &dyn Clock,
    window_secs: i64,
    req: &Request,
) -> Result<TenantId, ApiError> {
    let call = CallToVerify {
        method: req.method().as_str(),
        path: req.uri().path(),
        raw_query: req.uri().query().unwrap_or(""),
        headers: req.headers(),
        body: req.body().as_ref(),
    };
    let claim = signing::read_claim(&call).map_err(refused)?;
    let keys = match secrets.signing_keys(&claim.tenant).await {
        Ok(Some(keys)) => keys,
        // An unknown tenant looks exactly like a bad signature from the outside.
        Ok(None) => return Err(refused(AuthError::Mismatch)),
        Err(e) => {
            tracing::error!(error = %e, "cannot load signing keys");
            return Err(ApiError::internal());
        }
    };
    signing::verify(&call, &claim, &keys, clock.now(), window_secs).map_err(refused)?;
    Ok(claim.tenant)
}

fn refused(why: AuthError) -> ApiError {
    tracing::warn!(reason = %why, "refused an unauthenticated call");
    ApiError::unauthorized()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;
    use http::StatusCode;
    use lambda_http::Body;

    use super::*;
    use crate::clock::ManualClock;
    use crate::secret::SecretString;
    use crate::secrets::SigningKeysDocument;
    use crate::secrets::file::FileSecretSource;

    const NOW: i64 = 1_800_000_000;

    async fn secrets(dir: &tempfile::TempDir) -> Arc<dyn SecretSource> {
        let s: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(dir.path().join("s.json")));
        for (t, k) in [("acme", "key-acme"), ("other", "key-other")] {
            let doc = SigningKeysDocument {
                current: k.into(),
                previous: None,
            };
            s.store(&TenantId::parse(t).unwrap(), &doc).await.unwrap();
        }
        s
    }

    fn signed(tenant: &str, key: &str, ts: i64, body: &str) -> Request {
        let t = TenantId::parse(tenant).unwrap();
        let mut b = http::Request::builder()
            .method("PUT")
            .uri("https://x.lambda-url.eu-west-1.on.aws/?a=1");
        for (name, value) in
            signing::signed_headers(&SecretString::new(key), &t, "PUT", "/", "a=1", ts, body.as_bytes())
        {
            b = b.header(name, value);
        }
        b.body(Body::from(body)).unwrap()
    }

    async fn check(req: &Request) -> Result<TenantId, ApiError> {
        let dir = tempfile::tempdir().unwrap();
        let s = secrets(&dir).await;
        let clock = ManualClock::at(DateTime::from_timestamp(NOW, 0).unwrap());
        authenticate(s.as_ref(), &clock, 300, req).await
    }

    #[tokio::test]
    async fn a_correctly_signed_call_yields_its_tenant() {
        let req = signed("acme", "key-acme", NOW - 10, "{}");
        assert_eq!(check(&req).await.unwrap().as_str(), "acme");
    }

    #[tokio::test]
    async fn every_failure_gets_the_same_non_revealing_401() {
        // GIVEN unsigned, tampered, expired, unknown-tenant and cross-tenant calls
        let unsigned = http::Request::builder().uri("https://x/").body(Body::Empty).unwrap();
        let mut tampered = signed("acme", "key-acme", NOW, "{}");
        *tampered.body_mut() = Body::from("{\"x\":1}");
        let expired = signed("acme", "key-acme", NOW - 301, "{}");
        let unknown = signed("nobody", "key-acme", NOW, "{}");
        let cross = signed("other", "key-acme", NOW, "{}");
        // WHEN each is authenticated THEN each gets the identical 401 answer
        for req in [unsigned, tampered, expired, unknown, cross] {
            let e = check(&req).await.unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED);
            assert_eq!(e, ApiError::unauthorized());
            assert_eq!(e.message, AuthError::PUBLIC_MESSAGE);
        }
    }
}
