//! The daemon link: takes chunks and utterances from the send queue and delivers them through
//! a `Connector`'s sessions, in order, one at a time. The rules below are the only
//! implementation of them and apply to every protocol and both routes:
//! - every new session says how it transcribes (`Route`): a realtime stream takes chunks, a
//!   batch session utterances; what it does not take is superseded (the other kind carries
//!   the same audio) and counted as such;
//! - a broken session is dropped and reopened with capped exponential backoff; the item that
//!   was in flight goes back to the front of the queue and is sent first on the new session
//!   (at most `max_attempts` sends per item);
//! - an item the daemon refuses (`DaemonError`) is failed at once, the session kept; a daemon
//!   that is busy (`DaemonBusy`: loading a model, rate-limited) gets it again after a backoff,
//!   without counting it as a send;
//! - every send and every connect has a reply timeout; an utterance's grows with its length;
//! - while disconnected, items wait in the bounded queue, which drops the oldest;
//! - `pause()` ends a realtime session (its final result delivered); the next chunk opens one;
//! - a stop keeps trying, with backoff, to deliver what is queued for up to `stop_timeout`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;

use tokio_util::sync::CancellationToken;

use super::queue::{Outgoing, SendQueue, Utterance, Work};
use super::Admission;
use crate::error::{Error, Result};
use crate::events::{DaemonEvent, Event, Events};
use crate::stats::{DaemonMode, DeliveryCounters, FailureReason, LinkState};
use crate::time::wall_clock_ms;
use crate::transport::{Connector, Route, Session, Transcription, UtteranceResult};

#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    pub reply_timeout: Duration,
    /// Sends tried per item before it is failed.
    pub max_attempts: u32,
    /// How long a stop waits for the daemon (also one that is away) to take what is queued.
    pub stop_timeout: Duration,
    /// Our session id, for the transcriptions of utterances.
    pub client_id: String,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(10),
            max_attempts: 3,
            stop_timeout: Duration::from_secs(5),
            client_id: String::new(),
        }
    }
}

/// The reply timeout of an utterance grows by this many times its length: a CPU Whisper
/// pass over an utterance takes about its length.
pub const UTTERANCE_TIMEOUT_PER_SECOND: u32 = 3;

impl LinkConfig {
    /// The wait before reconnect attempt `attempt` (1-based): initial · 2^(attempt-1), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        self.reconnect_initial
            .saturating_mul(factor)
            .min(self.reconnect_max)
    }

    /// How long to wait for the text of `samples` (16 kHz).
    pub fn utterance_timeout(&self, samples: usize) -> Duration {
        let audio = Duration::from_secs_f64(samples as f64 / 16_000.0);
        self.reply_timeout + audio * UTTERANCE_TIMEOUT_PER_SECOND
    }
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

fn mode_of(route: Route) -> DaemonMode {
    match route {
        Route::Stream => DaemonMode::Stream,
        Route::Utterances => DaemonMode::Utterances,
    }
}

/// What one send came to.
enum Sent {
    Ok,
    /// Busy: the same item again after a backoff, on the same session.
    Later,
    Err(Error),
}

struct Runner<'a> {
    config: &'a LinkConfig,
    queue: &'a SendQueue,
    counters: &'a DeliveryCounters,
    events: &'a Events,
    admission: &'a Admission,
    /// Report the first lost item of a run of failures, not every one.
    failing: bool,
    busy_attempt: u32,
}

