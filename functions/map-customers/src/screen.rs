//! The Map Customers screen: the filters and pages of its three tables (proposed pairs, and the
//! unmatched customers and companies to pair by hand), and the HTML of the screen and of the
//! answers to its forms. Every value is escaped; the pages run no script.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use shared::function_url::{LinkSigner, parsed};
use shared::sync::customers::map::Named;
use shared::sync::customers::map_job::{JobPhase, MapJob};
use shared::sync::customers::{ConfirmResult, MapView, ProposedPair};
use shared::web::{ApiError, escape_html};

/// Rows per page of the proposed pairs, and of each unmatched list: under 200 rows a page,
/// the tables' heads included.
pub const PROPOSALS_PER_PAGE: usize = 100;
pub const UNMATCHED_PER_PAGE: usize = 40;

/// The query parameters of `GET /` (HTML): the pages (signed) and the filter form's search
/// words (`q.*`, typed into the form and not covered by the signature). Searching starts every
/// table at page 1.
pub const SCREEN_PARAMS: &[&str] = &[
    "q.pairs",
    "q.min_confidence",
    "page",
    "q.customers",
    "col_page",
    "q.companies",
    "at_page",
];

/// What the screen shows: the text filters and confidence floor, and the page of each table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filters {
    pub q: String,
    pub min_confidence: u8,
    pub page: usize,
    pub col_q: String,
    pub col_page: usize,
    pub at_q: String,
    pub at_page: usize,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            q: String::new(),
            min_confidence: 0,
            page: 1,
            col_q: String::new(),
            col_page: 1,
            at_q: String::new(),
            at_page: 1,
        }
    }
}

impl Filters {
    pub fn parse(params: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let text = |name: &str| params.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        let min_confidence = parsed::<u8>(params, "q.min_confidence")?.unwrap_or(0);
        if min_confidence > 100 {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("the minimum confidence is {min_confidence}; it is a percentage from 0 to 100"),
            )
            .with_fix("Enter a minimum confidence from 0 to 100.")
            .with_details(serde_json::json!({ "field": "q.min_confidence" })));
        }
        Ok(Self {
            q: text("q.pairs"),
            min_confidence,
            page: page_number(params, "page")?,
            col_q: text("q.customers"),
            col_page: page_number(params, "col_page")?,
            at_q: text("q.companies"),
            at_page: page_number(params, "at_page")?,
        })
    }

    /// The minimum confidence as the filter form shows it (empty for none).
    pub fn min_confidence_text(&self) -> String {
        number_or_empty(self.min_confidence as usize, 0)
    }

    /// The query that shows this screen again (defaults left out; the search words ride along
    /// uncovered, as the filter form sends them).
    pub fn query(&self) -> Vec<(String, String)> {
        let pairs = [
            ("q.pairs", self.q.clone()),
            ("q.min_confidence", self.min_confidence_text()),
            ("page", number_or_empty(self.page, 1)),
            ("q.customers", self.col_q.clone()),
            ("col_page", number_or_empty(self.col_page, 1)),
            ("q.companies", self.at_q.clone()),
            ("at_page", number_or_empty(self.at_page, 1)),
        ];
        pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }
}

fn number_or_empty(n: usize, default: usize) -> String {
    if n == default { String::new() } else { n.to_string() }
}

fn page_number(params: &BTreeMap<String, String>, name: &str) -> Result<usize, ApiError> {
    match parsed::<usize>(params, name)? {
        None => Ok(1),
        Some(0) => Err(
            ApiError::bad_request("invalid_parameter", format!("{name} starts at 1"))
                .with_details(serde_json::json!({ "field": name })),
        ),
        Some(n) => Ok(n),
    }
}

/// One page of a filtered list.
#[derive(Debug, PartialEq)]
pub struct Paged<'a, T> {
    pub rows: Vec<&'a T>,
    /// The page shown (the last one when the asked page is past the end).
    pub page: usize,
    pub pages: usize,
    /// Rows matching the filter, on every page.
    pub matching: usize,
}

pub fn paginate<T>(matching: Vec<&T>, page: usize, per_page: usize) -> Paged<'_, T> {
    let pages = matching.len().div_ceil(per_page).max(1);
    let page = page.clamp(1, pages);
    let total = matching.len();
    let rows = matching
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    Paged {
        rows,
        page,
        pages,
        matching: total,
    }
}

fn contains(haystack: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty() || haystack.to_lowercase().contains(needle_lower)
}

