//! Single-use confirmation tokens: how a button's GET link becomes a write without a GET ever
//! writing.
//!
//! A signed GET of a write route answers a confirmation page (what would be written) whose form
//! POSTs a token back to the same function. The token is HMAC-SHA256 with the tenant's current
//! signing key over the scheme, tenant, audience (the function), action (the route), a hash of
//! the parameters, the expiry and a random nonce. Only tenant, expiry and nonce travel in the
//! token; the verifier supplies the audience, the action and the parameters it received, so a
//! token made for another function, another action or other parameters does not verify.
//! Single use is enforced by the caller: the nonce is consumed in the store
//! (`IdempotencyStore::consume_once`) before the write runs.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::secret::SecretString;
use crate::signing::SigningKeys;
use crate::tenant::TenantId;

/// The form field (and JSON field) that carries the token.
pub const FIELD: &str = "confirmation";
/// How long a confirmation page can be submitted.
pub const LIFETIME: Duration = Duration::minutes(10);
/// First element of a token; a token of another version is refused.
const SCHEME: &str = "c1";
/// Separates the token's parts; tenant ids cannot contain it.
const SEP: char = '~';

type HmacSha256 = Hmac<Sha256>;

/// What a token is for; the verifier builds it from the request it received.
#[derive(Clone, Copy, Debug)]
pub struct Purpose<'a> {
    /// The function (as in signed calls, the audience).
    pub audience: &'a str,
    /// The write, e.g. `export`, `attach`, `add`.
    pub action: &'a str,
    pub params: &'a BTreeMap<String, String>,
}

/// A token that verified: its tenant, nonce (the single-use key) and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub tenant: TenantId,
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Malformed, another key, another function, action or parameters: all look alike.
    #[error("the confirmation does not match this action")]
    Invalid,
    #[error("the confirmation has expired")]
    Expired,
}

/// The tenant a token claims, before its key is known (`None`: not a token at all).
pub fn claimed_tenant(token: &str) -> Option<TenantId> {
    let mut parts = token.split(SEP);
    (parts.next() == Some(SCHEME))
        .then(|| parts.next())
        .flatten()
        .and_then(|t| TenantId::parse(t).ok())
}

/// Issues a token for `purpose`, valid until `now + LIFETIME`.
pub fn issue(key: &SecretString, tenant: &TenantId, purpose: &Purpose<'_>, now: DateTime<Utc>) -> String {
    let nonce = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let expires = (now + LIFETIME).timestamp();
    let mac = mac_hex(key, tenant, purpose, expires, &nonce);
    format!("{SCHEME}{SEP}{tenant}{SEP}{expires}{SEP}{nonce}{SEP}{mac}")
}

/// Checks `token` against the tenant's keys active at `now` (current, or previous before its
/// expiry, as signed calls are) for `purpose`. The MAC is checked before the expiry, so a changed expiry is `Invalid`.
pub fn verify(
    token: &str,
    keys: &SigningKeys,
    purpose: &Purpose<'_>,
    now: DateTime<Utc>,
) -> Result<Verified, TokenError> {
    let parts: Vec<&str> = token.split(SEP).collect();
    let [SCHEME, tenant, expires, nonce, mac] = parts[..] else {
        return Err(TokenError::Invalid);
    };
    let tenant = TenantId::parse(tenant).map_err(|_| TokenError::Invalid)?;
    let expires: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
    let given = hex::decode(mac).map_err(|_| TokenError::Invalid)?;
    let nonce_ok = nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit());
    if !nonce_ok {
        return Err(TokenError::Invalid);
    }
    let message = message(&tenant, purpose, expires, nonce);
    let matches = keys.active(now).any(|key| {
        let mut m = HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
        m.update(message.as_bytes());
        m.verify_slice(&given).is_ok()
    });
    if !matches {
        return Err(TokenError::Invalid);
    }
    let expires_at = DateTime::from_timestamp(expires, 0).ok_or(TokenError::Invalid)?;
    if expires_at < now {
        return Err(TokenError::Expired);
    }
    Ok(Verified {
        tenant,
        nonce: nonce.to_owned(),
        expires_at,
    })
}

/// Hex sha256 of the parameters, sorted and form-encoded (the confirmation field excluded).
pub fn params_hash(params: &BTreeMap<String, String>) -> String {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().filter(|(k, _)| k.as_str() != FIELD))
        .finish();
    hex::encode(Sha256::digest(encoded.as_bytes()))
}

fn message(tenant: &TenantId, purpose: &Purpose<'_>, expires: i64, nonce: &str) -> String {
    format!(
        "{SCHEME}\n{tenant}\n{}\n{}\n{}\n{expires}\n{nonce}",
        purpose.audience,
        purpose.action,
        params_hash(purpose.params)
    )
}

