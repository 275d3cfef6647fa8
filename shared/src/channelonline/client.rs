//! `XmlChannelOnline`: the `ChannelOnline` port over the XML interface (reqwest + quick-xml).
//! Calls are serialized and paced (COL drops rapid requests), reads go through the shared
//! retry policy, writes are not repeated after an ambiguous failure.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::error::ChannelOnlineError;
use super::port::ChannelOnline;
use super::protocol::convert::{self, format_time};
use super::protocol::parse::{self, Checked};
use super::protocol::wire::*;
use super::protocol::{self, RequestKind, SCHEMA_VERSION};
use super::types::*;
use super::window;
use crate::http::retry::{RandomJitter, Repeatable, RetryPolicy};
use crate::secret::SecretString;

/// A tenant's ChannelOnline login. The password never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ColCredentials {
    /// Account name as in `https://usm.channelonline.com/{shortcut}`.
    pub shortcut: String,
    pub email: String,
    pub password: SecretString,
    /// The user agent 1WorldSync registered for this integration (else error 105).
    pub user_agent: String,
}

impl fmt::Debug for ColCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ColCredentials")
            .field("shortcut", &self.shortcut)
            .field("email", &self.email)
            .field("password", &self.password)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct XmlChannelOnlineConfig {
    /// Scheme and host, e.g. `https://xml.channelonline.com` (the `/REQUEST` path is added).
    pub base_url: String,
    /// Minimum time between the end of one call and the start of the next (observed need:
    /// about 2.5 s in production; 0 in tests).
    pub pause: Duration,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    pub max_response_bytes: usize,
    /// The Lambda invocation deadline, when known: retries never sleep past it.
    pub deadline: Option<Instant>,
}

impl XmlChannelOnlineConfig {
    pub const PRODUCTION_URL: &str = "https://xml.channelonline.com";

    pub fn production() -> Self {
        Self::for_base_url(Self::PRODUCTION_URL)
    }

    /// Defaults with the given base URL (e.g. a sandbox's), no pause.
    pub fn for_base_url(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            pause: Duration::from_millis(2500),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            max_response_bytes: parse::DEFAULT_MAX_BYTES,
            deadline: None,
        }
    }

    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// Calls and their retries end before `deadline` (the Lambda invocation's).
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }
}

pub struct XmlChannelOnline {
    http: reqwest::Client,
    config: XmlChannelOnlineConfig,
    credentials: ColCredentials,
    /// End of the previous call; held across a call so calls never overlap.
    last_call: Mutex<Option<Instant>>,
}

