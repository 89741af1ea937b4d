//! The audio callback's whole work (`Processor::process`) per block, the resampler's
//! throughput, and the voice activity sink's. `cargo bench`; results in BENCHMARKS.md.

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

/// Takes every event and drops it.
struct Discard;

impl stt_capture::events::EventSink for Discard {
    fn emit(&self, _: stt_capture::events::Event) -> u64 {
        0
    }
}

/// The bundled speech sample at 16 kHz, as the pipeline hands it to its sinks.
fn speech_16k() -> Vec<f32> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/speech.wav");
    let mut reader = hound::WavReader::open(path).unwrap();
    let input: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect();
    let mut r = StreamResampler::new(reader.spec().sample_rate).unwrap();
    let mut out = Vec::new();
    r.process(&input, &mut |s| out.extend_from_slice(s));
    r.flush(&mut |s| out.extend_from_slice(s));
    out
}

fn vad(c: &mut Criterion) {
    use stt_capture::options::{table::CAPTURE, Reader, Value};
    use stt_capture::pipeline::sink::{Block, Sink};
    use stt_capture::sinks::{voice::VoiceOptions, voice::VoiceSink, SinkContext};
    let options = Value::Object(vec![("vad".into(), Value::Bool(true))]);
    let options = VoiceOptions::parse(&Reader::new(&CAPTURE, &options).unwrap())
        .unwrap()
        .unwrap();
    let context = SinkContext {
        events: stt_capture::events::Events::new(Arc::new(Discard), Arc::default()),
        counters: Arc::default(),
        daemon: None,
        record: stt_capture::sinks::record::channel().1,
        utterance_files: None,
    };
    let mut sink = VoiceSink::new(&options, &context, None);
    let speech = speech_16k();
    let mut group = c.benchmark_group("vad");
    let second = &speech[..16_000];
    group.throughput(Throughput::Elements(16_000));
    let mut at = 0u64;
    group.bench_function("1 s of speech at 16 kHz, in 10 ms blocks", |b| {
        b.iter(|| {
            for part in second.chunks(160) {
                sink.push(&Block {
                    samples: black_box(part),
                    start_sample: at,
                    timeline: Default::default(),
                    clipped: false,
                });
                at += part.len() as u64;
            }
        })
    });
    group.finish();
}

/// One 100 ms chunk as the legacy protocol's `realtime_audio` request (JSON numbers).
fn encode(c: &mut Criterion) {
    use stt_capture::transport::protocol::Request;
    let speech = speech_16k();
    let chunk = &speech[16_000..17_600];
    let mut frame = Vec::new();
    c.bench_function("encode/realtime_audio, 1600 samples", |b| {
        b.iter(|| {
            Request::realtime_audio("bench", black_box(chunk), 16_000)
                .write_frame(&mut frame)
                .unwrap();
            black_box(frame.len())
        })
    });
}

criterion_group!(benches, callback, resampler, vad, encode);
criterion_main!(benches);
