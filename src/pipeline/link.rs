//! The daemon link: takes chunks from the send queue and delivers them through a
//! `Connector`'s sessions, in order. The rules below are the only implementation of them and
//! apply to every protocol:
//! - a broken session is dropped and reopened with capped exponential backoff; the chunk that
//!   was in flight goes back to the front of the queue and is sent first on the new session
//!   (at most `max_attempts` sends per chunk);
//! - a chunk the daemon refuses (`DaemonError`) is failed at once, the session kept;
//! - every send and every connect has a reply timeout;
//! - while disconnected, chunks wait in the bounded queue, which drops the oldest.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;

use tokio_util::sync::CancellationToken;

use super::queue::SendQueue;
use super::{wall_clock_ms, EventSink};
use crate::error::{Error, Result};
use crate::stats::{FailureReason, LinkState};
use crate::transport::{Connector, Session};

#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    pub reply_timeout: Duration,
    /// Sends tried per chunk before it is failed.
    pub max_attempts: u32,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(10),
            max_attempts: 3,
        }
    }
}

impl LinkConfig {
    /// The wait before reconnect attempt `attempt` (1-based): initial · 2^(attempt-1), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        self.reconnect_initial
            .saturating_mul(factor)
            .min(self.reconnect_max)
    }
}

/// A change of the link's state, reported as a `daemon` event.
#[derive(Debug, Clone)]
pub struct LinkEvent {
    pub state: LinkState,
    /// Reconnect attempt number, from 1 (with `Reconnecting`).
    pub attempt: Option<u32>,
    /// Wait before that attempt.
    pub delay: Option<Duration>,
    /// Why the link went down (with `Disconnected`), or why the previous attempt failed
    /// (with `Reconnecting`).
    pub error: Option<Error>,
    /// The session's protocol (with `Connected`): `legacy` or `v1`.
    pub protocol: Option<&'static str>,
}

/// A connector and, when the daemon answered at start, its first session.
pub struct Link<C: Connector> {
    pub connector: C,
    pub session: Option<C::Session>,
    pub config: LinkConfig,
}

/// Runs `operation` with the reply timeout; running out is `E_DAEMON_TIMEOUT`.
pub async fn within<T>(
    reply_timeout: Duration,
    operation: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(reply_timeout, operation)
        .await
        .unwrap_or_else(|_| {
            Err(Error::DaemonTimeout(format!(
                "no reply within {} ms",
                reply_timeout.as_millis()
            )))
        })
}

pub fn failure_reason(e: &Error) -> FailureReason {
    match e {
        Error::DaemonError(_) => FailureReason::Rejected,
        Error::DaemonTimeout(_) => FailureReason::Timeout,
        Error::Protocol(_) => FailureReason::Protocol,
        _ => FailureReason::Connection,
    }
}