/// The proposed pairs the filters keep, surest first.
pub fn proposals_shown<'a>(view: &'a MapView, f: &Filters) -> Paged<'a, ProposedPair> {
    let q = f.q.to_lowercase();
    let mut rows: Vec<&ProposedPair> = view
        .proposed
        .iter()
        .filter(|p| p.confidence >= f.min_confidence)
        .filter(|p| {
            contains(&p.col_id, &q)
                || contains(&p.col_name, &q)
                || contains(&p.at_id.to_string(), &q)
                || contains(&p.at_name, &q)
        })
        .collect();
    rows.sort_by(|a, b| b.confidence.cmp(&a.confidence).then_with(|| a.col_id.cmp(&b.col_id)));
    paginate(rows, f.page, PROPOSALS_PER_PAGE)
}

pub fn unmatched_shown<'a, Id: ToString>(list: &'a [Named<Id>], q: &str, page: usize) -> Paged<'a, Named<Id>> {
    let q = q.to_lowercase();
    let mut rows: Vec<&Named<Id>> = list
        .iter()
        .filter(|n| contains(&n.name, &q) || contains(&n.id.to_string(), &q))
        .collect();
    rows.sort_by_key(|n| n.name.to_lowercase());
    paginate(rows, page, UNMATCHED_PER_PAGE)
}

/// The single-use confirmations of the screen's forms, and its filter form (a signed GET,
/// `shared::app::call::search_form`).
pub struct Tokens {
    pub run: String,
    pub filter_form: String,
    pub confirm: String,
    pub pair: String,
}

const STYLE: &str = "body{font-family:sans-serif;margin:.8em 1em;max-width:62em}h1{margin:.2em 0}\
h2{margin:1em 0 .3em;font-size:1.2em}h3{margin:.3em 0;font-size:1em}\
table{border-collapse:collapse;width:100%}caption{text-align:left;color:#444;padding:.2em 0}\
td,th{border-bottom:1px solid #ddd;padding:.25em .4em;text-align:left;vertical-align:top}\
fieldset{display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:end}fieldset label{display:flex;flex-direction:column}\
button{font-size:1em;padding:.35em .9em}.sides{display:flex;gap:1em}.sides section{flex:1}\
.fix{background:#fff6d5;padding:.5em}.refused{color:#a00}nav a{margin-right:1em}\
:focus-visible{outline:2px solid #0a58ca;outline-offset:1px}";

/// A page of this function: the title, and `body` (already escaped). `refresh` is the
/// `content` of a `<meta http-equiv="refresh">` (a progress page reloading itself).
pub fn page(title: &str, refresh: Option<&str>, body: &str) -> String {
    let refresh = refresh
        .map(|r| format!("<meta http-equiv=\"refresh\" content=\"{}\">", escape_html(r)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}<title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape_html(title)
    )
}

fn hidden_token(token: &str) -> String {
    shared::web::hidden_input(shared::confirmation::FIELD, token)
}

fn when(at: Option<DateTime<Utc>>) -> String {
    match at {
        Some(t) => format!("Matching last ran on {} UTC.", t.format("%Y-%m-%d at %H:%M")),
        None => "Matching has not run yet: press Import and Map to read both systems.".into(),
    }
}

/// Seconds between two loads of the screen while Import and Map runs.
pub const REFRESH_SECS: u32 = 3;

/// The screen: counts, Import and Map (or its progress), the filters, the proposals to tick,
/// and the unmatched lists.
pub fn render_screen(
    view: &MapView,
    job: Option<&MapJob>,
    now: DateTime<Utc>,
    f: &Filters,
    tokens: &Tokens,
    link: LinkSigner<'_>,
) -> String {
    let proposals = proposals_shown(view, f);
    let cols = unmatched_shown(&view.col_unmatched, &f.col_q, f.col_page);
    let ats = unmatched_shown(&view.at_unmatched, &f.at_q, f.at_page);
    let counts = format!(
        "<p class=\"counts\">{} mapped, {} proposed; unmatched: {} ChannelOnline customer(s) and {} Autotask compan(ies).</p><p>{}</p>",
        view.mapped.len(),
        view.proposed.len(),
        view.col_unmatched.len(),
        view.at_unmatched.len(),
        escape_html(&when(view.ran_at)),
    );
    let running = job.is_some_and(|j| j.active(now));
    let body = [
        counts,
        job_section(job, running, &tokens.run),
        tokens.filter_form.clone(),
        proposals_form(&proposals, f, &tokens.confirm, link),
        pair_form(&cols, &ats, f, &tokens.pair, link),
    ]
    .concat();
    let refresh = REFRESH_SECS.to_string();
    page("Map Customers", running.then_some(refresh.as_str()), &body)
}

