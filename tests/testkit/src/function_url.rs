//! Function-URL (API Gateway v2) events as AWS sends them, signed with a tenant key, for tests
//! that drive a handler or a real binary.

use serde_json::{Value, json};
use shared::secret::SecretString;
use shared::signing;
use shared::tenant::TenantId;

/// A request to put into an event. `signer` is `(tenant, key, unix timestamp)`, or `None` for
/// an unsigned call; `audience` is the function the call is signed for (the binary it is sent to,
/// unless a test means to misuse a signature).
pub struct EventSpec<'a> {
    pub audience: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a str,
    pub signer: Option<(&'a str, &'a str, i64)>,
    pub headers: &'a [(&'a str, &'a str)],
}

/// The event JSON for `spec`, in the shape a Lambda function URL delivers.
pub fn event(spec: &EventSpec<'_>) -> Value {
    let host = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws";
    let mut headers = json!({
        "host": host,
        "content-type": "application/json",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
    });
    if let Some((tenant, key, ts)) = spec.signer {
        let tenant = TenantId::parse(tenant).expect("test tenant id");
        // An honest caller signs the covered headers it sends (`Idempotency-Key`, `X-Col-User`).
        let mut covered = http::HeaderMap::new();
        for (name, value) in spec.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                covered.insert(n, v);
            }
        }
        let signature = signing::sign_covering(
            &SecretString::new(key),
            &tenant,
            spec.audience,
            spec.method,
            spec.path,
            spec.query,
            ts,
            spec.body.as_bytes(),
            &covered,
        );
        headers[signing::HEADER_TENANT] = json!(tenant.as_str());
        headers[signing::HEADER_TIMESTAMP] = json!(ts.to_string());
        headers[signing::HEADER_SIGNATURE] = json!(signature);
    }
    for (name, value) in spec.headers {
        headers[*name] = json!(value);
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": spec.path,
        "rawQueryString": spec.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwxyz012345",
            "domainName": host,
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
            "http": {
                "method": spec.method,
                "path": spec.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "testkit"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:16:00:00 +0000",
            "timeEpoch": 1_795_795_200_000_i64
        },
        "body": spec.body,
        "isBase64Encoded": false
    })
}

/// The parts of a lambda_http v2 response envelope a test asserts on.
#[derive(Debug)]
pub struct UrlResponse {
    pub status: u16,
    pub headers: Value,
    pub body: String,
}

impl UrlResponse {
    /// Parses the envelope a lambda_http function posts to the Runtime API.
    pub fn from_envelope(envelope: &str) -> Self {
        let v: Value = serde_json::from_str(envelope).expect("response envelope is JSON");
        Self {
            status: v["statusCode"].as_u64().expect("statusCode") as u16,
            headers: v["headers"].clone(),
            body: v["body"].as_str().unwrap_or_default().to_owned(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The hidden fields of the confirmation form in `html` (HTML-unescaped), in page order.
pub fn form_fields(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + tag[start..].find('"')?;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input ")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            tag.contains("type=\"hidden\"")
                .then(|| Some((attr(tag, "name")?, attr(tag, "value")?)))
                .flatten()
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An unsigned form POST of `fields` to `path`, as a browser submits the confirmation page.
pub fn form_post(path: &str, fields: &[(String, String)]) -> Value {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    event(&EventSpec {
        audience: "",
        method: "POST",
        path,
        query: "",
        body: &body,
        signer: None,
        headers: &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "text/html"),
        ],
    })
}
