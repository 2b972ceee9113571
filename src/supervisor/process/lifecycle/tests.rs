//! Every transition SPEC §9 names, driven with a paused tokio clock.

use std::time::Duration;

use tokio::time::{Instant, advance};

use super::*;

fn settings() -> SupervisorSettings {
    SupervisorSettings {
        readiness_interval: Duration::from_secs(1),
        readiness_timeout: Duration::from_secs(10),
        liveness_interval: Duration::from_secs(30),
        restart_backoff_initial: Duration::from_secs(1),
        restart_backoff_max: Duration::from_secs(60),
        restart_budget: 2,
        restart_window: Duration::from_secs(600),
        stable_uptime: Duration::from_secs(300),
        ..SupervisorSettings::default()
    }
}

fn probed() -> Lifecycle {
    Lifecycle::new(Readiness::Probe, true, &settings())
}

/// Starts `lifecycle` and lets the spawn succeed.
fn started(mut lifecycle: Lifecycle) -> Lifecycle {
    assert_eq!(lifecycle.step(Event::Start, Instant::now()), [Effect::Spawn]);
    lifecycle.step(Event::Spawned, Instant::now());
    lifecycle
}

fn running() -> Lifecycle {
    let mut lifecycle = started(probed());
    lifecycle.step(Event::Checked(Ok(())), Instant::now());
    assert_eq!(lifecycle.status(), Status::Running);
    lifecycle
}

fn exited() -> Event {
    Event::Exited { describe: "exited with code 1".into(), misconfigured: None }
}

/// The backoff a `RestartAfter` effect asks for (jitter is ±10 %).
fn restart_delay(effects: &[Effect]) -> Duration {
    match effects {
        [Effect::RestartAfter(delay)] => *delay,
        other => panic!("expected a restart after a backoff, got {other:?}"),
    }
}

fn about(delay: Duration, expected: Duration) -> bool {
    delay >= expected.mul_f64(0.9) && delay <= expected.mul_f64(1.1)
}

#[tokio::test(start_paused = true)]
async fn a_start_probes_for_readiness_with_a_growing_interval_then_runs() {
    let mut lifecycle = probed();
    assert_eq!(lifecycle.status(), Status::Stopped);
    assert_eq!(lifecycle.step(Event::Start, Instant::now()), [Effect::Spawn]);
    let effects = lifecycle.step(Event::Spawned, Instant::now());
    assert_eq!(
        effects,
        [Effect::StableCheckAfter(Duration::from_secs(300)), Effect::ProbeAfter(Duration::from_millis(100))]
    );
    assert_eq!(lifecycle.status(), Status::Starting);

    let delays: Vec<Effect> =
        (0..5).flat_map(|_| lifecycle.step(Event::Checked(Err("refused".into())), Instant::now())).collect();
    let millis = |ms| Effect::ProbeAfter(Duration::from_millis(ms));
    assert_eq!(
        delays,
        [millis(200), millis(400), millis(800), millis(1000), millis(1000)],
        "doubling up to the interval"
    );

    assert_eq!(lifecycle.step(Event::Checked(Ok(())), Instant::now()), [Effect::ProbeAfter(Duration::from_secs(30))]);
    assert_eq!(lifecycle.status(), Status::Running);
}

#[tokio::test(start_paused = true)]
async fn not_ready_in_time_is_a_failure_that_stops_the_child_then_backs_off() {
    let mut lifecycle = started(probed());
    advance(Duration::from_secs(11)).await;
    assert_eq!(lifecycle.step(Event::Checked(Err("refused".into())), Instant::now()), [Effect::StopChild]);
    assert!(lifecycle.error().unwrap().starts_with("not ready after 11s: refused"), "{:?}", lifecycle.error());
    assert_eq!(lifecycle.status(), Status::Starting, "shown as it was while it stops");

    let delay = restart_delay(&lifecycle.step(exited(), Instant::now()));
    assert!(about(delay, Duration::from_secs(1)), "{delay:?}");
    assert_eq!(lifecycle.phase(), &Phase::BackingOff);
    assert_eq!(lifecycle.step(Event::RestartDue, Instant::now()), [Effect::Spawn]);
    assert_eq!(lifecycle.restarts(), 1);
}

