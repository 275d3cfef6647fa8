//! Signed function-URL calls.
//!
//! A ChannelOnline button runs in a browser, which can hold no secret, so the request (or the link
//! it opens) is signed server-side with the tenant's key: HMAC-SHA256 over the scheme version,
//! tenant, audience (the name of the function the call is for), method, path, canonical query,
//! timestamp and body hash. Every function URL's path is `/`, so the audience is what makes a
//! signature for one function useless at another. Two keys may be active at once for rotation.
//!
//! The headers that change what a call does (`Idempotency-Key`, `X-Col-User`, the actor written
//! into the audit) are covered too, by their values when present: changing or adding one voids
//! the signature.
//!
//! Two forms carry the same signature:
//! - header form (server-to-server POST): `X-Col-Tenant`, `X-Col-Timestamp`, `X-Col-Signature`;
//! - query form (a link opened in a new window): `tenant`, `ts`, `sig` query parameters.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::secret::SecretString;
use crate::tenant::TenantId;

/// The shortest signing key accepted, in bytes: a key is as strong as HMAC-SHA256's output only
/// from 32 bytes on. Shorter keys are refused when loaded and when written (`shared::secrets`).
pub const MIN_KEY_BYTES: usize = 32;
/// Length of the hex part of a `v3=` signature (HMAC-SHA256 is 32 bytes).
const SIGNATURE_HEX_LEN: usize = 64;

pub const HEADER_TENANT: &str = "x-col-tenant";
pub const HEADER_TIMESTAMP: &str = "x-col-timestamp";
pub const HEADER_SIGNATURE: &str = "x-col-signature";
pub const QUERY_TENANT: &str = "tenant";
pub const QUERY_TIMESTAMP: &str = "ts";
pub const QUERY_SIGNATURE: &str = "sig";
/// Default validity window either side of the signing time.
pub const DEFAULT_WINDOW_SECS: i64 = 300;
/// The scheme version, first line of the signed message and prefix of the signature (`v3=<hex>`).
/// v2 added the audience, v3 the covered headers; an older signature is refused.
const SCHEME: &str = "v3";
/// Request headers whose values the signature covers: they change what a call does.
pub const COVERED_HEADERS: [&str; 2] = ["idempotency-key", "x-col-user"];
/// The latest timestamp accepted (9999-12-31T23:59:59Z); earlier than 0 is refused too.
const MAX_TIMESTAMP: i64 = 253_402_300_799;

type HmacSha256 = Hmac<Sha256>;

/// The signing keys of one tenant: the current one and, during rotation, the previous one.
#[derive(Clone, Debug)]
pub struct SigningKeys {
    pub current: SecretString,
    pub previous: Option<PreviousKey>,
}

/// The key being rotated out: accepted only until `expires_at`, so a leaked old key stops
/// working on a known date even if nobody removes it from the document.
#[derive(Clone, Debug)]
pub struct PreviousKey {
    pub key: SecretString,
    pub expires_at: DateTime<Utc>,
}

impl SigningKeys {
    /// The keys that verify at `now`: the current one, and the previous one before its expiry.
    pub fn active(&self, now: DateTime<Utc>) -> impl Iterator<Item = &SecretString> {
        let previous = self.previous.as_ref().filter(|p| now < p.expires_at).map(|p| &p.key);
        std::iter::once(&self.current).chain(previous)
    }
}

/// What the verifier needs of a request, independent of the HTTP framework.
#[derive(Clone, Copy, Debug)]
pub struct CallToVerify<'a> {
    /// The name of the function verifying the call: a signature made for another is refused.
    pub audience: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string, without the leading `?`.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Why a call was refused. Callers answer every variant with the same short 401 message;
/// the variant is for logs and tests only.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("the call is not signed")]
    Unsigned,
    #[error("the tenant id is missing or malformed")]
    BadTenant,
    #[error("the timestamp is missing or malformed")]
    BadTimestamp,
    #[error("the signature has expired or is not yet valid")]
    Expired,
    #[error("the signature is not of the form v3=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match")]
    Mismatch,
}

impl AuthError {
    /// The only text a caller ever sees: it reveals nothing about which check failed.
    pub const PUBLIC_MESSAGE: &'static str =
        "This link or request is not valid or has expired. Open it again from ChannelOnline.";
}

