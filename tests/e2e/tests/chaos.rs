//! The chaos suite (see `e2e::chaos`): a seeded script through the real binaries with faults on
//! ≥ 10 % of the write calls of both systems and some invocations killed at their deadline; then
//! the same script without faults; both must end in the same state, with no duplicate and no
//! lost mapping, every failure told truthfully. `CHAOS_OPS` (default 200) and `CHAOS_SEED` set
//! the size and the seed (`CHAOS_OPS=2000` for the large run).

use e2e::chaos::{ChaosConfig, ChaosStack, RunReport, check, run, script};

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
        kill_rate: 0.02,
    };
    let script = script(config.seed, config.operations);
    assert!(script.operations() >= config.operations);

    // WHEN it runs with faults on every write route and killed invocations
    let chaos = ChaosStack::start(&script).await;
    chaos.set_faults(config.seed, Some(config.fault_rate));
    let report = run(&chaos, &script, &config).await;
    print("chaos", &report);
    chaos.set_faults(config.seed, None);
    let found = check(&chaos, &script).await;

    // AND the same script runs on a fresh stack without faults
    let calm = ChaosStack::start(&script).await;
    let calm_config = ChaosConfig {
        fault_rate: 0.0,
        kill_rate: 0.0,
        ..config.clone()
    };
    let calm_report = run(&calm, &script, &calm_config).await;
    print("fault-free", &calm_report);
    let expected = check(&calm, &script).await;

    // THEN every operation completed, every answer was true, nothing is duplicated or unmapped
    assert!(report.gave_up.is_empty(), "operations never completed: {:#?}", report.gave_up);
    assert!(report.untruthful.is_empty(), "untruthful answers: {:#?}", report.untruthful);
    assert!(found.duplicates.is_empty(), "duplicates: {:#?}", found.duplicates);
    assert!(found.lost_mappings.is_empty(), "lost mappings: {:#?}", found.lost_mappings);
    assert!(expected.duplicates.is_empty() && expected.lost_mappings.is_empty());
    // AND faults hit at least 10 % of the calls of every write route the script used
    for (route, calls) in &report.autotask_write_calls {
        let injected: u64 = report
            .autotask_faults
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{route} ")))
            .map(|(_, n)| n)
            .sum();
        if *calls >= 30 {
            assert!(
                injected * 100 >= calls * 8,
                "{route}: {injected} faults in {calls} calls"
            );
        }
    }
    assert!(report.killed > 0, "no invocation was killed");
    // AND the final state equals the fault-free run's
    if found.state != expected.state {
        let (a, b) = (found.state.as_object().unwrap(), expected.state.as_object().unwrap());
        let differing: Vec<_> = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| (k, v, &b[k])).collect();
        panic!("final state differs from the fault-free run: {differing:#?}");
    }
}
