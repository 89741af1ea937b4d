//! The only code the audio callback runs.
//!
//! `process` downmixes into a scratch buffer allocated up front, pushes it into the lock-free
//! ring in one bulk copy and bumps atomics. Nothing else: no allocation, lock, syscall, log,
//! channel or task wake-up. When the ring is full the newest frames are dropped and counted.

use std::marker::PhantomData;
use std::sync::Arc;

use cpal::{FromSample, Sample};
use ringbuf::traits::{Observer, Producer};
use ringbuf::HeapProd;

use crate::dsp::downmix::downmix_into;
use crate::stats::CaptureCounters;

/// Frames downmixed per bulk push. Callbacks larger than this are processed in slices, since
/// a host gives no upper bound on callback size.
pub const SCRATCH_FRAMES: usize = 4096;

pub struct Processor<T> {
    channels: usize,
    scratch: Box<[f32]>,
    ring: HeapProd<f32>,
    counters: Arc<CaptureCounters>,
    _format: PhantomData<fn(T)>,
}

impl<T> Processor<T>
where
    T: Sample,
    f32: FromSample<T>,
{
    /// Not realtime-safe (allocates the scratch buffer): build it before the stream starts.
    pub fn new(channels: usize, ring: HeapProd<f32>, counters: Arc<CaptureCounters>) -> Self {
        Self {
            channels: channels.max(1),
            scratch: vec![0.0; SCRATCH_FRAMES].into_boxed_slice(),
            ring,
            counters,
            _format: PhantomData,
        }
    }

    /// Mono frames the ring has room for now.
    pub fn vacant_frames(&self) -> usize {
        self.ring.vacant_len()
    }

    /// Realtime-safe. `frames` the host lost before they reached us (a hole in its stream):
    /// counted as captured and dropped, as frames the full ring refuses are.
    pub fn lost(&mut self, frames: usize) {
        self.counters.record_callback(
            frames as u64,
            frames as u64,
            self.ring.occupied_len() as u64,
        );
    }

    /// Realtime-safe. The whole audio callback.
    #[inline]
    pub fn process(&mut self, data: &[T]) {
        let frames = data.len() / self.channels;
        let mut dropped = 0usize;
        for block in data[..frames * self.channels].chunks(SCRATCH_FRAMES * self.channels) {
            let n = downmix_into(block, self.channels, &mut self.scratch);
            let pushed = self.ring.push_slice(&self.scratch[..n]);
            dropped += n - pushed;
        }
        self.counters.record_callback(
            frames as u64,
            dropped as u64,
            self.ring.occupied_len() as u64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Consumer, Split};
    use ringbuf::HeapRb;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn pushes_mono_into_the_ring_and_counts() {
        let (prod, mut cons) = HeapRb::<f32>::new(1000).split();
        let counters = Arc::new(CaptureCounters::default());
        let mut p = Processor::<i16>::new(2, prod, counters.clone());
        p.process(&[16384, 16384, -16384, 16384, 0, 0]);
        let mut out = [0f32; 3];
        assert_eq!(cons.pop_slice(&mut out), 3);
        assert_eq!(out, [0.5, 0.0, 0.0]);
        assert_eq!(counters.frames_captured.load(Relaxed), 3);
        assert_eq!(counters.callbacks.load(Relaxed), 1);
        assert_eq!(counters.frames_dropped.load(Relaxed), 0);
    }

    #[test]
    fn a_full_ring_drops_the_newest_frames_and_counts_them() {
        let (prod, mut cons) = HeapRb::<f32>::new(100).split();
        let counters = Arc::new(CaptureCounters::default());
        let mut p = Processor::<f32>::new(1, prod, counters.clone());
        let data: Vec<f32> = (0..150).map(|i| i as f32).collect();
        p.process(&data);
        assert_eq!(counters.frames_dropped.load(Relaxed), 50);
        assert_eq!(counters.ring_high_water.load(Relaxed), 100);
        let mut out = vec![0f32; 200];
        assert_eq!(cons.pop_slice(&mut out), 100);
        // The oldest frames were kept, in order.
        assert_eq!(&out[..100], &data[..100]);
    }

    #[test]
    fn oversized_callbacks_are_processed_in_slices() {
        let frames = SCRATCH_FRAMES * 3 + 17;
        let (prod, mut cons) = HeapRb::<f32>::new(frames).split();
        let counters = Arc::new(CaptureCounters::default());
        let mut p = Processor::<f32>::new(2, prod, counters.clone());
        let data: Vec<f32> = (0..frames).flat_map(|i| [i as f32, i as f32]).collect();
        p.process(&data);
        let mut out = vec![0f32; frames];
        assert_eq!(cons.pop_slice(&mut out), frames);
        assert!(out.iter().enumerate().all(|(i, v)| *v == i as f32));
        assert_eq!(counters.frames_captured.load(Relaxed), frames as u64);
    }
}
