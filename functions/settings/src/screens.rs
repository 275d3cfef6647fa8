//! The HTML of the setup screens: one layout with the screens' tabs, forms whose hidden fields
//! carry a single-use confirmation token, labelled dropdowns and inputs, and errors shown at
//! the field they are about. No script: the pages work with the keyboard and plain HTML forms.

use std::collections::BTreeMap;

use shared::app::confirm::CHOICE_PREFIX;
use shared::confirmation;
use shared::web::escape_html;

use crate::options::Choice;

/// The screens, in the order an admin sets a tenant up: (route, tab label).
pub const SCREENS: [(&str, &str); 5] = [
    ("/", "Connection"),
    ("/sales-reps", "Sales reps"),
    ("/field-mapping", "Field mapping"),
    ("/runs", "Sync runs"),
    ("/audit", "Audit trail"),
];

/// Makes a signed link to a route of this function with query parameters.
pub type Link<'a> = &'a (dyn Fn(&str, &[(String, String)]) -> String + Send + Sync);

const STYLE: &str = "body{font-family:sans-serif;margin:1em 1.5em;max-width:60em}\
nav a{margin-right:1em}nav a[aria-current]{font-weight:bold;text-decoration:none;color:#000}\
table{border-collapse:collapse}th,td{text-align:left;padding:.25em .6em .25em 0;vertical-align:top}\
fieldset{margin:1em 0;border:1px solid #ccc}legend{font-weight:bold}\
.error{color:#a00}.notice{background:#fff6d5;padding:.5em}.ok{background:#e6f4e6;padding:.5em}\
.hint{color:#555;font-size:.9em}button{font-size:1.05em;padding:.3em 1em}\
input[type=text],input[type=password],input[type=email]{width:22em}select{max-width:28em}";

/// A whole page: the tabs (with `current` marked), then `body`.
pub fn page(title: &str, current: &str, link: Link<'_>, body: &str) -> String {
    let tabs: String = SCREENS
        .iter()
        .map(|(route, label)| {
            let mark = if *route == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!(
                "<a href=\"{}\"{mark}>{}</a>",
                escape_html(&link(route, &[])),
                escape_html(label)
            )
        })
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><nav aria-label=\"Setup screens\">{tabs}</nav><h1>{t}</h1>{body}</body></html>",
        t = escape_html(title)
    )
}

/// What a field of a form offers.
pub enum Input {
    /// A dropdown; the empty value reads `empty` ("— not mapped —").
    Select {
        choices: Vec<Choice>,
        empty: &'static str,
    },
    Text,
    /// A secret: never shown, only whether it is set; left empty it keeps the stored one.
    Secret {
        set: bool,
    },
    Number {
        min: i64,
        max: i64,
    },
}

/// One labelled field of a form: the `set.<name>` the form posts, and its current value.
pub struct Field {
    pub name: String,
    pub label: String,
    pub input: Input,
    pub value: String,
    pub hint: Option<String>,
}

