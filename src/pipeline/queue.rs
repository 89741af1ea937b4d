//! The bounded send queue between the pipeline task and the sender task.
//! Full → the oldest chunk is dropped and counted. `depth` counts queued plus in-flight
//! chunks, so `queued = sent + dropped + failed + depth` holds at every read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::dsp::chunker::Chunk;
use crate::stats::PipelineCounters;
use std::sync::atomic::Ordering::Relaxed;

pub struct SendQueue {
    items: Mutex<VecDeque<Chunk>>,
    capacity: usize,
    closed: AtomicBool,
    notify: Notify,
    counters: Arc<PipelineCounters>,
}

impl SendQueue {
    pub fn new(capacity: usize, counters: Arc<PipelineCounters>) -> Self {
        let capacity = capacity.max(1);
        Self {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            closed: AtomicBool::new(false),
            notify: Notify::new(),
            counters,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Chunk>> {
        // A panic while holding this lock cannot leave the deque inconsistent.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, chunk: Chunk) {
        {
            let mut items = self.lock();
            if items.len() == self.capacity {
                items.pop_front();
                self.counters.chunks_dropped_queue.fetch_add(1, Relaxed);
                self.counters.send_queue_depth.fetch_sub(1, Relaxed);
            }
            items.push_back(chunk);
            self.counters.chunks_queued.fetch_add(1, Relaxed);
            let depth = self.counters.send_queue_depth.fetch_add(1, Relaxed) + 1;
            self.counters
                .send_queue_high_water
                .fetch_max(depth, Relaxed);
        }
        self.notify.notify_one();
    }

    /// The next chunk, waiting for one; `None` once closed and empty. The chunk stays counted
    /// in the depth until the caller reports it with [`SendQueue::done`].
    pub async fn pop(&self) -> Option<Chunk> {
        loop {
            let notified = self.notify.notified();
            if let Some(chunk) = self.lock().pop_front() {
                return Some(chunk);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            notified.await;
        }
    }

    /// Accounts for a popped chunk: sent, or failed.
    pub fn done(&self, chunk: &Chunk, sent: bool) {
        if sent {
            self.counters.chunks_sent.fetch_add(1, Relaxed);
            self.counters
                .samples_sent
                .fetch_add(chunk.samples.len() as u64, Relaxed);
        } else {
            self.counters.chunks_failed.fetch_add(1, Relaxed);
        }
        self.counters.send_queue_depth.fetch_sub(1, Relaxed);
    }

    pub fn counters(&self) -> &PipelineCounters {
        &self.counters
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Fails everything still queued (used when a stop gives up waiting for the daemon).
    pub fn fail_remaining(&self) {
        let drained: Vec<Chunk> = self.lock().drain(..).collect();
        for chunk in &drained {
            self.done(chunk, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u64) -> Chunk {
        Chunk {
            seq,
            start_sample: seq * 10,
            samples: vec![0.0; 10],
        }
    }

    fn invariant_holds(c: &PipelineCounters) -> bool {
        c.chunks_queued.load(Relaxed)
            == c.chunks_sent.load(Relaxed)
                + c.chunks_dropped_queue.load(Relaxed)
                + c.chunks_failed.load(Relaxed)
                + c.send_queue_depth.load(Relaxed)
    }

    #[tokio::test]
    async fn drops_oldest_when_full_and_keeps_the_accounting_exact() {
        let counters = Arc::new(PipelineCounters::default());
        let q = SendQueue::new(3, counters.clone());
        for seq in 0..5 {
            q.push(chunk(seq));
            assert!(invariant_holds(&counters));
        }
        assert_eq!(counters.chunks_dropped_queue.load(Relaxed), 2);
        assert_eq!(counters.send_queue_high_water.load(Relaxed), 3);
        let first = q.pop().await.unwrap();
        assert_eq!(first.seq, 2, "the oldest two were dropped");
        assert!(
            invariant_holds(&counters),
            "in flight still counts as depth"
        );
        q.done(&first, true);
        let second = q.pop().await.unwrap();
        q.done(&second, false);
        q.close();
        let third = q.pop().await.unwrap();
        assert_eq!(third.seq, 4);
        q.done(&third, true);
        assert!(q.pop().await.is_none());
        assert!(invariant_holds(&counters));
        assert_eq!(counters.send_queue_depth.load(Relaxed), 0);
        assert_eq!(counters.samples_sent.load(Relaxed), 20);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let counters = Arc::new(PipelineCounters::default());
        let q = Arc::new(SendQueue::new(3, counters));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await.map(|c| c.seq) });
        tokio::task::yield_now().await;
        q.push(chunk(7));
        assert_eq!(waiter.await.unwrap(), Some(7));
    }
}
