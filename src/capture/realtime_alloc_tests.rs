//! The audio callback's processing function must not allocate or free, for every sample
//! format cpal delivers, any channel count, any callback size, and with a full ring.
//!
//! Counted with the test binary's counting allocator (`crate::test_alloc`).

use std::sync::Arc;

use super::processor::Processor;
use crate::stats::CaptureCounters;
use crate::test_alloc::allocations_during;
use cpal::{FromSample, Sample, I24, U24};
use ringbuf::traits::{Consumer, Split};
use ringbuf::HeapRb;

fn check_format<T>(sample: T)
where
    T: Sample + 'static,
    f32: FromSample<T>,
{
    for channels in 1..=8usize {
        for frames in [
            1usize, 2, 3, 17, 240, 441, 480, 1000, 1024, 4095, 4096, 4097, 6000, 8191, 8192,
        ] {
            // Ring smaller than some callbacks, so the full-ring (drop) path runs as well.
            let (prod, mut cons) = HeapRb::<f32>::new(6000).split();
            let counters = Arc::new(CaptureCounters::default());
            let mut processor = Processor::<T>::new(channels, prod, counters.clone());
            let data = vec![sample; frames * channels];
            let mut drain = vec![0f32; 6000];
            for round in 0..3 {
                let n = allocations_during(|| processor.process(&data));
                assert_eq!(
                    n,
                    0,
                    "{} allocations: {} ch, {frames} frames, round {round}",
                    std::any::type_name::<T>(),
                    channels
                );
                if round == 1 {
                    cons.pop_slice(&mut drain);
                }
            }
            let counts = &counters;
            use std::sync::atomic::Ordering::Relaxed;
            assert_eq!(counts.frames_captured.load(Relaxed), 3 * frames as u64);
            assert_eq!(counts.callbacks.load(Relaxed), 3);
            if frames > 6000 {
                // A full ring: the drop path ran, allocation-free too.
                assert!(counts.frames_dropped.load(Relaxed) > 0);
            }
        }
    }
}

#[test]
fn the_callback_never_allocates_for_any_format_channel_count_or_size() {
    check_format(0.25f32);
    check_format(0.25f64);
    check_format(7i8);
    check_format(1000i16);
    check_format(I24::new(1000).unwrap());
    check_format(100_000i32);
    check_format(1i64 << 40);
    check_format(200u8);
    check_format(40_000u16);
    check_format(U24::new(9_000_000).unwrap());
    check_format(3_000_000_000u32);
    check_format(1u64 << 63);
}

#[test]
fn the_counter_does_see_allocations() {
    // Guards the test above against a counter that cannot fail.
    let n = allocations_during(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert!(n >= 2, "{n}");
}
