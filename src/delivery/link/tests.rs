use super::*;
use crate::delivery::queue::{Outgoing, Work};
use crate::delivery::Admission;
use crate::dsp::chunker::Chunk;
use crate::events::EventSink;
use crate::stats::DeliveryCounters;
use crate::transport::ModeChoice;
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
    /// How the next sessions transcribe.
    route: Route,
    /// Utterances transcribed (their first sample, an id).
    transcribed: Vec<u64>,
    /// The next this many utterance requests are answered busy.
    busy: u32,
    /// Utterances whose first sample is this are refused.
    refuse: Option<u64>,
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
            route: Route::Stream,
            transcribed: Vec::new(),
            busy: 0,
            refuse: None,
        })))
    }
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.lock().unwrap())
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
    route: Route,
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
                let route = self.with(|s| {
                    s.connects += 1;
                    s.route
                });
                Ok(FakeSession {
                    daemon: self.clone(),
                    generation,
                    route,
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
    fn route(&self) -> Route {
        self.route
    }
    async fn transcribe(&mut self, samples: &[f32]) -> crate::error::Result<String> {
        let id = samples[0] as u64;
        self.daemon.with(|s| {
            if s.generation != self.generation || s.mode == Mode::Down {
                return Err(gone());
            }
            if s.busy > 0 {
                s.busy -= 1;
                return Err(Error::DaemonBusy(
                    "HTTP 409 on /v1/transcribe: not_ready".into(),
                ));
            }
            if s.refuse == Some(id) {
                return Err(Error::DaemonError(
                    "HTTP 400 on /v1/transcribe: invalid_audio".into(),
                ));
            }
            s.transcribed.push(id);
            Ok(format!("utterance {id}"))
        })
    }
}

#[derive(Default)]
struct Seen {
    states: Mutex<Vec<LinkState>>,
    errors: Mutex<Vec<&'static str>>,
    texts: Mutex<Vec<(String, u64)>>,
}

impl EventSink for Seen {
    fn emit(&self, event: Event) -> u64 {
        match event {
            Event::Error(e) => self.errors.lock().unwrap().push(e.code()),
            Event::Daemon(d) => self.states.lock().unwrap().push(d.state),
            Event::Transcription(t) => {
                let id = t.utterance.map_or(u64::MAX, |u| u.id);
                self.texts.lock().unwrap().push((t.text, id));
            }
            _ => {}
        }
        0
    }
}

struct Harness {
    daemon: FakeDaemon,
    queue: Arc<SendQueue>,
    counters: Arc<DeliveryCounters>,
    events: Arc<Seen>,
    stopping: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    next_seq: u64,
}

impl Harness {
    async fn start(capacity: usize, config: LinkConfig) -> Self {
        Self::start_with(capacity, config, Route::Stream).await
    }

    async fn start_with(capacity: usize, config: LinkConfig, route: Route) -> Self {
        let daemon = FakeDaemon::new();
        daemon.with(|s| s.route = route);
        let counters = Arc::new(DeliveryCounters::default());
        let queue = Arc::new(SendQueue::new(capacity * 4, counters.clone()));
        let events = Arc::new(Seen::default());
        let stopping = CancellationToken::new();
        let link = Link {
            session: Some(daemon.connect().await.unwrap()),
            connector: daemon.clone(),
            config,
        };
        let task = tokio::spawn(run(
            link,
            queue.clone(),
            Events::new(events.clone(), Arc::default()),
            stopping.clone(),
            Arc::new(Admission::new(ModeChoice::Auto)),
        ));
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

    /// Pushes an utterance of 4 samples whose first sample is `id`.
    fn push_utterance(&self, id: u64) {
        self.queue.push(Outgoing::new(
            Work::Utterance(crate::delivery::queue::Utterance {
                id,
                samples: vec![id as f32; 4],
                start_ms: 0.0,
                end_ms: wall_clock_ms(),
            }),
            wall_clock_ms(),
        ));
        assert!(self.counters.delivery().invariant_holds());
    }

    /// Pushes `n` chunks, one per ms, checking the accounting after each.
    async fn push(&mut self, n: u64) {
        for _ in 0..n {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.queue.push(Outgoing::new(
                Work::Chunk(Chunk {
                    seq,
                    start_sample: seq * 4,
                    samples: vec![seq as f32; 4],
                }),
                wall_clock_ms(),
            ));
            assert!(self.counters.delivery().invariant_holds());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn stop(self) -> (FakeDaemon, Arc<DeliveryCounters>, Arc<Seen>) {
        self.queue.close();
        self.stopping.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the link stops")
            .unwrap();
        let d = self.counters.delivery();
        assert!(d.invariant_holds(), "{d:?}");
        assert_eq!(d.chunks.depth, 0);
        (self.daemon, self.counters, self.events)
    }
}

/// Waits until `done()`, bounded at 10 s: a fixed sleep here raced the link on a busy machine.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn fast() -> LinkConfig {
    LinkConfig {
        reconnect_initial: Duration::from_millis(2),
        reconnect_max: Duration::from_millis(20),
        reply_timeout: Duration::from_millis(200),
        max_attempts: 3,
        stop_timeout: Duration::from_millis(300),
        client_id: "test".into(),
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
        (d.chunks.sent, d.chunks.failed, d.chunks.dropped_queue),
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
        d.chunks.dropped_queue + d.chunks.failed
    );
    assert!(d.chunks.dropped_queue >= 29, "{d:?}");
    // Drop-oldest: what is missing is one block inside the outage.
    assert!(missing.windows(2).all(|w| w[1] == w[0] + 1), "{missing:?}");
    assert!(
        missing[0] >= 19 && *missing.last().unwrap() < 60,
        "{missing:?}"
    );
    assert!(
        (10..=11).contains(&d.chunks.high_water),
        "capacity, plus one in flight"
    );
}

#[tokio::test]
async fn refused_chunks_fail_at_once_and_garbage_is_retried_then_failed() {
    let mut h = Harness::start(100, fast()).await;
    h.push(5).await;
    h.daemon.set(Mode::Reject);
    h.push(3).await;
    until("3 refusals", || {
        h.counters.delivery().chunks.failed_rejected == 3
    })
    .await;
    h.daemon.set(Mode::Up);
    h.push(5).await;
    until("10 sent", || h.counters.delivery().chunks.sent == 10).await;
    let connects_before_garbage = h.daemon.state(|s| s.connects);
    h.daemon.set(Mode::Garbage);
    h.push(1).await;
    until("the garbage reply failed", || {
        h.counters.delivery().chunks.failed_protocol == 1
    })
    .await;
    h.daemon.set(Mode::Up);
    h.push(5).await;
    let (daemon, counters, events) = h.stop().await;
    let d = counters.delivery();
    assert_eq!(d.chunks.failed_rejected, 3);
    assert_eq!(d.chunks.failed_protocol, 1, "{d:?}");
    assert_eq!(d.chunks.sent, 15);
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
        d.chunks.failed_timeout >= 1,
        "each chunk gets 3 timed-out tries: {d:?}"
    );
    h.daemon.set(Mode::Hung);
    h.push(150).await;
    let d = h.counters.delivery();
    assert!(d.chunks.high_water <= 51, "{d:?}");
    assert!(d.chunks.dropped_queue > 100, "{d:?}");
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
async fn stopping_while_the_daemon_is_away_keeps_trying_until_the_stop_timeout_then_fails_what_is_left(
) {
    let mut h = Harness::start(100, fast()).await;
    h.push(3).await;
    h.daemon.set(Mode::Down);
    h.push(5).await;
    let started = Instant::now();
    let (_, counters, events) = h.stop().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let d = counters.delivery();
    assert_eq!((d.chunks.sent, d.chunks.failed_stopped), (3, 5), "{d:?}");
    assert_eq!(*events.errors.lock().unwrap(), ["E_DAEMON_UNREACHABLE"]);
    assert_eq!(counters.link_state(), LinkState::Off);
}

#[tokio::test]
async fn a_daemon_that_comes_back_during_the_stop_gets_everything() {
    let config = LinkConfig {
        stop_timeout: Duration::from_secs(3),
        ..fast()
    };
    let mut h = Harness::start(100, config).await;
    h.push(3).await;
    h.daemon.set(Mode::Down);
    h.push(5).await;
    let daemon = h.daemon.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        daemon.set(Mode::Up);
    });
    let (daemon, counters, events) = h.stop().await;
    assert_eq!(
        daemon.state(|s| s.received.clone()),
        (0..8).collect::<Vec<_>>()
    );
    let d = counters.delivery();
    assert_eq!((d.chunks.sent, d.chunks.failed), (8, 0), "{d:?}");
    assert!(events.errors.lock().unwrap().is_empty());
}

#[tokio::test]
async fn utterances_are_transcribed_in_order_busy_ones_wait_and_refused_ones_fail_once() {
    let mut h = Harness::start_with(100, fast(), Route::Utterances).await;
    h.daemon.with(|s| {
        s.busy = 4;
        s.refuse = Some(3);
    });
    // Chunks are not what a batch session takes: superseded, not sent, not failed.
    h.push(2).await;
    for id in 1..=5 {
        h.push_utterance(id);
    }
    let (daemon, counters, events) = h.stop().await;
    assert_eq!(daemon.state(|s| s.transcribed.clone()), [1, 2, 4, 5]);
    let d = counters.delivery();
    assert_eq!(d.chunks.superseded, 2, "{d:?}");
    assert_eq!(d.chunks.sent, 0);
    assert_eq!(
        (
            d.utterances.queued,
            d.utterances.sent,
            d.utterances.failed_rejected
        ),
        (5, 4, 1),
        "{d:?}"
    );
    assert_eq!(
        counters.send_attempts_failed.load(Relaxed),
        1,
        "busy replies are not failed sends"
    );
    let texts = events.texts.lock().unwrap().clone();
    assert_eq!(
        texts,
        [1, 2, 4, 5].map(|id| (format!("utterance {id}"), id))
    );
    assert_eq!(*events.errors.lock().unwrap(), ["E_DAEMON_ERROR"]);
    assert_eq!(counters.transcription_latency.count(), 4);
    assert_eq!(counters.daemon_mode(), DaemonMode::Utterances);
}

#[tokio::test]
async fn a_daemon_that_switches_to_a_realtime_model_gets_chunks_and_the_waiting_utterances_are_superseded(
) {
    let mut h = Harness::start_with(100, fast(), Route::Utterances).await;
    h.push_utterance(1);
    until("utterance 1 transcribed", || {
        h.daemon.state(|s| s.transcribed.len()) == 1
    })
    .await;
    h.daemon.set(Mode::Down);
    h.push_utterance(2);
    until("utterance 2 tried on the daemon that is down", || {
        h.counters.link_state() == LinkState::Reconnecting
    })
    .await;
    // The daemon comes back with a realtime model: utterances are now superseded by chunks.
    h.daemon.with(|s| s.route = Route::Stream);
    h.daemon.set(Mode::Up);
    h.push(3).await;
    h.push_utterance(3);
    let (daemon, counters, _) = h.stop().await;
    let d = counters.delivery();
    assert_eq!(daemon.state(|s| s.transcribed.clone()), [1]);
    assert_eq!(d.utterances.superseded, 2, "{d:?}");
    assert_eq!(d.chunks.sent, 3);
    assert_eq!(counters.daemon_mode(), DaemonMode::Stream);
}

#[tokio::test]
async fn a_pause_ends_the_realtime_session_and_the_next_chunk_opens_one() {
    let mut h = Harness::start(100, fast()).await;
    h.push(3).await;
    h.queue.push(Outgoing::new(Work::EndSession, 0.0));
    until("the session ended", || h.daemon.state(|s| s.ended) == 1).await;
    assert_eq!(h.daemon.state(|s| (s.connects, s.ended)), (1, 1));
    assert_eq!(h.counters.link_state(), LinkState::Idle);
    // No new session while nothing comes (a wait for something that must not happen: any
    // reconnect the link would make starts within its 2 ms backoff).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.daemon.state(|s| s.connects), 1);
    h.push(3).await;
    let (daemon, counters, _) = h.stop().await;
    assert_eq!(daemon.state(|s| (s.connects, s.ended)), (2, 2));
    assert_eq!(
        daemon.state(|s| s.received.clone()),
        (0..6).collect::<Vec<_>>()
    );
    assert!(counters.delivery().invariant_holds());
}
