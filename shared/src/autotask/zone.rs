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

    /// The web UI's base with a trailing slash (`https://ww5.autotask.net/`): the zone's
    /// `webUrl`, else derived from the REST host (`webservices5` → `ww5`).
    pub fn web_base(&self) -> Option<String> {
        if let Some(web) = self.web_url.as_deref().filter(|w| !w.trim().is_empty()) {
            return Some(format!("{}/", web.trim_end_matches('/')));
        }
        web_base_of(&self.url)
    }
}

/// `https://wwN.autotask.net/` for a REST base on `webservicesN.autotask.net`; `None` for any
/// other host (a sandbox, an override).
pub fn web_base_of(rest_base: &str) -> Option<String> {
    let url = url::Url::parse(rest_base).ok()?;
    let host = url.host_str()?;
    let zone = host.strip_prefix("webservices")?.strip_suffix(".autotask.net")?;
    Some(format!("https://ww{zone}.autotask.net/"))
}

/// The Autotask page of an opportunity (Autotask's "ExecuteCommand" deep link).
pub fn opportunity_page(web_base: &str, opportunity_id: i64) -> String {
    format!("{web_base}Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenOpportunity&OpportunityID={opportunity_id}")
}

/// The Autotask page of a company (account).
pub fn company_page(web_base: &str, company_id: i64) -> String {
    format!("{web_base}Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenAccount&AccountID={company_id}")
}

/// The Autotask page of a contact.
pub fn contact_page(web_base: &str, contact_id: i64) -> String {
    format!("{web_base}Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenContact&ContactID={contact_id}")
}

/// The zone per (tenant, API user name).
#[derive(Debug, Default)]
pub struct ZoneCache {
    bases: Mutex<HashMap<(TenantId, String), ZoneInformation>>,
}

impl ZoneCache {
    pub fn get(&self, tenant: &TenantId, username: &str) -> Option<ZoneInformation> {
        self.lock().get(&(tenant.clone(), username.to_owned())).cloned()
    }

    pub fn put(&self, tenant: &TenantId, username: &str, zone: ZoneInformation) {
        self.lock().insert((tenant.clone(), username.to_owned()), zone);
    }

    pub fn forget(&self, tenant: &TenantId, username: &str) {
        self.lock().remove(&(tenant.clone(), username.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), ZoneInformation>> {
        self.bases.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(url: &str, web_url: Option<&str>) -> ZoneInformation {
        ZoneInformation {
            zone_name: None,
            url: url.into(),
            web_url: web_url.map(str::to_owned),
            ci: None,
        }
    }

    #[test]
    fn the_web_base_is_the_zones_web_url_else_derived_from_the_rest_host() {
        let rest = "https://webservices5.autotask.net/ATServicesRest/";
        assert_eq!(
            zone(rest, Some("https://ww15.autotask.net")).web_base().as_deref(),
            Some("https://ww15.autotask.net/")
        );
        assert_eq!(
            zone(rest, None).web_base().as_deref(),
            Some("https://ww5.autotask.net/")
        );
        assert_eq!(zone("http://127.0.0.1:4000/ATServicesRest", None).web_base(), None);
        assert_eq!(
            opportunity_page("https://ww5.autotask.net/", 29682215),
            "https://ww5.autotask.net/Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenOpportunity&OpportunityID=29682215"
        );
    }
}
