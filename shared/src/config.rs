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
    /// Validity window of signed calls, in seconds (`SIGNATURE_WINDOW_SECS`, default 300).
    pub signature_window_secs: i64,
    /// Where the per-tenant secrets live.
    pub secrets: SecretsConfig,
    /// How long a secret read from the store is reused, in seconds (`SECRETS_CACHE_TTL_SECS`, default 300).
    pub secrets_cache_ttl_secs: i64,
    /// Endpoint overrides of the AWS services, for emulators.
    pub endpoints: Endpoints,
    /// The work queues and how often their messages are delivered.
    pub queues: Queues,
    /// Where the outbound Autotask and ChannelOnline clients point (sandboxes in local runs).
    pub clients: Clients,
    /// Other functions' URLs that pages link to.
    pub links: Links,
}

/// Endpoint overrides for local emulators; all unset on AWS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// DynamoDB (`DYNAMODB_ENDPOINT`).
    pub dynamodb: Option<String>,
    /// SQS (`SQS_ENDPOINT`).
    pub sqs: Option<String>,
}

/// The queues this function sends to, and the delivery counts of those it is fed by. A count
/// left unset takes the default of the function that reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queues {
    /// Where the planner sends work items (`SYNC_QUEUE_URL`).
    pub sync_queue_url: Option<String>,
    /// Where Import and Map sends its steps (`MAP_CUSTOMERS_QUEUE_URL`); unset: the steps run in
    /// the call (the local stack).
    pub map_customers_queue_url: Option<String>,
    /// The sync queue's `maxReceiveCount` (`SYNC_MAX_RECEIVE_COUNT`).
    pub sync_max_receive_count: Option<u32>,
    /// The job queue's `maxReceiveCount` (`MAP_CUSTOMERS_MAX_RECEIVE_COUNT`).
    pub map_customers_max_receive_count: Option<u32>,
    /// Share of the hourly Autotask budget the planner may use (`SYNC_BUDGET_SHARE`).
    pub sync_budget_share: Option<f64>,
}

/// Overrides of the outbound clients' production defaults (see `app::clients`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clients {
    /// Autotask zone-lookup URL (`AUTOTASK_ZONE_URL`).
    pub autotask_zone_url: Option<String>,
    /// Autotask API base URL, skipping zone discovery (`AUTOTASK_BASE_URL`).
    pub autotask_base_url: Option<String>,
    /// Autotask read timeout in milliseconds (`AUTOTASK_READ_TIMEOUT_MS`).
    pub autotask_read_timeout_ms: Option<u64>,
    /// ChannelOnline host (`CHANNELONLINE_URL`).
    pub channelonline_url: Option<String>,
    /// Pause between ChannelOnline calls in milliseconds (`CHANNELONLINE_PAUSE_MS`).
    pub channelonline_pause_ms: Option<u64>,
    /// The user agent 1WorldSync registered for the deployment (`CHANNELONLINE_USER_AGENT`).
    pub channelonline_user_agent: Option<String>,
}

/// Function URLs that pages link to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// export-customer's function URL (`EXPORT_CUSTOMER_URL`): export-document then offers a
    /// signed link to export an unmapped customer.
    pub export_customer_url: Option<String>,
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
    /// Read once per instance, at cold start (`AppContext::from_env`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&env_var)
    }

    /// `lookup` gives a variable's value: the environment in production, a map in tests.
    pub fn from_vars(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        Ok(Self {
            mapping_table: vars.required("MAPPING_TABLE")?,
            idempotency_table: vars.required("IDEMPOTENCY_TABLE")?,
            signature_window_secs: vars.parsed_or("SIGNATURE_WINDOW_SECS", crate::signing::DEFAULT_WINDOW_SECS)?,
            secrets: match vars.optional("SECRETS_FILE") {
                Some(path) => SecretsConfig::File(path.into()),
                None => SecretsConfig::SecretsManager {
                    prefix: vars
                        .optional("SECRETS_PREFIX")
                        .unwrap_or_else(|| DEFAULT_SECRETS_PREFIX.into()),
                },
            },
            secrets_cache_ttl_secs: vars.parsed_or("SECRETS_CACHE_TTL_SECS", DEFAULT_SECRETS_CACHE_TTL_SECS)?,
            endpoints: Endpoints {
                dynamodb: vars.optional("DYNAMODB_ENDPOINT"),
                sqs: vars.optional("SQS_ENDPOINT"),
            },
            queues: Queues {
                sync_queue_url: vars.optional("SYNC_QUEUE_URL"),
                map_customers_queue_url: vars.optional("MAP_CUSTOMERS_QUEUE_URL"),
                sync_max_receive_count: vars.parsed("SYNC_MAX_RECEIVE_COUNT")?,
                map_customers_max_receive_count: vars.parsed("MAP_CUSTOMERS_MAX_RECEIVE_COUNT")?,
                sync_budget_share: vars.parsed("SYNC_BUDGET_SHARE")?,
            },
            clients: Clients {
                autotask_zone_url: vars.optional("AUTOTASK_ZONE_URL"),
                autotask_base_url: vars.optional("AUTOTASK_BASE_URL"),
                autotask_read_timeout_ms: vars.parsed("AUTOTASK_READ_TIMEOUT_MS")?,
                channelonline_url: vars.optional("CHANNELONLINE_URL"),
                channelonline_pause_ms: vars.parsed("CHANNELONLINE_PAUSE_MS")?,
                channelonline_user_agent: vars.optional("CHANNELONLINE_USER_AGENT"),
            },
            links: Links {
                export_customer_url: vars.optional("EXPORT_CUSTOMER_URL"),
            },
        })
    }
}

