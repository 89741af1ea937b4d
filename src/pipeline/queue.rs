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
use crate::stats::{FailureReason, PipelineCounters};

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
    counters: Arc<PipelineCounters>,
}

impl SendQueue {
    pub fn new(capacity: usize, counters: Arc<PipelineCounters>) -> Self {
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

    pub fn counters(&self) -> &PipelineCounters {
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
mod tests {
    use super::*;

    fn item(seq: u64) -> Outgoing {
        Outgoing {
            chunk: Chunk {
                seq,
                start_sample: seq * 10,
                samples: vec![0.0; 10],
            },
            captured_end_ms: 0.0,
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn drops_oldest_when_full_and_keeps_the_accounting_exact() {
        let counters = Arc::new(PipelineCounters::default());
        let q = SendQueue::new(3, counters.clone());
        for seq in 0..5 {
            q.push(item(seq));
            assert!(counters.delivery().invariant_holds());
        }
        let d = counters.delivery();
        assert_eq!(d.chunks_dropped_queue, 2);
        assert_eq!(d.send_queue_high_water, 3);
        let first = q.pop().await.unwrap();
        assert_eq!(first.chunk.seq, 2, "the oldest two were dropped");
        assert!(
            counters.delivery().invariant_holds(),
            "in flight counts as depth"
        );
        q.sent(&first);
        let second = q.pop().await.unwrap();
        q.failed(&second, FailureReason::Rejected);
        q.close();
        let third = q.pop().await.unwrap();
        assert_eq!(third.chunk.seq, 4);
        q.sent(&third);
        assert!(q.pop().await.is_none());
        let d = counters.delivery();
        assert!(d.invariant_holds());
        assert_eq!(d.send_queue_depth, 0);
        assert_eq!(d.samples_sent, 20);
        assert_eq!((d.chunks_failed, d.failed_rejected), (1, 1));
    }

    #[tokio::test]
    async fn a_requeued_chunk_goes_first_or_is_dropped_as_the_oldest() {
        let counters = Arc::new(PipelineCounters::default());
        let q = SendQueue::new(2, counters.clone());
        q.push(item(0));
        q.push(item(1));
        let in_flight = q.pop().await.unwrap();
        q.requeue_front(in_flight);
        assert_eq!(
            q.pop().await.unwrap().chunk.seq,
            0,
            "retried first, in order"
        );
        q.push(item(2)); // queue now holds 1, 2 with 0 in flight
        let d = counters.delivery();
        assert_eq!(d.send_queue_depth, 3);
        q.requeue_front(item(0));
        let d = counters.delivery();
        assert!(d.invariant_holds());
        assert_eq!(
            d.chunks_dropped_queue, 1,
            "no room: the retry is the oldest"
        );
        assert_eq!(q.pop().await.unwrap().chunk.seq, 1);
        assert_eq!(q.fail_remaining(FailureReason::Stopped, false), 1);
        let d = counters.delivery();
        assert_eq!(d.send_queue_depth, 1, "one still in flight");
        assert!(d.invariant_holds());
        assert_eq!(q.fail_remaining(FailureReason::Stopped, true), 1);
        let d = counters.delivery();
        assert_eq!((d.send_queue_depth, d.failed_stopped), (0, 2));
        assert!(d.invariant_holds());
    }

    #[test]
    fn the_invariant_holds_for_every_concurrent_read() {
        let counters = Arc::new(PipelineCounters::default());
        let q = Arc::new(SendQueue::new(8, counters.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (counters, stop) = (counters.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    assert!(counters.delivery().invariant_holds());
                    reads += 1;
                }
                reads
            })
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for seq in 0..20_000 {
                q.push(item(seq));
                if seq % 3 == 0 {
                    let it = q.pop().await.unwrap();
                    match seq % 4 {
                        0 => q.sent(&it),
                        1 => q.failed(&it, FailureReason::Timeout),
                        _ => q.requeue_front(it),
                    }
                }
            }
        });
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        assert!(counters.delivery().invariant_holds());
    }

    #[tokio::test]
    async fn pop_waits_for_a_push_and_close_wakes_it() {
        let counters = Arc::new(PipelineCounters::default());
        let q = Arc::new(SendQueue::new(3, counters));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await.map(|c| c.chunk.seq) });
        tokio::task::yield_now().await;
        q.push(item(7));
        assert_eq!(waiter.await.unwrap(), Some(7));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await.map(|c| c.chunk.seq) });
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(waiter.await.unwrap(), None);
    }
}
