//! The Connection screen: the Autotask API user, its secret and tracking identifier (write-only:
//! shown as "set"), whom to act as, how many concurrent calls to use; the ChannelOnline account;
//! and **Test connection**, which reads (never writes) what each system says about them and puts
//! what is wrong in words.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::app::confirm;
use shared::autotask::{AutotaskError, Filter, Query, Resource, TenantClient};
use shared::channelonline::{ChannelOnline, PageRequest};
use shared::domain::settings::{AUTOTASK_MAX_CONCURRENT_CALLS, TenantSettings};
use shared::secret::SecretString;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials};
use shared::sync::SyncError;
use shared::web::{self, ApiError, Format};

use crate::options::{self, Choice};
use crate::screens::{self, Field, Group, Input};
use crate::sections::FieldErrors;
use crate::setup::{Screen, not_a_form};
use crate::{FUNCTION, credentials, view};

/// The two forms of the screen: (action, route).
pub const AUTOTASK: &str = "autotask-connection";
pub const CHANNELONLINE: &str = "channelonline-connection";
/// Autotask's `licenseType` of API-only users.
const API_USER_LICENSE: i64 = 7;
/// Autotask's hourly request budget per tenant.
const HOURLY_BUDGET: u64 = 10_000;

/// `GET /` as a page.
pub async fn show(screen: &Screen<'_>) -> Response<Body> {
    render(screen, None, &FieldErrors::new(), &BTreeMap::new(), StatusCode::OK).await
}

async fn render(
    screen: &Screen<'_>,
    notice: Option<(&str, String)>,
    errors: &FieldErrors,
    choices: &BTreeMap<String, String>,
    status: StatusCode,
) -> Response<Body> {
    let app = screen.app;
    let (secrets, stored) = match tokio::try_join!(
        async { app.secrets.status(&screen.tenant).await.map_err(ApiError::from) },
        async { app.settings.get_settings(&screen.tenant).await.map_err(ApiError::from) },
    ) {
        Ok(read) => read,
        Err(e) => return e.into_response(screen.format),
    };
    let settings = match &stored {
        Some(doc) => view::parse_stored(&doc.doc).unwrap_or_default(),
        None => TenantSettings::default(),
    };
    let (resources, resources_problem) = resource_choices(screen, &settings, secrets.autotask).await;
    let keep = |name: &str, saved: String| choices.get(name).cloned().unwrap_or(saved);
    let impersonation = match resources {
        Some(resources) => Input::Select {
            choices: resources,
            empty: "— the API user itself —",
        },
        None => Input::Number { min: 1, max: i64::MAX },
    };
    let calls: Vec<Choice> = (1..=AUTOTASK_MAX_CONCURRENT_CALLS)
        .map(|n| Choice {
            value: n.to_string(),
            label: n.to_string(),
        })
        .collect();
    let autotask =
        vec![Group {
            legend: "Autotask".into(),
            intro: Some(
                "An Autotask API user (Admin → Resources, license type API User) with its secret, and the \
             integration's tracking identifier."
                    .into(),
            ),
            fields: vec![
                Field::new(
                    "username",
                    "API user name",
                    Input::Text,
                    keep("username", settings.autotask.username.clone().unwrap_or_default()),
                ),
                Field::new("secret", "Secret", Input::Secret { set: secrets.autotask }, ""),
                Field::new(
                    "integration_code",
                    "Tracking identifier",
                    Input::Secret { set: secrets.autotask },
                    "",
                )
                .hint("Autotask's API tracking identifier (integration code) of this integration."),
                Field::new(
                    "impersonation_resource_id",
                    "Act as",
                    impersonation,
                    keep(
                        "impersonation_resource_id",
                        settings
                            .autotask
                            .impersonation_resource_id
                            .map(|i| i.to_string())
                            .unwrap_or_default(),
                    ),
                )
                .hint(resources_problem.unwrap_or_else(|| {
                    "Records the integration writes show this resource instead of the API user.".into()
                })),
                Field::new(
                    "max_concurrent_calls",
                    "Concurrent calls",
                    Input::Select {
                        choices: calls,
                        empty: "3 (Autotask's limit)",
                    },
                    keep(
                        "max_concurrent_calls",
                        settings
                            .autotask
                            .max_concurrent_calls
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                    ),
                )
                .hint("Lower it to leave Autotask threads to the reseller's other integrations."),
            ],
        }];
    let channelonline = vec![Group {
        legend: "ChannelOnline".into(),
        intro: Some("The ChannelOnline account (site shortcut) and its XML interface user.".into()),
        fields: vec![
            Field::new(
                "shortcut",
                "Account shortcut",
                Input::Text,
                keep("shortcut", settings.channelonline.shortcut.clone().unwrap_or_default()),
            ),
            Field::new(
                "email",
                "User e-mail",
                Input::Text,
                keep("email", settings.channelonline.email.clone().unwrap_or_default()),
            ),
            Field::new(
                "password",
                "Password",
                Input::Secret {
                    set: secrets.channelonline,
                },
                "",
            ),
        ],
    }];
    let none = BTreeMap::new();
    let (at_token, col_token) = match tokio::try_join!(
        confirm::form_token(app, &screen.tenant, FUNCTION, AUTOTASK, &none),
        confirm::form_token(app, &screen.tenant, FUNCTION, CHANNELONLINE, &none),
    ) {
        Ok(tokens) => tokens,
        Err(e) => return e.into_response(screen.format),
    };
    if screen.format == Format::Json {
        return web::respond(
            Format::Json,
            status,
            "Connection",
            &json!({
                "credentials": { "autotask": secrets.autotask, "channelonline": secrets.channelonline },
                "errors": errors,
                "message": notice.map(|(_, m)| m).unwrap_or_else(|| "Connection".into()),
                "confirm": {
                    AUTOTASK: { "method": "POST", "path": "/autotask-connection", "fields": { "confirmation": at_token } },
                    CHANNELONLINE: { "method": "POST", "path": "/channelonline-connection", "fields": { "confirmation": col_token } },
                    "choice_prefix": confirm::CHOICE_PREFIX,
                },
            }),
        );
    }
    let link = screen.links().await;
    let mut body = String::new();
    if let Some((class, text)) = notice {
        body.push_str(&screens::para(class, &text));
    }
    let said = |set: bool| if set { "set" } else { "not set yet" };
    body.push_str(&screens::facts(&[
        ("Autotask connection".into(), said(secrets.autotask).into()),
        ("ChannelOnline connection".into(), said(secrets.channelonline).into()),
    ]));
    body.push_str(&format!(
        "<p>{}</p>",
        screens::anchor(&link("/test-connection", &[]), "Test connection")
    ));
    body.push_str(&screens::form(
        AUTOTASK,
        &at_token,
        &none,
        &autotask,
        errors,
        "Save Autotask connection",
    ));
    body.push_str(&screens::form(
        CHANNELONLINE,
        &col_token,
        &none,
        &channelonline,
        errors,
        "Save ChannelOnline connection",
    ));
    web::html(status, screens::page("Connection", "/", &link, &body))
}