impl fmt::Debug for XmlChannelOnline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmlChannelOnline")
            .field("config", &self.config)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl XmlChannelOnline {
    pub fn new(config: XmlChannelOnlineConfig, credentials: ColCredentials) -> Result<Self, ChannelOnlineError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ChannelOnlineError::Transport {
                message: format!("HTTP client setup failed: {e}"),
            })?;
        Ok(Self {
            http,
            config,
            credentials,
            last_call: Mutex::new(None),
        })
    }

    fn authentication(&self) -> Authentication {
        Authentication {
            shortcut: self.credentials.shortcut.clone(),
            email: self.credentials.email.clone(),
            password: self.credentials.password.expose().to_owned(),
            user_agent: UserAgent {
                version: SCHEMA_VERSION.into(),
                name: self.credentials.user_agent.clone(),
            },
        }
    }

    /// One request: paced, retried when safe, errors in the body mapped to typed errors.
    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        kind: RequestKind,
        body: &B,
        subject: &str,
    ) -> Result<R, ChannelOnlineError> {
        let xml = protocol::to_xml(kind.request_root(), body)?;
        // Setting a field to a value is absolute; adding a line or importing a customer is not.
        let repeatable = match kind {
            RequestKind::AddDocumentLines | RequestKind::ImportCustomers => Repeatable::No,
            _ => Repeatable::Yes,
        };
        let result = self
            .config
            .retry
            .run(repeatable, self.config.deadline, &RandomJitter, |_| {
                self.send_once(kind, &xml)
            })
            .await;
        match result.map_err(|e| e.into_inner())? {
            Checked::Error { code, message } => {
                tracing::warn!(
                    request = kind.request_root(),
                    code,
                    "ChannelOnline answered with an error"
                );
                Err(protocol::error_from_code(code, message, subject))
            }
            Checked::Body { root, xml } if root == kind.response_root() => parse::deserialize(&xml),
            Checked::Body { root, .. } => Err(ChannelOnlineError::malformed(format!(
                "expected <{}>, got <{root}>",
                kind.response_root()
            ))),
        }
    }

    async fn send_once(&self, kind: RequestKind, xml: &str) -> Result<Checked, ChannelOnlineError> {
        let mut last = self.last_call.lock().await;
        if let Some(previous) = *last {
            let wait = self.config.pause.saturating_sub(previous.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        // Each call ends before the Lambda deadline (a 60 s call inside a 30 s function would be
        // killed with it, and its outcome never told).
        let Some(timeout) = crate::http::request_timeout(self.config.timeout, self.config.deadline) else {
            return Err(ChannelOnlineError::Transport {
                message: "no time left before the function's deadline".into(),
            });
        };
        let outcome = self.exchange(xml, timeout).await;
        *last = Some(Instant::now());
        tracing::debug!(
            request = kind.request_root(),
            ok = outcome.is_ok(),
            "ChannelOnline call"
        );
        outcome
    }

    async fn exchange(&self, xml: &str, timeout: Duration) -> Result<Checked, ChannelOnlineError> {
        let url = format!(
            "{}{}",
            self.config.base_url.trim_end_matches('/'),
            protocol::REQUEST_PATH
        );
        let transport = |e: reqwest::Error| ChannelOnlineError::Transport {
            // Without the URL: it is not secret, but keep messages short and stable.
            message: e.without_url().to_string(),
        };
        let response = self
            .http
            .post(url)
            .timeout(timeout)
            .header(http::header::CONTENT_TYPE, protocol::CONTENT_TYPE)
            .body(xml.to_owned())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(ChannelOnlineError::HttpStatus {
                status: status.as_u16(),
                retry_after,
            });
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.config.max_response_bytes as u64)
        {
            return Err(ChannelOnlineError::malformed("response exceeds the size limit"));
        }
        let bytes = response.bytes().await.map_err(transport)?;
        parse::check(&bytes, self.config.max_response_bytes)
    }

    async fn export_documents(&self, options: ExportDocumentsOptions) -> Result<Vec<Document>, ChannelOnlineError> {
        let subject = options.document_number.clone().unwrap_or_default();
        let request = ExportDocumentsRequest {
            schema_version: SCHEMA_VERSION.into(),
            authentication: self.authentication(),
            options,
        };
        let response: ExportDocumentsResponse = self.call(RequestKind::ExportDocuments, &request, &subject).await?;
        Ok(response
            .documents
            .document
            .iter()
            .filter_map(convert::document_from_wire)
            .collect())
    }

    async fn export_customers(&self, options: ExportCustomersOptions) -> Result<WireCustomers, ChannelOnlineError> {
        let subject = options.customer_number.clone().unwrap_or_default();
        let request = ExportCustomersRequest {
            schema_version: SCHEMA_VERSION.into(),
            authentication: self.authentication(),
            options,
        };
        let response: ExportCustomersResponse = self.call(RequestKind::ExportCustomers, &request, &subject).await?;
        Ok(response.customers)
    }
}

fn customers(w: &WireCustomers) -> Vec<Customer> {
    w.customer.iter().filter_map(convert::customer_from_wire).collect()
}

#[async_trait]
impl ChannelOnline for XmlChannelOnline {
    async fn get_customer(&self, number: &str) -> Result<Customer, ChannelOnlineError> {
        let found = self
            .export_customers(ExportCustomersOptions {
                customer_number: Some(number.to_owned()),
                ..Default::default()
            })
            .await?;
        customers(&found)
            .into_iter()
            .find(|c| c.number.eq_ignore_ascii_case(number))
            .ok_or_else(|| ChannelOnlineError::CustomerNotFound {
                number: number.to_owned(),
            })
    }

    async fn list_customers_modified_since(
        &self,
        since: DateTime<Utc>,
        page: PageRequest,
    ) -> Result<CustomerPage, ChannelOnlineError> {
        let found = self
            .export_customers(ExportCustomersOptions {
                event_in_range: Some(EventInRange {
                    event_type: "modified".into(),
                    after: Some(format_time(since)),
                    before: None,
                }),
                page: Some(WirePage {
                    number: page.number,
                    size: page.size,
                }),
                ..Default::default()
            })
            .await?;
        Ok(CustomerPage {
            customers: customers(&found),
            next: found.more_pages.unwrap_or(false).then_some(PageRequest {
                number: page.number + 1,
                size: page.size,
            }),
        })
    }

