//! Factories for the two outbound clients, built once per cold start and handed a tenant's
//! credentials per call. Environment variables (read into [`Clients`]) point them at sandboxes for local runs:
//! `AUTOTASK_ZONE_URL` (a zone-lookup URL), `AUTOTASK_BASE_URL` (skip zone discovery),
//! `AUTOTASK_READ_TIMEOUT_MS`, `CHANNELONLINE_URL`, `CHANNELONLINE_USER_AGENT`, `CHANNELONLINE_PAUSE_MS`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::autotask::{AutotaskClient, AutotaskError, ClientConfig};
use crate::channelonline::{
    ChannelOnline, ChannelOnlineError, ColCredentials, XmlChannelOnline, XmlChannelOnlineConfig,
};
use crate::config::Clients;
use crate::secrets::ChannelOnlineCredentials;
use crate::tenant::TenantId;

/// The user agent sent to ChannelOnline unless `CHANNELONLINE_USER_AGENT` names the one
/// 1WorldSync registered for the deployment.
pub const DEFAULT_COL_USER_AGENT: &str = "col-autotask-integration";

/// Builds the ChannelOnline port for one tenant (tests plug in their own).
pub trait ChannelOnlineFactory: Send + Sync {
    /// Calls made through the port end before `deadline` (the invocation's).
    fn for_tenant(
        &self,
        tenant: &TenantId,
        credentials: ChannelOnlineCredentials,
        deadline: Option<Instant>,
    ) -> Result<Arc<dyn ChannelOnline>, ChannelOnlineError>;
}

/// The XML adapter, one instance per tenant context (it paces its own calls).
#[derive(Clone, Debug)]
pub struct XmlChannelOnlineFactory {
    pub config: XmlChannelOnlineConfig,
    pub user_agent: String,
}

impl ChannelOnlineFactory for XmlChannelOnlineFactory {
    fn for_tenant(
        &self,
        _tenant: &TenantId,
        credentials: ChannelOnlineCredentials,
        deadline: Option<Instant>,
    ) -> Result<Arc<dyn ChannelOnline>, ChannelOnlineError> {
        let creds = ColCredentials {
            shortcut: credentials.shortcut,
            email: credentials.email,
            password: credentials.password,
            user_agent: self.user_agent.clone(),
        };
        let config = self.config.clone().with_deadline(deadline);
        Ok(Arc::new(XmlChannelOnline::new(config, creds)?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    #[error("cannot build the Autotask client: {0}")]
    Autotask(#[from] AutotaskError),
}

/// The shared Autotask client (one pool, zone cache and per-endpoint limiter for all tenants)
/// and the ChannelOnline factory.
#[derive(Clone)]
pub struct ClientFactories {
    pub autotask: AutotaskClient,
    pub channelonline: Arc<dyn ChannelOnlineFactory>,
}

impl ClientFactories {
    /// Production endpoints unless the configuration points elsewhere (see the module doc).
    pub fn from_config(config: &Clients) -> Result<Self, ClientsError> {
        let mut at = match &config.autotask_zone_url {
            Some(url) => ClientConfig {
                zone_lookup_url: url.clone(),
                ..ClientConfig::default()
            },
            None => ClientConfig::default(),
        };
        at.base_url_override = config.autotask_base_url.clone();
        if let Some(ms) = config.autotask_read_timeout_ms {
            at.read_timeout = Duration::from_millis(ms);
        }
        let col_url =
            (config.channelonline_url.clone()).unwrap_or_else(|| XmlChannelOnlineConfig::PRODUCTION_URL.into());
        let mut col = XmlChannelOnlineConfig::for_base_url(col_url);
        if let Some(ms) = config.channelonline_pause_ms {
            col = col.with_pause(Duration::from_millis(ms));
        }
        let user_agent = (config.channelonline_user_agent.clone()).unwrap_or_else(|| DEFAULT_COL_USER_AGENT.into());
        Self::new(at, col, user_agent)
    }

    /// The public Autotask zone lookup and ChannelOnline's production host.
    pub fn production() -> Self {
        Self::new(
            ClientConfig::default(),
            XmlChannelOnlineConfig::production(),
            DEFAULT_COL_USER_AGENT.into(),
        )
        .expect("an HTTP client with default settings always builds")
    }

    pub fn new(
        autotask: ClientConfig,
        channelonline: XmlChannelOnlineConfig,
        user_agent: String,
    ) -> Result<Self, ClientsError> {
        Ok(Self {
            autotask: AutotaskClient::new(autotask)?,
            channelonline: Arc::new(XmlChannelOnlineFactory {
                config: channelonline,
                user_agent,
            }),
        })
    }

    /// Both clients pointed at local sandboxes (tests, the local stack): zone discovery on the
    /// Autotask sandbox's host root, ChannelOnline without pacing.
    pub fn for_sandboxes(
        autotask_host_root: &str,
        channelonline_url: &str,
        channelonline_user_agent: &str,
    ) -> Result<Self, ClientsError> {
        let col = XmlChannelOnlineConfig::for_base_url(channelonline_url).with_pause(Duration::ZERO);
        Self::new(
            ClientConfig::with_zone_host(autotask_host_root),
            col,
            channelonline_user_agent.into(),
        )
    }
}
