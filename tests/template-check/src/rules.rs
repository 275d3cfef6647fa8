//! The rules, each returning the violations it found (empty = rule holds).

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::template::{Function, Template, as_list, as_u64, intrinsic, referenced_resource};

/// Functions declared in `template.yaml` whose crate does not exist yet. Remove a name when its
/// crate lands under `functions/`: the crate check fails until you do, so this list stays true.
pub const PLANNED_FUNCTIONS: &[&str] = &[];

/// Autotask allows 3 concurrent calls per endpoint; the worker takes 2, buttons the third.
pub const WORKER_MAX_CONCURRENCY: u64 = 2;
/// Lambda's SQS guidance: queue visibility timeout >= 6x the function timeout.
pub const VISIBILITY_FACTOR: u64 = 6;
/// The only wildcard resource allowed: every tenant's secret under the configured prefix and the
/// stack's stage, so one stage's functions never reach another stage's secrets.
pub const TENANT_SECRET_SUFFIX: &str = ":secret:${SecretNamePrefix}${Stage}/*";
/// What `SECRETS_PREFIX` must be (`Globals.Function.Environment`): the same prefix and stage.
pub const SECRETS_PREFIX_SUB: &str = "${SecretNamePrefix}${Stage}/";
/// The most reserved concurrency a button function may have: Autotask's 3 concurrent calls per
/// endpoint, and the cap that throttles a flood on one button before it takes executions from
/// the rest of the account.
pub const BUTTON_MAX_RESERVED: u64 = 3;
/// Functions that never touch the idempotency table (no confirmed write, no stored answer), so
/// their policy must not grant it; `repository_template` checks their sources still agree.
/// (settings left the list when its setup screens began to consume confirmations.)
pub const WITHOUT_IDEMPOTENCY_TABLE: &[&str] = &["map-customers-steps"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn violation(text: String) -> Violation {
    Violation(text)
}

/// The one schedule's `Input`: the planner dispatches every tenant with bulk sync on.
pub const DISPATCH_INPUT: &str = r#"{"dispatch":"enabled_tenants"}"#;

/// Every rule against one template and the crates that exist.
pub fn check_all(t: &Template, crates: &[String]) -> Vec<Violation> {
    [
        functions_match_crates(t, crates, PLANNED_FUNCTIONS),
        policies_are_scoped(t),
        worker_is_bounded(t),
        queue_outlives_worker(t),
        queue_has_dead_letter_queue(t),
        buttons_have_reserved_concurrency(t),
        function_urls_are_restricted(t),
        schedules_have_input(t),
        one_schedule_dispatches_every_tenant(t),
        secrets_are_scoped_by_stage(t),
        pages_are_framed_by_allowed_origins_only(t),
        button_concurrency_is_bounded(t),
        schedule_has_dead_letter_queue(t),
        idempotency_table_only_where_used(t, WITHOUT_IDEMPOTENCY_TABLE),
    ]
    .concat()
}

/// The environment every function gets from `Globals.Function.Environment.Variables`.
fn global_env<'a>(t: &'a Template, name: &str) -> &'a Value {
    &t.global_function("Environment")["Variables"][name]
}

/// `SECRETS_PREFIX` carries the stage, as every secret ARN a policy names does
/// ([`TENANT_SECRET_SUFFIX`], checked with the other resources by [`policies_are_scoped`]).
pub fn secrets_are_scoped_by_stage(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    let prefix = global_env(t, "SECRETS_PREFIX");
    let ok = matches!(intrinsic(prefix), Some((tag, Value::String(s))) if tag == "Sub" && s == SECRETS_PREFIX_SUB);
    if !ok {
        out.push(violation(format!(
            "Globals: SECRETS_PREFIX must be !Sub {SECRETS_PREFIX_SUB} (secret names include the stage)"
        )));
    }
    for f in t.functions() {
        for statement in as_list(&f.properties["Policies"])
            .into_iter()
            .flat_map(|p| as_list(&p["Statement"]))
        {
            let secrets = as_list(&statement["Action"])
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.starts_with("secretsmanager:")));
            let staged = as_list(&statement["Resource"]).iter().all(|r| {
                matches!(intrinsic(r), Some((tag, Value::String(s))) if tag == "Sub" && s.ends_with(TENANT_SECRET_SUFFIX))
            });
            if secrets && !staged {
                out.push(violation(format!(
                    "{}/{}: secretsmanager resources must end with {TENANT_SECRET_SUFFIX}",
                    f.logical_id,
                    statement["Sid"].as_str().unwrap_or("(no Sid)")
                )));
            }
        }
    }
    out
}