/// The Autotask resources to act as, or why they cannot be listed.
async fn resource_choices(
    screen: &Screen<'_>,
    settings: &TenantSettings,
    autotask_set: bool,
) -> (Option<Vec<Choice>>, Option<String>) {
    if !autotask_set {
        return (
            None,
            Some("Save the Autotask connection to choose from its resources.".into()),
        );
    }
    let client = match screen.app.connections(&screen.tenant, settings, screen.deadline).await {
        Ok((Some(client), _)) => client,
        Ok((None, _)) => return (None, None),
        Err(e) => return (None, Some(e.message)),
    };
    match options::autotask(&client, &screen.tenant).await {
        Ok(options) => (Some(options.resources.clone()), None),
        Err(e) => (
            None,
            Some(format!(
                "Autotask's resources could not be read: {} Test the connection.",
                e.message
            )),
        ),
    }
}

/// `POST /autotask-connection`, `POST /channelonline-connection`.
pub async fn submit(app: &AppContext, req: &Request, action: &'static str) -> Response<Body> {
    let format = Format::from_headers(req.headers());
    let confirmed = match confirm::verify_form(app, req, FUNCTION, action).await {
        Ok(Some(confirmed)) => confirmed,
        Ok(None) => return not_a_form().into_response(format),
        Err(e) => return e.into_response(format),
    };
    let screen = Screen::of_form(app, req, &confirmed);
    let choices = &confirmed.choices;
    let answer = confirm::consume_then_run(
        app.idempotency.as_ref(),
        app.clock.as_ref(),
        &confirmed.token,
        || async {
            let saved = if action == AUTOTASK {
                save_autotask(&screen, choices).await
            } else {
                save_channelonline(&screen, choices).await
            };
            match saved {
                Ok(()) => {
                    options::forget(&screen.tenant);
                    Ok((json!({ "outcome": "saved" }), false))
                }
                Err(Refused::Fields(errors)) => Ok((json!({ "outcome": "invalid", "errors": errors }), false)),
                Err(Refused::Other(e)) => Err(e),
            }
        },
    )
    .await;
    let (answer, replayed) = match answer {
        Ok(answer) => answer,
        Err(e) => return e.into_response(format),
    };
    let system = if action == AUTOTASK {
        "Autotask"
    } else {
        "ChannelOnline"
    };
    let resp = if answer["outcome"] == "saved" {
        let notice = format!("{system} connection saved. Test the connection to check it.");
        render(
            &screen,
            Some(("ok", notice)),
            &FieldErrors::new(),
            &BTreeMap::new(),
            StatusCode::OK,
        )
        .await
    } else {
        let errors: FieldErrors = serde_json::from_value(answer["errors"].clone()).unwrap_or_default();
        let notice = format!("The {system} connection was not saved: correct the fields marked below.");
        render(
            &screen,
            Some(("error", notice)),
            &errors,
            choices,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
    };
    shared::app::call::marked_replayed(resp, replayed)
}

enum Refused {
    Fields(FieldErrors),
    Other(ApiError),
}

impl From<ApiError> for Refused {
    /// A refusal naming a field (`details.field`) is shown at that field.
    fn from(e: ApiError) -> Self {
        match e.details.get("field").and_then(Value::as_str) {
            Some(field) => Refused::Fields(FieldErrors::from([(field.to_owned(), e.message)])),
            None => Refused::Other(e),
        }
    }
}

fn chosen(choices: &BTreeMap<String, String>, name: &str) -> Option<String> {
    choices.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A write-only value: the one typed, else the stored one, else refused at its field.
fn secret_or_kept(
    typed: Option<String>,
    stored: Option<&SecretString>,
    field: &str,
    errors: &mut FieldErrors,
) -> SecretString {
    match (typed, stored) {
        (Some(v), _) => SecretString::new(v),
        (None, Some(kept)) => kept.clone(),
        (None, None) => {
            errors.insert(field.into(), "Enter it: nothing is stored yet.".into());
            SecretString::new(String::new())
        }
    }
}

async fn save_autotask(screen: &Screen<'_>, choices: &BTreeMap<String, String>) -> Result<(), Refused> {
    let app = screen.app;
    let stored = app
        .secrets
        .autotask(&screen.tenant)
        .await
        .map_err(|e| Refused::Other(e.into()))?;
    let mut errors = FieldErrors::new();
    let username = chosen(choices, "username").unwrap_or_default();
    if username.is_empty() {
        errors.insert(
            "username".into(),
            "Enter the API user's name (its e-mail address).".into(),
        );
    }
    let secret = secret_or_kept(
        chosen(choices, "secret"),
        stored.as_ref().map(|s| &s.secret),
        "secret",
        &mut errors,
    );
    let integration_code = secret_or_kept(
        chosen(choices, "integration_code"),
        stored.as_ref().map(|s| &s.integration_code),
        "integration_code",
        &mut errors,
    );
    let impersonation_resource_id = match chosen(choices, "impersonation_resource_id") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                errors.insert(
                    "impersonation_resource_id".into(),
                    "Choose a resource from the list.".into(),
                );
                None
            }
        },
    };
    let max_calls = match chosen(choices, "max_concurrent_calls") {
        None => None,
        Some(v) => match v.parse::<u8>() {
            Ok(n) if (1..=AUTOTASK_MAX_CONCURRENT_CALLS).contains(&n) => Some(n),
            _ => {
                errors.insert("max_concurrent_calls".into(), "Choose 1, 2 or 3.".into());
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(Refused::Fields(errors));
    }
    let creds = AutotaskCredentials {
        username,
        secret,
        integration_code,
        impersonation_resource_id,
    };
    credentials::store_autotask(app, &screen.tenant, &creds, "setup-screen").await?;
    credentials::update_settings(app, &screen.tenant, |s| s.autotask.max_concurrent_calls = max_calls).await?;
    Ok(())
}

async fn save_channelonline(screen: &Screen<'_>, choices: &BTreeMap<String, String>) -> Result<(), Refused> {
    let app = screen.app;
    let stored = app
        .secrets
        .channelonline(&screen.tenant)
        .await
        .map_err(|e| Refused::Other(e.into()))?;
    let mut errors = FieldErrors::new();
    let shortcut = chosen(choices, "shortcut").unwrap_or_default();
    let email = chosen(choices, "email").unwrap_or_default();
    for (field, value, what) in [
        ("shortcut", &shortcut, "the account shortcut (the site name)"),
        ("email", &email, "the user's e-mail address"),
    ] {
        if value.is_empty() {
            errors.insert(field.into(), format!("Enter {what}."));
        }
    }
    let password = secret_or_kept(
        chosen(choices, "password"),
        stored.as_ref().map(|s| &s.password),
        "password",
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Refused::Fields(errors));
    }
    let creds = ChannelOnlineCredentials {
        shortcut,
        email,
        password,
    };
    credentials::store_channelonline(app, &screen.tenant, &creds, "setup-screen").await?;
    Ok(())
}

