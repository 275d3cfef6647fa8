//! What the command prints for each form.

use shared::secret::SecretString;
use shared::signing;

use crate::args::{Form, SignRequest};

/// The text to print: a signed GET link, or `POST <url>` followed by the three signature headers.
pub fn render(req: &SignRequest, key: &SecretString, timestamp: i64) -> String {
    match &req.form {
        Form::Query => {
            signing::signed_url(
                key,
                &req.tenant,
                &req.function,
                &req.base_url,
                &req.path,
                &req.params,
                timestamp,
            ) + "\n"
        }
        Form::Header { body } => {
            let query = url_query(&req.params);
            let headers = signing::signed_headers(
                key,
                &req.tenant,
                &req.function,
                "POST",
                &req.path,
                &query,
                timestamp,
                body,
            );
            let mut out = format!("POST {}{}", req.base_url.trim_end_matches('/'), req.path);
            if !query.is_empty() {
                out.push('?');
                out.push_str(&query);
            }
            out.push('\n');
            for (name, value) in headers {
                out.push_str(&format!("{name}: {value}\n"));
            }
            out
        }
    }
}

/// The parameters form-encoded in the given order (the signature canonicalises the order).
fn url_query(params: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
}
