//! Zone discovery: `GET …/zoneInformation?user=<UserName>` (no credentials) tells which
//! `webservicesN` host serves the tenant. Cached per tenant and API user; dropped on a 401 so
//! the next call re-resolves (zones can move).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;

use crate::tenant::TenantId;

/// The zone answer (`ZoneInformationResultModel`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneInformation {
    #[serde(default)]
    pub zone_name: Option<String>,
    /// REST base including `/ATServicesRest`, usually with a trailing slash.
    pub url: String,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub ci: Option<i64>,
}

impl ZoneInformation {
    /// The REST base without trailing slash, so `{base}/V1.0/...` is always right.
    pub fn rest_base(&self) -> String {
        self.url.trim_end_matches('/').to_owned()
    }
}

/// Base URL per (tenant, API user name).
#[derive(Debug, Default)]
pub struct ZoneCache {
    bases: Mutex<HashMap<(TenantId, String), String>>,
}

impl ZoneCache {
    pub fn get(&self, tenant: &TenantId, username: &str) -> Option<String> {
        self.lock().get(&(tenant.clone(), username.to_owned())).cloned()
    }

    pub fn put(&self, tenant: &TenantId, username: &str, base: String) {
        self.lock().insert((tenant.clone(), username.to_owned()), base);
    }

    pub fn forget(&self, tenant: &TenantId, username: &str) {
        self.lock().remove(&(tenant.clone(), username.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), String>> {
        self.bases.lock().unwrap_or_else(|p| p.into_inner())
    }
}