fn mac_hex(key: &SecretString, tenant: &TenantId, purpose: &Purpose<'_>, expires: i64, nonce: &str) -> String {
    let mut m = HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    m.update(message(tenant, purpose, expires, nonce).as_bytes());
    hex::encode(m.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::PreviousKey;

    fn tenant() -> TenantId {
        TenantId::parse("acme.reseller").unwrap()
    }

    /// Keys whose previous one (if any) expires a day after `NOW`.
    fn keys(current: &str, previous: Option<&str>) -> SigningKeys {
        SigningKeys {
            current: current.into(),
            previous: previous.map(|k| PreviousKey {
                key: k.into(),
                expires_at: at(NOW + 86_400),
            }),
        }
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    fn export(p: &BTreeMap<String, String>) -> Purpose<'_> {
        Purpose {
            audience: "export-document",
            action: "export",
            params: p,
        }
    }

    #[test]
    fn a_token_verifies_for_its_purpose_and_names_tenant_nonce_and_expiry() {
        let p = params(&[("document_number", "Q 1"), ("custom_name", "Big & small")]);
        let token = issue(&"k1".into(), &tenant(), &export(&p), at(NOW));
        assert_eq!(claimed_tenant(&token), Some(tenant()));
        let v = verify(&token, &keys("k1", None), &export(&p), at(NOW + 60)).unwrap();
        assert_eq!(v.tenant, tenant());
        assert_eq!(v.expires_at, at(NOW) + LIFETIME);
        assert_eq!(v.nonce.len(), 32);
        // AND two tokens for the same purpose have different nonces (each is single-use)
        let other = issue(&"k1".into(), &tenant(), &export(&p), at(NOW));
        assert_ne!(
            verify(&other, &keys("k1", None), &export(&p), at(NOW)).unwrap().nonce,
            v.nonce
        );
        // AND the previous key still verifies during rotation
        assert!(verify(&token, &keys("k2", Some("k1")), &export(&p), at(NOW)).is_ok());
    }

    #[test]
    fn a_token_of_the_previous_key_is_invalid_once_that_key_expired() {
        // GIVEN a token made with k1, and k1 now the previous key expiring 60 s after NOW
        let p = params(&[("document_number", "Q1")]);
        let token = issue(&"k1".into(), &tenant(), &export(&p), at(NOW));
        let rotating = SigningKeys {
            current: "k2".into(),
            previous: Some(PreviousKey {
                key: "k1".into(),
                expires_at: at(NOW + 60),
            }),
        };
        // WHEN it is verified before and after that expiry (the token itself lives 10 minutes)
        assert!(verify(&token, &rotating, &export(&p), at(NOW + 59)).is_ok());
        // THEN after it, it is invalid
        assert_eq!(
            verify(&token, &rotating, &export(&p), at(NOW + 60)),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn another_function_action_parameter_key_or_tenant_is_invalid() {
        let p = params(&[("document_number", "Q1")]);
        let token = issue(&"k1".into(), &tenant(), &export(&p), at(NOW));
        let k = keys("k1", None);
        let other_fn = Purpose {
            audience: "export-customer",
            ..export(&p)
        };
        let other_action = Purpose {
            action: "attach",
            ..export(&p)
        };
        let changed = params(&[("document_number", "Q2")]);
        let added = params(&[("document_number", "Q1"), ("dry_run", "false")]);
        for purpose in [other_fn, other_action, export(&changed), export(&added)] {
            assert_eq!(verify(&token, &k, &purpose, at(NOW)), Err(TokenError::Invalid));
        }
        assert_eq!(
            verify(&token, &keys("k2", None), &export(&p), at(NOW)),
            Err(TokenError::Invalid)
        );
        let cross_tenant = token.replacen("acme.reseller", "other", 1);
        assert_eq!(
            verify(&cross_tenant, &k, &export(&p), at(NOW)),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn tampered_or_malformed_tokens_are_invalid() {
        let p = params(&[("document_number", "Q1")]);
        let token = issue(&"k1".into(), &tenant(), &export(&p), at(NOW));
        let k = keys("k1", None);
        let parts: Vec<&str> = token.split(SEP).collect();
        let later = (NOW + 86_400).to_string();
        let longer = [parts[0], parts[1], &later, parts[3], parts[4]].join("~");
        let other_nonce = [parts[0], parts[1], parts[2], &"0".repeat(32), parts[4]].join("~");
        let mut flipped = token.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == '0' { '1' } else { '0' });
        for bad in [
            longer,
            other_nonce,
            flipped,
            token.replacen("c1", "c2", 1),
            String::new(),
            "c1~acme".into(),
            format!("{token}~extra"),
        ] {
            assert_eq!(
                verify(&bad, &k, &export(&p), at(NOW)),
                Err(TokenError::Invalid),
                "{bad}"
            );
        }
        assert_eq!(claimed_tenant("v2=abc"), None);
    }

    #[test]
    fn a_token_expires_after_its_lifetime() {
        let p = params(&[("document_number", "Q1")]);
        let token = issue(&"k1".into(), &tenant(), &export(&p), at(NOW));
        let end = NOW + LIFETIME.num_seconds();
        assert!(verify(&token, &keys("k1", None), &export(&p), at(end)).is_ok());
        assert_eq!(
            verify(&token, &keys("k1", None), &export(&p), at(end + 1)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn the_parameter_hash_ignores_the_token_field_but_not_values() {
        let a = params(&[("a", "1"), ("b", "x y")]);
        let mut with_token = a.clone();
        with_token.insert(FIELD.into(), "c1~t".into());
        assert_eq!(params_hash(&a), params_hash(&with_token));
        assert_ne!(params_hash(&a), params_hash(&params(&[("a", "1"), ("b", "x z")])));
        // `a=1&b=2` is not `a=1%26b%3D2`: values are encoded, so no two maps collide
        assert_ne!(
            params_hash(&params(&[("a", "1&b=2")])),
            params_hash(&params(&[("a", "1"), ("b", "2")]))
        );
    }
}
