//! Log-spaced band energies of the 16 kHz signal, for a spectrum display.
//!
//! Keeps the last [`WINDOW`] samples; [`Spectrum::compute`] applies a Hann window, takes a
//! real FFT and sums the power of the bins in each band (bins straddling a band edge are
//! split in proportion), scaled so that each band holds its share of the signal's mean square:
//! a full-scale sine reads −3.01 dBFS in its band, like its RMS level. Allocation-free after
//! construction.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::levels::to_dbfs;
use super::TARGET_RATE;

/// Samples per analysis window: 128 ms at 16 kHz, 7.8 Hz per bin.
pub const WINDOW: usize = 2048;
/// Lower edge of the first band, Hz.
pub const LOW_HZ: f64 = 50.0;
/// Upper edge of the last band (Nyquist at 16 kHz), Hz.
pub const HIGH_HZ: f64 = 8_000.0;
pub const MAX_BANDS: usize = 64;

/// One band: the bins it covers, with the fraction of each bin inside the band.
struct Band {
    first_bin: usize,
    weights: Vec<f64>,
}

pub struct Spectrum {
    history: Vec<f32>,
    /// Where the next sample goes in `history` (the oldest sample).
    pos: usize,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    bin_power: Vec<f64>,
    /// Bin power → mean square (one-sided, Parseval over the Hann window).
    power_scale: f64,
    bands: Vec<Band>,
}

impl Spectrum {
    /// `bands` in 1..=[`MAX_BANDS`].
    pub fn new(bands: usize) -> Self {
        let bands = bands.clamp(1, MAX_BANDS);
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(WINDOW);
        let window: Vec<f32> = (0..WINDOW)
            .map(|i| {
                let x = std::f64::consts::PI * 2.0 * i as f64 / WINDOW as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        let bin_hz = TARGET_RATE as f64 / WINDOW as f64;
        let ratio = HIGH_HZ / LOW_HZ;
        let edge = |i: usize| LOW_HZ * ratio.powf(i as f64 / bands as f64);
        let bands = (0..bands)
            .map(|b| {
                let (lo, hi) = (edge(b), edge(b + 1));
                // Bin k covers [(k - 0.5)·bin_hz, (k + 0.5)·bin_hz].
                let first_bin = ((lo / bin_hz) - 0.5).floor().max(0.0) as usize;
                let last_bin = (((hi / bin_hz) + 0.5).ceil() as usize).min(WINDOW / 2);
                let weights = (first_bin..=last_bin)
                    .map(|k| {
                        let (a, z) = ((k as f64 - 0.5) * bin_hz, (k as f64 + 0.5) * bin_hz);
                        (z.min(hi) - a.max(lo)).max(0.0) / bin_hz
                    })
                    .collect();
                Band { first_bin, weights }
            })
            .collect();
        let window_energy: f64 = window.iter().map(|w| (*w as f64).powi(2)).sum();
        Self {
            power_scale: 2.0 / (WINDOW as f64 * window_energy),
            history: vec![0.0; WINDOW],
            pos: 0,
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            bin_power: vec![0.0; WINDOW / 2 + 1],
            window,
            fft,
            bands,
        }
    }

    pub fn band_count(&self) -> usize {
        self.bands.len()
    }

    /// Adds samples to the window (the oldest fall out).
    pub fn push(&mut self, samples: &[f32]) {
        let samples = &samples[samples.len().saturating_sub(WINDOW)..];
        for &s in samples {
            self.history[self.pos] = if s.is_finite() { s } else { 0.0 };
            self.pos = (self.pos + 1) % WINDOW;
        }
    }

    /// Band levels in dBFS (floored at −120) over the last [`WINDOW`] samples, lowest band
    /// first, into `out` (resized to the band count).
    pub fn compute(&mut self, out: &mut Vec<f32>) {
        let (newer, older) = self.history.split_at(self.pos);
        for ((dst, src), w) in self
            .input
            .iter_mut()
            .zip(older.iter().chain(newer))
            .zip(&self.window)
        {
            *dst = src * w;
        }
        // Only fails for buffers of the wrong length, which `make_*_vec` rules out.
        let _ = self
            .fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch);
        let scale = self.power_scale;
        for (k, (p, c)) in self.bin_power.iter_mut().zip(&self.output).enumerate() {
            let edge = k == 0 || k == WINDOW / 2;
            *p = c.norm_sqr() as f64 * if edge { scale / 2.0 } else { scale };
        }
        out.clear();
        out.extend(self.bands.iter().map(|band| {
            let power: f64 = band
                .weights
                .iter()
                .zip(&self.bin_power[band.first_bin..])
                .map(|(w, p)| w * p)
                .sum();
            to_dbfs(power.sqrt()) as f32
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, amplitude: f64, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / 16_000.0).sin()) as f32
            })
            .collect()
    }

    fn band_of(freq: f64, bands: usize) -> usize {
        ((freq / LOW_HZ).ln() / (HIGH_HZ / LOW_HZ).ln() * bands as f64) as usize
    }

    #[test]
    fn a_tone_peaks_in_its_own_band_at_its_rms_level() {
        for bands in [8, 16, 32, 64] {
            let mut s = Spectrum::new(bands);
            let mut out = Vec::new();
            for freq in [150.0, 440.0, 1000.0, 3000.0, 6500.0] {
                s.push(&tone(freq, 0.5, WINDOW));
                s.compute(&mut out);
                assert_eq!(out.len(), bands);
                let peak = (0..bands)
                    .max_by(|a, b| out[*a].total_cmp(&out[*b]))
                    .unwrap();
                assert_eq!(
                    peak,
                    band_of(freq, bands),
                    "{freq} Hz in {bands} bands: {out:?}"
                );
                // 0.5 amplitude: RMS −9.03 dBFS, all in the tone's band when bands are wide.
                if bands <= 16 {
                    assert!((out[peak] - -9.03).abs() < 0.5, "{freq} Hz: {}", out[peak]);
                }
                // Hann sidelobes fall fast: bands two away are far below.
                for (b, level) in out.iter().enumerate() {
                    if b.abs_diff(peak) >= 3 {
                        assert!(*level < out[peak] - 40.0, "{freq} Hz band {b}: {out:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn silence_reads_the_floor_and_noise_sums_to_its_level() {
        let mut s = Spectrum::new(24);
        let mut out = Vec::new();
        s.compute(&mut out);
        assert!(out.iter().all(|v| *v == -120.0));
        // White noise: the band powers add up to the signal's mean square (50 Hz–8 kHz is
        // nearly the whole band).
        let mut x: u32 = 1;
        let noise: Vec<f32> = (0..WINDOW)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as f32 / u32::MAX as f32 - 0.5
            })
            .collect();
        let mean_square: f64 =
            noise.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / WINDOW as f64;
        s.push(&noise);
        s.compute(&mut out);
        let total: f64 = out.iter().map(|db| 10f64.powf(*db as f64 / 10.0)).sum();
        let error_db = 10.0 * (total / mean_square).log10();
        assert!(
            error_db.abs() < 0.5,
            "bands sum to {error_db} dB off the mean square"
        );
    }
}
