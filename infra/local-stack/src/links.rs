//! Freshly signed links to every screen and button of the demo tenant, so a newcomer can open
//! them in a browser straight away. Links are signed like the ones ChannelOnline's buttons open
//! (query form) and live for the signature window (5 minutes): `local-stack links` prints new ones.
//! A button's link never writes: it opens a confirmation page whose button does.

use shared::secret::SecretString;
use shared::signing;
use shared::tenant::TenantId;

use crate::demo::{DEMO_CUSTOMER, DEMO_QUOTE};

/// One screen or button: what it is, and the signed URL that opens it.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub label: &'static str,
    pub url: String,
}

/// A screen or button: its label, function, route and query parameters.
type Screen = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Every screen and button of the demo data.
const SCREENS: &[Screen] = &[
    ("Settings: connection (admin)", "settings", "/", &[]),
    ("Settings: test connection", "settings", "/test-connection", &[]),
    ("Settings: sales rep mapping", "settings", "/sales-reps", &[]),
    ("Settings: field mapping", "settings", "/field-mapping", &[]),
    ("Map Customers", "map-customers", "/", &[]),
    (
        "Export customer AC1001 (shows what will be written; confirm to write)",
        "export-customer",
        "/",
        &[("customer_number", DEMO_CUSTOMER)],
    ),
    (
        "Import/Map contacts of AC1001",
        "import-customer",
        "/contacts",
        &[("customer_number", DEMO_CUSTOMER)],
    ),
    (
        "Export quote Q100045 (the dry run; confirm to write)",
        "export-document",
        "/",
        &[("document_number", DEMO_QUOTE)],
    ),
    (
        "Query opportunities for Q100045",
        "query-opportunities",
        "/",
        &[("document_number", DEMO_QUOTE)],
    ),
    (
        "Query services for Q100045",
        "query-services",
        "/",
        &[("document_number", DEMO_QUOTE)],
    ),
];

/// Signed links on `base` (`http://127.0.0.1:9000`: the function is the first path segment).
pub fn signed_links(base: &str, tenant: &TenantId, key: &SecretString, now: i64) -> Vec<Link> {
    SCREENS
        .iter()
        .map(|(label, function, route, params)| {
            let params: Vec<(String, String)> =
                params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            let function_base = format!("{}/{function}", base.trim_end_matches('/'));
            Link {
                label,
                url: signing::signed_url(key, tenant, function, &function_base, route, &params, now),
            }
        })
        .collect()
}

/// The links as lines for a terminal: label, then the URL on its own line (easy to copy).
pub fn render(links: &[Link]) -> String {
    links
        .iter()
        .map(|l| format!("  {}\n    {}\n", l.label, l.url))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::signing::{CallToVerify, SigningKeys, read_claim, verify};

    #[test]
    fn every_link_verifies_for_its_own_route_and_parameters() {
        let tenant = TenantId::parse("demo").unwrap();
        let key = SecretString::new("k".repeat(64));
        let now = 1_800_000_000;
        let links = signed_links("http://127.0.0.1:9000/", &tenant, &key, now);
        assert_eq!(links.len(), SCREENS.len());
        for link in &links {
            let url = url::Url::parse(&link.url).unwrap();
            let mut segments = url.path().splitn(3, '/').skip(1);
            let function = segments.next().unwrap();
            let route = format!("/{}", segments.next().unwrap_or(""));
            assert!(
                SCREENS.iter().any(|(_, f, r, _)| *f == function && *r == route),
                "{}",
                link.url
            );
            let query = url.query().unwrap_or("");
            let keys = SigningKeys {
                current: key.clone(),
                previous: None,
            };
            let headers = http::HeaderMap::new();
            let call = CallToVerify {
                audience: function,
                method: "GET",
                path: &route,
                raw_query: query,
                headers: &headers,
                body: b"",
            };
            let claim = read_claim(&call).expect("a signed query");
            assert_eq!(claim.tenant, tenant);
            let at = chrono::DateTime::from_timestamp(now + 10, 0).unwrap();
            verify(&call, &claim, &keys, at, signing::DEFAULT_WINDOW_SECS).expect(&link.url);
        }
    }
}
