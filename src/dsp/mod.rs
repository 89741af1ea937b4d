//! Pure signal processing: no I/O, no tokio, no napi. Everything here is testable with plain
//! `cargo test`.

pub mod background;
pub mod chunker;
pub mod downmix;
pub mod endpoint;
pub mod levels;
pub mod resampler;
pub mod spectrum;
pub mod utterance;

#[cfg(test)]
mod resampler_quality_tests;

/// The rate the daemon takes.
pub const TARGET_RATE: u32 = 16_000;

/// Makes samples safe for the daemon's JSON: non-finite values become 0 (JSON cannot carry
/// NaN/Infinity) and everything is clipped to [-1, 1] (the protocol's range).
pub fn sanitize_in_place(samples: &mut [f32]) {
    for s in samples {
        *s = if s.is_finite() {
            s.clamp(-1.0, 1.0)
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitize_clips_and_zeroes_non_finite() {
        let mut v = [f32::NAN, f32::INFINITY, -3.0, 0.5, f32::NEG_INFINITY, 1.5];
        super::sanitize_in_place(&mut v);
        assert_eq!(v, [0.0, 0.0, -1.0, 0.5, 0.0, 1.0]);
    }
}