/// The ChannelOnline browser origins (`ALLOWED_ORIGINS`, comma-separated; the template passes
/// its `AllowedOrigins` parameter): the only pages that may frame this integration's HTML.
/// Entries that are not a bare `http(s)://host[:port]` origin are dropped with a warning, so a
/// typo can never widen or break the Content-Security-Policy built from them. Read once per
/// instance, by `web` (see `web::content_security_policy`).
pub fn allowed_origins() -> Vec<String> {
    parse_origins(&Vars(&env_var).optional("ALLOWED_ORIGINS").unwrap_or_default())
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

fn env_var(name: &str) -> Option<String> {
    env::var(name).ok()
}

/// Variables by name; a blank value counts as unset.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parsed_or<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError> {
        Ok(self.parsed(name)?.unwrap_or(default))
    }

    fn parsed<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError> {
        self.optional(name)
            .map(|value| {
                value.parse().map_err(|_| ConfigError::Invalid {
                    name,
                    value,
                    why: "not a number",
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(&|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
    }

    const TABLES: [(&str, &str); 2] = [("MAPPING_TABLE", "m"), ("IDEMPOTENCY_TABLE", "i")];

    #[test]
    fn every_section_is_read_from_its_variable() {
        let c = config(&[
            TABLES[0],
            TABLES[1],
            ("SQS_ENDPOINT", "http://127.0.0.1:5000"),
            ("DYNAMODB_ENDPOINT", " "),
            ("SYNC_QUEUE_URL", "https://sqs/sync"),
            ("MAP_CUSTOMERS_MAX_RECEIVE_COUNT", "7"),
            ("SYNC_BUDGET_SHARE", "0.25"),
            ("AUTOTASK_READ_TIMEOUT_MS", "1500"),
            ("EXPORT_CUSTOMER_URL", "https://export-customer.example/"),
        ])
        .unwrap();
        assert_eq!(c.endpoints.sqs.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(c.endpoints.dynamodb, None, "a blank value counts as unset");
        assert_eq!(c.queues.sync_queue_url.as_deref(), Some("https://sqs/sync"));
        assert_eq!(c.queues.map_customers_queue_url, None);
        assert_eq!(c.queues.map_customers_max_receive_count, Some(7));
        assert_eq!(c.queues.sync_max_receive_count, None);
        assert_eq!(c.queues.sync_budget_share, Some(0.25));
        assert_eq!(c.clients.autotask_read_timeout_ms, Some(1500));
        assert_eq!(
            c.links.export_customer_url.as_deref(),
            Some("https://export-customer.example/")
        );
        assert_eq!(
            c.secrets,
            SecretsConfig::SecretsManager {
                prefix: DEFAULT_SECRETS_PREFIX.into()
            }
        );
    }

    #[test]
    fn a_missing_table_or_a_bad_number_is_named() {
        let e = config(&[TABLES[0]]).unwrap_err();
        assert_eq!(e.to_string(), "environment variable IDEMPOTENCY_TABLE is required");
        let e = config(&[TABLES[0], TABLES[1], ("SYNC_MAX_RECEIVE_COUNT", "five")]).unwrap_err();
        assert!(e.to_string().contains("SYNC_MAX_RECEIVE_COUNT"), "{e}");
    }

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
