//! The sandbox refuses what Autotask refuses, with Autotask's status and text (one test per rule).

use std::time::Duration;

use autotask_sandbox::{AutotaskSandbox, RunningSandbox, SandboxConfig};
use serde_json::{Value, json};

struct Api {
    sb: RunningSandbox,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Self {
        let sb = AutotaskSandbox::start(SandboxConfig {
            demo_seed: true,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        Self {
            sb,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let c = self.sb.config();
        self.send(
            method,
            &format!("{}{path}", self.sb.rest_base()),
            body,
            &c.secret,
            &c.integration_code,
        )
        .await
    }

    async fn send(&self, method: &str, url: &str, body: Option<Value>, secret: &str, code: &str) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("UserName", &self.sb.config().username)
            .header("Secret", secret)
            .header("ApiIntegrationCode", code);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn first_error(v: &Value) -> String {
    v["errors"][0].as_str().unwrap_or_default().to_owned()
}

const DANA: i64 = 29682885;

#[tokio::test]
async fn missing_required_fields_are_refused_with_500() {
    let api = Api::start().await;
    let (status, body) = api
        .call("POST", "/V1.0/Companies", Some(json!({"companyName": "X"})))
        .await;
    assert_eq!(status, 500);
    let errors: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for f in ["companyType", "ownerResourceID", "phone"] {
        assert!(
            errors.contains(&format!("Missing Required Field: {f}").as_str()),
            "{errors:?}"
        );
    }
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Opportunities",
            Some(json!({"title": "T", "companyID": 29682850})),
        )
        .await;
    assert_eq!(status, 500);
    assert!(
        body["errors"].as_array().unwrap().len() >= 8,
        "Opportunity needs 11 fields: {body}"
    );
}

#[tokio::test]
async fn root_writes_on_child_entities_are_404() {
    let api = Api::start().await;
    let (status, _) = api
        .call(
            "POST",
            "/V1.0/Contacts",
            Some(json!({"companyID": 29682850, "firstName": "A", "lastName": "B", "isActive": 1})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api.call("POST", "/V1.0/QuoteItems", Some(json!({"quoteID": 1}))).await;
    assert_eq!(status, 404);
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies/29682850/Contacts",
            Some(json!({"firstName": "A", "lastName": "B", "isActive": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn patch_on_an_item_url_is_405() {
    let api = Api::start().await;
    let (status, body) = api
        .call("PATCH", "/V1.0/Companies/29682850", Some(json!({"phone": "1"})))
        .await;
    assert_eq!(status, 405);
    assert_eq!(
        body["Message"],
        "The requested resource does not support http method 'PATCH'."
    );
}

#[tokio::test]
async fn get_on_a_post_next_page_url_is_405_and_post_works() {
    let api = Api::start().await;
    let q = json!({"filter": [{"op": "gte", "field": "id", "value": 0}], "maxRecords": 2});
    let (status, page) = api.call("POST", "/V1.0/Companies/query", Some(q.clone())).await;
    assert_eq!(status, 200);
    let next = page["pageDetails"]["nextPageUrl"].as_str().unwrap().to_owned();
    let c = api.sb.config();
    let (status, _) = api.send("GET", &next, None, &c.secret, &c.integration_code).await;
    assert_eq!(status, 405);
    let (status, page2) = api.send("POST", &next, Some(q), &c.secret, &c.integration_code).await;
    assert_eq!(status, 200);
    assert_eq!(
        page2["items"].as_array().unwrap().len(),
        1,
        "3 demo companies, 2 per page"
    );
}

#[tokio::test]
async fn max_records_over_500_is_refused() {
    let api = Api::start().await;
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies/query",
            Some(json!({"filter": [{"op": "exist", "field": "id"}], "maxRecords": 501})),
        )
        .await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("MaxRecords"), "{body}");
}

#[tokio::test]
async fn unknown_and_non_queryable_fields_are_refused() {
    let api = Api::start().await;
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Contacts/query",
            Some(json!({"filter": [{"op": "eq", "field": "isActiveX", "value": 1}]})),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(first_error(&body), "Unable to find isActiveX in the Entity.");
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies/query",
            Some(json!({"filter": [{"op": "eq", "field": "sicCode", "value": "1"}]})),
        )
        .await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("sicCode"), "{body}");
}

#[tokio::test]
async fn more_than_500_in_values_are_refused() {
    let api = Api::start().await;
    let ids: Vec<i64> = (0..501).collect();
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies/query",
            Some(json!({"filter": [{"op": "in", "field": "id", "value": ids}]})),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        first_error(&body),
        "Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions."
    );
}

#[tokio::test]
async fn keys_and_field_names_are_case_insensitive_and_results_sorted_by_id() {
    let api = Api::start().await;
    let (status, body) = api
        .call("POST", "/v1.0/companies/QUERY", Some(json!({"Filter": [{"op": "contains", "field": "COMPANYNAME", "value": "inc"}], "IncludeFields": ["companyname"]})))
        .await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["companyName"], "Fabrikam Inc");
    assert!(
        items[0].get("phone").is_none(),
        "includeFields returns only those fields"
    );
}

#[tokio::test]
async fn picklist_and_reference_values_must_exist() {
    let api = Api::start().await;
    let base = json!({"companyName": "X", "companyType": 99, "ownerResourceID": DANA, "phone": "1"});
    let (status, body) = api.call("POST", "/V1.0/Companies", Some(base)).await;
    assert_eq!(status, 500);
    assert_eq!(
        first_error(&body),
        "Value does not reference an existing entity for companyType . "
    );
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies/29682850/Contacts",
            Some(json!({"firstName": "A", "lastName": "B", "isActive": 1, "countryID": 5, "companyLocationID": 1})),
        )
        .await;
    assert_eq!(status, 500);
    assert!(
        first_error(&body).starts_with("Value does not reference an existing entity for companyLocationID"),
        "{body}"
    );
}

#[tokio::test]
async fn an_api_user_or_inactive_resource_cannot_own_a_company() {
    let api = Api::start().await;
    for owner in [api.sb.state().api_user_resource_id(), 29682887] {
        let (status, body) = api
            .call(
                "POST",
                "/V1.0/Companies",
                Some(json!({"companyName": "X", "companyType": 1, "ownerResourceID": owner, "phone": "1"})),
            )
            .await;
        assert_eq!(status, 500);
        assert!(
            first_error(&body).starts_with("An unexpected error has occurred."),
            "{body}"
        );
    }
}

#[tokio::test]
async fn contact_is_active_must_be_an_integer() {
    let api = Api::start().await;
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies/29682850/Contacts",
            Some(json!({"firstName": "A", "lastName": "B", "isActive": true})),
        )
        .await;
    assert_eq!(status, 500);
    assert!(
        first_error(&body).starts_with("Unexpected character encountered while parsing value: t"),
        "{body}"
    );
}

async fn quote(api: &Api) -> i64 {
    let (_, loc) = api
        .call("POST", "/V1.0/QuoteLocations", Some(json!({"city": "X"})))
        .await;
    let loc = loc["itemId"].as_i64().unwrap();
    let (status, q) = api
        .call("POST", "/V1.0/Quotes", Some(json!({"opportunityID": 29682870, "name": "Q", "effectiveDate": "2026-12-01T00:00:00Z",
            "expirationDate": "2026-12-31T00:00:00Z", "billToLocationID": loc, "shipToLocationID": loc, "soldToLocationID": loc})))
        .await;
    assert_eq!(status, 200, "{q}");
    q["itemId"].as_i64().unwrap()
}

#[tokio::test]
async fn quote_items_allow_one_item_field_and_one_discount() {
    let api = Api::start().await;
    let qid = quote(&api).await;
    let line = |extra: Value| {
        let mut b = json!({"quoteItemType": 1, "quantity": 1, "isOptional": false, "unitDiscount": 0, "percentageDiscount": 0, "lineDiscount": 0});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    let path = format!("/V1.0/Quotes/{qid}/Items");
    let (status, body) = api
        .call(
            "POST",
            &path,
            Some(line(json!({"productID": 29682820, "serviceID": 29682830}))),
        )
        .await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("only one 'Item' field"), "{body}");
    let (status, body) = api
        .call(
            "POST",
            &path,
            Some(line(
                json!({"productID": 29682820, "unitDiscount": 5, "lineDiscount": 5}),
            )),
        )
        .await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("only one type of discount"), "{body}");
    let (status, _) = api
        .call(
            "POST",
            &path,
            Some(line(json!({"productID": 29682820, "unitDiscount": 5}))),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn quote_numbers_are_assigned_and_read_only() {
    let api = Api::start().await;
    let a = quote(&api).await;
    let b = quote(&api).await;
    let n = |id| {
        api.sb.state().get("Quotes", id).unwrap()["quoteNumber"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(n(b), n(a) + 1);
    let (status, _) = api
        .call("PATCH", "/V1.0/Quotes", Some(json!({"id": a, "quoteNumber": 5})))
        .await;
    assert_eq!(status, 200);
    assert_ne!(n(a), 5, "read-only fields are ignored");
}

#[tokio::test]
async fn a_company_create_adds_a_primary_location_and_a_create_date() {
    let api = Api::start().await;
    let before = api.sb.state().count("CompanyLocations");
    let (status, body) = api.call("POST", "/V1.0/Companies", Some(json!({"companyName": "New", "companyType": 1, "ownerResourceID": DANA, "phone": "1", "createDate": "2001-01-01T00:00:00Z"}))).await;
    assert_eq!(status, 200);
    let id = body["itemId"].as_i64().unwrap();
    assert_eq!(api.sb.state().count("CompanyLocations"), before + 1);
    let rec = api.sb.state().get("Companies", id).unwrap();
    assert!(rec["createDate"].as_str().unwrap().ends_with('Z'));
    assert!(
        !rec["createDate"].as_str().unwrap().starts_with("2001"),
        "read-only createDate is server-set"
    );
}

#[tokio::test]
async fn bad_secret_is_401_and_bad_integration_code_is_500() {
    let api = Api::start().await;
    let url = format!("{}/V1.0/Companies/29682850", api.sb.rest_base());
    let c = api.sb.config();
    let (status, _) = api.send("GET", &url, None, "wrong", &c.integration_code).await;
    assert_eq!(status, 401);
    let (status, body) = api.send("GET", &url, None, &c.secret, "WRONG").await;
    assert_eq!(status, 500);
    assert_eq!(first_error(&body), "IntegrationCode is invalid.");
}

#[tokio::test]
async fn the_hourly_limit_answers_429_with_retry_after() {
    let api = Api::start().await;
    api.sb.state().set_requests_this_hour(10_000);
    let resp = api
        .http
        .get(format!("{}/V1.0/Companies/29682850", api.sb.rest_base()))
        .header("UserName", &api.sb.config().username)
        .header("Secret", &api.sb.config().secret)
        .header("ApiIntegrationCode", &api.sb.config().integration_code)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "60");
}

#[tokio::test]
async fn a_fourth_concurrent_call_on_one_endpoint_hits_the_thread_limit() {
    let api = Api::start().await;
    api.sb.counters().set_latency(Duration::from_millis(200));
    let calls = (0..4).map(|_| api.call("GET", "/V1.0/Companies/29682850", None));
    let results = futures_util::future::join_all(calls).await;
    let refused: Vec<&(u16, Value)> = results.iter().filter(|(s, _)| *s != 200).collect();
    assert_eq!(refused.len(), 1, "{results:?}");
    assert_eq!(
        first_error(&refused[0].1),
        "Itgenatr005: Thread Threshold Exceeded — The Autotask API thread threshold of 3 threads has been exceeded."
    );
    assert_eq!(api.sb.counters().peak_in_flight("Companies"), 4);
}

#[tokio::test]
async fn deletes_only_where_autotask_allows_them() {
    let api = Api::start().await;
    let (status, _) = api.call("DELETE", "/V1.0/Companies/29682850", None).await;
    assert_eq!(status, 405);
    let (status, body) = api.call("DELETE", "/V1.0/ServiceBundles/1", None).await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("No matching records found"));
    let (status, body) = api.call("DELETE", "/V1.0/ServiceBundles/29682840", None).await;
    assert_eq!((status, body["itemId"].as_i64()), (200, Some(29682840)));
    let (status, _) = api.call("GET", "/V1.0/ServiceBundles/29682840", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn zone_lookup_of_an_unknown_user_is_500() {
    let api = Api::start().await;
    let resp = api
        .http
        .get(format!("{}?user=nobody@x.example", api.sb.zone_lookup_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(first_error(&body), "Zone information could not be determined");
}

#[tokio::test]
async fn an_opportunity_update_moves_last_activity_and_its_status_has_labels() {
    // GIVEN an opportunity untouched since January and a status picklist
    let api = Api::start().await;
    api.sb
        .state()
        .set_picklist("Opportunities", "status", &[(1, "Active"), (3, "Closed")]);
    let old = "2026-01-01T00:00:00.000Z";
    let company = api
        .sb
        .state()
        .insert("Companies", json!({"companyName": "Opp Co", "isActive": true}));
    let id = api.sb.state().add_opportunity(company, DANA, "Refresh");
    let mut rec = api.sb.state().get("Opportunities", id).unwrap();
    rec["lastActivity"] = json!(old);
    api.sb.state().insert("Opportunities", rec);
    // WHEN its status is PATCHed to Closed
    let (status, _) = api
        .call("PATCH", "/V1.0/Opportunities", Some(json!({"id": id, "status": 3})))
        .await;
    assert_eq!(status, 200);
    // THEN a `lastActivity gt <checkpoint>` query finds it
    let since = json!({"filter": [{"op": "gt", "field": "lastActivity", "value": old}], "includeFields": ["id", "lastActivity"]});
    let (_, after) = api.call("POST", "/V1.0/Opportunities/query", Some(since)).await;
    let items = after["items"].as_array().unwrap();
    assert!(items.iter().any(|o| o["id"] == id), "{after}");
    // AND entityInformation lists the status labels
    let (_, fields) = api
        .call("GET", "/V1.0/Opportunities/entityInformation/fields", None)
        .await;
    let status_field = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "status")
        .unwrap();
    assert_eq!(status_field["picklistValues"][1]["label"], "Closed", "{status_field}");
}

#[tokio::test]
async fn every_update_moves_last_activity_date_so_the_bulk_feed_sees_it() {
    // GIVEN a company untouched since January
    let api = Api::start().await;
    let old = "2026-01-01T00:00:00.000Z";
    let id = api.sb.state().insert(
        "Companies",
        json!({"companyName": "Still", "companyType": 1, "ownerResourceID": DANA, "phone": "1",
               "isActive": true, "lastActivityDate": old}),
    );
    let changed_since_january = json!({"filter": [{"op": "gt", "field": "lastActivityDate", "value": old}]});
    let (_, before) = api
        .call("POST", "/V1.0/Companies/query", Some(changed_since_january.clone()))
        .await;
    assert!(
        before["items"].as_array().unwrap().iter().all(|c| c["id"] != id),
        "{before}"
    );
    // WHEN it is PATCHed with the value it already has
    let (status, _) = api
        .call("PATCH", "/V1.0/Companies", Some(json!({"id": id, "phone": "1"})))
        .await;
    assert_eq!(status, 200);
    // THEN lastActivityDate moved and the `gt <checkpoint>` query finds it
    let (_, got) = api.call("GET", &format!("/V1.0/Companies/{id}"), None).await;
    let stamp = got["item"]["lastActivityDate"].as_str().unwrap();
    assert!(stamp > old, "{stamp}");
    let (_, after) = api
        .call("POST", "/V1.0/Companies/query", Some(changed_since_january))
        .await;
    assert!(
        after["items"].as_array().unwrap().iter().any(|c| c["id"] == id),
        "{after}"
    );
}

#[tokio::test]
async fn a_get_url_over_2048_characters_is_refused_with_404() {
    let api = Api::start().await;
    let search = |n: i64| json!({"filter": [{"op": "in", "field": "id", "value": (0..n).map(|i| 29_682_000 + i).collect::<Vec<_>>()}]});
    let get = |q: &Value| {
        let enc: String = url::form_urlencoded::byte_serialize(q.to_string().as_bytes()).collect();
        format!("/V1.0/Companies/query?search={enc}")
    };
    // GIVEN a search short enough for a GET, and one that makes the URL over 2,048 characters
    let short = get(&search(5));
    let long = get(&search(200));
    assert!(api.sb.rest_base().len() + short.len() <= 2048);
    assert!(api.sb.rest_base().len() + long.len() > 2048);
    // THEN the short GET works, the long one is IIS's 404.15, and the same filter POSTed works
    let (status, body) = api.call("GET", &short, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.call("GET", &long, None).await;
    assert_eq!(status, 404);
    assert!(body.as_str().unwrap().contains("query string is too long"), "{body}");
    let (status, body) = api.call("POST", "/V1.0/Companies/query", Some(search(200))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_quote_item_type_must_match_its_item_field_read_by_picklist_label() {
    // GIVEN an instance whose quoteItemType codes are not the usual numbers
    let api = Api::start().await;
    api.sb.state().set_picklist(
        "QuoteItems",
        "quoteItemType",
        &[(21, "Service"), (22, "Product"), (23, "Discount"), (24, "Labor")],
    );
    let qid = quote(&api).await;
    let path = format!("/V1.0/Quotes/{qid}/Items");
    let post = |ty: i64, item: Value| {
        let mut b = json!({"quoteItemType": ty, "quantity": 1, "isOptional": false, "unitDiscount": 0,
                           "percentageDiscount": 0, "lineDiscount": 0, "unitPrice": 10});
        b.as_object_mut().unwrap().extend(item.as_object().unwrap().clone());
        api.call("POST", &path, Some(b))
    };
    // THEN the matching field is accepted, by label
    assert_eq!(post(22, json!({"productID": 29682820})).await.0, 200);
    assert_eq!(post(21, json!({"serviceID": 29682830})).await.0, 200);
    assert_eq!(post(23, json!({})).await.0, 200);
    // AND another item field, none, or one on a type that has none is refused
    let (status, body) = post(21, json!({"productID": 29682820})).await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("requires serviceID"), "{body}");
    let (status, body) = post(22, json!({})).await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("requires productID"), "{body}");
    let (status, body) = post(23, json!({"productID": 29682820})).await;
    assert_eq!(status, 500);
    assert!(first_error(&body).contains("takes no 'Item' field"), "{body}");
    // AND the usual Product code 1 means nothing on this instance
    let (status, body) = post(1, json!({"productID": 29682820})).await;
    assert_eq!(status, 500);
    assert_eq!(
        first_error(&body),
        "Value does not reference an existing entity for quoteItemType . "
    );
}

#[tokio::test]
async fn user_defined_fields_are_checked_against_the_entity_metadata() {
    // GIVEN Companies with two UDFs (seeded the way a fixture does)
    let api = Api::start().await;
    api.sb.state().load_fixture(&json!({"userDefinedFields": {"Companies": [
        {"name": "Customer Ranking"}, {"name": "ChannelOnline Number", "length": 50}
    ]}}));
    // THEN the metadata lists them
    let (status, meta) = api
        .call("GET", "/V1.0/Companies/entityInformation/userDefinedFields", None)
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = meta["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Customer Ranking", "ChannelOnline Number"]);
    assert_eq!(meta["fields"][1]["length"], 50);
    // AND a known UDF is written, an unknown one refused with Autotask's text
    let company = |udfs: Value| json!({"companyName": "U", "companyType": 1, "ownerResourceID": DANA, "phone": "1", "userDefinedFields": udfs});
    let (status, created) = api
        .call(
            "POST",
            "/V1.0/Companies",
            Some(company(json!([{"name": "Customer Ranking", "value": "Gold"}]))),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["itemId"].as_i64().unwrap();
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies",
            Some(company(json!([{"name": "Favourite Colour", "value": "Blue"}]))),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(first_error(&body), "Unable to find Favourite Colour in the Entity.");
    let (status, _) = api
        .call(
            "POST",
            "/V1.0/Companies",
            Some(company(json!({"Customer Ranking": "Gold"}))),
        )
        .await;
    assert_eq!(status, 500, "a flat object is not the UDF shape");
    // AND a PATCH changes only the UDFs it sends
    let (status, _) = api
        .call(
            "PATCH",
            "/V1.0/Companies",
            Some(json!({"id": id, "userDefinedFields": [{"name": "ChannelOnline Number", "value": "C-1"}]})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, got) = api.call("GET", &format!("/V1.0/Companies/{id}"), None).await;
    let udfs = got["item"]["userDefinedFields"].as_array().unwrap();
    assert!(
        udfs.contains(&json!({"name": "Customer Ranking", "value": "Gold"})),
        "{got}"
    );
    assert!(
        udfs.contains(&json!({"name": "ChannelOnline Number", "value": "C-1"})),
        "{got}"
    );
    // AND queries accept the known UDF and refuse an unknown one
    let (status, found) = api
        .call(
            "POST",
            "/V1.0/Companies/query",
            Some(json!({"filter": [{"op": "eq", "field": "Customer Ranking", "value": "Gold", "udf": true}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["items"][0]["id"], id);
    let (status, body) = api
        .call(
            "POST",
            "/V1.0/Companies/query",
            Some(json!({"filter": [{"op": "eq", "field": "Favourite Colour", "value": "Blue", "udf": true}]})),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(first_error(&body), "Unable to find Favourite Colour in the Entity.");
}

#[tokio::test]
async fn the_admin_fixture_call_seeds_user_defined_fields_and_records() {
    let api = Api::start().await;
    let resp = api
        .http
        .post(format!("{}/__admin/fixture", api.sb.base_url()))
        .json(&json!({"userDefinedFields": {"Contacts": [{"name": "Newsletter"}]},
                      "records": {"Roles": [{"id": 77, "name": "Architect", "hourlyRate": 200.0, "isActive": true}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (_, meta) = api
        .call("GET", "/V1.0/Contacts/entityInformation/userDefinedFields", None)
        .await;
    assert_eq!(meta["fields"][0]["name"], "Newsletter");
    assert_eq!(meta["fields"][0]["label"], "Newsletter");
    let (status, role) = api.call("GET", "/V1.0/Roles/77", None).await;
    assert_eq!(status, 200);
    assert_eq!(role["item"]["name"], "Architect");
    let resp = api
        .http
        .post(format!("{}/__admin/fixture", api.sb.base_url()))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}
