//! A local stand-in for Lambda function URLs: an axum server that turns each HTTP request into
//! the `lambda_http::Request` the function would receive on AWS and sends its answer back.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Path, Request as AxumRequest, State};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::any;
use http::StatusCode;
use lambda_http::Body;
use shared::app::AppContext;

use crate::functions::Handler;

/// Function URLs accept bodies up to 6 MB.
const MAX_BODY: usize = 6 * 1024 * 1024;

#[derive(Clone)]
struct Gateway {
    ctx: Arc<AppContext>,
    functions: Arc<HashMap<&'static str, Handler>>,
}

pub fn router(ctx: Arc<AppContext>, functions: Vec<(&'static str, Handler)>) -> Router {
    let state = Gateway {
        ctx,
        functions: Arc::new(functions.into_iter().collect()),
    };
    Router::new()
        .route("/{function}", any(invoke_root))
        .route("/{function}/", any(invoke_root))
        .route("/{function}/{*rest}", any(invoke))
        .with_state(state)
}

async fn invoke_root(State(gw): State<Gateway>, Path(function): Path<String>, req: AxumRequest) -> AxumResponse {
    dispatch(gw, &function, req).await
}

async fn invoke(
    State(gw): State<Gateway>,
    Path((function, _rest)): Path<(String, String)>,
    req: AxumRequest,
) -> AxumResponse {
    dispatch(gw, &function, req).await
}

async fn dispatch(gw: Gateway, function: &str, req: AxumRequest) -> AxumResponse {
    let Some(handler) = gw.functions.get(function).cloned() else {
        let known: Vec<_> = gw.functions.keys().collect();
        return (
            StatusCode::NOT_FOUND,
            format!("no function {function:?}; mounted: {known:?}\n"),
        )
            .into_response();
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "body over 6 MB\n").into_response(),
    };
    // The function sees its own path: `/settings/audit?x=1` on this server is `/audit?x=1` on AWS.
    let raw_path = parts.uri.path();
    let prefix_len = 1 + function.len();
    let path = match &raw_path[prefix_len.min(raw_path.len())..] {
        "" => "/".to_owned(),
        p => p.to_owned(),
    };
    let uri = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut builder = http::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let lambda_req = match builder.body(body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad request: {e}\n")).into_response(),
    };
    match handler(gw.ctx.clone(), lambda_req).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            AxumResponse::from_parts(parts, AxumBody::from(body.as_ref().to_vec()))
        }
        Err(e) => {
            // On AWS an unhandled error is a 502 from the function URL; the cause goes to the log.
            tracing::error!(error = %e, function, "function failed");
            (StatusCode::BAD_GATEWAY, "Internal Server Error\n").into_response()
        }
    }
}