/// The signature fields found in a call, before the key is known: the signature is already
/// known to be of the right scheme and form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureClaim {
    pub tenant: TenantId,
    pub timestamp: i64,
    mac: Vec<u8>,
}

/// Reads the tenant, timestamp and signature from the headers, or else from the query, and
/// checks the signature's form (`v3=` and 64 hex digits). Nothing here needs a key, so a caller
/// refuses a malformed call before any secret is read. The tenant is only a claim until
/// [`verify`] has checked the signature with that tenant's key.
pub fn read_claim(call: &CallToVerify<'_>) -> Result<SignatureClaim, AuthError> {
    let header = |name: &str| call.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (tenant, ts, sig) = match header(HEADER_SIGNATURE) {
        Some(sig) => (header(HEADER_TENANT), header(HEADER_TIMESTAMP), Some(sig)),
        None => {
            let q = |name: &str| {
                url::form_urlencoded::parse(call.raw_query.as_bytes())
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            };
            (q(QUERY_TENANT), q(QUERY_TIMESTAMP), q(QUERY_SIGNATURE))
        }
    };
    let signature = sig.ok_or(AuthError::Unsigned)?;
    let tenant = tenant
        .and_then(|t| TenantId::parse(&t).ok())
        .ok_or(AuthError::BadTenant)?;
    let timestamp = ts
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| (0..=MAX_TIMESTAMP).contains(t))
        .ok_or(AuthError::BadTimestamp)?;
    let mac = signature_bytes(&signature).ok_or(AuthError::Malformed)?;
    Ok(SignatureClaim { tenant, timestamp, mac })
}

/// The MAC of a `v3=<64 hex digits>` signature; `None` for any other scheme or form.
fn signature_bytes(signature: &str) -> Option<Vec<u8>> {
    let hex_part = signature.strip_prefix(SCHEME)?.strip_prefix('=')?;
    (hex_part.len() == SIGNATURE_HEX_LEN)
        .then(|| hex::decode(hex_part).ok())
        .flatten()
}

/// Whether the claim's timestamp is within `window_secs` of `now`: a cheap check that needs no
/// key, made before the tenant's keys are loaded (and again by [`verify`]).
pub fn check_fresh(claim: &SignatureClaim, now: DateTime<Utc>, window_secs: i64) -> Result<(), AuthError> {
    // `abs_diff` cannot overflow, whatever timestamp a caller sends.
    if now.timestamp().abs_diff(claim.timestamp) > window_secs.max(0).unsigned_abs() {
        return Err(AuthError::Expired);
    }
    Ok(())
}

/// Checks a claim against the tenant's keys: within the window, and matching a key active at
/// `now` (the previous one only before its expiry), compared in constant time by `hmac`'s
/// `verify_slice`.
pub fn verify(
    call: &CallToVerify<'_>,
    claim: &SignatureClaim,
    keys: &SigningKeys,
    now: DateTime<Utc>,
    window_secs: i64,
) -> Result<(), AuthError> {
    check_fresh(claim, now, window_secs)?;
    let message = canonical_message(
        &claim.tenant,
        call.audience,
        call.method,
        call.path,
        call.raw_query,
        claim.timestamp,
        call.body,
    ) + &covered_lines(call.headers);
    for key in keys.active(now) {
        let mut mac = HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        if mac.verify_slice(&claim.mac).is_ok() {
            return Ok(());
        }
    }
    Err(AuthError::Mismatch)
}

/// The exact bytes that are signed. The query is canonical: the signature parameters removed,
/// pairs sorted, form-encoded again, so parameter order and encoding variants do not matter.
pub fn canonical_message(
    tenant: &TenantId,
    audience: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    format!(
        "{SCHEME}\n{tenant}\n{audience}\n{}\n{}\n{}\n{timestamp}\n{body_hash}",
        method.to_ascii_uppercase(),
        if path.is_empty() { "/" } else { path },
        canonical_query(method, raw_query)
    )
}

/// The covered headers present in `headers`, one `\nname:value` line each (trimmed); empty
/// when there are none, so a call without them signs exactly the canonical message.
pub fn covered_lines(headers: &HeaderMap) -> String {
    COVERED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?;
            Some(format!("\n{name}:{}", String::from_utf8_lossy(value.as_bytes()).trim()))
        })
        .collect()
}

