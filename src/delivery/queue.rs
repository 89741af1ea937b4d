//! The bounded send queue between the pipeline task and the daemon link.
//! Full → the oldest chunk is dropped and counted. A chunk whose send broke goes back to the
//! front, so a retry keeps the order and is itself subject to drop-oldest. `depth` counts
//! queued plus in-flight chunks, and every count changes under one lock, so
//! `queued = sent + dropped + failed + depth` holds at every read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::dsp::chunker::Chunk;
use crate::stats::{DeliveryCounters, FailureReason};

/// A chunk on its way to the daemon.
#[derive(Debug)]
pub struct Outgoing {
    pub chunk: Chunk,
    /// Wall-clock ms at which the chunk's last sample was captured.
    pub captured_end_ms: f64,
    /// Sends tried so far.
    pub attempts: u32,
}

#[derive(Default)]
struct State {
    items: VecDeque<Outgoing>,
    /// Popped and not yet settled.
    in_flight: u64,
}

pub struct SendQueue {
    state: Mutex<State>,
    /// Set by the first drop since the last successful send, for one report per outage.
    dropping: AtomicBool,
    capacity: usize,
    closed: AtomicBool,
    notify: Notify,
    counters: Arc<DeliveryCounters>,
}

impl SendQueue {
    pub fn new(capacity: usize, counters: Arc<DeliveryCounters>) -> Self {
        let capacity = capacity.max(1);
        Self {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity),
                in_flight: 0,
            }),
            dropping: AtomicBool::new(false),
            capacity,
            closed: AtomicBool::new(false),
            notify: Notify::new(),
            counters,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a chunk, dropping the oldest when full. Returns true for the first drop since
    /// the last successful send (one report per outage).
    pub fn push(&self, item: Outgoing) -> bool {
        let dropped = {
            let mut state = self.lock();
            let items = &mut state.items;
            let dropped = items.len() >= self.capacity && items.pop_front().is_some();
            items.push_back(item);
            self.counters.update_delivery(|d| {
                if dropped {
                    d.chunks_dropped_queue += 1;
                    d.send_queue_depth -= 1;
                }
                d.chunks_queued += 1;
                d.send_queue_depth += 1;
                d.send_queue_high_water = d.send_queue_high_water.max(d.send_queue_depth);
            });
            dropped
        };
        self.notify.notify_one();
        dropped && !self.dropping.swap(true, Ordering::Relaxed)
    }

    /// Puts a chunk whose send broke back at the front, to be sent first after a reconnect.
    /// A full queue drops it, as the oldest.
    pub fn requeue_front(&self, item: Outgoing) {
        let mut state = self.lock();
        state.in_flight -= 1;
        if state.items.len() >= self.capacity {
            self.counters.update_delivery(|d| {
                d.chunks_dropped_queue += 1;
                d.send_queue_depth -= 1;
            });
        } else {
            state.items.push_front(item);
        }
    }

    /// The next chunk, waiting for one; `None` once closed and empty. The chunk stays counted
    /// in the depth until the caller settles it with `sent`, `failed` or `requeue_front`.
    /// Cancel-safe: a chunk is only taken by a poll that returns it.
    pub async fn pop(&self) -> Option<Outgoing> {
        loop {
            let notified = self.notify.notified();
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    state.in_flight += 1;
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

    pub fn sent(&self, item: &Outgoing) {
        self.dropping.store(false, Ordering::Relaxed);
        let mut state = self.lock();
        state.in_flight -= 1;
        self.counters.update_delivery(|d| {
            d.chunks_sent += 1;
            d.samples_sent += item.chunk.samples.len() as u64;
            d.send_queue_depth -= 1;
        });
    }

    pub fn failed(&self, _item: &Outgoing, reason: FailureReason) {
        let mut state = self.lock();
        state.in_flight -= 1;
        self.counters.update_delivery(|d| {
            d.count_failure(reason);
            d.send_queue_depth -= 1;
        });
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

    /// Fails everything queued, and with `include_in_flight` the chunks whose sender was
    /// abandoned mid-send too (a stop that gives up on the daemon). Returns how many.
    pub fn fail_remaining(&self, reason: FailureReason, include_in_flight: bool) -> u64 {
        let mut state = self.lock();
        let mut n = state.items.len() as u64;
        state.items.clear();
        if include_in_flight {
            n += std::mem::take(&mut state.in_flight);
        }
        self.counters.update_delivery(|d| {
            for _ in 0..n {
                d.count_failure(reason);
            }
            d.send_queue_depth -= n;
        });
        n
    }
}

#[cfg(test)]
mod tests;
