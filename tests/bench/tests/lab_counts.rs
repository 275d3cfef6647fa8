//! The lab's call meter against the real Autotask sandbox: queries count as reads, creates as
//! writes, zone lookups apart.

use bench::lab::{Lab, StoreKind};
use shared::autotask::entities::Company;
use shared::autotask::query::Query;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meter_tells_queries_from_creates() {
    // GIVEN a lab and a meter started before any Autotask call
    let dir = scratch("meter");
    let lab = Lab::start(&dir.join("secrets.json"), StoreKind::Memory).await.unwrap();
    let ctx = lab.context().await.unwrap();
    let meter = lab.meter();

    // WHEN the tenant's client runs one query and one create on Companies (both POSTs)
    let before: Vec<Company> = ctx
        .autotask
        .query(&Query::all().include_fields(["companyName"]))
        .await
        .unwrap();
    let company = Company {
        company_name: Some("Bench Meter Test Co".into()),
        company_type: Some(1),
        owner_resource_id: Some(lab.owner_resource_id),
        phone: Some("555-0100".into()),
        ..Company::default()
    };
    ctx.autotask.create_once(&company, || async { Ok(None) }).await.unwrap();

    // THEN the create is the one write, the query a read, and the zone lookup is kept apart
    let calls = lab.calls_since(&meter);
    assert!(!before.is_empty(), "the demo seed has companies");
    assert_eq!(calls.writes, 1, "{calls:?}");
    assert_eq!(calls.by_endpoint.get("POST Companies"), Some(&2), "{calls:?}");
    assert_eq!(calls.reads, calls.total - 1, "{calls:?}");
    assert_eq!(calls.zone_lookups, 1, "{calls:?}");
    assert!(calls.by_endpoint.keys().all(|k| !k.contains("zoneInformation")));
}