impl Field {
    pub fn new(name: impl Into<String>, label: impl Into<String>, input: Input, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            input,
            value: value.into(),
            hint: None,
        }
    }

    /// How `value` reads on this field: a dropdown's label, "empty" for nothing.
    pub fn display(&self, value: &str) -> String {
        if value.is_empty() {
            return "empty".into();
        }
        match &self.input {
            Input::Select { choices, .. } => choices
                .iter()
                .find(|c| c.value == value)
                .map_or_else(|| format!("#{value}"), |c| c.label.clone()),
            _ => value.to_owned(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A titled group of fields.
pub struct Group {
    pub legend: String,
    pub intro: Option<String>,
    pub fields: Vec<Field>,
}

/// A form posting to `action` (relative) with the token and `fixed` fields hidden, the groups
/// as labelled rows, `errors` (by field name) beside their fields, and one submit button.
pub fn form(
    action: &str,
    token: &str,
    fixed: &BTreeMap<String, String>,
    groups: &[Group],
    errors: &BTreeMap<String, String>,
    button: &str,
) -> String {
    let mut hidden = shared::web::hidden_input(confirmation::FIELD, token);
    for (k, v) in fixed {
        hidden.push_str(&shared::web::hidden_input(k, v));
    }
    let mut n = 0;
    let body: String = groups
        .iter()
        .map(|g| {
            let rows: String = g
                .fields
                .iter()
                .map(|f| {
                    n += 1;
                    // Ids are unique on the page: each form posts to its own action.
                    row(f, &format!("{action}-{n}"), errors.get(&f.name))
                })
                .collect();
            let intro = g
                .intro
                .as_ref()
                .map(|i| format!("<p class=\"hint\">{}</p>", escape_html(i)))
                .unwrap_or_default();
            format!(
                "<fieldset><legend>{}</legend>{intro}<table>{rows}</table></fieldset>",
                escape_html(&g.legend)
            )
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"{}\">{hidden}{body}<p><button type=\"submit\">{}</button></p></form>",
        escape_html(action),
        escape_html(button)
    )
}

fn row(f: &Field, id: &str, error: Option<&String>) -> String {
    let name = escape_html(&format!("{CHOICE_PREFIX}{}", f.name));
    let described = if error.is_some() {
        format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error\"")
    } else {
        String::new()
    };
    let control = match &f.input {
        Input::Select { choices, empty } => select(id, &name, &described, choices, empty, &f.value),
        Input::Text => format!(
            "<input type=\"text\" id=\"{id}\" name=\"{name}\" value=\"{}\"{described}>",
            escape_html(&f.value)
        ),
        Input::Secret { set } => format!(
            "<input type=\"password\" id=\"{id}\" name=\"{name}\" value=\"\" autocomplete=\"new-password\" \
             placeholder=\"{}\"{described}>",
            if *set { "set (leave empty to keep)" } else { "not set" }
        ),
        Input::Number { min, max } => format!(
            "<input type=\"number\" id=\"{id}\" name=\"{name}\" min=\"{min}\" max=\"{max}\" value=\"{}\"{described}>",
            escape_html(&f.value)
        ),
    };
    let hint = f
        .hint
        .as_ref()
        .map(|h| format!("<div class=\"hint\">{}</div>", escape_html(h)))
        .unwrap_or_default();
    let error = error
        .map(|e| format!("<div class=\"error\" id=\"{id}-error\">{}</div>", escape_html(e)))
        .unwrap_or_default();
    format!(
        "<tr><th><label for=\"{id}\">{}</label></th><td>{control}{hint}{error}</td></tr>",
        escape_html(&f.label)
    )
}

fn select(id: &str, name: &str, described: &str, choices: &[Choice], empty: &str, value: &str) -> String {
    let mut options = format!("<option value=\"\">{}</option>", escape_html(empty));
    let mut seen = value.is_empty();
    for c in choices {
        let selected = if c.value == value {
            seen = true;
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            escape_html(&c.value),
            escape_html(&c.label)
        ));
    }
    if !seen {
        // A saved value Autotask no longer offers stays visible (and saved) rather than vanishing.
        options.push_str(&format!(
            "<option value=\"{v}\" selected>#{v} (no longer offered by Autotask)</option>",
            v = escape_html(value)
        ));
    }
    format!("<select id=\"{id}\" name=\"{name}\"{described}>{options}</select>")
}

/// A paragraph of the given class (`notice`, `ok`, `error`).
pub fn para(class: &str, text: &str) -> String {
    format!("<p class=\"{class}\">{}</p>", escape_html(text))
}

/// A table of label/value rows.
pub fn facts(rows: &[(String, String)]) -> String {
    let rows: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape_html(k), escape_html(v)))
        .collect();
    format!("<table>{rows}</table>")
}

/// A link with its text.
pub fn anchor(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape_html(href), escape_html(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_labels_every_field_marks_errors_and_escapes_values() {
        let groups = [Group {
            legend: "Payment terms".into(),
            intro: None,
            fields: vec![
                Field::new(
                    "pay.Net <30>",
                    "Net <30>",
                    Input::Select {
                        choices: vec![Choice {
                            value: "7".into(),
                            label: "Net 30 \"days\"".into(),
                        }],
                        empty: "— not mapped —",
                    },
                    "7",
                ),
                Field::new("secret", "Secret", Input::Secret { set: true }, "ignored"),
            ],
        }];
        let errors = BTreeMap::from([("secret".to_owned(), "too short".to_owned())]);
        let fixed = BTreeMap::from([("version".to_owned(), "4".to_owned())]);
        let html = form("sales-reps", "c1~tok", &fixed, &groups, &errors, "Save");
        assert!(
            html.contains("<label for=\"sales-reps-1\">Net &lt;30&gt;</label>"),
            "{html}"
        );
        assert!(html.contains("name=\"set.pay.Net &lt;30&gt;\""), "{html}");
        assert!(html.contains("<option value=\"7\" selected>Net 30 &quot;days&quot;</option>"));
        assert!(html.contains("name=\"version\" value=\"4\""));
        assert!(html.contains("name=\"confirmation\" value=\"c1~tok\""));
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"sales-reps-2-error\""));
        assert!(html.contains("<div class=\"error\" id=\"sales-reps-2-error\">too short</div>"));
        // a secret's value is never put on the page
        assert!(!html.contains("ignored"));
    }

    #[test]
    fn a_saved_value_autotask_no_longer_offers_stays_selected() {
        let html = select("f1", "set.x", "", &[], "none", "42");
        assert!(html.contains("<option value=\"42\" selected>#42 (no longer offered by Autotask)</option>"));
        let html = select("f1", "set.x", "", &[], "none", "");
        assert!(!html.contains("selected"));
    }
}