impl Runner<'_> {
    fn announce(&self, event: DaemonEvent) {
        self.counters.set_link_state(event.state);
        self.events.emit(Event::Daemon(event));
    }

    /// A new session: its route decides what is sent from now on.
    fn opened<S: Session>(&self, session: &S) {
        let route = session.route();
        self.counters.set_daemon_protocol(session.protocol());
        self.counters.set_daemon_mode(mode_of(route));
        self.admission.set_route(route);
        let other = match route {
            Route::Stream => super::queue::Kind::Utterance,
            Route::Utterances => super::queue::Kind::Chunk,
        };
        self.queue.supersede_all(other);
        self.announce(DaemonEvent {
            mode: Some(mode_of(route).as_str()),
            ..DaemonEvent::connected(session.protocol())
        });
    }

    async fn send<S: Session>(&mut self, session: &mut S, item: &Outgoing) -> Sent {
        let started = Instant::now();
        let result = match &item.work {
            Work::Chunk(chunk) => within(
                self.config.reply_timeout,
                session.send_chunk(&chunk.samples),
            )
            .await
            .map(|()| None),
            Work::Utterance(u) => {
                let timeout = self.config.utterance_timeout(u.samples.len());
                within(timeout, session.transcribe(&u.samples))
                    .await
                    .map(Some)
            }
            Work::EndSession => return Sent::Ok,
        };
        match result {
            Ok(text) => {
                self.failing = false;
                self.busy_attempt = 0;
                let now_ms = wall_clock_ms();
                match (&item.work, text) {
                    (Work::Utterance(u), Some(text)) => self.transcribed(u, text, now_ms),
                    _ => {
                        self.counters
                            .send_latency
                            .record_micros(started.elapsed().as_micros() as u64);
                        let delivery_ms = (now_ms - item.captured_end_ms).max(0.0);
                        self.counters
                            .delivery_latency
                            .record_micros((delivery_ms * 1000.0) as u64);
                    }
                }
                Sent::Ok
            }
            Err(Error::DaemonBusy(_)) => Sent::Later,
            Err(e) => Sent::Err(e),
        }
    }

    fn transcribed(&self, u: &Utterance, text: String, now_ms: f64) {
        let latency_ms = (now_ms - u.end_ms).max(0.0);
        self.counters
            .transcription_latency
            .record_micros((latency_ms * 1000.0) as u64);
        self.counters.transcriptions.fetch_add(1, Relaxed);
        self.events.emit(Event::Transcription(Transcription {
            text,
            client_id: self.config.client_id.clone(),
            timestamp: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            is_final: true,
            utterance: Some(UtteranceResult {
                id: u.id,
                start_ms: u.start_ms,
                end_ms: u.end_ms,
                latency_ms,
            }),
        }));
    }
}