/// Import and Map: its progress while it runs (the page reloads itself), else the button, with
/// the reason when the last job stopped.
fn job_section(job: Option<&MapJob>, running: bool, token: &str) -> String {
    if let Some(job) = job.filter(|_| running) {
        let (done, of) = job.progress();
        let doing = match job.phase {
            JobPhase::Matching => "reading the Autotask companies and matching".to_owned(),
            _ => format!("reading ChannelOnline customers ({} read so far)", job.customers_read),
        };
        return format!(
            "<section class=\"job\" aria-live=\"polite\"><h2>Import and Map is running</h2>\
             <p><label for=\"job-progress\">Step {done} of about {of}: {}.</label> \
             <progress id=\"job-progress\" value=\"{done}\" max=\"{of}\">{done} of {of}</progress></p>\
             <p>This page reloads every {REFRESH_SECS} seconds until it is done. The proposals below are the previous run's.</p></section>",
            escape_html(&doing)
        );
    }
    let stopped = match job.map(|j| (&j.phase, j.running())) {
        Some((JobPhase::Failed { reason }, _)) => format!(
            "<p class=\"fix\">The last Import and Map stopped: {}. Press Import and Map to start again.</p>",
            escape_html(reason)
        ),
        Some((_, true)) => {
            "<p class=\"fix\">The last Import and Map stopped moving on. Press Import and Map to start again.</p>"
                .into()
        }
        _ => String::new(),
    };
    format!(
        "{stopped}<form method=\"post\" action=\"run\">{}<button type=\"submit\">Import and Map</button> \
         Reads every ChannelOnline customer and Autotask company in the background and proposes pairs. \
         Nothing is mapped until you confirm.</form>",
        hidden_token(token)
    )
}

/// Previous / next links to the pages of one table, the other tables kept where they are.
fn pager(
    label: &str,
    page: usize,
    pages: usize,
    f: &Filters,
    set: fn(&mut Filters, usize),
    link: LinkSigner<'_>,
) -> String {
    let mut out = format!(
        "<nav aria-label=\"{} pages\">Page {page} of {pages}. ",
        escape_html(label)
    );
    for (text, target) in [("Previous page", page.saturating_sub(1)), ("Next page", page + 1)] {
        if target >= 1 && target <= pages {
            let mut to = f.clone();
            set(&mut to, target);
            out.push_str(&format!(
                "<a href=\"{}\">{text}</a>",
                escape_html(&link("/", &to.query()))
            ));
        }
    }
    out.push_str("</nav>");
    out
}

fn proposals_form(p: &Paged<'_, ProposedPair>, f: &Filters, token: &str, link: LinkSigner<'_>) -> String {
    let mut rows = String::new();
    for (i, pair) in p.rows.iter().enumerate() {
        let reasons: Vec<String> = pair.reasons.iter().map(|r| r.describe()).collect();
        rows.push_str(&format!(
            "<tr><td><input type=\"checkbox\" id=\"pair-{i}\" name=\"set.pair.{}\" value=\"{}\"></td>\
             <td><label for=\"pair-{i}\">{} ({})</label></td><td>{} ({})</td><td>{}%</td><td>{}</td></tr>",
            escape_html(&pair.col_id),
            pair.at_id,
            escape_html(&pair.col_name),
            escape_html(&pair.col_id),
            escape_html(&pair.at_name),
            pair.at_id,
            pair.confidence,
            escape_html(&reasons.join("; ")),
        ));
    }
    if p.rows.is_empty() {
        rows.push_str("<tr><td colspan=\"5\">No proposed pair matches the filter.</td></tr>");
    }
    format!(
        "<h2 id=\"proposed\">Proposed pairs</h2><form method=\"post\" action=\"confirm\">\
         <table class=\"proposals\"><caption>{} pair(s) match; tick the ones that are the same company.</caption>\
         <thead><tr><th scope=\"col\">Map</th><th scope=\"col\">ChannelOnline customer</th>\
         <th scope=\"col\">Autotask company</th><th scope=\"col\">Confidence</th><th scope=\"col\">Why</th></tr></thead>\
         <tbody>{rows}</tbody></table>{}{}{}<p><button type=\"submit\">Confirm selected</button></p></form>",
        p.matching,
        pager("Proposed pairs", p.page, p.pages, f, |f, n| f.page = n, link),
        contacts_choice("create-proposed"),
        hidden_token(token),
    )
}