/// Query parameters a GET carries beyond what was signed: the words typed into a signed screen's
/// search box, a plain GET form whose hidden fields carry the signature. They only choose what
/// the same read of the same function and route shows; a route that takes none refuses them.
pub const SEARCH_PREFIX: &str = "q.";

fn canonical_query(method: &str, raw_query: &str) -> String {
    let search = method.eq_ignore_ascii_case("GET");
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| k != QUERY_SIGNATURE && k != QUERY_TIMESTAMP && k != QUERY_TENANT)
        .filter(|(k, _)| !(search && k.starts_with(SEARCH_PREFIX)))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The first query parameter that appears more than once: such a query is refused before
/// verification, so no reader of the query can pick a different value than the one signed.
pub fn duplicate_parameter(raw_query: &str) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .find(|k| !seen.insert(k.clone()))
}

/// Computes the `v3=<hex>` signature for a call to the function named `audience`.
#[allow(clippy::too_many_arguments)] // one argument per field of the signed message
pub fn sign(
    key: &SecretString,
    tenant: &TenantId,
    audience: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    sign_covering(
        key,
        tenant,
        audience,
        method,
        path,
        raw_query,
        timestamp,
        body,
        &HeaderMap::new(),
    )
}

/// [`sign`] for a call that also sends some of the [`COVERED_HEADERS`] (in `covered`).
#[allow(clippy::too_many_arguments)] // one argument per field of the signed message
pub fn sign_covering(
    key: &SecretString,
    tenant: &TenantId,
    audience: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    timestamp: i64,
    body: &[u8],
    covered: &HeaderMap,
) -> String {
    let message =
        canonical_message(tenant, audience, method, path, raw_query, timestamp, body) + &covered_lines(covered);
    let mut mac = HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    format!("{SCHEME}={}", hex::encode(mac.finalize().into_bytes()))
}

/// The three headers of the header form, for a server-to-server call to `audience`.
#[allow(clippy::too_many_arguments)] // one argument per field of the signed message
pub fn signed_headers(
    key: &SecretString,
    tenant: &TenantId,
    audience: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    timestamp: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        (HEADER_TENANT, tenant.to_string()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (
            HEADER_SIGNATURE,
            sign(key, tenant, audience, method, path, raw_query, timestamp, body),
        ),
    ]
}

/// A link in query form to the function `audience`: `base_url` + `path` + the given parameters
/// + `tenant`, `ts`, `sig`. Links are opened with GET and carry no body.
pub fn signed_url(
    key: &SecretString,
    tenant: &TenantId,
    audience: &str,
    base_url: &str,
    path: &str,
    params: &[(String, String)],
    timestamp: i64,
) -> String {
    let full = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(signed_pairs(key, tenant, audience, path, params, timestamp))
        .finish();
    format!("{}{}?{}", base_url.trim_end_matches('/'), path, full)
}