/// `ALLOWED_ORIGINS` (the HTML pages' `frame-ancestors`) is the `AllowedOrigins` parameter, the
/// same list CORS uses, so nothing else may frame a page.
pub fn pages_are_framed_by_allowed_origins_only(t: &Template) -> Vec<Violation> {
    let value = global_env(t, "ALLOWED_ORIGINS");
    let joined = match intrinsic(value) {
        Some((tag, Value::Sequence(args))) if tag == "Join" && args.len() == 2 => {
            args[0].as_str() == Some(",") && referenced_resource(&args[1]) == Some("AllowedOrigins")
        }
        _ => false,
    };
    if joined {
        Vec::new()
    } else {
        vec![violation(
            "Globals: ALLOWED_ORIGINS must be !Join [\",\", !Ref AllowedOrigins] (frame-ancestors of every HTML page)"
                .into(),
        )]
    }
}

/// Each button's reserved concurrency is at most [`BUTTON_MAX_RESERVED`]: a number, or a
/// parameter whose `MaxValue` says so (and whose `MinValue` is at least 1: 0 would disable it).
pub fn button_concurrency_is_bounded(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    for f in t
        .functions()
        .iter()
        .filter(|f| !f.properties["FunctionUrlConfig"].is_null())
    {
        let reserved = &f.properties["ReservedConcurrentExecutions"];
        if reserved.is_null() {
            continue; // reported by buttons_have_reserved_concurrency
        }
        let (min, max) = match referenced_resource(reserved) {
            Some(name) => {
                let p = t.parameter(name);
                (as_u64(&p["MinValue"]), as_u64(&p["MaxValue"]))
            }
            None => (as_u64(reserved), as_u64(reserved)),
        };
        let bounded = max.is_some_and(|m| m <= BUTTON_MAX_RESERVED) && min.is_some_and(|m| m >= 1);
        if !bounded {
            out.push(violation(format!(
                "{}: ReservedConcurrentExecutions must be 1 to {BUTTON_MAX_RESERVED} (a parameter needs MinValue >= 1 and MaxValue <= {BUTTON_MAX_RESERVED})",
                f.logical_id
            )));
        }
    }
    out
}

/// When Scheduler itself cannot invoke the planner, the event goes to a queue of the template
/// (`DeadLetterConfig.Arn`), as a failed invocation does (`OnFailure`).
pub fn schedule_has_dead_letter_queue(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    for f in t.functions() {
        for (name, e) in f.events().filter(|(_, e)| e["Type"].as_str() == Some("ScheduleV2")) {
            let dlq = referenced_resource(&e["Properties"]["DeadLetterConfig"]["Arn"]);
            let is_queue = dlq
                .and_then(|q| t.resource(q))
                .is_some_and(|q| q["Type"].as_str() == Some("AWS::SQS::Queue"));
            if !is_queue {
                out.push(violation(format!(
                    "{}/{name}: ScheduleV2 needs DeadLetterConfig.Arn of an SQS queue of the template",
                    f.logical_id
                )));
            }
        }
    }
    out
}

/// Functions in `without` (by binary) have no statement on the idempotency table.
pub fn idempotency_table_only_where_used(t: &Template, without: &[&str]) -> Vec<Violation> {
    let mut out = Vec::new();
    for f in t.functions() {
        if !f.binary().is_some_and(|b| without.contains(&b)) {
            continue;
        }
        let grants = as_list(&f.properties["Policies"])
            .into_iter()
            .flat_map(|p| as_list(&p["Statement"]))
            .any(|s| {
                as_list(&s["Resource"])
                    .iter()
                    .any(|r| referenced_resource(r) == Some("IdempotencyTable"))
            });
        if grants {
            out.push(violation(format!(
                "{}: never uses the idempotency table, so its policy must not grant it",
                f.logical_id
            )));
        }
    }
    out
}

/// Every `dynamodb:` action a policy grants is one the store code makes (`used`, from
/// [`crate::workspace::dynamodb_actions_used`]): an action no code needs is only risk.
pub fn dynamodb_actions_are_used(t: &Template, used: &BTreeSet<String>) -> Vec<Violation> {
    let mut out = Vec::new();
    for f in t.functions() {
        for statement in as_list(&f.properties["Policies"])
            .into_iter()
            .flat_map(|p| as_list(&p["Statement"]))
        {
            for action in as_list(&statement["Action"]).iter().filter_map(|a| a.as_str()) {
                if let Some(name) = action.strip_prefix("dynamodb:")
                    && !used.contains(name)
                {
                    out.push(violation(format!(
                        "{}/{}: {action} is granted but no store code makes it",
                        f.logical_id,
                        statement["Sid"].as_str().unwrap_or("(no Sid)")
                    )));
                }
            }
        }
    }
    out
}

