//! Maps positions in the 16 kHz stream to wall-clock time.

use crate::dsp::TARGET_RATE;
use crate::time::wall_clock_ms;

/// Wall-clock time of every 16 kHz sample index, as the clock estimates it now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timeline {
    /// Wall-clock ms of sample index 0.
    offset_ms: f64,
}

impl Timeline {
    /// Wall-clock ms (Unix epoch) of the 16 kHz sample `index`.
    pub fn time_of(&self, index: u64) -> f64 {
        self.offset_ms + index as f64 * 1000.0 / TARGET_RATE as f64
    }
}

/// Each drain observes "all frames counted so far were captured no later than now"; the
/// smallest such offset is the best estimate, since scheduling delays only ever make an
/// observation late.
#[derive(Debug, Clone)]
pub struct CaptureClock {
    rate: f64,
    offset_ms: Option<f64>,
    /// Device frames counted and 16 kHz samples produced before the current stream opened
    /// (a reopened device starts a new timeline).
    frames_base: u64,
    samples_base: u64,
}

impl CaptureClock {
    pub fn new(rate: u32) -> Self {
        Self::rebased(rate, 0, 0)
    }

    pub fn rebased(rate: u32, frames_base: u64, samples_base: u64) -> Self {
        Self {
            rate: rate as f64,
            offset_ms: None,
            frames_base,
            samples_base,
        }
    }

    /// `frames_captured`: the device's frame count, read just now.
    pub fn observe(&mut self, frames_captured: u64) {
        let frames = frames_captured.saturating_sub(self.frames_base);
        let offset = wall_clock_ms()
            - frames as f64 * 1000.0 / self.rate
            - self.samples_base as f64 * 1000.0 / TARGET_RATE as f64;
        self.offset_ms = Some(self.offset_ms.map_or(offset, |o| o.min(offset)));
    }

    pub fn timeline(&self) -> Timeline {
        Timeline {
            offset_ms: self.offset_ms.unwrap_or(0.0),
        }
    }
}