/// Runs until the queue is closed and empty (or, when stopping while the daemon is away,
/// until one immediate reconnect attempt fails), then ends the session.
pub async fn run<C: Connector>(
    link: Link<C>,
    queue: Arc<SendQueue>,
    sink: Arc<dyn EventSink>,
    stopping: CancellationToken,
) {
    let Link {
        connector,
        mut session,
        config,
    } = link;
    let counters = queue.counters();
    let announce = |event: LinkEvent| {
        counters.set_link_state(event.state);
        sink.daemon(&event);
    };
    let mut ever_connected = session.is_some();
    let mut attempt = 0u32;
    // Report the first lost chunk of a run of failures, not every one.
    let mut failing = false;
    // Why the previous connect attempt failed, for the next `reconnecting` event.
    let mut last_connect_error: Option<Error> = None;
    // Refused credentials need the user, so they are an `error` event, once per outage.
    let mut reported_credentials = false;
    if let Some(s) = &session {
        counters.set_daemon_protocol(s.protocol());
        announce(LinkEvent::connected(s.protocol()));
    }
    loop {
        let Some(current) = session.as_mut() else {
            let stop = stopping.is_cancelled();
            if stop && queue.is_empty() {
                break;
            }
            attempt += 1;
            let delay = if stop {
                Duration::ZERO
            } else {
                config.backoff(attempt)
            };
            announce(LinkEvent {
                state: LinkState::Reconnecting,
                attempt: Some(attempt),
                delay: Some(delay),
                error: last_connect_error.take(),
                protocol: None,
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stopping.cancelled(), if !stop => {}
            }
            match within(config.reply_timeout, connector.connect()).await {
                Ok(new_session) => {
                    if ever_connected {
                        counters.reconnects.fetch_add(1, Relaxed);
                    }
                    ever_connected = true;
                    attempt = 0;
                    reported_credentials = false;
                    counters.set_daemon_protocol(new_session.protocol());
                    announce(LinkEvent::connected(new_session.protocol()));
                    session = Some(new_session);
                }
                Err(e) => {
                    counters.connect_failures.fetch_add(1, Relaxed);
                    if matches!(e, Error::Unauthorized(_)) && !reported_credentials {
                        reported_credentials = true;
                        sink.error(&e);
                    }
                    last_connect_error = Some(e.clone());
                    // Give up only after an attempt that started once the stop was asked for.
                    if stop {
                        let lost = queue.fail_remaining(FailureReason::Stopped, false);
                        if lost > 0 {
                            sink.error(&e.with_note(&format!(
                                "{lost} queued chunk(s) not delivered at stop"
                            )));
                        }
                        break;
                    }
                }
            }
            continue;
        };

        let next = tokio::select! {
            biased;
            item = queue.pop() => Ok(item),
            e = current.broken() => Err(e),
        };
        let mut item = match next {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                session = None;
                announce(LinkEvent::disconnected(e));
                continue;
            }
        };
        item.attempts += 1;
        let started = Instant::now();
        match within(
            config.reply_timeout,
            current.send_chunk(&item.chunk.samples),
        )
        .await
        {
            Ok(()) => {
                counters
                    .send_latency
                    .record_micros(started.elapsed().as_micros() as u64);
                let delivery_ms = (wall_clock_ms() - item.captured_end_ms).max(0.0);
                counters
                    .delivery_latency
                    .record_micros((delivery_ms * 1000.0) as u64);
                queue.sent(&item);
                failing = false;
            }
            Err(e) => {
                counters.send_attempts_failed.fetch_add(1, Relaxed);
                let reason = failure_reason(&e);
                if reason != FailureReason::Rejected {
                    session = None;
                    announce(LinkEvent::disconnected(e.clone()));
                }
                if reason == FailureReason::Rejected || item.attempts >= config.max_attempts {
                    queue.failed(&item, reason);
                    if !failing {
                        sink.error(&e);
                    }
                    failing = true;
                } else {
                    queue.requeue_front(item);
                }
            }
        }
    }
    if let Some(session) = session {
        if let Err(e) = within(config.reply_timeout, session.end()).await {
            sink.error(&e);
        }
    }
    counters.set_link_state(LinkState::Off);
}

impl LinkEvent {
    fn state(state: LinkState) -> Self {
        Self {
            state,
            attempt: None,
            delay: None,
            error: None,
            protocol: None,
        }
    }

    fn connected(protocol: &'static str) -> Self {
        Self {
            protocol: Some(protocol),
            ..Self::state(LinkState::Connected)
        }
    }