#[tokio::test(start_paused = true)]
async fn one_failed_liveness_probe_is_unhealthy_two_restart() {
    let mut lifecycle = running();
    assert_eq!(
        lifecycle.step(Event::Checked(Err("timeout".into())), Instant::now()),
        [Effect::ProbeAfter(Duration::from_secs(30))]
    );
    assert_eq!(lifecycle.status(), Status::Unhealthy);
    assert_eq!(lifecycle.step(Event::Checked(Ok(())), Instant::now()), [Effect::ProbeAfter(Duration::from_secs(30))]);
    assert_eq!(lifecycle.status(), Status::Running, "a good probe heals");

    lifecycle.step(Event::Checked(Err("timeout".into())), Instant::now());
    assert_eq!(lifecycle.step(Event::Checked(Err("timeout".into())), Instant::now()), [Effect::StopChild]);
    assert_eq!(lifecycle.error(), Some("2 health checks failed: timeout"));
    assert!(about(restart_delay(&lifecycle.step(exited(), Instant::now())), Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn crashes_back_off_doubling_until_the_budget_is_spent_then_failed() {
    let mut lifecycle = running();
    let first = restart_delay(&lifecycle.step(exited(), Instant::now()));
    assert!(about(first, Duration::from_secs(1)), "{first:?}");
    assert!(lifecycle.error().unwrap().starts_with("exited with code 1 unexpectedly; restarting in "));
    advance(first).await;
    lifecycle.step(Event::RestartDue, Instant::now());
    lifecycle.step(Event::Spawned, Instant::now());

    let second = restart_delay(&lifecycle.step(exited(), Instant::now()));
    assert!(about(second, Duration::from_secs(2)), "{second:?}");
    advance(second).await;
    lifecycle.step(Event::RestartDue, Instant::now());
    lifecycle.step(Event::Spawned, Instant::now());

    assert_eq!(lifecycle.step(exited(), Instant::now()), []);
    assert_eq!(lifecycle.status(), Status::Failed);
    assert!(lifecycle.error().unwrap().contains("gave up after 2 restarts in 600s"), "{:?}", lifecycle.error());
    assert_eq!(lifecycle.restarts(), 2);

    // A manual start clears it, with a fresh budget and no backoff.
    assert_eq!(lifecycle.step(Event::Start, Instant::now()), [Effect::Spawn]);
    lifecycle.step(Event::Spawned, Instant::now());
    assert!(about(restart_delay(&lifecycle.step(exited(), Instant::now())), Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn the_window_forgives_old_restarts() {
    let mut lifecycle = running();
    lifecycle.step(exited(), Instant::now());
    lifecycle.step(Event::RestartDue, Instant::now());
    lifecycle.step(Event::Spawned, Instant::now());
    lifecycle.step(exited(), Instant::now());
    advance(Duration::from_secs(601)).await;
    lifecycle.step(Event::RestartDue, Instant::now());
    lifecycle.step(Event::Spawned, Instant::now());
    assert!(matches!(lifecycle.step(exited(), Instant::now()).as_slice(), [Effect::RestartAfter(_)]));
}

#[tokio::test(start_paused = true)]
async fn stable_uptime_resets_the_budget() {
    let mut lifecycle = running();
    lifecycle.step(exited(), Instant::now());
    lifecycle.step(Event::RestartDue, Instant::now());
    lifecycle.step(Event::Spawned, Instant::now());
    lifecycle.step(Event::Checked(Ok(())), Instant::now());

    // Checked too early (it was unhealthy for a while): look again when it could be stable.
    advance(Duration::from_secs(100)).await;
    assert_eq!(
        lifecycle.step(Event::StableCheck, Instant::now()),
        [Effect::StableCheckAfter(Duration::from_secs(200))]
    );
    advance(Duration::from_secs(200)).await;
    assert_eq!(lifecycle.step(Event::StableCheck, Instant::now()), []);

    // Two more failures are allowed again, the first with the initial backoff.
    assert!(about(restart_delay(&lifecycle.step(exited(), Instant::now())), Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_a_start_stays_stopped() {
    let mut lifecycle = started(probed());
    assert_eq!(lifecycle.step(Event::Stop, Instant::now()), [Effect::StopChild]);
    assert_eq!(lifecycle.step(Event::Checked(Ok(())), Instant::now()), [], "a late probe changes nothing");
    assert_eq!(lifecycle.step(exited(), Instant::now()), []);
    assert_eq!(lifecycle.status(), Status::Stopped);
    assert_eq!(lifecycle.step(Event::RestartDue, Instant::now()), [], "no restart after a stop");
}

#[tokio::test(start_paused = true)]
async fn a_start_during_a_stop_starts_again_once_it_exited() {
    let mut lifecycle = running();
    assert_eq!(lifecycle.step(Event::Stop, Instant::now()), [Effect::StopChild]);
    assert_eq!(lifecycle.step(Event::Start, Instant::now()), []);
    assert_eq!(lifecycle.step(exited(), Instant::now()), [Effect::Spawn]);
    lifecycle.step(Event::Spawned, Instant::now());
    assert_eq!(lifecycle.status(), Status::Starting);
}

#[tokio::test(start_paused = true)]
async fn a_manual_restart_stops_then_starts_at_once_and_a_stop_in_between_wins() {
    let mut lifecycle = running();
    assert_eq!(lifecycle.step(Event::Restart, Instant::now()), [Effect::StopChild]);
    assert_eq!(lifecycle.step(exited(), Instant::now()), [Effect::Spawn], "no backoff");
    lifecycle.step(Event::Spawned, Instant::now());

    lifecycle.step(Event::Restart, Instant::now());
    lifecycle.step(Event::Stop, Instant::now());
    assert_eq!(lifecycle.step(exited(), Instant::now()), []);
    assert_eq!(lifecycle.status(), Status::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_stop_cancels_a_pending_restart() {
    let mut lifecycle = running();
    lifecycle.step(exited(), Instant::now());
    assert_eq!(lifecycle.phase(), &Phase::BackingOff);
    assert_eq!(lifecycle.step(Event::Stop, Instant::now()), []);
    assert_eq!(lifecycle.step(Event::RestartDue, Instant::now()), []);
    assert_eq!(lifecycle.status(), Status::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_broken_script_is_misconfigured_and_never_retried() {
    let mut lifecycle = probed();
    lifecycle.step(Event::Start, Instant::now());
    let reason = "start.sh is not executable (chmod +x it)".to_string();
    assert_eq!(lifecycle.step(Event::CannotSpawn { reason: reason.clone(), permanent: true }, Instant::now()), []);
    assert_eq!((lifecycle.status(), lifecycle.error()), (Status::Misconfigured, Some(reason.as_str())));
    assert_eq!(lifecycle.step(Event::Stop, Instant::now()), []);
    assert_eq!(lifecycle.status(), Status::Misconfigured, "a stop does not hide it");
    assert_eq!(lifecycle.step(Event::Start, Instant::now()), [Effect::Spawn], "a manual start tries again");
}

#[tokio::test(start_paused = true)]
async fn a_port_held_by_a_stranger_backs_off_like_a_crash() {
    let mut lifecycle = probed();
    lifecycle.step(Event::Start, Instant::now());
    let effects =
        lifecycle.step(Event::CannotSpawn { reason: "port 5300 is held".into(), permanent: false }, Instant::now());
    assert!(about(restart_delay(&effects), Duration::from_secs(1)));
    assert_eq!(lifecycle.status(), Status::Starting);
}

#[tokio::test(start_paused = true)]
async fn without_restart_on_failure_a_crash_is_failed_at_once() {
    let mut lifecycle = started(Lifecycle::new(Readiness::Alive, false, &settings()));
    assert_eq!(lifecycle.status(), Status::Running, "nothing to probe: alive is running");
    assert_eq!(lifecycle.step(exited(), Instant::now()), []);
    assert_eq!(lifecycle.status(), Status::Failed);
    assert!(lifecycle.error().unwrap().ends_with("restart_on_failure is off"));
}

#[tokio::test(start_paused = true)]
async fn a_tool_host_is_ready_after_its_handshake_and_tools_that_do_not_import_are_misconfigured() {
    let mut lifecycle = Lifecycle::new(Readiness::Handshake, true, &settings());
    lifecycle.step(Event::Start, Instant::now());
    assert_eq!(
        lifecycle.step(Event::Spawned, Instant::now()),
        [Effect::StableCheckAfter(Duration::from_secs(300)), Effect::Handshake]
    );
    assert_eq!(
        lifecycle.step(Event::Checked(Ok(())), Instant::now()),
        [Effect::ProbeAfter(Duration::from_secs(30))],
        "a tool host is pinged on the liveness schedule"
    );
    assert_eq!(lifecycle.status(), Status::Running);
    // A hung host (two pings unanswered) is stopped and restarted like an unhealthy service.
    lifecycle.step(Event::Checked(Err("no answer to ping".into())), Instant::now());
    assert_eq!(lifecycle.step(Event::Checked(Err("no answer to ping".into())), Instant::now()), [Effect::StopChild]);

    let mut broken = Lifecycle::new(Readiness::Handshake, true, &settings());
    broken.step(Event::Start, Instant::now());
    broken.step(Event::Spawned, Instant::now());
    let traceback = "the tools failed to import:\nImportError".to_string();
    broken.step(
        Event::Exited { describe: "exited with code 78".into(), misconfigured: Some(traceback.clone()) },
        Instant::now(),
    );
    assert_eq!((broken.status(), broken.error()), (Status::Misconfigured, Some(traceback.as_str())));

    // The handshake's failure can arrive before the exit that explains it.
    let mut raced = Lifecycle::new(Readiness::Handshake, true, &settings());
    raced.step(Event::Start, Instant::now());
    raced.step(Event::Spawned, Instant::now());
    assert_eq!(raced.step(Event::Checked(Err("connection closed".into())), Instant::now()), [Effect::StopChild]);
    raced.step(
        Event::Exited { describe: "exited with code 78".into(), misconfigured: Some(traceback.clone()) },
        Instant::now(),
    );
    assert_eq!((raced.status(), raced.error()), (Status::Misconfigured, Some(traceback.as_str())));

    let mut failing = Lifecycle::new(Readiness::Handshake, true, &settings());
    failing.step(Event::Start, Instant::now());
    failing.step(Event::Spawned, Instant::now());
    assert_eq!(failing.step(Event::Checked(Err("no tools/list answer".into())), Instant::now()), [Effect::StopChild]);
}
