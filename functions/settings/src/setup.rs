//! The mapping screens (sales reps, field mapping): a GET shows the form with the saved values
//! and the live options; the form's POST (single-use token, see `shared::app::confirm`) saves
//! the section in one conditional write. A submission answers one of three ways, stored with
//! its token so a second POST of the same form answers the same: saved (200), refused at the
//! named fields (422, nothing saved), or stale (409: someone saved first; what they changed is
//! listed and the form is shown again on their version with this admin's choices in it).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::app::call::{SearchBox, SearchForm, search_form, tenant_link_signer};
use shared::app::confirm::{self, Confirmed};
use shared::confirmation;
use shared::domain::settings::TenantSettings;
use shared::tenant::TenantId;
use shared::web::{self, ApiError, Format};

use crate::document::{self, Saved};
use crate::options::{self, AutotaskOptions, ChannelOnlineValues};
use crate::screens::{self, Group};
use crate::sections::{FieldErrors, Section, flat};
use crate::{FUNCTION, view};

/// One screen request: whose, how to answer, and the signing time its links carry.
pub struct Screen<'a> {
    pub app: &'a AppContext,
    pub tenant: TenantId,
    pub format: Format,
    pub signed_at: i64,
    pub deadline: DateTime<Utc>,
}

impl Screen<'_> {
    /// Signed relative links to this function's routes, expiring with this request's signature.
    pub async fn links(&self) -> impl Fn(&str, &[(String, String)]) -> String + Send + Sync + use<> {
        tenant_link_signer(self.app, &self.tenant, self.signed_at, FUNCTION, None).await
    }

    /// A search form on `route` (see [`shared::app::call::search_form`]), signed like this
    /// request's links.
    pub async fn search_form(&self, route: &str, legend: &str, boxes: &[SearchBox<'_>]) -> String {
        let form = SearchForm {
            audience: FUNCTION,
            route,
            fixed: &[],
            legend,
            boxes,
        };
        search_form(self.app, &self.tenant, self.signed_at, &form).await
    }

    /// The screen of a verified form: links carry the time its token was issued.
    pub fn of_form<'a>(app: &'a AppContext, req: &Request, confirmed: &Confirmed) -> Screen<'a> {
        Screen {
            app,
            tenant: confirmed.token.tenant.clone(),
            format: Format::from_headers(req.headers()),
            signed_at: (confirmed.token.expires_at - confirmation::LIFETIME).timestamp(),
            deadline: shared::function_url::deadline(req, app.clock.now()),
        }
    }
}

/// What a section's form is built from.
struct State {
    settings: TenantSettings,
    version: Option<u64>,
    at: Arc<AutotaskOptions>,
    col: Arc<ChannelOnlineValues>,
}

async fn load(screen: &Screen<'_>) -> Result<State, ApiError> {
    let app = screen.app;
    let stored = app.settings.get_settings(&screen.tenant).await?;
    let settings = match &stored {
        Some(doc) => view::parse_stored(&doc.doc)?,
        None => TenantSettings::default(),
    };
    let ctx = app.tenant(&screen.tenant, screen.deadline).await.map_err(|e| {
        e.with_fix("Open the Connection screen, save both connections and test them; then come back here.")
    })?;
    let (at, col) = tokio::try_join!(
        options::autotask(&ctx.autotask, &screen.tenant),
        options::channelonline(ctx.channelonline.as_ref(), &screen.tenant, app.clock.now()),
    )?;
    Ok(State {
        settings,
        version: stored.map(|d| d.version),
        at,
        col,
    })
}

/// `GET /sales-reps`, `GET /field-mapping`.
pub async fn show(screen: &Screen<'_>, section: Section) -> Response<Body> {
    match load(screen).await {
        Ok(state) => render(screen, section, &state, &View::default(), StatusCode::OK).await,
        Err(e) => problem_page(screen, section, e).await,
    }
}

