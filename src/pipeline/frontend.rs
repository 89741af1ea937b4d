//! Ring → resampler → clock: turns the device's mono frames into 16 kHz [`Block`]s for the
//! sinks. Allocation-free after construction.

use std::time::Instant;

use ringbuf::traits::Consumer;
use ringbuf::HeapCons;

use super::clock::{CaptureClock, Timeline};
use super::sink::{Block, Sink};
use crate::dsp::levels::reaches_clip_level;
use crate::dsp::resampler::StreamResampler;
use crate::dsp::{sanitize_in_place, TARGET_RATE};
use crate::error::Result;

/// Device frames taken from the ring per copy.
const DRAIN_FRAMES: usize = 8192;
/// Most 16 kHz samples in one block; a longer drain (after a stall) gives several.
const BLOCK_SAMPLES: usize = 4096;

/// The device's counters, read together before a drain.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceCount {
    /// Frames the callback was given, including those the full ring refused.
    pub captured: u64,
    /// Frames the full ring refused.
    pub dropped: u64,
}

/// What one drain took from the ring, for the supervisor's watch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drained {
    pub frames: usize,
    /// Every frame taken was an exact zero.
    pub all_zero: bool,
}

pub struct Frontend {
    resampler: StreamResampler,
    clock: CaptureClock,
    rate: u32,
    /// 16 kHz sample `index0` is frame `frame0` of the current stream, and the stream runs
    /// on without a gap from there: a pause or a ring overflow skips device frames that the
    /// 16 kHz stream never sees, and starts a new segment.
    index0: u64,
    frame0: f64,
    /// The device's dropped count as of the last drain.
    dropped_seen: u64,
    drain_buf: Vec<f32>,
    out: Vec<f32>,
    /// 16 kHz samples handed to the sinks so far.
    samples_out: u64,
    /// The input clipped since the last block.
    clipped: bool,
}

impl Frontend {
    pub fn new(rate: u32) -> Result<Self> {
        let resampler = StreamResampler::new(rate)?;
        let capacity = BLOCK_SAMPLES.max(2 * resampler.max_output_per_block());
        Ok(Self {
            resampler,
            clock: CaptureClock::new(rate, 0),
            rate,
            index0: 0,
            frame0: 0.0,
            dropped_seen: 0,
            drain_buf: vec![0.0; DRAIN_FRAMES],
            out: Vec::with_capacity(capacity),
            samples_out: 0,
            clipped: false,
        })
    }

    /// The device rate this frontend resamples from.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn timeline(&self) -> Timeline {
        self.clock.timeline(self.index0, self.frame0)
    }

    /// The device's rate error in ppm as estimated so far (`None` in a stream's first seconds).
    pub fn device_clock_ppm(&self) -> Option<f64> {
        self.clock.rate_error_ppm()
    }

    /// 16 kHz samples handed to the sinks so far.
    pub fn samples_out(&self) -> u64 {
        self.samples_out
    }

    /// Device frames, beyond those already taken from the ring, after which `samples` more
    /// 16 kHz samples will have reached the sinks.
    pub fn frames_for_output(&self, samples: u64) -> u64 {
        self.resampler.frames_for_output(samples)
    }

    /// When the device captures frame `frames_captured` of its count (see
    /// [`CaptureClock::instant_of`]).
    pub fn instant_of(&self, frames_captured: u64) -> Option<Instant> {
        self.clock.instant_of(frames_captured)
    }

    /// See [`CaptureClock::seconds`].
    pub fn clock_seconds(&self) -> usize {
        self.clock.seconds()
    }

    /// Tells the clock the device's frame count at `now` (drains do it themselves; a paused
    /// capture calls this, since the device runs on).
    pub fn observe(&mut self, frames_captured: u64, now: Instant) {
        self.clock.observe(frames_captured, now);
    }

    /// The device was stopped (a pause) and runs again from its count in `device`: a new
    /// clock from here, as after a reopen.
    pub fn rebase_clock(&mut self, device: DeviceCount) {
        self.clock = CaptureClock::new(self.rate, device.captured);
        self.index0 = self.samples_out;
        self.frame0 = 0.0;
        self.dropped_seen = device.dropped;
    }

    /// `frames` device frames at this point never reach the 16 kHz stream (discarded while
    /// paused, or refused by the full ring).
    pub fn skip(&mut self, frames: u64) {
        let frames_per_sample = self.rate as f64 / TARGET_RATE as f64;
        self.frame0 += (self.samples_out - self.index0) as f64 * frames_per_sample + frames as f64;
        self.index0 = self.samples_out;
    }

    /// Moves everything in `ring` through the resampler to the sinks. `device`: the device's
    /// counters read at `now`, for the clock. `flush` also pushes the resampler's tail (the
    /// stream ends, or continues at another rate).
    pub fn drain(
        &mut self,
        ring: &mut HeapCons<f32>,
        device: DeviceCount,
        now: Instant,
        flush: bool,
        sinks: &mut [Box<dyn Sink>],
    ) -> Drained {
        self.clock.observe(device.captured, now);
        if device.dropped > self.dropped_seen {
            // Placed before what the ring holds now: the gap is somewhere in it, and a ring
            // overflow is counted as a loss anyway.
            self.skip(device.dropped - self.dropped_seen);
        }
        self.dropped_seen = device.dropped;
        let mut out = Emitter {
            sinks,
            out: &mut self.out,
            samples_out: &mut self.samples_out,
            clipped: &mut self.clipped,
            timeline: self.clock.timeline(self.index0, self.frame0),
        };
        let mut drained = Drained {
            frames: 0,
            all_zero: true,
        };
        loop {
            let n = ring.pop_slice(&mut self.drain_buf);
            if n == 0 {
                break;
            }
            let input = &self.drain_buf[..n];
            drained.frames += n;
            drained.all_zero &= input.iter().all(|&s| s == 0.0);
            *out.clipped |= reaches_clip_level(input);
            for sink in out.sinks.iter_mut() {
                sink.push_device(input, self.rate);
            }
            self.resampler.process(input, &mut |s| out.samples(s));
        }
        if flush {
            self.resampler.flush(&mut |s| out.samples(s));
        }
        out.emit();
        drained
    }

    /// Continues at `rate` after a new stream opened: a new resampler when the rate changed
    /// (drain the old ring with `flush` first), and a clock rebased on the new stream.
    pub fn retarget(&mut self, rate: u32, device: DeviceCount) -> Result<()> {
        if rate != self.rate {
            self.resampler = StreamResampler::new(rate)?;
            self.rate = rate;
        }
        self.rebase_clock(device);
        Ok(())
    }
}

