//! The `map-customers` function ("Import and Map" / "Map Customers").
//!
//! - `GET /` (signed): as HTML, the Map Customers screen ([`screen`]); it reads only. Query:
//!   `q.pairs` and `q.min_confidence` filter the proposed pairs, `q.customers` / `q.companies`
//!   the unmatched ChannelOnline customers / Autotask companies (search words: the filter form is
//!   a signed GET that adds them, see `signing::SEARCH_PREFIX`), `page` / `col_page` / `at_page`
//!   choose the page of each table (at most 200 rows a page; the links between pages are
//!   signed). As JSON: everything mapped, proposed and unmatched
//!   ([`MapView`](shared::sync::customers::MapView)).
//! - `POST /run`: reads every ChannelOnline customer and Autotask company, stores proposed
//!   pairs with a confidence and reasons. Signed (server-to-server): answers the run as JSON;
//!   from the screen's form: once per form, answered as a page.
//! - `POST /confirm`: writes the chosen pairs (each refusal says why) and matches their
//!   contacts by e-mail. Signed with a JSON body `{"pairs": [{"col_id": "C-1", "at_id": 123}],
//!   "match_contacts": true, "create_missing_contacts": false}`: idempotent (a signed
//!   `Idempotency-Key` header, else the body). From the screen's forms: each ticked
//!   `set.pair.<col_id>=<at_id>`, or the picked `set.col` and `set.at`, once per form.
//!
//! Every form carries a single-use confirmation ([`shared::app::confirm`]); a GET never writes.

pub mod screen;

use std::collections::BTreeMap;

use http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::app::call::{self, Call, SearchBox};
use shared::app::confirm::{self, CHOICE_PREFIX, Confirmed};
use shared::function_url::{self, flag};
use shared::idempotency::payload_hash;
use shared::queue::sqs::SqsQueue;
use shared::queue::{OutgoingMessage, WorkQueue};
use shared::sync::SyncError;
use shared::sync::customers::map_job::{JOB_QUEUE_URL_VAR, StepMessage, fail_job, job_status, run_to_end, start_job};
use shared::sync::customers::{
    ConfirmRequest, ConfirmResult, PairChoice, check_pairs, confirm_pairs, list_mappings, propose_pairs,
};
use shared::sync::idempotent;
use shared::web::{ApiError, Format};

use screen::{Filters, SCREEN_PARAMS, Tokens};

pub const FUNCTION: &str = "map-customers";
/// The actions the screen's forms confirm (each form's token names one).
const RUN: &str = "run";
const CONFIRM: &str = "confirm";

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let route = req.uri().path().trim_end_matches('/').to_owned();
    Ok(match (req.method(), route.as_str()) {
        (&Method::GET, "") => screen_route(app, &req).await,
        (&Method::POST, "/run") => run_route(app, &req).await,
        (&Method::POST, "/confirm") => confirm_route(app, &req).await,
        (method, "") => refuse(&req, ApiError::method_not_allowed(method, "GET")),
        (method, "/run" | "/confirm") => refuse(&req, ApiError::method_not_allowed(method, "POST")),
        _ => refuse(
            &req,
            ApiError::not_found("no_such_route", "There is nothing at this address")
                .with_fix("Open / for the Map Customers screen."),
        ),
    })
}

fn refuse(req: &Request, e: ApiError) -> Response<Body> {
    e.into_response(Format::from_headers(req.headers()))
}

/// `GET /`: the screen, or everything as JSON. Reads only.
async fn screen_route(app: &AppContext, req: &Request) -> Response<Body> {
    let call = match call::open(app, req, FUNCTION).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    match show(app, &call, req).await {
        Ok(answer) => answer,
        Err(e) => e.into_response(call.format),
    }
}