/// Each crate has a function built from it, and each function is built from a crate (or a
/// planned one) with cargo-lambda from the workspace root.
pub fn functions_match_crates(t: &Template, crates: &[String], planned: &[&str]) -> Vec<Violation> {
    let mut out = Vec::new();
    let functions = t.functions();
    let binaries: BTreeSet<&str> = functions.iter().filter_map(Function::binary).collect();
    for name in crates {
        if !binaries.contains(name.as_str()) {
            out.push(violation(format!(
                "crate functions/{name} has no AWS::Serverless::Function with BuildProperties.Binary: {name}"
            )));
        }
        if planned.contains(&name.as_str()) {
            out.push(violation(format!(
                "functions/{name} exists now: remove \"{name}\" from PLANNED_FUNCTIONS"
            )));
        }
    }
    for f in &functions {
        let id = f.logical_id;
        if f.metadata["BuildMethod"].as_str() != Some("rust-cargolambda") {
            out.push(violation(format!(
                "{id}: Metadata.BuildMethod must be rust-cargolambda"
            )));
        }
        if f.properties["CodeUri"].as_str() != Some(".") {
            out.push(violation(format!("{id}: CodeUri must be . (the workspace root)")));
        }
        match f.binary() {
            None => out.push(violation(format!("{id}: Metadata.BuildProperties.Binary is missing"))),
            Some(bin) if !crates.iter().any(|c| c == bin) && !planned.contains(&bin) => out.push(violation(format!(
                "{id}: builds binary {bin}, but there is no crate functions/{bin} and it is not planned"
            ))),
            Some(_) => {}
        }
    }
    out
}

/// Inline policy documents only; exact actions; exact resources except the tenant-secret prefix.
pub fn policies_are_scoped(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    for f in t.functions() {
        let id = f.logical_id;
        let policies = as_list(&f.properties["Policies"]);
        if policies.is_empty() {
            out.push(violation(format!("{id}: has no inline policy")));
        }
        for policy in policies {
            let Some(map) = policy.as_mapping() else {
                out.push(violation(format!(
                    "{id}: managed policy {policy:?} is not allowed, use an inline statement"
                )));
                continue;
            };
            for key in map.keys().filter_map(Value::as_str) {
                if key != "Version" && key != "Statement" {
                    out.push(violation(format!(
                        "{id}: SAM policy template {key} is not allowed, use an inline statement"
                    )));
                }
            }
            for statement in as_list(&policy["Statement"]) {
                out.extend(statement_violations(id, statement));
            }
        }
    }
    out
}

fn statement_violations(id: &str, s: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let sid = s["Sid"].as_str().unwrap_or("(no Sid)");
    if s["Effect"].as_str() != Some("Allow") {
        out.push(violation(format!("{id}/{sid}: only Allow statements are expected")));
    }
    let actions: Vec<&str> = as_list(&s["Action"]).into_iter().filter_map(Value::as_str).collect();
    if actions.is_empty() {
        out.push(violation(format!("{id}/{sid}: Action must list exact actions")));
    }
    for action in &actions {
        if action.contains('*') {
            out.push(violation(format!("{id}/{sid}: wildcard action {action}")));
        }
        if action.eq_ignore_ascii_case("dynamodb:Scan") {
            out.push(violation(format!("{id}/{sid}: dynamodb:Scan is not allowed")));
        }
    }
    let resources = as_list(&s["Resource"]);
    if resources.is_empty() {
        out.push(violation(format!("{id}/{sid}: Resource is missing")));
    }
    for resource in resources {
        if referenced_resource(resource).is_some() {
            continue;
        }
        let text = match (intrinsic(resource), resource) {
            (Some((tag, Value::String(s))), _) if tag == "Sub" => s.as_str(),
            (None, Value::String(s)) => s.as_str(),
            _ => {
                out.push(violation(format!(
                    "{id}/{sid}: resource {resource:?} is not an exact ARN"
                )));
                continue;
            }
        };
        let tenant_secrets = text.ends_with(TENANT_SECRET_SUFFIX)
            && text.matches('*').count() == 1
            && actions.iter().all(|a| a.starts_with("secretsmanager:"));
        if text.contains('*') && !tenant_secrets {
            out.push(violation(format!("{id}/{sid}: wildcard resource {text}")));
        }
    }
    out
}

