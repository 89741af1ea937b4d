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
use crate::error::{Error, Result};
use crate::events::{DaemonEvent, Event, Events};
use crate::stats::{FailureReason, LinkState};
use crate::time::wall_clock_ms;
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
    events: Events,
    stopping: CancellationToken,
) {
    let Link {
        connector,
        mut session,
        config,
    } = link;
    let counters = queue.counters();
    let announce = |event: DaemonEvent| {
        counters.set_link_state(event.state);
        events.emit(Event::Daemon(event));
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
        announce(DaemonEvent::connected(s.protocol()));
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
            announce(DaemonEvent {
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
                    announce(DaemonEvent::connected(new_session.protocol()));
                    session = Some(new_session);
                }
                Err(e) => {
                    counters.connect_failures.fetch_add(1, Relaxed);
                    if matches!(e, Error::Unauthorized(_)) && !reported_credentials {
                        reported_credentials = true;
                        events.error(e.clone());
                    }
                    last_connect_error = Some(e.clone());
                    // Give up only after an attempt that started once the stop was asked for.
                    if stop {
                        let lost = queue.fail_remaining(FailureReason::Stopped, false);
                        if lost > 0 {
                            events.error(e.with_note(&format!(
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
                announce(DaemonEvent::disconnected(e));
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
                    announce(DaemonEvent::disconnected(e.clone()));
                }
                if reason == FailureReason::Rejected || item.attempts >= config.max_attempts {
                    queue.failed(&item, reason);
                    if !failing {
                        events.error(e.clone());
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
            events.error(e.clone());
        }
    }
    counters.set_link_state(LinkState::Off);
}

#[cfg(test)]
mod tests;