async fn show(app: &AppContext, call: &Call, req: &Request) -> Result<Response<Body>, ApiError> {
    let filters = Filters::parse(&function_url::params(req, SCREEN_PARAMS)?)?;
    let view = list_mappings(&call.ctx).await?;
    if call.format == Format::Json {
        let body = serde_json::to_value(view).expect("the view serialises");
        return Ok(call::reply(call.format, "Map Customers", Ok((body, false))));
    }
    let token =
        async |action: &str| confirm::form_token(app, &call.ctx.tenant, FUNCTION, action, &BTreeMap::new()).await;
    let tokens = Tokens {
        run: token(RUN).await?,
        filter_form: filter_form(app, call, &filters).await,
        confirm: token(CONFIRM).await?,
        pair: token(CONFIRM).await?,
    };
    let job = job_status(&call.ctx).await?;
    let sign = call::link_signer(app, call, FUNCTION, None).await;
    Ok(function_url::html_response(screen::render_screen(
        &view,
        job.as_ref(),
        app.clock.now(),
        &filters,
        &tokens,
        &sign,
    )))
}

/// Opens a POST of the screen's form `action`: the call and its confirmation (`None` for a
/// server-to-server call signed in the headers). The form's fixed part is only its token.
async fn open_form(app: &AppContext, req: &Request, action: &str) -> Result<(Call, Option<Confirmed>), Response<Body>> {
    let (call, confirmed) = confirm::open_write(app, req, FUNCTION, action).await?;
    if let Some(c) = &confirmed
        && let Err(e) = function_url::known_only(c.params.keys().map(String::as_str), &[])
    {
        return Err(e.into_response(call.format));
    }
    Ok((call, confirmed))
}

/// The filter form: a signed GET of the screen whose boxes add the search words.
async fn filter_form(app: &AppContext, call: &Call, f: &Filters) -> String {
    let search = "type=\"search\"";
    let boxes = [
        SearchBox {
            name: "pairs",
            label: "Proposed pairs containing",
            value: f.q.clone(),
            attrs: search,
        },
        SearchBox {
            name: "min_confidence",
            label: "Minimum confidence (%)",
            value: f.min_confidence_text(),
            attrs: "type=\"number\" min=\"0\" max=\"100\"",
        },
        SearchBox {
            name: "customers",
            label: "Unmatched customers containing",
            value: f.col_q.clone(),
            attrs: search,
        },
        SearchBox {
            name: "companies",
            label: "Unmatched companies containing",
            value: f.at_q.clone(),
            attrs: search,
        },
    ];
    let form = call::SearchForm {
        audience: FUNCTION,
        route: "/",
        fixed: &[],
        legend: "Filter the lists",
        boxes: &boxes,
    };
    call::search_form(app, &call.ctx.tenant, call.signed_at, &form).await
}

/// `POST /run`: the proposal job. Signed: the whole run in the call, answered as JSON. The
/// screen's form (once per form): starts Import and Map in the background and answers a page
/// that follows its progress on the screen.
async fn run_route(app: &AppContext, req: &Request) -> Response<Body> {
    let (call, confirmed) = match open_form(app, req, RUN).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let Some(confirmed) = confirmed else {
        return call::reply(call.format, "Map Customers: proposals", run(&call).await);
    };
    if let Err(e) = function_url::known_only(confirmed.choices.keys().map(String::as_str), &[]) {
        return e.into_response(call.format);
    }
    let result = confirm::run_once(&call.ctx, &confirmed.token, || start_in_background(app, &call)).await;
    match (call.format, result) {
        (Format::Html, Ok((body, replayed))) => {
            let sign = call::link_signer(app, &call, FUNCTION, None).await;
            let screen = sign("/", &[]);
            let message = body["message"].as_str().unwrap_or_default();
            let again = if replayed {
                "<p class=\"fix\">This form was already submitted: Import and Map was not started a second time.</p>"
            } else {
                ""
            };
            let page = format!(
                "<p class=\"message\">{}</p>{again}{}",
                shared::web::escape_html(message),
                screen::back_link(&screen)
            );
            let refresh = (!screen.is_empty()).then(|| format!("1;url={screen}"));
            html_answer(screen::page("Import and Map", refresh.as_deref(), &page), replayed)
        }
        (format, result) => call::reply(format, "Import and Map", result),
    }
}

