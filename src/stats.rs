//! Counters shared by the audio callback, the pipeline task and `stats()`.
//!
//! All atomics are `Relaxed`: each counter is independently meaningful and no counter is used
//! to publish other memory. Reading them never blocks a writer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bumped only by the audio callback (one writer), read by anyone.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    pub frames_captured: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub callbacks: AtomicU64,
    pub ring_fill: AtomicU64,
    pub ring_high_water: AtomicU64,
}

impl CaptureCounters {
    /// Realtime-safe: atomics only.
    #[inline]
    pub fn record_callback(&self, frames: u64, dropped: u64, ring_fill: u64) {
        self.callbacks.fetch_add(1, Relaxed);
        self.frames_captured.fetch_add(frames, Relaxed);
        if dropped > 0 {
            self.frames_dropped.fetch_add(dropped, Relaxed);
        }
        self.ring_fill.store(ring_fill, Relaxed);
        self.ring_high_water.fetch_max(ring_fill, Relaxed);
    }
}

/// Bumped by the pipeline and sender tasks.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    pub chunks_emitted: AtomicU64,
    pub samples_emitted: AtomicU64,
    pub chunks_queued: AtomicU64,
    pub chunks_sent: AtomicU64,
    pub chunks_failed: AtomicU64,
    pub chunks_dropped_queue: AtomicU64,
    pub samples_sent: AtomicU64,
    pub send_queue_depth: AtomicU64,
    pub send_queue_high_water: AtomicU64,
    pub chunk_events_dropped: AtomicU64,
    pub level_events_dropped: AtomicU64,
    pub error_events_dropped: AtomicU64,
    pub send_latency: LatencyHistogram,
}

/// Lock-free latency histogram: 8 log-spaced buckets per octave of microseconds
/// (about 9 % resolution), up to ~2^27 µs; larger values land in the last bucket.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; Self::BUCKETS],
    count: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    const PER_OCTAVE: f64 = 8.0;
    const BUCKETS: usize = 28 * 8;

    fn bucket_of(micros: u64) -> usize {
        let v = micros.max(1) as f64;
        ((v.log2() * Self::PER_OCTAVE) as usize).min(Self::BUCKETS - 1)
    }

    /// The value that represents a bucket: its geometric middle, in milliseconds.
    fn bucket_value_ms(bucket: usize) -> f64 {
        2f64.powf((bucket as f64 + 0.5) / Self::PER_OCTAVE) / 1000.0
    }

    pub fn record_micros(&self, micros: u64) {
        self.buckets[Self::bucket_of(micros)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// The `q` quantile (0..=1) in milliseconds, or 0 when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::bucket_value_ms(i);
            }
        }
        Self::bucket_value_ms(Self::BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_within_bucket_resolution() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.5), 0.0);
        for _ in 0..98 {
            h.record_micros(2_000);
        }
        h.record_micros(40_000);
        h.record_micros(40_000);
        let p50 = h.quantile_ms(0.5);
        let p99 = h.quantile_ms(0.99);
        assert!((p50 - 2.0).abs() / 2.0 < 0.1, "p50 {p50}");
        assert!((p99 - 40.0).abs() / 40.0 < 0.1, "p99 {p99}");
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn high_water_tracks_the_maximum_fill() {
        let c = CaptureCounters::default();
        c.record_callback(240, 0, 500);
        c.record_callback(240, 10, 100);
        assert_eq!(c.ring_fill.load(Relaxed), 100);
        assert_eq!(c.ring_high_water.load(Relaxed), 500);
        assert_eq!(c.frames_captured.load(Relaxed), 480);
        assert_eq!(c.frames_dropped.load(Relaxed), 10);
        assert_eq!(c.callbacks.load(Relaxed), 2);
    }
}