/// What a rendering adds to the saved state: a notice, refusals, the admin's own choices.
#[derive(Default)]
struct View {
    notice: Option<(&'static str, String)>,
    changed: Vec<(String, String, String)>,
    errors: FieldErrors,
    choices: Option<BTreeMap<String, String>>,
}

async fn render(screen: &Screen<'_>, section: Section, state: &State, v: &View, status: StatusCode) -> Response<Body> {
    let mut groups = section.groups(&state.settings, &state.at, &state.col);
    let saved = flat(&groups);
    if let Some(choices) = &v.choices {
        for field in groups.iter_mut().flat_map(|g: &mut Group| g.fields.iter_mut()) {
            if let Some(chosen) = choices.get(&field.name) {
                field.value = chosen.clone();
            }
        }
    }
    let mut fixed: BTreeMap<String, String> = saved.iter().map(|(k, val)| (format!("was.{k}"), val.clone())).collect();
    fixed.insert("version".into(), version_text(state.version));
    let token = match confirm::form_token(screen.app, &screen.tenant, FUNCTION, section.action(), &fixed).await {
        Ok(token) => token,
        Err(e) => return e.into_response(screen.format),
    };
    if screen.format == Format::Json {
        let mut fields = fixed.clone();
        fields.insert(confirmation::FIELD.into(), token);
        let body = json!({
            "version": state.version,
            "values": saved,
            "errors": v.errors,
            "changed": v.changed.iter().map(|(f, was, now)| json!({"field": f, "was": was, "now": now})).collect::<Vec<_>>(),
            "autotask": &*state.at,
            "channelonline": &*state.col,
            "confirm": { "method": "POST", "path": section.route(), "fields": fields, "choice_prefix": confirm::CHOICE_PREFIX },
            "message": v.notice.as_ref().map(|(_, m)| m.clone()).unwrap_or_else(|| section.title().to_owned()),
        });
        return web::respond(Format::Json, status, section.title(), &body);
    }
    let link = screen.links().await;
    let mut body = String::new();
    if let Some((class, text)) = &v.notice {
        body.push_str(&screens::para(class, text));
    }
    if !v.changed.is_empty() {
        let field = |name: &str| groups.iter().flat_map(|g| &g.fields).find(|f| f.name == name);
        let rows: Vec<(String, String)> = v
            .changed
            .iter()
            .map(|(name, was, now)| match field(name) {
                Some(f) => (
                    f.label.clone(),
                    format!("was {}, now {}", f.display(was), f.display(now)),
                ),
                None => (name.clone(), format!("was {was}, now {now}")),
            })
            .collect();
        body.push_str(&screens::facts(&rows));
    }
    if let Some(whole) = v.errors.get("") {
        body.push_str(&screens::para("error", whole));
    }
    body.push_str(&screens::form(
        section.action(),
        &token,
        &fixed,
        &groups,
        &v.errors,
        &format!("Save {}", section.title().to_lowercase()),
    ));
    body.push_str(&screens::para(
        "hint",
        &format!(
            "Saving writes only this screen's mappings, once. Settings version: {}.",
            version_text(state.version)
        ),
    ));
    web::html(status, screens::page(section.title(), section.route(), &link, &body))
}

fn version_text(version: Option<u64>) -> String {
    version.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// A screen that cannot be shown (a connection missing or failing): the reason, what to do,
/// and the tabs to get there.
async fn problem_page(screen: &Screen<'_>, section: Section, e: ApiError) -> Response<Body> {
    if screen.format == Format::Json {
        return e.into_response(Format::Json);
    }
    let link = screen.links().await;
    let mut body = screens::para("error", &e.message);
    if let Some(fix) = &e.fix {
        body.push_str(&screens::para("notice", fix));
    }
    body.push_str(&screens::anchor(&link("/", &[]), "Open the Connection screen"));
    web::html(e.status, screens::page(section.title(), section.route(), &link, &body))
}

/// `POST /sales-reps`, `POST /field-mapping`: the form of [`show`].
pub async fn submit(app: &AppContext, req: &Request, section: Section) -> Response<Body> {
    let format = Format::from_headers(req.headers());
    let confirmed = match confirm::verify_form(app, req, FUNCTION, section.action()).await {
        Ok(Some(confirmed)) => confirmed,
        Ok(None) => return not_a_form().into_response(format),
        Err(e) => return e.into_response(format),
    };
    let screen = Screen::of_form(app, req, &confirmed);
    let state = match load(&screen).await {
        Ok(state) => state,
        Err(e) => return problem_page(&screen, section, e).await,
    };
    let answer = confirm::consume_then_run(app.idempotency.as_ref(), app.clock.as_ref(), &confirmed.token, || {
        decide(&screen, section, &state, &confirmed)
    })
    .await;
    let (answer, replayed) = match answer {
        Ok(answer) => answer,
        Err(e) => return e.into_response(format),
    };
    let state = if answer["outcome"] == "saved" {
        match load(&screen).await {
            Ok(state) => state,
            Err(e) => return problem_page(&screen, section, e).await,
        }
    } else {
        state
    };
    let resp = render(
        &screen,
        section,
        &state,
        &view_of(&answer, &confirmed),
        status_of(&answer),
    )
    .await;
    shared::app::call::marked_replayed(resp, replayed)
}

pub fn not_a_form() -> ApiError {
    ApiError::bad_request(
        "not_a_form",
        "This address saves the screen's form: the request carries no confirmation.",
    )
    .with_fix("Open the screen from its signed link and save with its button.")
}

/// The submission's outcome, stored with its token: saved, stale or refused.
async fn decide(
    screen: &Screen<'_>,
    section: Section,
    state: &State,
    c: &Confirmed,
) -> Result<(Value, bool), ApiError> {
    let started_from = c.params.get("version").map(String::as_str).unwrap_or("none");
    if started_from != version_text(state.version) {
        let now = flat(&section.groups(&state.settings, &state.at, &state.col));
        let changed: Vec<Value> = now
            .iter()
            .filter(|(name, value)| c.params.get(&format!("was.{name}")).is_some_and(|was| was != *value))
            .map(|(name, value)| json!({ "field": name, "was": c.params[&format!("was.{name}")], "now": value }))
            .collect();
        return Ok((
            json!({ "outcome": "stale", "started_from": started_from, "changed": changed }),
            false,
        ));
    }
    let next = match section.apply(&state.settings, &state.at, &c.choices) {
        Ok(next) => next,
        Err(errors) => return Ok((json!({ "outcome": "invalid", "errors": errors }), false)),
    };
    let before = Saved {
        version: state.version,
        settings: Some(&state.settings),
    };
    let version = document::save(
        screen.app,
        &screen.tenant,
        &before,
        &next,
        state.version,
        section.audit_action(),
        "setup-screen",
    )
    .await?;
    Ok((json!({ "outcome": "saved", "version": version }), false))
}

fn status_of(answer: &Value) -> StatusCode {
    match answer["outcome"].as_str() {
        Some("stale") => StatusCode::CONFLICT,
        Some("invalid") => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    }
}

fn view_of(answer: &Value, c: &Confirmed) -> View {
    match answer["outcome"].as_str() {
        Some("stale") => View {
            notice: Some((
                "error",
                "Someone else saved these settings after you opened this screen; nothing was saved. \
                 Their changes are below and the form now shows their version with your choices: \
                 check it and save again."
                    .into(),
            )),
            changed: answer["changed"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let text = |k: &str| c[k].as_str().unwrap_or("").to_owned();
                    (c["field"].as_str().unwrap_or("").to_owned(), text("was"), text("now"))
                })
                .collect(),
            errors: FieldErrors::new(),
            // Only what this admin changed goes over the other's version.
            choices: Some(
                c.choices
                    .iter()
                    .filter(|(name, value)| c.params.get(&format!("was.{name}")) != Some(*value))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        },
        Some("invalid") => View {
            notice: Some((
                "error",
                "Nothing was saved: correct the fields marked below and save again.".into(),
            )),
            changed: vec![],
            errors: serde_json::from_value(answer["errors"].clone()).unwrap_or_default(),
            choices: Some(c.choices.clone()),
        },
        _ => View {
            notice: Some((
                "ok",
                format!(
                    "Saved. Settings version {}.",
                    answer["version"].as_u64().unwrap_or_default()
                ),
            )),
            ..View::default()
        },
    }
}