/// Records the job and sends its first step to the job queue; without a queue (the local
/// stack) runs the steps here, one after the other.
async fn start_in_background(app: &AppContext, call: &Call) -> Result<(Value, bool), ApiError> {
    let ctx = &call.ctx;
    let (job, first) = start_job(ctx).await?;
    let Some(queue_url) = app.config.queues.map_customers_queue_url.as_deref() else {
        run_to_end(ctx, first).await?;
        let message = "Import and Map read both systems; the screen shows the proposals.";
        return Ok((json!({ "message": message, "job_id": job.job_id }), false));
    };
    if let Err(why) = send_step(app, queue_url, &first).await {
        tracing::error!(reason = %why, "the first step of Import and Map was not sent");
        fail_job(ctx, &first, "The job could not be queued.".into()).await?;
        return Err(ApiError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "job_queue_unavailable",
            "Import and Map could not be started: its job queue did not answer.",
        )
        .with_fix("Open Map Customers again and press Import and Map in a minute.")
        .retryable());
    }
    let message = "Import and Map started: it reads both systems in the background. The screen shows its progress.";
    Ok((json!({ "message": message, "job_id": job.job_id }), false))
}

async fn send_step(app: &AppContext, queue_url: &str, step: &StepMessage) -> Result<(), String> {
    let queue = SqsQueue::configured(&app.aws, &app.config.endpoints, JOB_QUEUE_URL_VAR, Some(queue_url))
        .await
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_string(step).map_err(|e| e.to_string())?;
    let sent = queue
        .send(vec![OutgoingMessage {
            id: "step-0".into(),
            body,
        }])
        .await
        .map_err(|e| e.to_string())?;
    match sent.failed.first() {
        Some(f) => Err(f.message.clone()),
        None => Ok(()),
    }
}

async fn run(call: &Call) -> Result<(Value, bool), ApiError> {
    let run = propose_pairs(&call.ctx).await?;
    let message = format!(
        "Proposed {} pair(s); {} ChannelOnline customer(s) and {} Autotask compan(ies) left unmatched.",
        run.proposals.len(),
        run.col_unmatched.len(),
        run.at_unmatched.len()
    );
    let mut body = serde_json::to_value(run).unwrap_or_default();
    body["message"] = json!(message);
    Ok((body, false))
}

/// `POST /confirm`: the chosen pairs. Signed with a JSON body, or the screen's form once.
async fn confirm_route(app: &AppContext, req: &Request) -> Response<Body> {
    let (call, confirmed) = match open_form(app, req, CONFIRM).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let Some(confirmed) = confirmed else {
        return call::reply(
            call.format,
            "Map Customers: confirmed",
            confirm_signed(&call, req).await,
        );
    };
    let request = match chosen_pairs(&confirmed.choices) {
        Ok(r) => r,
        Err(e) => return e.into_response(call.format),
    };
    let result = confirm::run_once(&call.ctx, &confirmed.token, || write_pairs(&call, &request)).await;
    match (call.format, result) {
        (Format::Html, Ok((body, replayed))) => {
            let results: Vec<ConfirmResult> = serde_json::from_value(body["results"].clone()).unwrap_or_default();
            let sign = call::link_signer(app, &call, FUNCTION, None).await;
            let message = body["message"].as_str().unwrap_or_default();
            let page = screen::render_confirmed(message, &results, replayed, &sign("/", &[]));
            html_answer(page, replayed)
        }
        (format, result) => call::reply(format, "Map Customers: confirmed", result),
    }
}

/// A form's answer page, marked `Idempotent-Replay: true` when it is the first answer again.
fn html_answer(page: String, replayed: bool) -> Response<Body> {
    let resp = function_url::html_response(page);
    shared::app::call::marked_replayed(resp, replayed)
}

