use super::*;
use crate::delivery::queue::Outgoing;
use crate::dsp::chunker::Chunk;
use crate::events::EventSink;
use crate::stats::DeliveryCounters;
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
struct Seen {
    states: Mutex<Vec<LinkState>>,
    errors: Mutex<Vec<&'static str>>,
}

impl EventSink for Seen {
    fn emit(&self, event: Event) -> u64 {
        match event {
            Event::Error(e) => self.errors.lock().unwrap().push(e.code()),
            Event::Daemon(d) => self.states.lock().unwrap().push(d.state),
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
        let daemon = FakeDaemon::new();
        let counters = Arc::new(DeliveryCounters::default());
        let queue = Arc::new(SendQueue::new(capacity, counters.clone()));
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

    async fn stop(self) -> (FakeDaemon, Arc<DeliveryCounters>, Arc<Seen>) {
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
