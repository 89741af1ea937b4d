//! RMS and peak over a window of the 16 kHz signal, and clipping of the input.

/// Level of one window. dBFS values are relative to a full-scale sample value of 1.0
/// (a full-scale sine reads peak 0 dBFS, RMS −3.01 dBFS) and floored at −120.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub rms: f64,
    pub peak: f64,
    pub rms_dbfs: f64,
    pub peak_dbfs: f64,
    /// The input (mono, at the device rate, before resampling) reached [`CLIP_LEVEL`].
    pub clipped: bool,
}

pub const DBFS_FLOOR: f64 = -120.0;

impl Level {
    /// The level of silence (what a paused capture reports).
    pub fn silence() -> Self {
        Self {
            rms: 0.0,
            peak: 0.0,
            rms_dbfs: DBFS_FLOOR,
            peak_dbfs: DBFS_FLOOR,
            clipped: false,
        }
    }
}

/// A mono input sample at or beyond this magnitude counts as clipped (−0.009 dBFS): the
/// input is at its ceiling. Checked before resampling, whose filter smooths flat tops.
pub const CLIP_LEVEL: f32 = 0.999;

pub fn to_dbfs(amplitude: f64) -> f64 {
    if amplitude <= 0.0 {
        DBFS_FLOOR
    } else {
        (20.0 * amplitude.log10()).max(DBFS_FLOOR)
    }
}

/// Whether input samples (mono, device rate) reached [`CLIP_LEVEL`].
pub fn reaches_clip_level(samples: &[f32]) -> bool {
    samples.iter().any(|s| s.abs() >= CLIP_LEVEL)
}

#[derive(Debug, Default)]
pub struct LevelMeter {
    sum_squares: f64,
    peak: f64,
    samples: u64,
    clipped: bool,
}

impl LevelMeter {
    /// Adds 16 kHz samples. Non-finite samples count as silence (they are sent as 0).
    pub fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            let s = if s.is_finite() {
                s.abs().min(1.0) as f64
            } else {
                0.0
            };
            self.sum_squares += s * s;
            self.peak = self.peak.max(s);
        }
        self.samples += samples.len() as u64;
    }

    /// Marks the current window as clipped (see [`reaches_clip_level`]).
    pub fn mark_clipped(&mut self) {
        self.clipped = true;
    }

    /// The level since the last call, or `None` if no sample arrived since.
    pub fn take(&mut self) -> Option<Level> {
        if self.samples == 0 {
            return None;
        }
        let rms = (self.sum_squares / self.samples as f64).sqrt();
        let level = Level {
            rms,
            peak: self.peak,
            rms_dbfs: to_dbfs(rms),
            peak_dbfs: to_dbfs(self.peak),
            clipped: self.clipped,
        };
        *self = Self::default();
        Some(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_levels_match_theory() {
        let mut m = LevelMeter::default();
        assert!(m.take().is_none());
        let sine: Vec<f32> = (0..16_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin())
            .collect();
        m.push(&sine);
        let l = m.take().unwrap();
        assert!((l.rms - 0.5 / 2f64.sqrt()).abs() < 1e-3);
        assert!((l.peak - 0.5).abs() < 1e-3);
        assert!((l.peak_dbfs - -6.02).abs() < 0.05);
        assert!((l.rms_dbfs - -9.03).abs() < 0.05);
        assert!(!l.clipped);
        assert!(m.take().is_none());
        m.push(&[0.0; 10]);
        assert_eq!(m.take().unwrap().rms_dbfs, DBFS_FLOOR);
    }

    #[test]
    fn clipping_is_reported_once_per_window() {
        assert!(!reaches_clip_level(&[0.5, -0.998]));
        assert!(reaches_clip_level(&[0.1, -1.0, 0.2]));
        let mut m = LevelMeter::default();
        m.push(&[0.5]);
        assert!(!m.take().unwrap().clipped);
        m.mark_clipped();
        m.push(&[0.5]);
        assert!(m.take().unwrap().clipped);
        m.push(&[0.5, f32::NAN, f32::INFINITY]);
        let l = m.take().unwrap();
        assert!(!l.clipped);
        assert_eq!(l.peak, 0.5);
    }
}