/// The pairs a form chose: each ticked `pair.<col_id>` (its value the Autotask id), and the
/// hand-picked `col` and `at`. Checked before the form's confirmation is spent.
fn chosen_pairs(choices: &BTreeMap<String, String>) -> Result<ConfirmRequest, ApiError> {
    let at_id = |name: &str, v: &str| {
        v.trim().parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("{CHOICE_PREFIX}{name} has an invalid Autotask company id {v:?}"),
            )
            .with_details(json!({ "field": format!("{CHOICE_PREFIX}{name}") }))
        })
    };
    let mut pairs = Vec::new();
    let (mut col, mut at) = (None, None);
    for (name, value) in choices {
        if let Some(col_id) = name.strip_prefix("pair.") {
            pairs.push(PairChoice {
                col_id: col_id.to_owned(),
                at_id: at_id(name, value)?,
            });
        } else if name == "col" {
            col = Some(value.trim().to_owned());
        } else if name == "at" {
            at = Some(at_id(name, value)?);
        } else if name != "create_missing_contacts" {
            function_url::known_only(
                [format!("{CHOICE_PREFIX}{name}").as_str()],
                &[
                    "set.pair.<customer number>",
                    "set.col",
                    "set.at",
                    "set.create_missing_contacts",
                ],
            )?;
        }
    }
    match (col, at) {
        (Some(col_id), Some(at_id)) => pairs.push(PairChoice { col_id, at_id }),
        (None, None) => {}
        _ => {
            return Err(ApiError::bad_request(
                "pick_both_sides",
                "To pair by hand, pick one ChannelOnline customer and one Autotask company.",
            )
            .with_fix("Go back, pick both, and press the button again."));
        }
    }
    let request = ConfirmRequest {
        pairs,
        match_contacts: true,
        create_missing_contacts: flag(choices, "create_missing_contacts"),
    };
    check_pairs(&request)
        .map_err(|e| ApiError::from(e).with_fix("Go back, tick or pick the pairs, and confirm again."))?;
    Ok(request)
}

async fn write_pairs(call: &Call, request: &ConfirmRequest) -> Result<(Value, bool), ApiError> {
    let results = confirm_pairs(&call.ctx, request).await?;
    Ok((confirm_answer(&results), false))
}

fn confirm_answer(results: &[ConfirmResult]) -> Value {
    let mapped = results.iter().filter(|r| r.status == "mapped").count();
    json!({
        "message": format!("{mapped} of {} pair(s) mapped.", results.len()),
        "results": results,
    })
}

async fn confirm_signed(call: &Call, req: &Request) -> Result<(Value, bool), ApiError> {
    let body: ConfirmRequest = shared::app::json_body(req.body().as_ref())?;
    let ctx = &call.ctx;
    let key = match &call.idempotency_key {
        Some(k) => k.clone(),
        None => payload_hash(&body).map_err(SyncError::from)?,
    };
    let guarded = idempotent(ctx, FUNCTION, &key, &body, || async {
        let results = confirm_pairs(ctx, &body).await?;
        Ok::<_, SyncError>(confirm_answer(&results))
    })
    .await?;
    Ok((guarded.answer, guarded.replayed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn ticked_and_hand_picked_pairs_are_read_and_a_half_pick_or_a_shared_side_is_refused() {
        let r = chosen_pairs(&choices(&[("pair.C-1", "11"), ("col", "C-2"), ("at", "12")])).unwrap();
        let got: Vec<(&str, i64)> = r.pairs.iter().map(|p| (p.col_id.as_str(), p.at_id)).collect();
        assert_eq!(got, [("C-1", 11), ("C-2", 12)]);
        assert!(r.match_contacts && !r.create_missing_contacts);
        let half = chosen_pairs(&choices(&[("col", "C-2")])).unwrap_err();
        assert_eq!(half.code, "pick_both_sides");
        let shared = chosen_pairs(&choices(&[("pair.C-1", "11"), ("col", "C-2"), ("at", "11")])).unwrap_err();
        assert_eq!(shared.code, "pair_shares_a_side");
        assert_eq!(chosen_pairs(&choices(&[])).unwrap_err().code, "no_pairs");
        assert_eq!(
            chosen_pairs(&choices(&[("pair.C-1", "x")])).unwrap_err().code,
            "invalid_parameter"
        );
        assert_eq!(
            chosen_pairs(&choices(&[("colour", "red")])).unwrap_err().code,
            "unknown_parameter"
        );
    }
}
