//! What the pipeline feeds: every consumer of the 16 kHz stream is a [`Sink`].
//!
//! Sinks run on the pipeline task, never on the audio thread. They get the same blocks in
//! the same order; a sink that needs more time than a tick allows must hand its work to a
//! thread or task of its own (as the chunk sink does, through the delivery queue).

use std::time::Instant;

use super::clock::Timeline;

/// 16 kHz mono samples fresh from the frontend: finite, within [-1, 1].
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    pub samples: &'a [f32],
    /// The 16 kHz index of `samples[0]` since the capture started (the chunks' clock).
    pub start_sample: u64,
    /// Wall-clock time of any sample index.
    pub timeline: Timeline,
    /// The input reached full scale (before resampling) since the previous block.
    pub clipped: bool,
}

impl Block<'_> {
    /// The index one past the last sample.
    pub fn end_sample(&self) -> u64 {
        self.start_sample + self.samples.len() as u64
    }
}

/// Where the stream is interrupted or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// `pause()`: no audio until `resume()`, which continues the same stream.
    Pause,
    /// The input ended on its own (a file): nothing more will come.
    End,
    /// `stopCapture()`: the last block has been pushed.
    Stop,
}

/// When a sink next has work that waits on the pipeline: the pipeline sleeps until the
/// earliest, so it wakes a few dozen times a second instead of on a fixed fast timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Nothing waits (the pipeline still wakes at its longest sleep).
    Idle,
    /// Wall-clock work at this moment (a level reading).
    At(Instant),
    /// Output that is complete once this many more 16 kHz samples arrive (a chunk).
    AfterSamples(u64),
}

/// A consumer of the 16 kHz stream.
pub trait Sink: Send + 'static {
    /// New audio. Never called while paused.
    fn push(&mut self, block: &Block<'_>);

    /// The device's mono frames at `rate`, exactly as the audio callback downmixed them,
    /// before resampling (what a device-rate recording holds). Never called while paused.
    fn push_device(&mut self, _frames: &[f32], _rate: u32) {}

    /// Once per pipeline tick, after that tick's audio (for work on a schedule).
    fn tick(&mut self, _now: Instant, _paused: bool) {}

    /// The stream is interrupted or over: hand on what is pending.
    fn boundary(&mut self, _boundary: Boundary) {}

    /// When it next needs the pipeline (see [`Due`]); asked after every tick.
    fn due(&self) -> Due {
        Due::Idle
    }
}