/// One line of the test: what was checked, whether it is fine, and what it says.
struct Check {
    what: &'static str,
    ok: bool,
    said: String,
}

/// `GET /test-connection`: reads only.
pub async fn test(screen: &Screen<'_>) -> Response<Body> {
    let app = screen.app;
    let settings = match app.settings.get_settings(&screen.tenant).await {
        Ok(Some(doc)) => view::parse_stored(&doc.doc).unwrap_or_default(),
        Ok(None) => TenantSettings::default(),
        Err(e) => return ApiError::from(e).into_response(screen.format),
    };
    let (autotask, channelonline) = match app.connections(&screen.tenant, &settings, screen.deadline).await {
        Ok(clients) => clients,
        Err(e) => return e.into_response(screen.format),
    };
    let mut checks = match &autotask {
        Some(client) => test_autotask(client, &settings).await,
        None => vec![Check {
            what: "Autotask",
            ok: false,
            said: "Not set up: save the Autotask connection first.".into(),
        }],
    };
    checks.push(match &channelonline {
        Some(client) => test_channelonline(client.as_ref(), screen).await,
        None => Check {
            what: "ChannelOnline",
            ok: false,
            said: "Not set up: save the ChannelOnline connection first.".into(),
        },
    });
    let all_ok = checks.iter().all(|c| c.ok);
    let message = if all_ok {
        "Both connections work."
    } else {
        "Something needs fixing: see below."
    };
    if screen.format == Format::Json {
        let body = json!({
            "ok_connections": all_ok,
            "checks": checks.iter().map(|c| json!({ "check": c.what, "ok": c.ok, "result": c.said })).collect::<Vec<_>>(),
            "message": message,
        });
        return web::respond(Format::Json, StatusCode::OK, "Test connection", &body);
    }
    let link = screen.links().await;
    let rows: String = checks
        .iter()
        .map(|c| {
            format!(
                "<tr><th>{}</th><td class=\"{}\">{}</td><td>{}</td></tr>",
                web::escape_html(c.what),
                if c.ok { "ok" } else { "error" },
                if c.ok { "OK" } else { "Problem" },
                web::escape_html(&c.said)
            )
        })
        .collect();
    let body = format!(
        "{}<table>{rows}</table><p>{}</p>",
        screens::para(if all_ok { "ok" } else { "error" }, message),
        screens::anchor(&link("/", &[]), "Back to the connection settings")
    );
    web::html(StatusCode::OK, screens::page("Test connection", "/", &link, &body))
}

