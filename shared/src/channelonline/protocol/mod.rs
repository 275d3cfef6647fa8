//! Everything inferred about ChannelOnline's undocumented XML interface lives here, so that
//! confirming it against 1WorldSync's XSDs touches one module.
//!
//! OBSERVED in public client code (`channelonline-and-peers.md` §1.2): `POST {base}/REQUEST`,
//! `Content-Type: text/xml`, `schemaVersion="7.0"` on the request root, the `<authentication>`
//! block, `<error code="…">` inside HTTP 200 (105 user agent, 507 more than 500 documents), the
//! `export_documents_request` options and the `export_documents_response` shape.
//!
//! DESIGNED here in the same conventions, to confirm against the XSDs: `export_customers_*`,
//! `import_customers_*`, `add_document_lines_*`, `set_document_custom_fields_*`, the error
//! codes other than 105 and 507, and the document elements marked INFERRED in [`wire`].

pub mod convert;
pub mod parse;
pub mod wire;

use serde::Serialize;

use super::error::ChannelOnlineError;

/// Request path under the base URL (observed).
pub const REQUEST_PATH: &str = "/REQUEST";
pub const CONTENT_TYPE: &str = "text/xml";
/// Observed schema version, sent on every request root and the user agent.
pub const SCHEMA_VERSION: &str = "7.0";
/// Observed: at most this many documents per `export_documents_request`.
pub const DOCUMENT_CAP: usize = 500;

/// Observed error codes.
pub const CODE_INVALID_USER_AGENT: u32 = 105;
pub const CODE_TOO_MANY_DOCUMENTS: u32 = 507;
/// DESIGNED error codes (not seen in public material).
pub const CODE_INVALID_LOGIN: u32 = 101;
pub const CODE_MALFORMED_REQUEST: u32 = 400;
pub const CODE_UNKNOWN_DOCUMENT: u32 = 510;
pub const CODE_UNKNOWN_CUSTOMER: u32 = 511;

/// Observed `documentType` option values.
pub const DOCUMENT_TYPE_QUOTE: &str = "Quote";
pub const DOCUMENT_TYPE_SALES_ORDER: &str = "Sales Order";

/// The request types, by root element name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// OBSERVED.
    ExportDocuments,
    /// DESIGNED.
    ExportCustomers,
    /// DESIGNED.
    ImportCustomers,
    /// DESIGNED.
    AddDocumentLines,
    /// DESIGNED.
    SetDocumentCustomFields,
}

impl RequestKind {
    pub const ALL: [RequestKind; 5] = [
        RequestKind::ExportDocuments,
        RequestKind::ExportCustomers,
        RequestKind::ImportCustomers,
        RequestKind::AddDocumentLines,
        RequestKind::SetDocumentCustomFields,
    ];

    pub fn request_root(self) -> &'static str {
        match self {
            RequestKind::ExportDocuments => "export_documents_request",
            RequestKind::ExportCustomers => "export_customers_request",
            RequestKind::ImportCustomers => "import_customers_request",
            RequestKind::AddDocumentLines => "add_document_lines_request",
            RequestKind::SetDocumentCustomFields => "set_document_custom_fields_request",
        }
    }

    /// `…_request` answers with `…_response`.
    pub fn response_root(self) -> &'static str {
        match self {
            RequestKind::ExportDocuments => "export_documents_response",
            RequestKind::ExportCustomers => "export_customers_response",
            RequestKind::ImportCustomers => "import_customers_response",
            RequestKind::AddDocumentLines => "add_document_lines_response",
            RequestKind::SetDocumentCustomFields => "set_document_custom_fields_response",
        }
    }

    pub fn from_request_root(root: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.request_root() == root)
    }
}

/// Serializes a request or response body under `root`.
pub fn to_xml<T: Serialize>(root: &str, body: &T) -> Result<String, ChannelOnlineError> {
    quick_xml::se::to_string_with_root(root, body)
        .map_err(|e| ChannelOnlineError::malformed(format!("could not write XML: {e}")))
}

/// An `<error code>` answer wrapped in the response root (the sandbox's and, as far as we
/// know, COL's shape).
pub fn error_xml(kind_root: &str, code: u32, message: &str) -> String {
    let text = quick_xml::escape::escape(message);
    format!(r#"<{kind_root} version="{SCHEMA_VERSION}"><error code="{code}">{text}</error></{kind_root}>"#)
}

/// Maps an `<error code>` answer to a typed error. `subject` is the document or customer
/// number the request was about.
pub fn error_from_code(code: u32, message: String, subject: &str) -> ChannelOnlineError {
    match code {
        CODE_INVALID_USER_AGENT => ChannelOnlineError::UserAgentRejected { message },
        CODE_TOO_MANY_DOCUMENTS => ChannelOnlineError::TooManyDocuments { message },
        CODE_INVALID_LOGIN => ChannelOnlineError::BadCredentials { code, message },
        CODE_UNKNOWN_DOCUMENT => ChannelOnlineError::DocumentNotFound {
            number: subject.to_owned(),
        },
        CODE_UNKNOWN_CUSTOMER => ChannelOnlineError::CustomerNotFound {
            number: subject.to_owned(),
        },
        _ if message.to_ascii_lowercase().contains("password") || message.to_ascii_lowercase().contains("login") => {
            ChannelOnlineError::BadCredentials { code, message }
        }
        _ => ChannelOnlineError::Rejected { code, message },
    }
}
