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
        let timeline = self.clock.timeline();
        let Self {
            resampler,
            drain_buf,
            out,
            samples_out,
            clipped,
            ..
        } = self;
        let mut emit = |out: &mut Vec<f32>, clipped: &mut bool| {
            if out.is_empty() {
                return;
            }
            sanitize_in_place(out);
            let block = Block {
                samples: out,
                start_sample: *samples_out,
                timeline,
                clipped: std::mem::take(clipped),
            };
            for sink in sinks.iter_mut() {
                sink.push(&block);
            }
            *samples_out += out.len() as u64;
            out.clear();
        };
        let mut drained = Drained {
            frames: 0,
            all_zero: true,
        };
        let mut on_samples = |samples: &[f32], clipped: &mut bool| {
            if out.len() + samples.len() > out.capacity() {
                emit(out, clipped);
            }
            out.extend_from_slice(samples);
        };
        loop {
            let n = ring.pop_slice(drain_buf);
            if n == 0 {
                break;
            }
            let input = &drain_buf[..n];
            drained.frames += n;
            drained.all_zero &= input.iter().all(|&s| s == 0.0);
            *clipped |= reaches_clip_level(input);
            resampler.process(input, &mut |s| on_samples(s, clipped));
        }
        if flush {
            resampler.flush(&mut |s| on_samples(s, clipped));
        }
        emit(out, clipped);
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