/// Zone discovery, the hourly budget, the API user and the resource acted as.
async fn test_autotask(client: &TenantClient, settings: &TenantSettings) -> Vec<Check> {
    let mut checks = Vec::new();
    match client.zone_information().await {
        Ok(zone) => checks.push(Check {
            what: "Autotask zone",
            ok: true,
            said: format!(
                "{} ({})",
                zone.zone_name.unwrap_or_else(|| "zone found".into()),
                zone.web_url.unwrap_or(zone.url)
            ),
        }),
        Err(e) => {
            checks.push(Check {
                what: "Autotask zone",
                ok: false,
                said: autotask_words(e),
            });
            return checks;
        }
    }
    match client.threshold_information().await {
        Ok(t) => {
            let budget = if t.external_request_threshold > 0 {
                t.external_request_threshold
            } else {
                HOURLY_BUDGET
            };
            let share = t.current_timeframe_request_count as f64 * 100.0 / budget as f64;
            checks.push(Check {
                what: "Autotask requests this hour",
                ok: true,
                said: format!(
                    "{} of {} used ({share:.1} %)",
                    t.current_timeframe_request_count, budget
                ),
            });
        }
        Err(e) => {
            checks.push(Check {
                what: "Autotask credentials",
                ok: false,
                said: autotask_words(e),
            });
            return checks;
        }
    }
    let username = settings.autotask.username.clone().unwrap_or_default();
    checks.push(api_user_check(client, &username).await);
    if let Some(id) = settings.autotask.impersonation_resource_id {
        checks.push(impersonation_check(client, id).await);
    }
    checks
}