    async fn search_customers(&self, name: &str) -> Result<Vec<Customer>, ChannelOnlineError> {
        let found = self
            .export_customers(ExportCustomersOptions {
                company_name_contains: Some(name.to_owned()),
                ..Default::default()
            })
            .await?;
        Ok(customers(&found))
    }

    /// The observed request wants a `documentType`, so each type is asked in turn.
    async fn get_document(&self, number: &str) -> Result<Document, ChannelOnlineError> {
        for doc_type in DocumentType::ALL {
            let docs = self
                .export_documents(ExportDocumentsOptions {
                    document_type: Some(convert::document_type_option(doc_type).into()),
                    document_number: Some(number.to_owned()),
                    ..Default::default()
                })
                .await?;
            let latest = window::latest_revisions(docs.into_iter().filter(|d| d.number.eq_ignore_ascii_case(number)));
            if let Some(doc) = latest.into_iter().max_by_key(|d| d.revision) {
                return Ok(doc);
            }
        }
        Err(ChannelOnlineError::DocumentNotFound {
            number: number.to_owned(),
        })
    }

    async fn list_documents_modified(&self, window: TimeWindow) -> Result<Vec<Document>, ChannelOnlineError> {
        let mut all = Vec::new();
        for doc_type in DocumentType::ALL {
            let docs = window::list_split(window, |w| {
                self.export_documents(ExportDocumentsOptions {
                    document_type: Some(convert::document_type_option(doc_type).into()),
                    event_in_range: Some(EventInRange {
                        event_type: "modified".into(),
                        after: Some(format_time(w.after)),
                        before: Some(format_time(w.before)),
                    }),
                    ..Default::default()
                })
            })
            .await?;
            all.extend(docs);
        }
        Ok(window::latest_revisions(all))
    }

    async fn upsert_customer(&self, customer: &CustomerUpsert) -> Result<UpsertedCustomer, ChannelOnlineError> {
        let request = ImportCustomersRequest {
            schema_version: SCHEMA_VERSION.into(),
            authentication: self.authentication(),
            customers: ImportCustomers {
                customer: vec![convert::upsert_to_wire(customer)],
            },
        };
        let subject = customer.number.clone().unwrap_or_default();
        let response: ImportCustomersResponse = self.call(RequestKind::ImportCustomers, &request, &subject).await?;
        let imported = response
            .customer
            .into_iter()
            .next()
            .ok_or_else(|| ChannelOnlineError::malformed("import_customers_response without a customer"))?;
        Ok(UpsertedCustomer {
            customer_id: imported.customer_id,
            number: imported.customer_number,
            created: imported.created,
            contacts: imported
                .contact
                .into_iter()
                .map(|c| UpsertedContact {
                    contact_id: c.contact_id,
                    email: c.email,
                    created: c.created,
                })
                .collect(),
        })
    }

    async fn add_document_line(&self, document_number: &str, line: &NewLine) -> Result<AddedLine, ChannelOnlineError> {
        let request = AddDocumentLinesRequest {
            schema_version: SCHEMA_VERSION.into(),
            authentication: self.authentication(),
            document_number: document_number.to_owned(),
            item_list: WireItemList {
                product: vec![convert::new_line_to_wire(line)],
            },
        };
        let response: DocumentWriteResponse = self
            .call(RequestKind::AddDocumentLines, &request, document_number)
            .await?;
        let written = response
            .document
            .line
            .first()
            .ok_or_else(|| ChannelOnlineError::malformed("add_document_lines_response without a line"))?;
        Ok(AddedLine {
            line_id: written.line_item_id.clone(),
            order: written.line_order,
            revision: response.document.revision_number,
        })
    }

    async fn set_document_custom_field(
        &self,
        document_number: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ChannelOnlineError> {
        let request = SetDocumentCustomFieldsRequest {
            schema_version: SCHEMA_VERSION.into(),
            authentication: self.authentication(),
            document_number: document_number.to_owned(),
            custom_fields: WireCustomFields {
                custom_field: vec![WireCustomField {
                    name: name.to_owned(),
                    value: Some(value.to_owned()),
                }],
            },
        };
        let _: DocumentWriteResponse = self
            .call(RequestKind::SetDocumentCustomFields, &request, document_number)
            .await?;
        Ok(())
    }
}