/// The query pairs of a signed GET of `path` with `params`: the parameters, then the tenant,
/// the time and the signature. A search form carries them as hidden fields.
pub fn signed_pairs(
    key: &SecretString,
    tenant: &TenantId,
    audience: &str,
    path: &str,
    params: &[(String, String)],
    timestamp: i64,
) -> Vec<(String, String)> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    let sig = sign(key, tenant, audience, "GET", path, &query, timestamp, b"");
    let mut pairs = params.to_vec();
    pairs.extend([
        (QUERY_TENANT.to_owned(), tenant.as_str().to_owned()),
        (QUERY_TIMESTAMP.to_owned(), timestamp.to_string()),
        (QUERY_SIGNATURE.to_owned(), sig),
    ]);
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    /// Keys whose previous one (if any) expires long after every test's `now`.
    fn keys(current: &str, previous: Option<&str>) -> SigningKeys {
        SigningKeys {
            current: current.into(),
            previous: previous.map(|k| PreviousKey {
                key: k.into(),
                expires_at: at(MAX_TIMESTAMP),
            }),
        }
    }

    fn header_call<'a>(headers: &'a HeaderMap, body: &'a [u8], raw_query: &'a str) -> CallToVerify<'a> {
        CallToVerify {
            audience: "export-document",
            method: "POST",
            path: "/export",
            raw_query,
            headers,
            body,
        }
    }

    fn signed_header_map(key: &str, t: &str, ts: i64, query: &str, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in signed_headers(
            &key.into(),
            &tenant(t),
            "export-document",
            "POST",
            "/export",
            query,
            ts,
            body,
        ) {
            h.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        h
    }

    fn check(call: &CallToVerify<'_>, k: &SigningKeys, now: i64) -> Result<TenantId, AuthError> {
        let claim = read_claim(call)?;
        verify(call, &claim, k, at(now), DEFAULT_WINDOW_SECS)?;
        Ok(claim.tenant)
    }

    #[test]
    fn header_form_round_trip() {
        // GIVEN a POST signed with the tenant's current key
        let body = br#"{"customer":"C-1"}"#;
        let h = signed_header_map("k1", "acme", 1_000, "a=1", body);
        // WHEN it is verified a minute later THEN the tenant is authenticated
        assert_eq!(
            check(&header_call(&h, body, "a=1"), &keys("k1", None), 1_060),
            Ok(tenant("acme"))
        );
    }

    #[test]
    fn tampered_body_query_or_method_is_rejected() {
        let body = br#"{"customer":"C-1"}"#;
        let h = signed_header_map("k1", "acme", 1_000, "a=1", body);
        let k = keys("k1", None);
        assert_eq!(
            check(&header_call(&h, br#"{"customer":"C-2"}"#, "a=1"), &k, 1_000),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            check(&header_call(&h, body, "a=2"), &k, 1_000),
            Err(AuthError::Mismatch)
        );
        let get = CallToVerify {
            method: "GET",
            ..header_call(&h, body, "a=1")
        };
        assert_eq!(check(&get, &k, 1_000), Err(AuthError::Mismatch));
    }

    #[test]
    fn expired_and_future_signatures_are_rejected() {
        let h = signed_header_map("k1", "acme", 1_000, "", b"");
        let k = keys("k1", None);
        assert_eq!(check(&header_call(&h, b"", ""), &k, 1_301), Err(AuthError::Expired));
        assert_eq!(check(&header_call(&h, b"", ""), &k, 699), Err(AuthError::Expired));
        assert!(check(&header_call(&h, b"", ""), &k, 1_300).is_ok());
    }

    #[test]
    fn rotation_accepts_previous_key_and_rejects_unknown_key() {
        let h = signed_header_map("old", "acme", 1_000, "", b"");
        assert!(check(&header_call(&h, b"", ""), &keys("new", Some("old")), 1_000).is_ok());
        assert_eq!(
            check(&header_call(&h, b"", ""), &keys("new", None), 1_000),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn cross_tenant_claim_fails() {
        // GIVEN tenant A signs, WHEN the tenant header is changed to B, THEN B's key check fails,
        // and even with A's key the tenant is part of the signed message.
        let mut h = signed_header_map("key-a", "tenant-a", 1_000, "", b"");
        h.insert(HEADER_TENANT, HeaderValue::from_static("tenant-b"));
        assert_eq!(
            check(&header_call(&h, b"", ""), &keys("key-b", None), 1_000),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            check(&header_call(&h, b"", ""), &keys("key-a", None), 1_000),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn query_form_round_trip_with_reordered_parameters() {
        let url = signed_url(
            &"k1".into(),
            &tenant("acme"),
            "export-document",
            "https://x.lambda-url.us-east-1.on.aws/",
            "/document",
            &[("number".into(), "Q 100".into()), ("action".into(), "export".into())],
            1_000,
        );
        let raw_query = url.split_once('?').unwrap().1;
        let reordered: Vec<&str> = raw_query.split('&').rev().collect();
        let reordered = reordered.join("&");
        let h = HeaderMap::new();
        let call = CallToVerify {
            audience: "export-document",
            method: "GET",
            path: "/document",
            raw_query: &reordered,
            headers: &h,
            body: b"",
        };
        assert_eq!(check(&call, &keys("k1", None), 1_010), Ok(tenant("acme")));
        let tampered = reordered.replace("Q+100", "Q+101");
        let call = CallToVerify {
            raw_query: &tampered,
            ..call
        };
        assert_eq!(check(&call, &keys("k1", None), 1_010), Err(AuthError::Mismatch));
    }

    #[test]
    fn unsigned_and_malformed_calls_are_rejected() {
        let h = HeaderMap::new();
        let call = CallToVerify {
            audience: "export-document",
            method: "GET",
            path: "/",
            raw_query: "tenant=acme",
            headers: &h,
            body: b"",
        };
        assert_eq!(read_claim(&call), Err(AuthError::Unsigned));
        let call = CallToVerify {
            raw_query: "tenant=a%23b&ts=1&sig=v2%3D00",
            ..call
        };
        assert_eq!(read_claim(&call), Err(AuthError::BadTenant));
        let call = CallToVerify {
            raw_query: "tenant=acme&ts=soon&sig=v2%3D00",
            ..call
        };
        assert_eq!(read_claim(&call), Err(AuthError::BadTimestamp));
        let call = CallToVerify {
            raw_query: "tenant=acme&ts=1000&sig=v2%3Dzz",
            ..call
        };
        assert_eq!(read_claim(&call), Err(AuthError::Malformed));
    }

    #[test]
    fn a_signature_of_the_wrong_form_is_refused_before_any_key_is_needed() {
        // GIVEN signatures with the wrong prefix, length or digits
        let good = "0".repeat(64);
        let h = HeaderMap::new();
        for sig in [
            format!("v3%3D{}", &good[..62]),
            format!("v3%3D{good}00"),
            format!("v3%3D{}zz", &good[..62]),
            format!("v2%3D{good}"),
            good.clone(),
            "v3%3D".into(),
        ] {
            let query = format!("tenant=acme&ts=1000&sig={sig}");
            let call = CallToVerify {
                raw_query: &query,
                ..header_call(&h, b"", "")
            };
            // WHEN the claim is read THEN it is malformed (no key was consulted)
            assert_eq!(read_claim(&call), Err(AuthError::Malformed), "{sig}");
        }
        // AND the right form is accepted as a claim (it only fails later, against a key)
        let query = format!("tenant=acme&ts=1000&sig=v3%3D{good}");
        let call = CallToVerify {
            raw_query: &query,
            ..header_call(&h, b"", "")
        };
        let claim = read_claim(&call).unwrap();
        assert_eq!(
            check_fresh(&claim, at(1_301), DEFAULT_WINDOW_SECS),
            Err(AuthError::Expired)
        );
        assert_eq!(
            verify(&call, &claim, &keys("k1", None), at(1_000), DEFAULT_WINDOW_SECS),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn the_previous_key_is_refused_from_its_expiry_on() {
        // GIVEN a call signed with the previous key, which expires at 2_000
        let h = signed_header_map("old", "acme", 1_990, "", b"");
        let rotating = SigningKeys {
            current: "new".into(),
            previous: Some(PreviousKey {
                key: "old".into(),
                expires_at: at(2_000),
            }),
        };
        // WHEN it is verified before the expiry THEN it is accepted
        assert!(check(&header_call(&h, b"", ""), &rotating, 1_999).is_ok());
        // WHEN it is verified at or after the expiry (still inside the signature window) THEN refused
        assert_eq!(
            check(&header_call(&h, b"", ""), &rotating, 2_000),
            Err(AuthError::Mismatch)
        );
        // AND the current key keeps working after the previous one expired
        let h = signed_header_map("new", "acme", 2_100, "", b"");
        assert!(check(&header_call(&h, b"", ""), &rotating, 2_100).is_ok());
    }

    #[test]
    fn a_signature_for_another_function_is_refused() {
        // GIVEN a call signed for query-opportunities
        let h = signed_header_map("k1", "acme", 1_000, "number=Q-1", b"");
        let call = CallToVerify {
            audience: "query-opportunities",
            ..header_call(&h, b"", "number=Q-1")
        };
        let mut h2 = HeaderMap::new();
        for (name, value) in signed_headers(
            &"k1".into(),
            &tenant("acme"),
            "query-opportunities",
            "POST",
            "/export",
            "number=Q-1",
            1_000,
            b"",
        ) {
            h2.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        let for_query = CallToVerify { headers: &h2, ..call };
        assert!(check(&for_query, &keys("k1", None), 1_000).is_ok());
        // WHEN export-document verifies the same call THEN it is refused
        let at_export = CallToVerify {
            audience: "export-document",
            ..for_query
        };
        assert_eq!(check(&at_export, &keys("k1", None), 1_000), Err(AuthError::Mismatch));
    }

    #[test]
    fn a_search_box_adds_words_to_a_signed_get_but_changes_nothing_signed() {
        // GIVEN a signed GET link to /audit with a covered parameter
        let pairs = signed_pairs(
            &"k1".into(),
            &tenant("acme"),
            "settings",
            "/audit",
            &[("limit".to_owned(), "20".to_owned())],
            1_000,
        );
        let signed = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let verifies = |method: &str, query: &str| {
            let headers = HeaderMap::new();
            let call = CallToVerify {
                audience: "settings",
                method,
                path: "/audit",
                raw_query: query,
                headers: &headers,
                body: b"",
            };
            let claim = read_claim(&call).unwrap();
            verify(&call, &claim, &keys("k1", None), at(1_000), DEFAULT_WINDOW_SECS)
        };
        assert_eq!(verifies("GET", &signed), Ok(()));
        // WHEN the search form adds typed words THEN the GET still verifies
        assert_eq!(verifies("GET", &format!("{signed}&q.record=C-1001")), Ok(()));
        // BUT a changed covered parameter, or words on any other method, are refused
        assert_eq!(
            verifies("GET", &signed.replace("limit=20", "limit=99")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verifies("POST", &format!("{signed}&q.record=C-1001")),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn an_old_version_signature_is_refused() {
        // GIVEN a v1 signature (no audience in the message) made with the right key
        let message = "v1\nacme\nPOST\n/export\n\n1000\n".to_owned() + &hex::encode(Sha256::digest(b""));
        let mut mac = HmacSha256::new_from_slice(b"k1").unwrap();
        mac.update(message.as_bytes());
        let v1 = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        let mut h = signed_header_map("k1", "acme", 1_000, "", b"");
        h.insert(HEADER_SIGNATURE, HeaderValue::from_str(&v1).unwrap());
        // WHEN it is verified THEN it is refused, as is the same hex without any version prefix
        assert_eq!(
            check(&header_call(&h, b"", ""), &keys("k1", None), 1_000),
            Err(AuthError::Malformed)
        );
        let bare = v1.trim_start_matches("v1=").to_owned();
        h.insert(HEADER_SIGNATURE, HeaderValue::from_str(&bare).unwrap());
        assert_eq!(
            check(&header_call(&h, b"", ""), &keys("k1", None), 1_000),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn timestamps_outside_the_sane_range_are_refused_without_overflow() {
        let h = HeaderMap::new();
        for ts in [
            i64::MIN.to_string(),
            "-1".into(),
            "253402300800".into(),
            i64::MAX.to_string(),
        ] {
            let query = format!("tenant=acme&ts={ts}&sig=v2%3D00");
            let call = CallToVerify {
                raw_query: &query,
                ..header_call(&h, b"", "")
            };
            assert_eq!(read_claim(&call), Err(AuthError::BadTimestamp), "{ts}");
        }
        // AND a claim built by hand with an extreme timestamp is only expired, never a panic
        let claim = SignatureClaim {
            tenant: tenant("acme"),
            timestamp: i64::MIN,
            mac: vec![0; 32],
        };
        let call = header_call(&h, b"", "");
        // (the distance from 1000 to i64::MIN exceeds even the widest window)
        assert_eq!(
            verify(&call, &claim, &keys("k1", None), at(1_000), i64::MAX),
            Err(AuthError::Expired)
        );
        assert_eq!(
            verify(&call, &claim, &keys("k1", None), at(1_000), DEFAULT_WINDOW_SECS),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn a_repeated_query_parameter_is_named() {
        assert_eq!(duplicate_parameter("a=1&b=2&a=3"), Some("a".into()));
        assert_eq!(duplicate_parameter("sig=1&sig=2"), Some("sig".into()));
        assert_eq!(duplicate_parameter("a=1&b=2"), None);
        assert_eq!(duplicate_parameter(""), None);
    }
}
