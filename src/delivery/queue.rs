//! The bounded send queue between the sinks and the daemon link: chunks and utterances in
//! one order. Its bound is audio (`maxBufferMs` as samples), whatever the kind; full → the
//! oldest items are dropped and counted. An item whose send broke goes back to the front, so
//! a retry keeps the order and is itself subject to drop-oldest. Each kind's `depth` counts
//! queued plus in-flight items, and every count changes under one lock, so
//! `queued = sent + dropped + failed + superseded + depth` holds at every read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::dsp::chunker::Chunk;
use crate::stats::{Counts, Delivery, DeliveryCounters, FailureReason};

/// One utterance for the daemon's batch route.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub id: u64,
    pub samples: Vec<f32>,
    pub start_ms: f64,
    pub end_ms: f64,
}

/// What the link delivers.
#[derive(Debug)]
pub enum Work {
    Chunk(Chunk),
    Utterance(Utterance),
    /// `pause()`: end the realtime session (and wait for its result); the next chunk opens a
    /// new one. Not counted: it carries no audio.
    EndSession,
}

/// Which count a work item is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chunk,
    Utterance,
}

impl Work {
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Work::Chunk(_) => Some(Kind::Chunk),
            Work::Utterance(_) => Some(Kind::Utterance),
            Work::EndSession => None,
        }
    }

    pub fn samples(&self) -> &[f32] {
        match self {
            Work::Chunk(c) => &c.samples,
            Work::Utterance(u) => &u.samples,
            Work::EndSession => &[],
        }
    }
}

/// An item on its way to the daemon.
#[derive(Debug)]
pub struct Outgoing {
    pub work: Work,
    /// Wall-clock ms at which its last sample was captured.
    pub captured_end_ms: f64,
    /// Sends tried so far.
    pub attempts: u32,
}

impl Outgoing {
    pub fn new(work: Work, captured_end_ms: f64) -> Self {
        Self {
            work,
            captured_end_ms,
            attempts: 0,
        }
    }

    fn len(&self) -> usize {
        self.work.samples().len()
    }

    /// The chunk's `seq` (tests).
    #[cfg(test)]
    pub fn seq(&self) -> u64 {
        match &self.work {
            Work::Chunk(c) => c.seq,
            _ => u64::MAX,
        }
    }
}

fn counts(d: &mut Delivery, kind: Kind) -> &mut Counts {
    match kind {
        Kind::Chunk => &mut d.chunks,
        Kind::Utterance => &mut d.utterances,
    }
}

#[derive(Default)]
struct State {
    items: VecDeque<Outgoing>,
    /// Samples queued (not in flight).
    samples: usize,
    /// Popped and not yet settled, per kind.
    in_flight: [u64; 2],
}

impl State {
    fn pop_front(&mut self) -> Option<Outgoing> {
        let item = self.items.pop_front()?;
        self.samples -= item.len();
        Some(item)
    }
}

pub struct SendQueue {
    state: Mutex<State>,
    /// Set by the first drop since the last successful send, for one report per outage.
    dropping: AtomicBool,
    /// Samples the queue holds before it drops its oldest.
    capacity: usize,
    closed: AtomicBool,
    notify: Notify,
    counters: Arc<DeliveryCounters>,
}

fn slot(kind: Kind) -> usize {
    kind as usize
}