/// Gathers resampled samples into blocks for the sinks.
struct Emitter<'a> {
    sinks: &'a mut [Box<dyn Sink>],
    out: &'a mut Vec<f32>,
    samples_out: &'a mut u64,
    clipped: &'a mut bool,
    timeline: Timeline,
}

impl Emitter<'_> {
    fn samples(&mut self, samples: &[f32]) {
        if self.out.len() + samples.len() > self.out.capacity() {
            self.emit();
        }
        self.out.extend_from_slice(samples);
    }

    fn emit(&mut self) {
        if self.out.is_empty() {
            return;
        }
        sanitize_in_place(self.out);
        let block = Block {
            samples: self.out,
            start_sample: *self.samples_out,
            timeline: self.timeline,
            clipped: std::mem::take(self.clipped),
        };
        for sink in self.sinks.iter_mut() {
            sink.push(&block);
        }
        *self.samples_out += self.out.len() as u64;
        self.out.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Producer, Split};
    use ringbuf::HeapRb;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Keeps each block's start index and the time the timeline gives it.
    struct Times(Arc<Mutex<Vec<(u64, f64)>>>);

    impl Sink for Times {
        fn push(&mut self, block: &Block<'_>) {
            let at = block.timeline.time_of(block.start_sample);
            self.0.lock().unwrap().push((block.start_sample, at));
        }
    }

    #[test]
    fn samples_after_a_pause_or_an_overflow_are_timed_after_the_gap() {
        let rate = 48_000;
        let (mut prod, mut cons) = HeapRb::<f32>::new(rate as usize).split();
        let times = Arc::new(Mutex::new(Vec::new()));
        let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(Times(times.clone()))];
        let mut frontend = Frontend::new(rate).unwrap();
        let start = Instant::now();
        let mut device = DeviceCount::default();
        // 100 ms periods, observed at once: the device's clock is exactly the monotonic one.
        let period = |device: &mut DeviceCount, prod: &mut ringbuf::HeapProd<f32>| {
            device.captured += 4800;
            prod.push_slice(&[0.1; 4800]);
        };
        for k in 1..=10u64 {
            period(&mut device, &mut prod);
            let now = start + Duration::from_millis(100 * k);
            frontend.drain(&mut cons, device, now, false, &mut sinks);
        }
        let paused_at = frontend.samples_out;
        let before = frontend.timeline().time_of(paused_at);
        // Paused for 1 s: the device ran on, its frames were thrown away.
        frontend.skip(48_000);
        device.captured += 48_000;
        // Then 0.5 s of frames the full ring refused.
        device.captured += 24_000;
        device.dropped += 24_000;
        for k in 26..=30u64 {
            period(&mut device, &mut prod);
            let now = start + Duration::from_millis(100 * k);
            frontend.drain(&mut cons, device, now, false, &mut sinks);
        }
        let times = times.lock().unwrap();
        // The first block after the gaps starts where the sample clock stopped, 1.5 s later.
        let &(_, at) = times.iter().find(|(i, _)| *i == paused_at).unwrap();
        let expected = before + 1500.0;
        assert!((at - expected).abs() < 0.01, "{at} against {expected}");
        // The sample clock itself runs on without a gap.
        assert!(times.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