    fn disconnected(error: Error) -> Self {
        Self {
            error: Some(error),
            ..Self::state(LinkState::Disconnected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::chunker::Chunk;
    use crate::pipeline::queue::Outgoing;
    use crate::stats::PipelineCounters;
    use crate::transport::Transcription;
    use std::sync::Mutex;

    #[test]
    fn backoff_doubles_from_the_initial_delay_up_to_the_cap() {
        let c = LinkConfig::default();
        let ms: Vec<u128> = (1..=9).map(|a| c.backoff(a).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(c.backoff(u32::MAX), Duration::from_secs(5));
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Mode {
        Up,
        Down,
        /// Answers every chunk with `status: error`.
        Reject,
        /// Answers every chunk with bytes that are not a reply.
        Garbage,
        /// Opens sessions but never answers a chunk.
        Silent,
        /// Never completes a connection.
        Hung,
    }

    #[derive(Debug)]
    struct State {
        mode: Mode,
        /// Bumped when the daemon goes down: older sessions are dead.
        generation: u64,
        received: Vec<u64>,
        connects: u32,
        ended: u32,
    }

    /// An in-memory daemon whose behaviour the test scripts. A chunk's first sample is its seq.
    #[derive(Clone)]
    struct FakeDaemon(Arc<Mutex<State>>);

    impl FakeDaemon {
        fn new() -> Self {
            Self(Arc::new(Mutex::new(State {
                mode: Mode::Up,
                generation: 0,
                received: Vec::new(),
                connects: 0,
                ended: 0,
            })))
        }
        fn set(&self, mode: Mode) {
            let mut s = self.0.lock().unwrap();
            if mode == Mode::Down {
                s.generation += 1;
            }
            s.mode = mode;
        }
        fn state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
            f(&self.0.lock().unwrap())
        }
    }

    struct FakeSession {
        daemon: FakeDaemon,
        generation: u64,
    }

    fn gone() -> Error {
        Error::DaemonUnreachable {
            path: "fake".into(),
            reason: "down".into(),
        }
    }

    impl Connector for FakeDaemon {
        type Session = FakeSession;
        async fn connect(&self) -> crate::error::Result<FakeSession> {
            let (mode, generation) = self.state(|s| (s.mode, s.generation));
            match mode {
                Mode::Down => Err(gone()),
                Mode::Hung => std::future::pending().await,
                _ => {
                    self.0.lock().unwrap().connects += 1;
                    Ok(FakeSession {
                        daemon: self.clone(),
                        generation,
                    })
                }
            }
        }
    }

    impl Session for FakeSession {
        async fn send_chunk(&mut self, samples: &[f32]) -> crate::error::Result<()> {
            let mode = {
                let mut s = self.daemon.0.lock().unwrap();
                if s.generation != self.generation {
                    return Err(gone());
                }
                if s.mode == Mode::Up {
                    s.received.push(samples[0] as u64);
                }
                s.mode
            };
            match mode {
                Mode::Up => Ok(()),
                Mode::Down => Err(gone()),
                Mode::Reject => Err(Error::DaemonError("Internal error".into())),
                Mode::Garbage => Err(Error::Protocol("not JSON".into())),
                Mode::Silent | Mode::Hung => std::future::pending().await,
            }
        }
        async fn broken(&mut self) -> Error {
            loop {
                if self.daemon.state(|s| s.generation) != self.generation {
                    return gone();
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        async fn end(self) -> crate::error::Result<()> {
            self.daemon.0.lock().unwrap().ended += 1;
            Ok(())
        }
        fn protocol(&self) -> &'static str {
            "fake"
        }
    }

    #[derive(Default)]
    struct Events {
        states: Mutex<Vec<LinkState>>,
        errors: Mutex<Vec<&'static str>>,
    }

    impl EventSink for Events {
        fn chunk(&self, _: &Chunk, _: f64) {}
        fn level(&self, _: crate::pipeline::LevelReading) {}
        fn input_end(&self, _: crate::pipeline::InputEnd) {}
        fn warning(&self, _: crate::pipeline::Warning, _: &str) {}
        fn device(&self, _: &crate::pipeline::DeviceEvent) {}
        fn error(&self, e: &Error) {
            self.errors.lock().unwrap().push(e.code());
        }
        fn transcription(&self, _: Transcription) {}
        fn daemon(&self, event: &LinkEvent) {
            self.states.lock().unwrap().push(event.state);
        }
    }

    struct Harness {
        daemon: FakeDaemon,
        queue: Arc<SendQueue>,
        counters: Arc<PipelineCounters>,
        events: Arc<Events>,
        stopping: CancellationToken,
        task: tokio::task::JoinHandle<()>,
        next_seq: u64,
    }

    impl Harness {
        async fn start(capacity: usize, config: LinkConfig) -> Self {
            let daemon = FakeDaemon::new();
            let counters = Arc::new(PipelineCounters::default());
            let queue = Arc::new(SendQueue::new(capacity, counters.clone()));
            let events = Arc::new(Events::default());
            let stopping = CancellationToken::new();
            let link = Link {
                session: Some(daemon.connect().await.unwrap()),
                connector: daemon.clone(),
                config,
            };
            let task = tokio::spawn(run(link, queue.clone(), events.clone(), stopping.clone()));
            Self {
                daemon,
                queue,
                counters,
                events,
                stopping,
                task,
                next_seq: 0,
            }
        }

        /// Pushes `n` chunks, one per ms, checking the accounting after each.
        async fn push(&mut self, n: u64) {
            for _ in 0..n {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.queue.push(Outgoing {
                    chunk: Chunk {
                        seq,
                        start_sample: seq * 4,
                        samples: vec![seq as f32; 4],
                    },
                    captured_end_ms: wall_clock_ms(),
                    attempts: 0,
                });
                assert!(self.counters.delivery().invariant_holds());
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }

        async fn stop(self) -> (FakeDaemon, Arc<PipelineCounters>, Arc<Events>) {
            self.queue.close();
            self.stopping.cancel();
            tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("the link stops")
                .unwrap();
            let d = self.counters.delivery();
            assert!(d.invariant_holds(), "{d:?}");
            assert_eq!(d.send_queue_depth, 0);
            (self.daemon, self.counters, self.events)
        }
    }

    fn fast() -> LinkConfig {
        LinkConfig {
            reconnect_initial: Duration::from_millis(2),
            reconnect_max: Duration::from_millis(20),
            reply_timeout: Duration::from_millis(200),
            max_attempts: 3,
        }
    }

    #[tokio::test]
    async fn outages_that_fit_the_queue_lose_nothing_and_keep_the_order() {
        let mut h = Harness::start(100, fast()).await;
        h.push(50).await;
        h.daemon.set(Mode::Down);
        h.push(30).await;
        h.daemon.set(Mode::Up);
        h.push(70).await;
        h.daemon.set(Mode::Down);
        h.push(30).await;
        h.daemon.set(Mode::Up);
        h.push(20).await;
        let (daemon, counters, events) = h.stop().await;
        let received = daemon.state(|s| s.received.clone());
        assert_eq!(received, (0..200).collect::<Vec<u64>>());
        let d = counters.delivery();
        assert_eq!(
            (d.chunks_sent, d.chunks_failed, d.chunks_dropped_queue),
            (200, 0, 0)
        );
        assert_eq!(counters.reconnects.load(Relaxed), 2);
        assert!(counters.connect_failures.load(Relaxed) >= 2);
        assert_eq!(daemon.state(|s| (s.connects, s.ended)), (3, 1));
        let states = events.states.lock().unwrap().clone();
        assert_eq!(states.first(), Some(&LinkState::Connected));
        assert_eq!(states.last(), Some(&LinkState::Connected));
        let downs = states
            .iter()
            .filter(|s| **s == LinkState::Disconnected)
            .count();
        assert_eq!(downs, 2);
        assert!(events.errors.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_longer_outage_drops_exactly_the_counted_oldest_chunks() {
        let mut h = Harness::start(10, fast()).await;
        h.push(20).await;
        h.daemon.set(Mode::Down);
        h.push(40).await;
        h.daemon.set(Mode::Up);
        h.push(20).await;
        let (daemon, counters, _) = h.stop().await;
        let received = daemon.state(|s| s.received.clone());
        assert!(
            received.windows(2).all(|w| w[0] < w[1]),
            "in order, no repeats"
        );
        let d = counters.delivery();
        let missing: Vec<u64> = (0..80).filter(|s| !received.contains(s)).collect();
        assert_eq!(
            missing.len() as u64,
            d.chunks_dropped_queue + d.chunks_failed
        );
        assert!(d.chunks_dropped_queue >= 29, "{d:?}");
        // Drop-oldest: what is missing is one block inside the outage.
        assert!(missing.windows(2).all(|w| w[1] == w[0] + 1), "{missing:?}");
        assert!(
            missing[0] >= 19 && *missing.last().unwrap() < 60,
            "{missing:?}"
        );
        assert!(
            (10..=11).contains(&d.send_queue_high_water),
            "capacity, plus one in flight"
        );
    }

    #[tokio::test]
    async fn refused_chunks_fail_at_once_and_garbage_is_retried_then_failed() {
        let mut h = Harness::start(100, fast()).await;
        h.push(5).await;
        h.daemon.set(Mode::Reject);
        h.push(3).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        h.daemon.set(Mode::Up);
        h.push(5).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let connects_before_garbage = h.daemon.state(|s| s.connects);
        h.daemon.set(Mode::Garbage);
        h.push(1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.daemon.set(Mode::Up);
        h.push(5).await;
        let (daemon, counters, events) = h.stop().await;
        let d = counters.delivery();
        assert_eq!(d.failed_rejected, 3);
        assert_eq!(d.failed_protocol, 1, "{d:?}");
        assert_eq!(d.chunks_sent, 15);
        assert_eq!(counters.send_attempts_failed.load(Relaxed), 3 + 3);
        assert_eq!(connects_before_garbage, 1, "a refusal keeps the session");
        assert_eq!(
            daemon.state(|s| s.connects),
            1 + 3,
            "garbage reconnects each time"
        );
        assert_eq!(
            *events.errors.lock().unwrap(),
            ["E_DAEMON_ERROR", "E_PROTOCOL"]
        );
        let received = daemon.state(|s| s.received.clone());
        let expected: Vec<u64> = (0..5).chain(8..13).chain(14..19).collect();
        assert_eq!(received, expected);
    }

    #[tokio::test]
    async fn a_daemon_that_never_answers_times_out_and_stays_bounded() {
        let config = LinkConfig {
            reply_timeout: Duration::from_millis(20),
            ..fast()
        };
        let mut h = Harness::start(50, config).await;
        h.daemon.set(Mode::Silent);
        h.push(150).await;
        let d = h.counters.delivery();
        assert!(
            d.failed_timeout >= 1,
            "each chunk gets 3 timed-out tries: {d:?}"
        );
        h.daemon.set(Mode::Hung);
        h.push(150).await;
        let d = h.counters.delivery();
        assert!(d.send_queue_high_water <= 51, "{d:?}");
        assert!(d.chunks_dropped_queue > 100, "{d:?}");
        assert!(
            h.counters.connect_failures.load(Relaxed) >= 2,
            "connects time out"
        );
        h.daemon.set(Mode::Up);
        h.push(5).await;
        let (daemon, _, _) = h.stop().await;
        let received = daemon.state(|s| s.received.clone());
        assert!(
            received.ends_with(&[300, 301, 302, 303, 304]),
            "{received:?}"
        );
    }

    #[tokio::test]
    async fn stopping_while_the_daemon_is_away_tries_once_then_fails_what_is_left() {
        let mut h = Harness::start(100, fast()).await;
        h.push(3).await;
        h.daemon.set(Mode::Down);
        h.push(5).await;
        let started = Instant::now();
        let (_, counters, events) = h.stop().await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let d = counters.delivery();
        assert_eq!((d.chunks_sent, d.failed_stopped), (3, 5), "{d:?}");
        assert_eq!(*events.errors.lock().unwrap(), ["E_DAEMON_UNREACHABLE"]);
        assert_eq!(counters.link_state(), LinkState::Off);
    }
}
