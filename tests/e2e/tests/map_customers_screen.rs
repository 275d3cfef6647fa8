//! The Map Customers screen through the real binary, against the sandboxes: the page reads only,
//! pages hold at most 200 rows and are reached by signed links, the filter form narrows the
//! lists, Confirm selected writes exactly the ticked pairs, once per form, and Import and Map
//! runs as queued steps whose progress the screen shows.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::customers::{CustomerStack, KEY, TENANT, customer, now};
use serde_json::Value;
use shared::store::SyncStateStore;
use shared::tenant::TenantId;
use testkit::function_url::{EventSpec, UrlResponse, event, form_fields, form_post};
use testkit::lambda_runtime_api::{Outcome, invoke_binary};
use testkit::sqs::{EventSourceMapping, MotoSqs};

const FUNCTION: &str = "map-customers";
/// True pairs (the same company written differently on each side), and unrelated ones on each side.
const PAIRS: usize = 240;
const UNRELATED: usize = 60;

/// `PAIRS` customers with their companies, `UNRELATED` customers and companies matching nothing.
async fn seeded() -> CustomerStack {
    let s = CustomerStack::start().await;
    let forms = ["{} Inc", "{}, LLC", "THE {} COMPANY", "{} Ltd.", "{}"];
    for i in 0..PAIRS {
        let base = format!("Vendor{i} Logistics");
        let phone = format!("555-{:03}-{:04}", 300 + i / 10, 2000 + i);
        s.add_customer(customer(&format!("N{i:03}"), &base, Some(&phone), &[]));
        s.at.state()
            .add_company(&forms[i % forms.len()].replace("{}", &base.to_uppercase()), s.owner_id);
    }
    for i in 0..UNRELATED {
        let phone = format!("555-{:03}-{:04}", 700 + i / 10, 5000 + i);
        s.add_customer(customer(
            &format!("U{i:03}"),
            &format!("Orchard{i} Bakery"),
            Some(&phone),
            &[],
        ));
        s.at.state().add_company(&format!("Quarry{i} Mining"), s.owner_id);
    }
    let run = s.call(FUNCTION, "POST", "/run", "", "").await;
    assert_eq!(run.status, 200, "{}", run.body);
    s
}

async fn open_screen(s: &CustomerStack, query: &str) -> UrlResponse {
    let ev = event(&EventSpec {
        audience: FUNCTION,
        method: "GET",
        path: "/",
        query,
        body: "",
        signer: Some((TENANT, KEY, now())),
        headers: &[("accept", "text/html")],
    });
    let page = s.invoke(FUNCTION, ev).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

/// Follows a link of a page as the browser does: its query carries the signature.
async fn follow(s: &CustomerStack, href: &str) -> UrlResponse {
    let query = href
        .strip_prefix("./?")
        .unwrap_or_else(|| panic!("not a link to the screen: {href}"));
    let ev = event(&EventSpec {
        audience: FUNCTION,
        method: "GET",
        path: "/",
        query,
        body: "",
        signer: None,
        headers: &[("accept", "text/html")],
    });
    s.invoke(FUNCTION, ev).await
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// The `nth` form of `html` posting to `action`.
fn form<'a>(html: &'a str, action: &str, nth: usize) -> &'a str {
    let marker = format!("<form method=\"post\" action=\"{action}\"");
    let start = html
        .match_indices(&marker)
        .nth(nth)
        .unwrap_or_else(|| panic!("no form {action} #{nth}"))
        .0;
    &html[start..start + html[start..].find("</form>").unwrap()]
}

/// The (name, value) of the inputs of `kind` (checkbox, radio) whose name starts with `prefix`.
fn choices(html: &str, kind: &str, prefix: &str) -> Vec<(String, String)> {
    html.split("<input ")
        .skip(1)
        .filter_map(|t| {
            let tag = format!(" {}", &t[..t.find('>')?]);
            (attr(&tag, "type")? == kind)
                .then(|| Some((attr(&tag, "name")?, attr(&tag, "value")?)))
                .flatten()
        })
        .filter(|(n, _)| n.starts_with(prefix))
        .collect()
}

