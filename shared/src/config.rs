//! The one config loader. Environment variables carry resource names, ARNs and endpoints,
//! never secret values (those come from the secrets port).

use std::env;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} has an invalid value {value:?}: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
}

/// Settings every function reads at cold start.
#[derive(Clone, Debug)]
pub struct Config {
    /// DynamoDB table holding mappings, settings, audit records, checkpoints (`MAPPING_TABLE`).
    pub mapping_table: String,
    /// DynamoDB table holding idempotency records, with TTL (`IDEMPOTENCY_TABLE`).
    pub idempotency_table: String,
    /// Endpoint override for a local DynamoDB (`DYNAMODB_ENDPOINT`); unset on AWS.
    pub dynamodb_endpoint: Option<String>,
    /// Validity window of signed calls, in seconds (`SIGNATURE_WINDOW_SECS`, default 300).
    pub signature_window_secs: i64,
    /// Where the per-tenant secrets live.
    pub secrets: SecretsConfig,
    /// How long a secret read from the store is reused, in seconds (`SECRETS_CACHE_TTL_SECS`, default 300).
    pub secrets_cache_ttl_secs: i64,
}

/// Where the per-tenant secrets live: a local JSON file (`SECRETS_FILE`, for the local stack and
/// tests) or AWS Secrets Manager, one secret per tenant and system named
/// `<SECRETS_PREFIX><tenant>/<system>` (default prefix `col-autotask/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretsConfig {
    File(PathBuf),
    SecretsManager { prefix: String },
}

pub const DEFAULT_SECRETS_PREFIX: &str = "col-autotask/";
pub const DEFAULT_SECRETS_CACHE_TTL_SECS: i64 = 300;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            mapping_table: required("MAPPING_TABLE")?,
            idempotency_table: required("IDEMPOTENCY_TABLE")?,
            dynamodb_endpoint: optional("DYNAMODB_ENDPOINT"),
            signature_window_secs: parsed_or("SIGNATURE_WINDOW_SECS", crate::signing::DEFAULT_WINDOW_SECS)?,
            secrets: match optional("SECRETS_FILE") {
                Some(path) => SecretsConfig::File(path.into()),
                None => SecretsConfig::SecretsManager {
                    prefix: optional("SECRETS_PREFIX").unwrap_or_else(|| DEFAULT_SECRETS_PREFIX.into()),
                },
            },
            secrets_cache_ttl_secs: parsed_or("SECRETS_CACHE_TTL_SECS", DEFAULT_SECRETS_CACHE_TTL_SECS)?,
        })
    }
}

/// The ChannelOnline browser origins (`ALLOWED_ORIGINS`, comma-separated; the template passes
/// its `AllowedOrigins` parameter): the only pages that may frame this integration's HTML.
/// Entries that are not a bare `http(s)://host[:port]` origin are dropped with a warning, so a
/// typo can never widen or break the Content-Security-Policy built from them. Read once per
/// instance, by `web` (see `web::content_security_policy`).
pub fn allowed_origins() -> Vec<String> {
    parse_origins(&optional("ALLOWED_ORIGINS").unwrap_or_default())
}

pub fn parse_origins(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter(|o| {
            let ok = is_origin(o);
            if !ok {
                tracing::warn!(origin = %o, "ALLOWED_ORIGINS entry is not an origin; ignored");
            }
            ok
        })
        .map(|o| o.trim_end_matches('/').to_owned())
        .collect()
}

/// `https://host[:port]` (or `http://`), host of letters, digits, dots and dashes, nothing after.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")) else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = rest.split_once(':').unwrap_or((rest, "1"));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    host_ok && port_ok
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    optional(name).ok_or(ConfigError::Missing(name))
}

pub fn optional(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn parsed_or<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
            name,
            value,
            why: "not a number",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_origins_are_kept() {
        assert_eq!(
            parse_origins(" https://www.channelonline.com, https://acme.channelonline.com:8443/ ,"),
            ["https://www.channelonline.com", "https://acme.channelonline.com:8443"]
        );
        for bad in [
            "www.channelonline.com",
            "https://x.com/path",
            "https://x.com; script-src *",
            "https://x.com 'unsafe-inline'",
            "ftp://x.com",
            "https://",
            "https://x.com:port",
        ] {
            assert!(parse_origins(bad).is_empty(), "{bad}");
        }
    }
}
