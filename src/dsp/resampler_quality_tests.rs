//! Audio quality of the resampler exactly as the pipeline uses it (`StreamResampler`, fed in
//! 5 ms callbacks, then flushed), from 48 kHz and 44.1 kHz, asserted against the targets in
//! BENCHMARKS.md. Each measurement resamples a pure tone and fits a sinusoid to the steady
//! middle of the output (least squares, in f64).

use super::resampler::StreamResampler;
use std::f64::consts::PI;

const RATES: [u32; 2] = [48_000, 44_100];
const OUT_RATE: f64 = 16_000.0;
/// Output samples skipped at each end: the start-up and the flushed tail.
const EDGE: usize = 2_000;

fn sine(rate: u32, freq: f64, amplitude: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / rate as f64).sin()) as f32)
        .collect()
}

/// Resamples like the pipeline: 5 ms callbacks, then a flush.
fn resample(rate: u32, input: &[f32]) -> Vec<f32> {
    let mut r = StreamResampler::new(rate).unwrap();
    let mut out = Vec::with_capacity(input.len());
    for part in input.chunks(rate as usize / 200) {
        r.process(part, &mut |s| out.extend_from_slice(s));
    }
    r.flush(&mut |s| out.extend_from_slice(s));
    out
}

/// 1 s of a 0.5-amplitude (−6 dBFS) tone, resampled; the steady middle.
fn tone_out(rate: u32, freq: f64) -> Vec<f32> {
    let out = resample(rate, &sine(rate, freq, 0.5, rate as usize));
    out[EDGE..out.len() - EDGE].to_vec()
}

struct Fit {
    amplitude: f64,
    /// Radians, relative to the input's phase at the same instant.
    phase: f64,
    residual_rms: f64,
}

/// Least-squares `a·sin + b·cos` at `freq` over `x`, whose first sample is output sample EDGE.
fn fit(x: &[f32], freq: f64) -> Fit {
    let arg = |k: usize| 2.0 * PI * freq * (EDGE + k) as f64 / OUT_RATE;
    let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (k, v) in x.iter().enumerate() {
        let (s, c) = arg(k).sin_cos();
        let v = *v as f64;
        ss += s * s;
        cc += c * c;
        sc += s * c;
        xs += v * s;
        xc += v * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let residual: f64 = x
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let (s, c) = arg(k).sin_cos();
            (*v as f64 - a * s - b * c).powi(2)
        })
        .sum();
    Fit {
        amplitude: a.hypot(b),
        phase: b.atan2(a),
        residual_rms: (residual / x.len() as f64).sqrt(),
    }
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.max(1e-20).log10()
}

/// Gain of a tone below 8 kHz, dB.
fn gain_db(rate: u32, freq: f64) -> f64 {
    db(fit(&tone_out(rate, freq), freq).amplitude / 0.5)
}

/// Everything that comes out for a tone at or above 8 kHz (all of it alias), relative to the
/// tone's level, dB.
fn alias_db(rate: u32, freq: f64) -> f64 {
    let out = tone_out(rate, freq);
    let rms = (out.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / out.len() as f64).sqrt();
    db(rms / (0.5 / 2f64.sqrt()))
}

fn frequencies(from: f64, to: f64, step: f64) -> impl Iterator<Item = f64> {
    (0..)
        .map(move |i| from + i as f64 * step)
        .take_while(move |f| *f <= to)
}

#[test]
fn passband_is_flat_within_0_05_db_from_50_hz_to_7_khz() {
    for rate in RATES {
        for f in frequencies(50.0, 7_000.0, 50.0) {
            let g = gain_db(rate, f);
            assert!(g.abs() <= 0.05, "{rate} Hz: {f} Hz at {g:.4} dB");
        }
    }
}

#[test]
fn minus_3_db_point_is_at_or_above_7_5_khz() {
    for rate in RATES {
        for f in frequencies(7_000.0, 7_500.0, 20.0) {
            let g = gain_db(rate, f);
            assert!(g > -3.0, "{rate} Hz: {f} Hz already at {g:.2} dB");
        }
    }
}

#[test]
fn tones_from_8_to_9_khz_are_90_db_down() {
    for rate in RATES {
        for f in frequencies(8_000.0, 9_000.0, 25.0) {
            let a = alias_db(rate, f);
            assert!(a <= -90.0, "{rate} Hz: {f} Hz leaks at {a:.1} dB");
        }
    }
}

#[test]
fn tones_from_9_to_24_khz_alias_at_least_120_db_down() {
    for rate in RATES {
        let top = (rate as f64 / 2.0 - 50.0).min(24_000.0);
        for f in frequencies(9_000.0, top, 100.0) {
            let a = alias_db(rate, f);
            assert!(a <= -120.0, "{rate} Hz: {f} Hz leaks at {a:.1} dB");
        }
    }
}

#[test]
fn a_1_khz_tone_at_minus_6_dbfs_has_thd_n_below_minus_110_db() {
    for rate in RATES {
        let f = fit(&tone_out(rate, 1_000.0), 1_000.0);
        let thd_n = db(f.residual_rms / (f.amplitude / 2f64.sqrt()));
        assert!(thd_n <= -110.0, "{rate} Hz: THD+N {thd_n:.1} dB");
    }
}

#[test]
fn output_is_time_aligned_within_a_fraction_of_a_16_khz_sample() {
    for rate in [48_000, 44_100, 8_000, 11_025, 22_050, 32_000, 96_000] {
        // Half an input sample at most: an odd block length (44.1 kHz) cannot do better.
        let limit = 0.5 * OUT_RATE / rate as f64 + 0.01;
        for freq in [100.0, 1_000.0, 3_000.0, 3_900.0] {
            let f = fit(&tone_out(rate, freq), freq);
            let late_samples = -f.phase / (2.0 * PI * freq) * OUT_RATE;
            assert!(
                late_samples.abs() <= limit,
                "{rate} Hz, {freq} Hz: {late_samples:.3} samples off"
            );
        }
    }
}

/// Worst time (ms) from an input frame's arrival to the release of the output sample at the
/// same instant, with 5 ms callbacks.
fn worst_latency_ms(rate: u32) -> f64 {
    let mut r = StreamResampler::new(rate).unwrap();
    let input = sine(rate, 440.0, 0.5, rate as usize);
    let (mut fed, mut produced, mut worst) = (0usize, 0usize, 0f64);
    for part in input.chunks(rate as usize / 200) {
        fed += part.len();
        let before = produced;
        r.process(part, &mut |s| produced += s.len());
        if produced > before {
            // The first sample released now stands for the instant before / 16000 s and has
            // waited the longest.
            worst = worst.max(fed as f64 / rate as f64 - before as f64 / OUT_RATE);
        }
    }
    worst * 1000.0
}

#[test]
fn added_latency_is_at_most_20_ms() {
    for rate in RATES {
        let ms = worst_latency_ms(rate);
        assert!(ms <= 20.0, "{rate} Hz: {ms:.2} ms");
    }
    // 48 kHz: a 10 ms block plus the filter's 5 ms delay.
    assert!((worst_latency_ms(48_000) - 15.0).abs() < 0.01);
}