/// The SQS-triggered function(s): `(function, event properties)`.
fn sqs_consumers<'a>(t: &'a Template) -> Vec<(Function<'a>, &'a Value)> {
    t.functions()
        .into_iter()
        .flat_map(|f| {
            let sqs: Vec<&Value> = f
                .events()
                .filter(|(_, e)| e["Type"].as_str() == Some("SQS"))
                .map(|(_, e)| &e["Properties"])
                .collect();
            sqs.into_iter().map(move |p| (f.clone(), p))
        })
        .collect()
}

/// The worker's event source: at most 2 concurrent invocations, per-item failure reports.
pub fn worker_is_bounded(t: &Template) -> Vec<Violation> {
    let consumers = sqs_consumers(t);
    if consumers.is_empty() {
        return vec![violation("no function consumes an SQS queue (the sync worker)".into())];
    }
    let mut out = Vec::new();
    for (f, p) in consumers {
        let id = f.logical_id;
        if as_u64(&p["ScalingConfig"]["MaximumConcurrency"]) != Some(WORKER_MAX_CONCURRENCY) {
            out.push(violation(format!(
                "{id}: SQS event needs ScalingConfig.MaximumConcurrency: {WORKER_MAX_CONCURRENCY}"
            )));
        }
        let types = as_list(&p["FunctionResponseTypes"]);
        if !types.iter().any(|v| v.as_str() == Some("ReportBatchItemFailures")) {
            out.push(violation(format!(
                "{id}: SQS event needs FunctionResponseTypes: [ReportBatchItemFailures]"
            )));
        }
    }
    out
}

/// The consumed queue's visibility timeout is at least 6x the consumer's timeout.
pub fn queue_outlives_worker(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    for (f, p) in sqs_consumers(t) {
        let id = f.logical_id;
        let Some(queue_id) = referenced_resource(&p["Queue"]) else {
            out.push(violation(format!(
                "{id}: SQS event Queue must reference a queue in this template"
            )));
            continue;
        };
        let timeout = as_u64(t.effective(&f, "Timeout")).unwrap_or(3);
        let visibility = t
            .resource(queue_id)
            .and_then(|q| as_u64(&q["Properties"]["VisibilityTimeout"]))
            .unwrap_or(30);
        if visibility < VISIBILITY_FACTOR * timeout {
            out.push(violation(format!(
                "{queue_id}: VisibilityTimeout {visibility} < {VISIBILITY_FACTOR} x {id} Timeout {timeout}"
            )));
        }
    }
    out
}

/// The consumed queue redrives to a dead-letter queue declared in the template.
pub fn queue_has_dead_letter_queue(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    for (f, p) in sqs_consumers(t) {
        let Some(queue_id) = referenced_resource(&p["Queue"]) else {
            continue;
        };
        let redrive = t.resource(queue_id).map(|q| &q["Properties"]["RedrivePolicy"]);
        let dlq = redrive.and_then(|r| referenced_resource(&r["deadLetterTargetArn"]));
        let dlq_is_queue = dlq
            .and_then(|d| t.resource(d))
            .is_some_and(|d| d["Type"].as_str() == Some("AWS::SQS::Queue"));
        let receives = redrive.and_then(|r| as_u64(&r["maxReceiveCount"])).unwrap_or(0);
        if !dlq_is_queue || receives == 0 {
            out.push(violation(format!(
                "{queue_id} (consumed by {}): needs RedrivePolicy with deadLetterTargetArn of a queue and maxReceiveCount >= 1",
                f.logical_id
            )));
        }
    }
    out
}

/// Functions with a function URL (the buttons) have reserved concurrency.
pub fn buttons_have_reserved_concurrency(t: &Template) -> Vec<Violation> {
    t.functions()
        .iter()
        .filter(|f| !f.properties["FunctionUrlConfig"].is_null())
        .filter(|f| f.properties["ReservedConcurrentExecutions"].is_null())
        .map(|f| {
            violation(format!(
                "{}: button function needs ReservedConcurrentExecutions",
                f.logical_id
            ))
        })
        .collect()
}

/// The headers a cross-origin signed POST sends: the signature and the headers it covers.
const CORS_HEADERS: [&str; 6] = [
    "content-type",
    "x-col-tenant",
    "x-col-timestamp",
    "x-col-signature",
    "idempotency-key",
    "x-col-user",
];

