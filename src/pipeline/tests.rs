//! The loop on a bare ring: every frame reaches the daemon, and the steady state allocates
//! only the payloads it hands on. Session-level rules (files, reopening, stopping) are tested
//! in `session::tests`.

use super::*;
use crate::delivery::link::{Link, LinkConfig};
use crate::delivery::queue::SendQueue;
use crate::delivery::{DaemonSender, Delivery};
use crate::events::testing::recorded;
use crate::events::{Event, EventKind, EventSink};
use crate::sinks::record::writer::{self, Format, WriterConfig};
use crate::sinks::record::{Rate, RecordControl};
use crate::sinks::{
    chunks::ChunkOptions, levels::LevelOptions, voice::VoiceOptions, SinkContext, SinkOptions,
};
use crate::stats::DeliveryCounters;
use crate::transport::testing::Recorder;
use ringbuf::traits::{Producer, Split};
use ringbuf::HeapRb;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

struct Unpaused;

impl Control for Unpaused {
    fn paused(&self) -> bool {
        false
    }
}

#[allow(clippy::too_many_arguments)]
fn task_on_ring(
    ring: ringbuf::HeapCons<f32>,
    rate: u32,
    capture: Arc<CaptureCounters>,
    counters: Arc<PipelineCounters>,
    events: Events,
    daemon: Option<DaemonSender>,
    spectrum_bands: usize,
    voice: Option<VoiceOptions>,
) -> (Task, RecordControl) {
    let options = SinkOptions {
        levels: LevelOptions {
            interval: Duration::from_secs(1) / 30,
            spectrum_bands,
        },
        chunks: ChunkOptions { chunk_ms: 100 },
        voice,
        record: None,
        record_utterances: None,
    };
    let (record, inbox) = crate::sinks::record::channel();
    let context = SinkContext {
        events: events.clone(),
        counters: counters.clone(),
        daemon,
        record: inbox,
        utterance_files: None,
    };
    let sinks = crate::sinks::build(&options, context);
    let task = Task {
        supervisor: Supervisor::on_ring(ring, capture, counters, events.clone()),
        frontend: Frontend::new(rate).unwrap(),
        sinks,
        control: Arc::new(Unpaused),
        events,
        paused: false,
        device_paused: None,
        probe: Default::default(),
        sample_wakes: Default::default(),
    };
    (task, record)
}

#[tokio::test]
async fn every_frame_reaches_the_transport_at_44_1_khz() {
    let rate = 44_100;
    let (mut prod, cons) = HeapRb::<f32>::new(rate as usize * 2).split();
    let capture = Arc::new(CaptureCounters::default());
    let counters = Arc::new(PipelineCounters::default());
    let delivery_counters = Arc::new(DeliveryCounters::default());
    let (seen, events) = recorded();
    let recorder = Recorder::default();
    let link = Link {
        session: Some(recorder.clone()),
        connector: recorder.clone(),
        config: LinkConfig::default(),
    };
    let delivery = Delivery::spawn(
        link,
        30 * 16_000,
        crate::transport::ModeChoice::Stream,
        delivery_counters.clone(),
        events.clone(),
    );
    let (task, _record) = task_on_ring(
        cons,
        rate,
        capture.clone(),
        counters.clone(),
        events,
        Some(delivery.sender()),
        0,
        None,
    );
    let pipeline = task
        .start(tokio::runtime::Handle::current(), Duration::from_millis(5))
        .unwrap();
    // 1.23 s of a 1 kHz sine, in callback-sized pieces, while the pipeline runs.
    let frames = 54_243;
    let signal: Vec<f32> = (0..frames)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin())
        .collect();
    for part in signal.chunks(441) {
        assert_eq!(prod.push_slice(part), part.len());
        capture.record_callback(part.len() as u64, 0, 0);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    pipeline.stop().await;
    delivery.finish().await;

    let chunks = recorder.state(|s| s.chunks.clone());
    let total: usize = chunks.iter().map(Vec::len).sum();
    assert_eq!(total as u64, frames as u64 * 16_000 / rate as u64);
    assert!(chunks[..chunks.len() - 1].iter().all(|c| c.len() == 1600));
    assert_eq!(recorder.state(|s| s.ended), 1, "the session was ended");
    assert_eq!(
        seen.chunk_seqs(),
        (0..chunks.len() as u64).collect::<Vec<_>>()
    );
    assert!(seen.events().iter().any(|e| e.kind() == EventKind::Level));
    let delivery = delivery_counters.delivery();
    assert_eq!(delivery.chunks.sent, chunks.len() as u64);
    assert_eq!(delivery.chunks.samples_sent, total as u64);
    assert_eq!(delivery.chunks.depth, 0);
    assert_eq!(
        delivery_counters.delivery_latency.count(),
        chunks.len() as u64
    );
    assert!(chunks.iter().flatten().all(|s| s.abs() <= 1.0));
}

