//! The audio callback's whole work (`Processor::process`) per block, and the resampler's
//! throughput. `cargo bench`; results in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringbuf::traits::{Consumer, Split};
use ringbuf::HeapRb;
use stt_capture::capture::processor::Processor;
use stt_capture::dsp::resampler::StreamResampler;
use stt_capture::stats::CaptureCounters;

/// Times `process` alone; the ring is emptied between calls, outside the timing, as the
/// pipeline task would.
fn bench_block<T: cpal::Sample + 'static>(c: &mut Criterion, name: &str, frames: usize, sample: T)
where
    f32: cpal::FromSample<T>,
{
    let channels = 2;
    let (prod, mut cons) = HeapRb::<f32>::new(96_000).split();
    let mut processor = Processor::<T>::new(channels, prod, Arc::new(CaptureCounters::default()));
    let data = vec![sample; frames * channels];
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                processor.process(black_box(&data));
                total += start.elapsed();
                cons.skip(frames);
            }
            total
        })
    });
}

fn callback(c: &mut Criterion) {
    bench_block(c, "callback/240 frames stereo f32", 240, 0.25f32);
    bench_block(c, "callback/480 frames stereo i16", 480, 1000i16);
}

fn resampler(c: &mut Criterion) {
    let mut group = c.benchmark_group("resampler");
    for rate in [48_000u32, 44_100] {
        // One second of audio in 5 ms callbacks, as the pipeline drains it.
        let input: Vec<f32> = (0..rate).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let mut r = StreamResampler::new(rate).unwrap();
        group.throughput(Throughput::Elements(rate as u64));
        group.bench_function(format!("1 s at {rate} Hz to 16 kHz"), |b| {
            b.iter(|| {
                let mut out = 0usize;
                for part in input.chunks(rate as usize / 200) {
                    r.process(black_box(part), &mut |s| out += s.len());
                }
                black_box(out)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, callback, resampler);
criterion_main!(benches);