async fn api_user_check(client: &TenantClient, username: &str) -> Check {
    let what = "Autotask API user";
    let query =
        Query::filter(vec![Filter::eq("userName", username)]).include_fields(["userName", "isActive", "licenseType"]);
    match client.query_one::<Resource>(&query).await {
        Ok(Some(r)) if r.license_type != Some(API_USER_LICENSE) => Check {
            what,
            ok: false,
            said: format!(
                "{username} is not an API user (its license type is {}): in Autotask, create a resource \
                 with the API User license and use it here.",
                r.license_type.map_or_else(|| "unknown".into(), |l| l.to_string())
            ),
        },
        Ok(Some(r)) if r.is_active == Some(false) => Check {
            what,
            ok: false,
            said: format!("{username} is inactive in Autotask: activate it."),
        },
        Ok(Some(_)) => Check {
            what,
            ok: true,
            said: format!("{username} is an active API user."),
        },
        Ok(None) => Check {
            what,
            ok: false,
            said: format!("Autotask has no resource named {username}: check the user name."),
        },
        Err(e) => Check {
            what,
            ok: false,
            said: autotask_words(e),
        },
    }
}

async fn impersonation_check(client: &TenantClient, id: i64) -> Check {
    let what = "Autotask resource acted as";
    match client.get::<Resource>(id).await {
        Ok(Some(r)) if r.is_active == Some(false) => Check {
            what,
            ok: false,
            said: format!("Resource #{id} is inactive: Autotask refuses writes made as it. Choose an active resource."),
        },
        Ok(Some(r)) => Check {
            what,
            ok: true,
            said: format!(
                "{} {} (#{id}) is active.",
                r.first_name.unwrap_or_default(),
                r.last_name.unwrap_or_default()
            ),
        },
        Ok(None) => Check {
            what,
            ok: false,
            said: format!("Autotask has no resource #{id}: choose another."),
        },
        Err(e) => Check {
            what,
            ok: false,
            said: autotask_words(e),
        },
    }
}

/// What an Autotask failure means for the admin.
fn autotask_words(e: AutotaskError) -> String {
    match e {
        AutotaskError::UnknownUser { username, .. } => format!(
            "Autotask does not know the API user {username}: check the user name (the API user's e-mail address)."
        ),
        AutotaskError::Authentication { messages } => {
            let text = messages.join(" ").to_lowercase();
            if text.contains("integration") || text.contains("tracking") {
                "Autotask refused the tracking identifier: enter the integration's tracking identifier again.".into()
            } else {
                "Autotask refused the API user's secret: enter the secret again (or check the user is active).".into()
            }
        }
        other => {
            let api = ApiError::from(SyncError::from(other));
            match api.fix {
                Some(fix) => format!("{} {fix}", api.message),
                None => api.message,
            }
        }
    }
}

/// A login: the first page of one customer.
async fn test_channelonline(client: &dyn ChannelOnline, screen: &Screen<'_>) -> Check {
    let page = PageRequest { number: 1, size: 1 };
    match client.list_customers_modified_since(screen.app.clock.now(), page).await {
        Ok(_) => Check {
            what: "ChannelOnline",
            ok: true,
            said: "Logged in to the XML interface.".into(),
        },
        Err(e) => {
            let api = ApiError::from(SyncError::ChannelOnline(e));
            Check {
                what: "ChannelOnline",
                ok: false,
                said: match api.fix {
                    Some(fix) => format!("{} {fix}", api.message),
                    None => api.message,
                },
            }
        }
    }
}