/// Takes (or refuses) events without allocating; counts them by kind.
struct Counting {
    wanted: bool,
    seen: [AtomicU64; EventKind::COUNT],
}

impl EventSink for Counting {
    fn wants(&self, _: EventKind) -> bool {
        self.wanted
    }
    fn emit(&self, event: Event) -> u64 {
        self.seen[event.kind() as usize].fetch_add(1, Relaxed);
        0
    }
}

/// What the steady state did: allocations, and what it handed on.
#[derive(Debug)]
struct SteadyState {
    allocations: u64,
    chunks: u64,
    levels: u64,
    utterances: u64,
    voice: u64,
}

/// The bundled speech sample (22.05 kHz mono) and a second of silence, to give the voice
/// sink an utterance per loop.
fn speech() -> Vec<f32> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/speech.wav");
    let mut reader = hound::WavReader::open(path).unwrap();
    let mut samples: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect();
    samples.resize(samples.len() + 22_050, 0.0);
    samples
}

/// Runs 10 s of 5 ms ticks of `signal` (looped, at `rate`) after a 1 s warm-up, recording
/// to a file at `record` from the start.
fn steady_state(
    rate: u32,
    signal: &[f32],
    wanted: bool,
    vad: bool,
    record: Option<Rate>,
) -> SteadyState {
    use crate::test_alloc::allocations_during;
    let (mut prod, ring) = HeapRb::<f32>::new(rate as usize).split();
    let capture = Arc::new(CaptureCounters::default());
    let counters = Arc::new(PipelineCounters::default());
    let sink = Arc::new(Counting {
        wanted,
        seen: Default::default(),
    });
    let events = Events::new(sink.clone(), Arc::default());
    let queue = Arc::new(SendQueue::new(600 * 16_000, Arc::default()));
    let sender = DaemonSender::new(queue, events.clone());
    let (mut task, control) = task_on_ring(
        ring,
        rate,
        capture.clone(),
        counters.clone(),
        events,
        Some(sender),
        32,
        vad.then(|| {
            let options = crate::value::fields(&[("vad", crate::value::Value::Bool(true))]);
            let reader = crate::options::Reader::new(&crate::options::table::CAPTURE, &options);
            VoiceOptions::parse(&reader.unwrap()).unwrap().unwrap()
        }),
    );
    let recording = record.map(|rate_kind| {
        let path = std::env::temp_dir().join(format!(
            "stt-steady-{}-{rate}-{rate_kind:?}.wav",
            std::process::id()
        ));
        let file = writer::create(&path, true).unwrap();
        let sample_rate = if rate_kind == Rate::Device {
            rate
        } else {
            16_000
        };
        let (feed, finished) = writer::start(
            file,
            WriterConfig {
                path: path.clone(),
                sample_rate,
                format: Format::F32,
                // Room for all 11 s pushed: the loop runs far faster than real time, and
                // the writer thread's pace must not decide what is recorded.
                capacity: sample_rate as usize * 12,
            },
            counters.record.clone(),
            Events::new(
                Arc::new(Counting {
                    wanted: false,
                    seen: Default::default(),
                }),
                Arc::default(),
            ),
        )
        .unwrap();
        control.start(feed, rate_kind).unwrap();
        (path, finished)
    });
    task.supervisor.watch = crate::pipeline::supervisor::Watch {
        stall_timeout: Some(Duration::from_secs(2)),
        silence_warn: Some(Duration::from_secs(3)),
    };
    let period = rate as usize / 200;
    let mut looped = signal.iter().copied().cycle();
    let mut block = vec![0.0; period];
    let start = Instant::now();
    // Like the audio thread and the timer: a callback's worth of audio, then a tick.
    let mut tick = |task: &mut Task, n: u32| {
        block
            .iter_mut()
            .for_each(|s| *s = looped.next().unwrap_or(0.0));
        assert_eq!(prod.push_slice(&block), period);
        capture.record_callback(period as u64, 0, 0);
        task.tick(start + Duration::from_millis(5) * n);
    };
    for n in 0..200 {
        tick(&mut task, n);
    }
    let seen = |kind: EventKind| sink.seen[kind as usize].load(Relaxed);
    let chunks_before = counters.chunks_emitted.load(Relaxed);
    let (levels, utterances) = (seen(EventKind::Level), counters.utterances.load(Relaxed));
    let voice = seen(EventKind::Voice);
    let allocations = allocations_during(|| {
        for n in 200..2200 {
            tick(&mut task, n);
        }
    });
    let state = SteadyState {
        allocations: allocations as u64,
        chunks: counters.chunks_emitted.load(Relaxed) - chunks_before,
        levels: seen(EventKind::Level) - levels,
        utterances: counters.utterances.load(Relaxed) - utterances,
        voice: seen(EventKind::Voice) - voice,
    };
    if let Some((path, finished)) = recording {
        task.boundary(crate::pipeline::sink::Boundary::Stop);
        let summary = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(finished.wait())
            .unwrap();
        // Every frame pushed: exactly, at the device rate; at 16 kHz give or take the
        // resampler's delay.
        let pushed = period as u64 * 2200;
        if summary.sample_rate == rate {
            assert_eq!(summary.frames, pushed);
        } else {
            let expected = pushed * 16_000 / rate as u64;
            assert!(
                summary.frames.abs_diff(expected) < 200,
                "{} frames, expected about {expected}",
                summary.frames
            );
        }
        assert_eq!(
            hound::WavReader::open(&path).unwrap().len() as u64,
            summary.frames
        );
        std::fs::remove_file(path).unwrap();
    }
    state
}