fn contacts_choice(id: &str) -> String {
    format!(
        "<p><input type=\"checkbox\" id=\"{id}\" name=\"set.create_missing_contacts\" value=\"yes\"> \
         <label for=\"{id}\">Also create Autotask contacts for the ChannelOnline contacts whose e-mail matches none \
         (contacts are matched by e-mail either way)</label></p>"
    )
}

fn side_table<Id: ToString>(caption: &str, name: &str, p: &Paged<'_, Named<Id>>, pager_html: String) -> String {
    let mut rows = String::new();
    for n in &p.rows {
        let id = n.id.to_string();
        let input_id = format!("{name}-{}", escape_html(&id));
        rows.push_str(&format!(
            "<tr><td><input type=\"radio\" id=\"{input_id}\" name=\"set.{name}\" value=\"{}\"></td>\
             <td><label for=\"{input_id}\">{}</label></td><td>{}</td></tr>",
            escape_html(&id),
            escape_html(&n.name),
            escape_html(&id),
        ));
    }
    if p.rows.is_empty() {
        rows.push_str("<tr><td colspan=\"3\">None matches the filter.</td></tr>");
    }
    format!(
        "<section><h3>{c}</h3><table><caption>{m} match.</caption><thead><tr><th scope=\"col\">Pick</th>\
         <th scope=\"col\">Name</th><th scope=\"col\">Number</th></tr></thead><tbody>{rows}</tbody></table>{pager_html}</section>",
        c = escape_html(caption),
        m = p.matching,
    )
}

fn pair_form(
    cols: &Paged<'_, Named<String>>,
    ats: &Paged<'_, Named<i64>>,
    f: &Filters,
    token: &str,
    link: LinkSigner<'_>,
) -> String {
    let col_pager = pager(
        "Unmatched customers",
        cols.page,
        cols.pages,
        f,
        |f, n| f.col_page = n,
        link,
    );
    let at_pager = pager(
        "Unmatched companies",
        ats.page,
        ats.pages,
        f,
        |f, n| f.at_page = n,
        link,
    );
    format!(
        "<h2 id=\"unmatched\">Pair by hand</h2><p>Pick one unmatched ChannelOnline customer and one unmatched Autotask company \
         that are the same company; use the filter above to find them.</p><form method=\"post\" action=\"confirm\">\
         <div class=\"sides\">{}{}</div>{}{}<p><button type=\"submit\">Map the picked customer to the picked company</button></p></form>",
        side_table("Unmatched ChannelOnline customers", "col", cols, col_pager),
        side_table("Unmatched Autotask companies", "at", ats, at_pager),
        contacts_choice("create-by-hand"),
        hidden_token(token),
    )
}

/// The answer to Confirm: one row per chosen pair, mapped or refused with the reason.
pub fn render_confirmed(message: &str, results: &[ConfirmResult], replayed: bool, back: &str) -> String {
    let mut rows = String::new();
    for r in results {
        let outcome = match (&r.status[..], &r.reason) {
            ("mapped", _) => "Mapped".to_owned(),
            (_, Some(reason)) => format!("Refused: {reason}"),
            _ => "Refused".to_owned(),
        };
        let matched: Vec<String> = r
            .contacts_matched
            .iter()
            .map(|c| match &c.by {
                shared::domain::customer::contacts::MatchedBy::Email { email } => {
                    format!("{} ↔ {} ({email})", c.col_id, c.at_id)
                }
                shared::domain::customer::contacts::MatchedBy::Name => format!("{} ↔ {} (by name)", c.col_id, c.at_id),
            })
            .collect();
        let created: Vec<String> = r
            .contacts_created
            .iter()
            .map(|c| format!("{} → {}", c.col_id, c.at_id))
            .collect();
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if r.status == "mapped" { "mapped" } else { "refused" },
            escape_html(&r.col_id),
            r.at_id,
            escape_html(&outcome),
            escape_html(&or_none(&matched)),
            escape_html(&or_none(&created)),
            r.col_contacts_unmatched.len() + r.at_contacts_unmatched.len(),
        ));
    }
    let again = if replayed {
        "<p class=\"fix\">This form was already submitted: this is its first answer again, nothing was written a second time.</p>"
    } else {
        ""
    };
    let body = format!(
        "<p class=\"message\">{}</p>{again}<table class=\"results\"><thead><tr><th scope=\"col\">ChannelOnline customer</th>\
         <th scope=\"col\">Autotask company</th><th scope=\"col\">Result</th><th scope=\"col\">Contacts matched</th>\
         <th scope=\"col\">Contacts created</th><th scope=\"col\">Contacts left unmatched</th></tr></thead><tbody>{rows}</tbody></table>{}",
        escape_html(message),
        back_link(back),
    );
    page("Map Customers: confirmed", None, &body)
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

