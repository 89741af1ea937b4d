//! Ring → resampler → clock: turns the device's mono frames into 16 kHz [`Block`]s for the
//! sinks. Allocation-free after construction.

use ringbuf::traits::Consumer;
use ringbuf::HeapCons;

use super::clock::{CaptureClock, Timeline};
use super::sink::{Block, Sink};
use crate::dsp::levels::reaches_clip_level;
use crate::dsp::resampler::StreamResampler;
use crate::dsp::sanitize_in_place;
use crate::error::Result;

/// Device frames taken from the ring per copy.
const DRAIN_FRAMES: usize = 8192;
/// Most 16 kHz samples in one block; a longer drain (after a stall) gives several.
const BLOCK_SAMPLES: usize = 4096;

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
            clock: CaptureClock::new(rate),
            rate,
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
        self.clock.timeline()
    }

    /// Moves everything in `ring` through the resampler to the sinks. `frames_captured` is
    /// the device's frame count, for the clock. `flush` also pushes the resampler's tail
    /// (the stream ends, or continues at another rate).
    pub fn drain(
        &mut self,
        ring: &mut HeapCons<f32>,
        frames_captured: u64,
        flush: bool,
        sinks: &mut [Box<dyn Sink>],
    ) -> Drained {
        self.clock.observe(frames_captured);
        let mut out = Emitter {
            sinks,
            out: &mut self.out,
            samples_out: &mut self.samples_out,
            clipped: &mut self.clipped,
            timeline: self.clock.timeline(),
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
    pub fn retarget(&mut self, rate: u32, frames_captured: u64) -> Result<()> {
        if rate != self.rate {
            self.resampler = StreamResampler::new(rate)?;
            self.rate = rate;
        }
        self.clock = CaptureClock::rebased(rate, frames_captured, self.samples_out);
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