#[test]
fn the_steady_state_loop_allocates_only_the_payloads_it_hands_on() {
    let sine =
        |rate: u32| -> Vec<f32> { (0..rate).map(|i| (i as f32 * 0.01).sin() * 0.5).collect() };
    for rate in [48_000u32, 44_100, 16_000] {
        // Listeners for everything: per chunk its own buffer (it leaves for the daemon) and
        // the event's copy (allocated, then freed by this sink); per level the bands buffer
        // (allocated and freed).
        // A recording (16 kHz at one rate, the device rate at the others) adds nothing.
        let record = if rate == 48_000 {
            Rate::Target
        } else {
            Rate::Device
        };
        let s = steady_state(rate, &sine(rate), true, false, Some(record));
        assert_eq!(s.chunks, 100, "{rate} Hz: 10 s of chunks");
        assert!((295..=305).contains(&s.levels), "{rate} Hz: {s:?}");
        assert_eq!(s.allocations, 3 * s.chunks + 2 * s.levels, "{rate} Hz");
        // Nobody listens: only the chunks for the daemon.
        let s = steady_state(rate, &sine(rate), false, false, None);
        assert_eq!((s.chunks, s.levels), (100, 0));
        assert_eq!(s.allocations, s.chunks, "{rate} Hz, no listeners");
    }
    // With voice activity detection on speech: each utterance adds its copy for the daemon's
    // batch route (it leaves) and its copy for JS (allocated, then freed by this sink);
    // voice events allocate nothing.
    let s = steady_state(22_050, &speech(), true, true, None);
    assert!(s.utterances >= 1 && s.voice >= 2, "{s:?}");
    assert_eq!(
        s.allocations,
        3 * s.chunks + 2 * s.levels + 3 * s.utterances,
        "{s:?}"
    );
    let s = steady_state(22_050, &speech(), false, true, None);
    assert!(s.utterances >= 1, "{s:?}");
    assert_eq!(
        s.allocations,
        s.chunks + s.utterances,
        "no listeners: {s:?}"
    );
}