/// Runs until the queue is closed and empty (or, when stopping while the daemon is away,
/// until `stop_timeout` has passed), then ends the session.
pub async fn run<C: Connector>(
    link: Link<C>,
    queue: Arc<SendQueue>,
    events: Events,
    stopping: CancellationToken,
    admission: Arc<Admission>,
) {
    let Link {
        connector,
        mut session,
        config,
    } = link;
    let counters = queue.counters();
    let mut r = Runner {
        config: &config,
        queue: &queue,
        counters,
        events: &events,
        admission: &admission,
        failing: false,
        busy_attempt: 0,
    };
    let mut ever_connected = session.is_some();
    let mut attempt = 0u32;
    // Why the previous connect attempt failed, for the next `reconnecting` event.
    let mut last_connect_error: Option<Error> = None;
    // Refused credentials need the user, so they are an `error` event, once per outage.
    let mut reported_credentials = false;
    // A session ended for a pause is opened again by the next item, not at once.
    let mut idle = false;
    let mut stop_deadline: Option<Instant> = None;
    if let Some(s) = &session {
        r.opened(s);
    }
    loop {
        let Some(current) = session.as_mut() else {
            let stop = stopping.is_cancelled();
            if stop && queue.is_empty() {
                break;
            }
            if idle && !stop {
                tokio::select! {
                    _ = queue.until_nonempty() => {}
                    _ = stopping.cancelled() => {}
                }
                idle = false;
                continue;
            }
            attempt += 1;
            let deadline =
                stop.then(|| *stop_deadline.get_or_insert(Instant::now() + config.stop_timeout));
            // At a stop the first attempt is at once; later ones back off as usual.
            let delay = match deadline {
                Some(_) if attempt == 1 => Duration::ZERO,
                Some(d) => config
                    .backoff(attempt)
                    .min(d.saturating_duration_since(Instant::now())),
                None => config.backoff(attempt),
            };
            r.announce(DaemonEvent {
                attempt: Some(attempt),
                delay: Some(delay),
                error: last_connect_error.take(),
                ..DaemonEvent::state(LinkState::Reconnecting)
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
                    r.opened(&new_session);
                    session = Some(new_session);
                }
                Err(e) => {
                    counters.connect_failures.fetch_add(1, Relaxed);
                    if matches!(e, Error::Unauthorized(_)) && !reported_credentials {
                        reported_credentials = true;
                        events.error(e.clone());
                    }
                    last_connect_error = Some(e.clone());
                    // Waiting does not fix credentials.
                    let hopeless = matches!(e, Error::Unauthorized(_));
                    if deadline.is_some_and(|d| hopeless || Instant::now() >= d) {
                        let lost = queue.fail_remaining(FailureReason::Stopped, false);
                        if lost > 0 {
                            events.error(e.with_note(&format!(
                                "{lost} queued item(s) not delivered at stop"
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
                r.announce(DaemonEvent::disconnected(e));
                continue;
            }
        };
        // On the batch route every utterance is a request of its own, so there is no
        // connection to lose when the user switches models: `auto` looks again before each.
        if matches!(item.work, Work::Utterance(_))
            && current.route() == Route::Utterances
            && admission.looks_again()
        {
            match within(config.reply_timeout, connector.connect()).await {
                Ok(fresh) if fresh.route() == Route::Stream => {
                    r.opened(&fresh);
                    session = Some(fresh);
                    queue.superseded(&item);
                    continue;
                }
                Ok(fresh) => session = Some(fresh),
                Err(e) => {
                    session = None;
                    queue.requeue_front(item);
                    r.announce(DaemonEvent::disconnected(e));
                    continue;
                }
            }
        }
        let Some(current) = session.as_mut() else {
            continue;
        };
        let route = current.route();
        match (&item.work, route) {
            (Work::EndSession, Route::Stream) => {
                if let Some(s) = session.take() {
                    if let Err(e) = within(config.reply_timeout, s.end()).await {
                        events.error(e);
                    }
                }
                idle = true;
                r.announce(DaemonEvent::state(LinkState::Idle));
                continue;
            }
            (Work::EndSession, Route::Utterances) => continue,
            (Work::Chunk(_), Route::Utterances) | (Work::Utterance(_), Route::Stream) => {
                queue.superseded(&item);
                continue;
            }
            _ => {}
        }
        item.attempts += 1;
        match r.send(current, &item).await {
            Sent::Ok => queue.sent(&item),
            Sent::Later => {
                item.attempts -= 1;
                r.busy_attempt += 1;
                let delay = config.backoff(r.busy_attempt);
                queue.requeue_front(item);
                tokio::time::sleep(delay).await;
            }
            Sent::Err(e) => {
                counters.send_attempts_failed.fetch_add(1, Relaxed);
                let reason = failure_reason(&e);
                if reason != FailureReason::Rejected {
                    session = None;
                    r.announce(DaemonEvent::disconnected(e.clone()));
                }
                if reason == FailureReason::Rejected || item.attempts >= config.max_attempts {
                    queue.failed(&item, reason);
                    // A lost chunk is one of a run (reported once); a lost utterance is a
                    // lost transcription (each is reported).
                    if !r.failing || matches!(item.work, Work::Utterance(_)) {
                        events.error(e);
                    }
                    r.failing = true;
                } else {
                    queue.requeue_front(item);
                }
            }
        }
    }
    if let Some(session) = session {
        if let Err(e) = within(config.reply_timeout, session.end()).await {
            events.error(e);
        }
    }
    counters.set_link_state(LinkState::Off);
}

#[cfg(test)]
mod tests;
