//! Interleaved device samples of any format → mono f32 (the average of the channels).

use cpal::{FromSample, Sample};

/// Downmixes whole frames of `interleaved` into `out`, returning the number of frames written:
/// `min(interleaved.len() / channels, out.len())`. A trailing partial frame is ignored.
///
/// Realtime-safe: no allocation, no lock, no syscall.
#[inline]
pub fn downmix_into<T>(interleaved: &[T], channels: usize, out: &mut [f32]) -> usize
where
    T: Sample,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    let frames = (interleaved.len() / channels).min(out.len());
    if channels == 1 {
        for (o, s) in out[..frames].iter_mut().zip(interleaved) {
            *o = f32::from_sample(*s);
        }
        return frames;
    }
    let scale = 1.0 / channels as f32;
    for (o, frame) in out[..frames]
        .iter_mut()
        .zip(interleaved.chunks_exact(channels))
    {
        let sum: f32 = frame.iter().map(|s| f32::from_sample(*s)).sum();
        *o = sum * scale;
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpal::{I24, U24};

    /// Builds one interleaved frame per value in `per_channel_values` rows and checks the mono
    /// output equals the mean of the channels' f32 conversions.
    fn check<T>(frames: &[Vec<T>], expected: &[f32])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let channels = frames[0].len();
        let interleaved: Vec<T> = frames.iter().flatten().copied().collect();
        let mut out = vec![0f32; frames.len()];
        let n = downmix_into(&interleaved, channels, &mut out);
        assert_eq!(n, frames.len());
        for (got, want) in out.iter().zip(expected) {
            assert!((got - want).abs() < 1e-3, "got {got}, want {want}");
        }
    }

    #[test]
    fn every_format_maps_full_scale_and_silence() {
        // Each format: [silence, positive half scale, negative full scale] on 1 channel.
        check(&[vec![0.0f32], vec![0.5], vec![-1.0]], &[0.0, 0.5, -1.0]);
        check(&[vec![0.0f64], vec![0.5], vec![-1.0]], &[0.0, 0.5, -1.0]);
        check(&[vec![0i8], vec![64], vec![-128]], &[0.0, 0.5, -1.0]);
        check(
            &[vec![0i16], vec![16384], vec![i16::MIN]],
            &[0.0, 0.5, -1.0],
        );
        check(
            &[
                vec![I24::new(0).unwrap()],
                vec![I24::new(1 << 22).unwrap()],
                vec![I24::new(-(1 << 23)).unwrap()],
            ],
            &[0.0, 0.5, -1.0],
        );
        check(
            &[vec![0i32], vec![1 << 30], vec![i32::MIN]],
            &[0.0, 0.5, -1.0],
        );
        check(
            &[vec![0i64], vec![1 << 62], vec![i64::MIN]],
            &[0.0, 0.5, -1.0],
        );
        check(&[vec![128u8], vec![192], vec![0]], &[0.0, 0.5, -1.0]);
        check(&[vec![32768u16], vec![49152], vec![0]], &[0.0, 0.5, -1.0]);
        check(
            &[
                vec![U24::new(1 << 23).unwrap()],
                vec![U24::new(3 << 22).unwrap()],
                vec![U24::new(0).unwrap()],
            ],
            &[0.0, 0.5, -1.0],
        );
        check(
            &[vec![1u32 << 31], vec![3 << 30], vec![0]],
            &[0.0, 0.5, -1.0],
        );
        check(
            &[vec![1u64 << 63], vec![3 << 62], vec![0]],
            &[0.0, 0.5, -1.0],
        );
    }

    #[test]
    fn averages_any_channel_count() {
        for channels in 1..=8usize {
            // Channel c carries c / channels; the mean is (channels - 1) / (2 * channels).
            let frame: Vec<f32> = (0..channels).map(|c| c as f32 / channels as f32).collect();
            let want = (channels as f32 - 1.0) / (2.0 * channels as f32);
            check(&[frame.clone(), frame], &[want, want]);
        }
        // i16 stereo: opposite channels cancel, equal channels keep their level.
        check(&[vec![16384i16, -16384], vec![16384, 16384]], &[0.0, 0.5]);
    }

    #[test]
    fn ignores_partial_frames_and_respects_output_size() {
        let data = [1.0f32, 1.0, 0.5, 0.5, 0.25];
        let mut out = [9.0f32; 4];
        assert_eq!(downmix_into(&data, 2, &mut out), 2);
        assert_eq!(&out[..3], &[1.0, 0.5, 9.0]);
        let mut small = [0f32; 1];
        assert_eq!(downmix_into(&data, 2, &mut small), 1);
        assert_eq!(downmix_into::<f32>(&[], 2, &mut out), 0);
    }
}