impl SendQueue {
    /// `capacity`: 16 kHz samples of audio the queue holds.
    pub fn new(capacity: usize, counters: Arc<DeliveryCounters>) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(256),
                ..State::default()
            }),
            dropping: AtomicBool::new(false),
            capacity: capacity.max(1),
            closed: AtomicBool::new(false),
            notify: Notify::new(),
            counters,
        }
    }

    /// In samples.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the oldest items until `room` more samples fit; counts them.
    fn make_room(&self, state: &mut State, room: usize, d: &mut Delivery) -> bool {
        let mut dropped = false;
        while state.samples + room > self.capacity {
            let Some(old) = state.pop_front() else {
                break;
            };
            if let Some(kind) = old.work.kind() {
                let c = counts(d, kind);
                c.dropped_queue += 1;
                c.depth -= 1;
                dropped = true;
            }
        }
        dropped
    }

    /// Queues an item, dropping the oldest when full. Returns true for the first drop since
    /// the last successful send (one report per outage).
    pub fn push(&self, item: Outgoing) -> bool {
        let dropped = {
            let mut state = self.lock();
            let len = item.len();
            let kind = item.work.kind();
            let dropped = self.counters.update_delivery(|d| {
                let dropped = self.make_room(&mut state, len, d);
                if let Some(kind) = kind {
                    let c = counts(d, kind);
                    c.queued += 1;
                    c.depth += 1;
                    c.high_water = c.high_water.max(c.depth);
                }
                dropped
            });
            state.samples += len;
            state.items.push_back(item);
            dropped
        };
        self.notify.notify_one();
        dropped && !self.dropping.swap(true, Ordering::Relaxed)
    }

    /// Puts an item whose send broke back at the front, to be sent first after a reconnect.
    /// When it no longer fits, it is dropped, as the oldest.
    pub fn requeue_front(&self, item: Outgoing) {
        let mut state = self.lock();
        let Some(kind) = item.work.kind() else {
            state.items.push_front(item);
            return;
        };
        state.in_flight[slot(kind)] -= 1;
        if state.samples + item.len() > self.capacity {
            self.counters.update_delivery(|d| {
                let c = counts(d, kind);
                c.dropped_queue += 1;
                c.depth -= 1;
            });
        } else {
            state.samples += item.len();
            state.items.push_front(item);
        }
    }

    /// The next item, waiting for one; `None` once closed and empty. The item stays counted
    /// in its depth until the caller settles it with `sent`, `failed`, `superseded` or
    /// `requeue_front`. Cancel-safe: an item is only taken by a poll that returns it.
    pub async fn pop(&self) -> Option<Outgoing> {
        loop {
            let notified = self.notify.notified();
            {
                let mut state = self.lock();
                if let Some(item) = state.pop_front() {
                    if let Some(kind) = item.work.kind() {
                        state.in_flight[slot(kind)] += 1;
                    }
                    return Some(item);
                }
            }
            if self.is_closed() {
                return None;
            }
            notified.await;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// Resolves once something is queued (or the queue is closed).
    pub async fn until_nonempty(&self) {
        loop {
            let notified = self.notify.notified();
            if !self.is_empty() || self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    fn settle(&self, item: &Outgoing, f: impl FnOnce(&mut Counts)) {
        let Some(kind) = item.work.kind() else {
            return;
        };
        let mut state = self.lock();
        state.in_flight[slot(kind)] -= 1;
        self.counters.update_delivery(|d| {
            let c = counts(d, kind);
            f(c);
            c.depth -= 1;
        });
    }

    pub fn sent(&self, item: &Outgoing) {
        self.dropping.store(false, Ordering::Relaxed);
        self.settle(item, |c| {
            c.sent += 1;
            c.samples_sent += item.len() as u64;
        });
    }

    pub fn failed(&self, item: &Outgoing, reason: FailureReason) {
        self.settle(item, |c| c.count_failure(reason));
    }

    /// Not sent: the daemon takes the other kind, which carries the same audio.
    pub fn superseded(&self, item: &Outgoing) {
        self.settle(item, |c| c.superseded += 1);
    }

    /// Removes every queued item of `kind` as superseded; returns how many.
    pub fn supersede_all(&self, kind: Kind) -> u64 {
        let mut state = self.lock();
        let before = state.items.len();
        let mut removed_samples = 0;
        state.items.retain(|item| {
            let keep = item.work.kind() != Some(kind);
            if !keep {
                removed_samples += item.len();
            }
            keep
        });
        state.samples -= removed_samples;
        let n = (before - state.items.len()) as u64;
        self.counters.update_delivery(|d| {
            let c = counts(d, kind);
            c.superseded += n;
            c.depth -= n;
        });
        n
    }

    pub fn counters(&self) -> &DeliveryCounters {
        &self.counters
    }

    /// No more pushes: `pop` returns `None` once the queue is empty.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Fails everything queued, and with `include_in_flight` the items whose sender was
    /// abandoned mid-send too (a stop that gives up on the daemon). Returns how many.
    pub fn fail_remaining(&self, reason: FailureReason, include_in_flight: bool) -> u64 {
        let mut state = self.lock();
        let mut per_kind = [0u64; 2];
        for item in state.items.drain(..) {
            if let Some(kind) = item.work.kind() {
                per_kind[slot(kind)] += 1;
            }
        }
        state.samples = 0;
        if include_in_flight {
            for (n, flying) in per_kind.iter_mut().zip(state.in_flight.iter_mut()) {
                *n += std::mem::take(flying);
            }
        }
        self.counters.update_delivery(|d| {
            for (kind, n) in [(Kind::Chunk, per_kind[0]), (Kind::Utterance, per_kind[1])] {
                let c = counts(d, kind);
                for _ in 0..n {
                    c.count_failure(reason);
                }
                c.depth -= n;
            }
        });
        per_kind.iter().sum()
    }
}

#[cfg(test)]
mod tests;