/// Function URLs: signed calls (AuthType NONE), CORS from the origins parameter, POST only (a
/// GET never writes, and a button's GET link is a navigation that needs no CORS), with the
/// signature's headers allowed.
pub fn function_urls_are_restricted(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    for f in t.functions() {
        let url = &f.properties["FunctionUrlConfig"];
        if url.is_null() {
            continue;
        }
        let id = f.logical_id;
        if url["AuthType"].as_str() != Some("NONE") {
            out.push(violation(format!(
                "{id}: AuthType must be NONE (calls are HMAC-signed)"
            )));
        }
        if referenced_resource(&url["Cors"]["AllowOrigins"]) != Some("AllowedOrigins") {
            out.push(violation(format!(
                "{id}: Cors.AllowOrigins must be !Ref AllowedOrigins"
            )));
        }
        let methods = as_list(&url["Cors"]["AllowMethods"]);
        if methods.len() != 1 || methods[0].as_str() != Some("POST") {
            out.push(violation(format!("{id}: Cors.AllowMethods must be [POST] only")));
        }
        let headers = as_list(&url["Cors"]["AllowHeaders"]);
        for needed in CORS_HEADERS {
            if !headers.iter().any(|h| h.as_str() == Some(needed)) {
                out.push(violation(format!("{id}: Cors.AllowHeaders must include {needed}")));
            }
        }
        if url["Cors"]["AllowCredentials"].as_bool() == Some(true) {
            out.push(violation(format!("{id}: Cors.AllowCredentials must be false")));
        }
    }
    out
}

/// Scheduler passes `Input` verbatim; without one the planner gets no tenant.
pub fn schedules_have_input(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut schedules = 0;
    for f in t.functions() {
        for (name, e) in f.events() {
            match e["Type"].as_str() {
                Some("ScheduleV2") => {
                    schedules += 1;
                    if e["Properties"]["Input"].is_null() {
                        out.push(violation(format!(
                            "{}/{name}: ScheduleV2 needs an explicit Input",
                            f.logical_id
                        )));
                    }
                }
                Some("Schedule") => out.push(violation(format!(
                    "{}/{name}: use ScheduleV2 (EventBridge Scheduler) with an explicit Input",
                    f.logical_id
                ))),
                _ => {}
            }
        }
    }
    if schedules == 0 {
        out.push(violation("no ScheduleV2 event starts the sync planner".into()));
    }
    out
}

/// Onboarding needs no deploy: exactly one ScheduleV2, whose Input makes the planner dispatch
/// every enabled tenant (no per-tenant schedules), on a function with a failure destination (an
/// SQS queue of this template the function may send to).
pub fn one_schedule_dispatches_every_tenant(t: &Template) -> Vec<Violation> {
    let mut out = Vec::new();
    let schedules: Vec<(Function<'_>, &str, &Value)> = t
        .functions()
        .into_iter()
        .flat_map(|f| {
            let events: Vec<(&str, &Value)> = f
                .events()
                .filter(|(_, e)| e["Type"].as_str() == Some("ScheduleV2"))
                .collect();
            events.into_iter().map(move |(name, e)| (f.clone(), name, e))
        })
        .collect();
    if schedules.len() != 1 {
        out.push(violation(format!(
            "exactly one ScheduleV2 must start the planner (it dispatches every tenant); found {}",
            schedules.len()
        )));
    }
    let want: Value = serde_yaml::from_str(DISPATCH_INPUT).expect("dispatch input parses");
    for (f, name, e) in &schedules {
        let input = e["Properties"]["Input"]
            .as_str()
            .and_then(|i| serde_yaml::from_str::<Value>(i).ok());
        if input.as_ref() != Some(&want) {
            out.push(violation(format!(
                "{}/{name}: Input must be the literal {DISPATCH_INPUT} (tenants come from their settings)",
                f.logical_id
            )));
        }
        let on_failure = &f.properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        let queue = referenced_resource(&on_failure["Destination"]).filter(|q| {
            t.resource(q)
                .is_some_and(|r| r["Type"].as_str() == Some("AWS::SQS::Queue"))
        });
        let Some(queue) = queue.filter(|_| on_failure["Type"].as_str() == Some("SQS")) else {
            out.push(violation(format!(
                "{}: needs EventInvokeConfig.DestinationConfig.OnFailure to an SQS queue of the template",
                f.logical_id
            )));
            continue;
        };
        let may_send = as_list(&f.properties["Policies"])
            .into_iter()
            .flat_map(|p| as_list(&p["Statement"]))
            .any(|s| {
                as_list(&s["Action"])
                    .iter()
                    .any(|a| a.as_str() == Some("sqs:SendMessage"))
                    && as_list(&s["Resource"])
                        .iter()
                        .any(|r| referenced_resource(r) == Some(queue))
            });
        if !may_send {
            out.push(violation(format!(
                "{}: its policy must allow sqs:SendMessage on its failure destination {queue}",
                f.logical_id
            )));
        }
    }
    out
}
