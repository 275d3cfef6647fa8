//! The chaos suite (see `e2e::chaos`): a seeded script through the real binaries with faults on
//! ≥ 10 % of the write calls of both systems and some invocations killed at their deadline; then
//! the same script without faults; both must end in the same state, with no duplicate and no
//! lost mapping, every failure told truthfully. `CHAOS_OPS` (default 200) and `CHAOS_SEED` set
//! the size and the seed (`CHAOS_OPS=2000` for the large run).

use std::sync::Arc;

use e2e::chaos::{
    ChaosConfig, ChaosStack, Findings, RunReport, Script, add_line_script, check, import_script, run, script,
};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn print(label: &str, r: &RunReport) {
    println!(
        "{label}: {} operations {:?}, {} invocations ({} killed), {} operations retried, answers {:?}, {:.1} s",
        r.operations,
        r.by_kind,
        r.invocations,
        r.killed,
        r.retried_operations,
        r.answers,
        r.elapsed.as_secs_f64()
    );
    println!("{label}: Autotask faults {:?}", r.autotask_faults);
    println!("{label}: ChannelOnline faults {:?}", r.channelonline_faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_leaves_no_duplicate_no_lost_mapping_and_the_fault_free_state() {
    // GIVEN a seeded script of customer, import, document and add-line operations
    let config = ChaosConfig {
        seed: env_or("CHAOS_SEED", 20261202),
        operations: env_or("CHAOS_OPS", 200),
        fault_rate: 0.12,
        // 10 % of the calls at least on every write route (the sandboxes catch a route up)
        kill_rate: env_or("CHAOS_KILL_RATE", 0.04),
    };
    let script = script(config.seed, config.operations);
    assert!(script.operations() >= config.operations);

    // WHEN it runs with faults on every write route and killed invocations, and at the same
    // time on a second stack without faults
    let chaos = Arc::new(ChaosStack::start(&script).await);
    chaos.set_faults(config.seed, Some(config.fault_rate));
    let calm = Arc::new(ChaosStack::start(&script).await);
    let calm_config = ChaosConfig {
        fault_rate: 0.0,
        kill_rate: 0.0,
        ..config.clone()
    };
    let (a, b) = (chaos.clone(), calm.clone());
    let (s1, s2, c1) = (Arc::new(script.clone()), Arc::new(script.clone()), config.clone());
    let faulty = tokio::spawn(async move { run(&a, &s1, &c1).await });
    let fault_free = tokio::spawn(async move { run(&b, &s2, &calm_config).await });
    let (report, calm_report) = (faulty.await.unwrap(), fault_free.await.unwrap());
    print("chaos", &report);
    print("fault-free", &calm_report);
    chaos.set_faults(config.seed, None);
    let found = check(&chaos, &script).await;
    let expected = check(&calm, &script).await;

    // THEN every operation completed, every answer was true, nothing is duplicated or unmapped
    assert!(
        report.gave_up.is_empty(),
        "operations never completed: {:#?}",
        report.gave_up
    );
    assert!(
        report.untruthful.is_empty(),
        "untruthful answers: {:#?}",
        report.untruthful
    );
    assert!(found.duplicates.is_empty(), "duplicates: {:#?}", found.duplicates);
    assert!(
        found.lost_mappings.is_empty(),
        "lost mappings: {:#?}",
        found.lost_mappings
    );
    assert!(expected.duplicates.is_empty() && expected.lost_mappings.is_empty());
    // AND faults hit at least 10 % of the calls of every write route the script used
    let routes = report
        .autotask_write_calls
        .iter()
        .map(|r| (r, &report.autotask_faults))
        .chain(
            report
                .channelonline_write_calls
                .iter()
                .map(|r| (r, &report.channelonline_faults)),
        );
    for ((route, calls), faults) in routes {
        let injected: u64 = faults
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{route} ")))
            .map(|(_, n)| n)
            .sum();
        assert!(
            injected as f64 >= config.fault_rate * *calls as f64 - 1.0,
            "{route}: {injected} faults in {calls} calls"
        );
    }
    if report.invocations >= 100 {
        assert!(report.killed > 0, "no invocation was killed");
    }
    // AND the final state equals the fault-free run's
    if found.state != expected.state {
        let (a, b) = (found.state.as_object().unwrap(), expected.state.as_object().unwrap());
        let differing: Vec<_> = a
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| (k, v, &b[k]))
            .collect();
        panic!("final state differs from the fault-free run: {differing:#?}");
    }
}

/// Runs `script` with the answer of its first ChannelOnline write lost after the commit.
async fn with_lost_channelonline_answer(script: &Script) -> (RunReport, Findings) {
    let stack = ChaosStack::start(script).await;
    stack.lose_next_channelonline_answer();
    let config = ChaosConfig {
        seed: 7,
        operations: script.operations(),
        fault_rate: 0.0,
        kill_rate: 0.0,
    };
    let report = run(&stack, script, &config).await;
    (report, check(&stack, script).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_channelonline_answer_was_lost_makes_one_customer() {
    // GIVEN an Autotask company to import WHEN the import's customer write commits but its
    // answer is lost, and the user tries again
    let script = import_script();
    let (report, found) = with_lost_channelonline_answer(&script).await;
    // THEN the lost answer was told as retryable, and the retry found the customer it made
    assert_eq!(report.channelonline_faults.values().sum::<u64>(), 1, "{report:?}");
    assert_eq!(report.answers.get("503 retryable"), Some(&1), "{report:?}");
    assert!(report.gave_up.is_empty() && report.untruthful.is_empty(), "{report:?}");
    assert!(found.duplicates.is_empty(), "{:?}", found.duplicates);
    assert!(found.lost_mappings.is_empty(), "{:?}", found.lost_mappings);
    let imported = &found.state["Imported Once Co"];
    assert_eq!(imported["imported"], 1, "{imported}");
    assert_eq!(imported["contacts"], serde_json::json!(["a@once.test", "b@once.test"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_line_whose_channelonline_answer_was_lost_is_on_the_document_once() {
    // GIVEN an exported quote WHEN adding a service line commits but its answer is lost
    let script = add_line_script();
    let (report, found) = with_lost_channelonline_answer(&script).await;
    // THEN the add was answered as done (found after the loss) and the document has one such line
    assert_eq!(report.channelonline_faults.values().sum::<u64>(), 1, "{report:?}");
    assert!(report.gave_up.is_empty() && report.untruthful.is_empty(), "{report:?}");
    assert_eq!(found.state["ONCE-Q0"]["added_lines"], 1, "{}", found.state);
    assert!(
        found.duplicates.is_empty() && found.lost_mappings.is_empty(),
        "{found:?}"
    );
}
