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

/// Verifies a call signed for the function `audience` and returns the authenticated tenant.
/// A repeated query parameter is refused first (400 naming it): the query must be canonical.
pub async fn authenticate(
    secrets: &dyn SecretSource,
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
    const AUDIENCE: &str = "settings";

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

    async fn check(req: &Request) -> Result<TenantId, ApiError> {
        let dir = tempfile::tempdir().unwrap();
        let s = secrets(&dir).await;
        let clock = ManualClock::at(DateTime::from_timestamp(NOW, 0).unwrap());
        authenticate(s.as_ref(), &clock, 300, AUDIENCE, req).await
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

    #[tokio::test]
    async fn a_repeated_parameter_is_refused_with_400_before_verification() {
        // GIVEN a correctly signed call whose query then gains a second `a`
        let mut req = signed("acme", "key-acme", NOW, "{}");
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