pub fn back_link(href: &str) -> String {
    if href.is_empty() {
        return "<p>Open Map Customers again from ChannelOnline.</p>".into();
    }
    format!("<p><a href=\"{}\">Back to Map Customers</a></p>", escape_html(href))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: usize) -> Vec<Named<i64>> {
        (0..n as i64)
            .map(|id| Named {
                id,
                name: format!("Company {id:04}"),
            })
            .collect()
    }

    #[test]
    fn pages_hold_at_most_the_page_size_and_a_page_past_the_end_shows_the_last() {
        let list = named(100);
        let first = unmatched_shown(&list, "", 1);
        assert_eq!((first.rows.len(), first.pages, first.matching), (40, 3, 100));
        let past = unmatched_shown(&list, "", 9);
        assert_eq!((past.page, past.rows.len()), (3, 20));
        let filtered = unmatched_shown(&list, "company 001", 1);
        assert_eq!(filtered.matching, 10);
    }

    #[test]
    fn filters_round_trip_through_their_query_and_bad_values_are_refused() {
        let params: BTreeMap<String, String> = [("q.pairs", "acme"), ("q.min_confidence", "70"), ("at_page", "3")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let f = Filters::parse(&params).unwrap();
        assert_eq!((f.page, f.at_page, f.min_confidence), (1, 3, 70));
        let back: BTreeMap<String, String> = f.query().into_iter().collect();
        assert_eq!(back, params);
        let bad = |k: &str, v: &str| Filters::parse(&BTreeMap::from([(k.to_owned(), v.to_owned())])).unwrap_err();
        assert_eq!(bad("q.min_confidence", "101").details["field"], "q.min_confidence");
        assert_eq!(bad("page", "0").details["field"], "page");
        assert_eq!(bad("col_page", "x").code, "invalid_parameter");
    }

    #[test]
    fn the_screen_escapes_names_and_runs_no_script() {
        let view = MapView {
            mapped: vec![],
            run_id: None,
            ran_at: None,
            proposed: vec![],
            col_unmatched: vec![Named {
                id: "C\"1".into(),
                name: "<script>x</script>".into(),
            }],
            at_unmatched: named(1),
        };
        let tokens = Tokens {
            run: "r".into(),
            filter_form: String::new(),
            confirm: "c".into(),
            pair: "p".into(),
        };
        let html = render_screen(&view, None, Utc::now(), &Filters::default(), &tokens, &|_, _| {
            String::new()
        });
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("value=\"C&quot;1\""));
        assert!(html.contains("has not run yet"));
        assert!(html.contains(">Import and Map</button>") && !html.contains("http-equiv"));
    }

    #[test]
    fn while_the_job_runs_the_screen_shows_its_progress_and_reloads_itself() {
        let view = MapView {
            mapped: vec![],
            run_id: None,
            ran_at: None,
            proposed: vec![],
            col_unmatched: vec![],
            at_unmatched: vec![],
        };
        let t = DateTime::<Utc>::UNIX_EPOCH;
        let mut job = MapJob {
            job_id: "j".into(),
            started_at: t,
            updated_at: t,
            steps_done: 2,
            col_pages: 2,
            customers_read: 200,
            expected_customers: Some(500),
            phase: JobPhase::Reading { next_page: 3 },
        };
        let tokens = Tokens {
            run: "r".into(),
            filter_form: String::new(),
            confirm: "c".into(),
            pair: "p".into(),
        };
        let at = |minutes| t + chrono::Duration::minutes(minutes);
        let render_at = |job: &MapJob, now| {
            render_screen(&view, Some(job), now, &Filters::default(), &tokens, &|_, _| {
                String::new()
            })
        };
        let render = |job: &MapJob| render_at(job, at(1));
        let html = render(&job);
        assert!(
            html.contains("<progress id=\"job-progress\" value=\"2\" max=\"6\">"),
            "{html}"
        );
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"3\">"));
        assert!(html.contains("200 read so far") && !html.contains(">Import and Map</button>"));
        let lost = render_at(&job, at(60));
        assert!(
            lost.contains("stopped moving on") && lost.contains(">Import and Map</button>"),
            "{lost}"
        );
        job.phase = JobPhase::Failed {
            reason: "ChannelOnline <refused>".into(),
        };
        let html = render(&job);
        assert!(html.contains("stopped: ChannelOnline &lt;refused&gt;") && html.contains(">Import and Map</button>"));
        assert!(!html.contains("http-equiv"));
    }
}