fn links(html: &str) -> Vec<(String, String)> {
    html.split("<a href=\"")
        .skip(1)
        .filter_map(|t| {
            let href = unescape(&t[..t.find('"')?]);
            let text = t[t.find('>')? + 1..t.find("</a>")?].to_owned();
            Some((text, href))
        })
        .collect()
}

fn link(html: &str, text: &str, nth: usize) -> String {
    links(html)
        .into_iter()
        .filter(|(t, _)| t == text)
        .nth(nth)
        .unwrap_or_else(|| panic!("no link {text:?} #{nth} in {html}"))
        .1
}

fn rows(html: &str) -> usize {
    html.matches("<tr>").count() + html.matches("<tr class=").count()
}

async fn mapped(s: &CustomerStack) -> Vec<(String, i64)> {
    let view: Value = s.call(FUNCTION, "GET", "/", "", "").await.json();
    view["mapped"]
        .as_array()
        .expect("the JSON view lists the mapped pairs")
        .iter()
        .map(|m| (m["col_id"].as_str().unwrap().to_owned(), m["at_id"].as_i64().unwrap()))
        .collect()
}

fn store_writes(s: &CustomerStack) -> u64 {
    s.at.counters().writes("Companies") + s.at.counters().writes("Contacts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_shows_proposals_in_signed_pages_of_at_most_200_rows_and_writes_nothing() {
    let s = seeded().await;
    let writes = store_writes(&s);

    // WHEN the screen is opened THEN it shows the counts, Import and Map, and the first page
    let page = open_screen(&s, "").await;
    let html = &page.body;
    assert!(html.contains("0 mapped"), "{html}");
    assert!(html.contains("Matching last ran on"), "{html}");
    assert!(html.contains(">Import and Map</button>"), "{html}");
    assert!(html.contains(">Confirm selected</button>"), "{html}");
    assert!(html.contains(" name ("), "reasons in words: {html}");
    assert!(rows(html) <= 200, "{} rows", rows(html));
    let first = choices(form(html, "confirm", 0), "checkbox", "set.pair.");
    assert_eq!(first.len(), 100, "a full first page of proposals");
    assert_eq!(choices(html, "radio", "set.col").len(), 40);
    assert_eq!(choices(html, "radio", "set.at").len(), 40);
    assert!(!html.contains("<script"), "no script on the page");
    assert!(
        page.headers["content-security-policy"]
            .as_str()
            .unwrap()
            .contains("script-src")
    );

    // WHEN the next page of proposals is followed THEN its link is signed and shows other pairs
    let next = link(html, "Next page", 0);
    assert!(next.contains("sig=") && next.contains("page=2"), "{next}");
    let second = follow(&s, &next).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second_pairs = choices(form(&second.body, "confirm", 0), "checkbox", "set.pair.");
    assert_eq!(second_pairs.len(), 100);
    assert!(second_pairs.iter().all(|p| !first.contains(p)), "page 2 repeats page 1");
    assert!(second.body.contains("Page 2 of 3"), "{}", second.body);
    // AND a link whose page was changed after signing is refused
    let forged = follow(&s, &next.replace("page=2", "page=3")).await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    // AND the unmatched lists page on their own (60 customers: 40 then 20)
    let col_next = link(html, "Next page", 1);
    assert!(col_next.contains("col_page=2"), "{col_next}");
    let col_second = follow(&s, &col_next).await;
    assert_eq!(choices(&col_second.body, "radio", "set.col").len(), UNRELATED - 40);

    // WHEN the filter form (a signed GET) asks for Vendor12 THEN the filtered screen answers
    let start = html
        .find("<form method=\"get\" action=\"./\" role=\"search\">")
        .expect("a filter form");
    let filter = &html[start..start + html[start..].find("</form>").unwrap()];
    let submitted = |words: &[(&str, &str)]| {
        let mut pairs = form_fields(filter);
        pairs.extend(words.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("./?{query}")
    };
    let narrowed = follow(&s, &submitted(&[("q.pairs", "vendor12"), ("q.min_confidence", "")])).await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    let shown = choices(form(&narrowed.body, "confirm", 0), "checkbox", "set.pair.");
    // Vendor12 and Vendor120–129.
    assert_eq!(shown.len(), 11, "{shown:?}");
    assert!(shown.iter().any(|(n, _)| n == "set.pair.N012"), "{shown:?}");
    // AND a filter outside its range is refused naming it
    let refused = follow(&s, &submitted(&[("q.min_confidence", "150")])).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("q.min_confidence"), "{}", refused.body);
    // AND a changed covered parameter still breaks the signature
    let forged = submitted(&[("q.pairs", "x")]).replace("tenant=", "page=2&tenant=");
    assert_eq!(follow(&s, &forged).await.status, 401);

    // THEN none of these GETs and filters wrote anything
    assert!(mapped(&s).await.is_empty());
    assert_eq!(store_writes(&s), writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_selected_maps_exactly_the_ticked_pairs_once_and_a_pair_picked_by_hand() {
    let s = seeded().await;
    let page = open_screen(&s, "").await;
    let proposals = form(&page.body, "confirm", 0);
    let ticked: Vec<(String, String)> = choices(proposals, "checkbox", "set.pair.")
        .into_iter()
        .take(2)
        .collect();
    let mut fields = form_fields(proposals);
    assert_eq!(
        fields.len(),
        1,
        "the form's only fixed field is its confirmation: {fields:?}"
    );
    fields.extend(ticked.clone());
    let expected: Vec<(String, i64)> = ticked
        .iter()
        .map(|(n, v)| (n.trim_start_matches("set.pair.").to_owned(), v.parse().unwrap()))
        .collect();

    // WHEN two ticked pairs are confirmed THEN exactly those are mapped, shown per pair
    let first = s.invoke(FUNCTION, form_post("/confirm", &fields)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("2 of 2 pair(s) mapped."), "{}", first.body);
    assert_eq!(first.body.matches("<tr class=\"mapped\">").count(), 2, "{}", first.body);
    let mut stored = mapped(&s).await;
    stored.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(stored, want);

    // WHEN the same form is posted again THEN the first answer is shown, nothing written again
    let again = s.invoke(FUNCTION, form_post("/confirm", &fields)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replay"], "true");
    assert!(again.body.contains("already submitted"), "{}", again.body);
    assert_eq!(mapped(&s).await.len(), 2);

    // WHEN a ticked pair's company is changed after the fact THEN it is refused with the reason
    let later = open_screen(&s, "").await;
    assert!(later.body.contains("2 mapped"), "{}", later.body);
    let clash_form = form(&later.body, "confirm", 0);
    let mut clash = form_fields(clash_form);
    let (col, _) = choices(clash_form, "checkbox", "set.pair.").remove(0);
    clash.push((col.clone(), expected[0].1.to_string()));
    let refused = s.invoke(FUNCTION, form_post("/confirm", &clash)).await;
    assert_eq!(refused.status, 200, "{}", refused.body);
    assert!(refused.body.contains("Refused: The"), "{}", refused.body);
    assert!(
        refused.body.contains(&expected[0].0),
        "names the pair it is mapped to: {}",
        refused.body
    );
    assert_eq!(mapped(&s).await.len(), 2);

    // WHEN only a customer is picked by hand THEN it is refused before the form is spent
    let by_hand = form(&later.body, "confirm", 1);
    let col = choices(by_hand, "radio", "set.col").remove(0);
    let at = choices(by_hand, "radio", "set.at").remove(0);
    let mut half = form_fields(by_hand);
    half.push(col.clone());
    let r = s.invoke(FUNCTION, form_post("/confirm", &half)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("pick one ChannelOnline customer and one Autotask company"),
        "{}",
        r.body
    );
    // AND the same form with both picked maps them
    half.push(at.clone());
    let r = s.invoke(FUNCTION, form_post("/confirm", &half)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("1 of 1 pair(s) mapped."), "{}", r.body);
    assert!(mapped(&s).await.contains(&(col.1, at.1.parse().unwrap())));
}

/// Runs `binary` on `ev` with `env` (the stack's, plus the job queue's).
async fn invoke_with(env: &[(String, String)], binary: &'static str, ev: Value) -> UrlResponse {
    let env = env.to_vec();
    let outcome = tokio::task::spawn_blocking(move || {
        let bin = e2e::function_binary(binary);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        invoke_binary(&bin, &ev.to_string(), &env, Duration::from_secs(60))
    })
    .await
    .unwrap();
    match outcome {
        Outcome::Response(envelope) => UrlResponse::from_envelope(&envelope),
        other => panic!("{binary} did not answer: {other:?}"),
    }
}

async fn job(s: &CustomerStack) -> Value {
    let tenant = TenantId::parse(TENANT).unwrap();
    let doc = s.store.get_checkpoint(&tenant, "map-customers.job").await.unwrap();
    doc.map(|d| d.doc).unwrap_or(Value::Null)
}

fn proposal_set(list: &Value) -> BTreeSet<(String, i64, u64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let col = p["col_id"].as_str().unwrap().to_owned();
            (col, p["at_id"].as_i64().unwrap(), p["confidence"].as_u64().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_map_runs_as_queued_steps_with_progress_and_proposes_what_the_whole_run_does() {
    // GIVEN a seeded tenant (3 pages of customers) whose whole run proposed a set of pairs
    let s = seeded().await;
    let whole = s.call(FUNCTION, "POST", "/run", "", "").await;
    let expected = proposal_set(&whole.json()["proposals"]);
    assert!(expected.len() >= PAIRS, "{}", expected.len());
    let sqs = MotoSqs::start()
        .await
        .expect("moto_server (requirements-dev.txt) on PATH");
    let queues = sqs.create_queue_pair("map-customers", 1, 2).await;
    let env = s.env_with(&[
        ("MAP_CUSTOMERS_QUEUE_URL", &queues.queue_url),
        ("MAP_CUSTOMERS_MAX_RECEIVE_COUNT", "2"),
        ("SQS_ENDPOINT", sqs.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ]);
    let open = || {
        event(&EventSpec {
            audience: FUNCTION,
            method: "GET",
            path: "/",
            query: "",
            body: "",
            signer: Some((TENANT, KEY, now())),
            headers: &[("accept", "text/html")],
        })
    };

    // WHEN Import and Map is pressed THEN the answer starts the job, queues its first step and
    // sends the browser on to the screen
    let screen = invoke_with(&env, FUNCTION, open()).await;
    let fields = form_fields(form(&screen.body, "run", 0));
    let started = invoke_with(&env, FUNCTION, form_post("/run", &fields)).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert!(started.body.contains("started"), "{}", started.body);
    assert!(
        started.body.contains("http-equiv=\"refresh\" content=\"1;url=./?"),
        "{}",
        started.body
    );
    assert_eq!(sqs.depth(&queues.queue_url).await, 1);
    assert_eq!(job(&s).await["phase"], "reading");

    // THEN the screen shows the progress and reloads itself; opening it moves nothing on
    for _ in 0..2 {
        let progress = invoke_with(&env, FUNCTION, open()).await;
        assert!(
            progress.body.contains("<progress id=\"job-progress\" value=\"0\""),
            "{}",
            progress.body
        );
        assert!(progress.body.contains("http-equiv=\"refresh\""), "{}", progress.body);
        assert!(!progress.body.contains(">Import and Map</button>"));
    }
    assert_eq!(job(&s).await["steps_done"], 0);
    // AND pressing it twice does not start a second job
    let again = invoke_with(&env, FUNCTION, form_post("/run", &fields)).await;
    assert_eq!(again.headers["idempotent-replay"], "true", "{}", again.body);
    assert_eq!(sqs.depth(&queues.queue_url).await, 1);

    // WHEN the queue feeds the steps function THEN one step a page and one to match ran
    let binary = tokio::task::spawn_blocking(|| e2e::function_binary("map-customers-steps"))
        .await
        .unwrap();
    let mapping = EventSourceMapping {
        queue: sqs.queue(&queues.queue_url),
        binary,
        env: env.clone(),
        timeout: Duration::from_secs(60),
    };
    let report = mapping.drain_until_empty(&sqs, Duration::from_secs(90)).await;
    let pages = (PAIRS + UNRELATED).div_ceil(100);
    assert_eq!(report.deliveries.len(), pages + 1, "{report:?}");
    let done = job(&s).await;
    assert_eq!(done["phase"], "done", "{done}");
    assert_eq!(done["customers_read"], PAIRS + UNRELATED);

    // THEN the proposals are the whole run's, and the screen is back to its button
    let view = s.call(FUNCTION, "GET", "/", "", "").await.json();
    assert_eq!(proposal_set(&view["proposed"]), expected);
    assert_eq!(view["run_id"], done["run_id"]);
    let after = invoke_with(&env, FUNCTION, open()).await;
    assert!(after.body.contains(">Import and Map</button>"), "{}", after.body);
    assert!(!after.body.contains("http-equiv=\"refresh\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_5000_customers_and_5000_companies_the_run_is_stored_and_the_screen_pages_it() {
    // GIVEN 5,000 customers and 5,000 companies, 4,600 of them the same companies
    let s = CustomerStack::start().await;
    for i in 0..5000 {
        let base = format!("Vendor{i} Logistics");
        let phone = format!("555-{:03}-{:04}", 100 + i / 10, i);
        s.add_customer(customer(&format!("N{i:04}"), &base, Some(&phone), &[]));
        let at_name = if i < 4600 {
            format!("{} INC", base.to_uppercase())
        } else {
            format!("Quarry{i} Mining")
        };
        s.at.state().add_company(&at_name, s.owner_id);
    }
    // WHEN the whole run reads both systems THEN its proposals are stored (more than one item holds)
    let run = s.call(FUNCTION, "POST", "/run", "", "").await;
    assert_eq!(run.status, 200, "{}", run.body);
    let proposed = run.json()["proposals"].as_array().unwrap().len();
    assert!(proposed >= 4600, "{proposed}");
    let tenant = TenantId::parse(TENANT).unwrap();
    let third_part = s
        .store
        .get_checkpoint(&tenant, "map-customers.run-part.2")
        .await
        .unwrap();
    assert!(
        third_part.is_some(),
        "the lists are kept in parts under the item size limit"
    );
    // THEN the screen shows them in pages of under 200 rows, the last one reached by its links
    let page = open_screen(&s, "").await;
    assert!(page.body.contains(&format!("{proposed} proposed")), "{}", page.body);
    assert!(rows(&page.body) <= 200, "{} rows", rows(&page.body));
    let pages = proposed.div_ceil(100);
    assert!(page.body.contains(&format!("Page 1 of {pages}.")), "{}", page.body);
    let last = link(&page.body, "Next page", 0).replace("page=2", &format!("page={pages}"));
    assert_eq!(
        follow(&s, &last).await.status,
        401,
        "a page number changed after signing is refused"
    );
    let second = follow(&s, &link(&page.body, "Next page", 0)).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(rows(&second.body) <= 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_job_queue_import_and_map_runs_its_steps_in_the_call() {
    // GIVEN the local stack (no job queue) and customers over two pages
    let s = CustomerStack::start().await;
    for i in 0..150 {
        let base = format!("Vendor{i} Logistics");
        s.add_customer(customer(&format!("N{i:03}"), &base, None, &[]));
        s.at.state().add_company(&base.to_uppercase(), s.owner_id);
    }
    // WHEN Import and Map is pressed THEN the steps ran and the screen shows the proposals
    let page = open_screen(&s, "").await;
    let started = s
        .invoke(FUNCTION, form_post("/run", &form_fields(form(&page.body, "run", 0))))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert!(started.body.contains("read both systems"), "{}", started.body);
    let done = job(&s).await;
    assert_eq!(
        (done["phase"].as_str(), done["steps_done"].as_u64()),
        (Some("done"), Some(3)),
        "{done}"
    );
    let screen = open_screen(&s, "").await;
    assert!(screen.body.contains("150 proposed"), "{}", screen.body);
}
