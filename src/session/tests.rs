//! The session's rules without Node: file input → pipeline → sinks → a scripted daemon.

use super::*;
use crate::capture::{FileSource, InputStatus};
use crate::events::testing::Recorded;
use crate::events::{Event, InputEnd};
use crate::options::Value;
use crate::stats::{DeviceState, LinkState};
use crate::transport::testing::Recorder;
use std::sync::atomic::AtomicU32;
use std::time::Instant;

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn num(n: f64) -> Value {
    Value::Number(n)
}

use crate::value::fields as object;

/// A stereo 16-bit WAV of a 1 kHz tone at −6 dBFS.
fn tone_file(name: &str, frames: usize, rate: u32) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("stt-session-{}-{name}", std::process::id()));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..frames {
        let v = 0.5 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / rate as f64).sin();
        let s = (v * 32768.0).round() as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    path
}

fn file_config(path: &std::path::Path, realtime: bool, extra: &[(&str, Value)]) -> CaptureConfig {
    let mut fields = vec![(
        "input",
        object(&[
            ("file", text(path.to_str().unwrap())),
            ("realtime", Value::Bool(realtime)),
        ]),
    )];
    fields.extend(extra.iter().cloned());
    CaptureConfig::parse(&object(&fields)).unwrap()
}

fn capture_with(
    config: CaptureConfig,
    opener: Arc<dyn Opener>,
) -> (Capture<Recorder>, Recorder, Arc<Recorded>) {
    let recorder = Recorder::default();
    let connector = recorder.clone();
    let events = Arc::new(Recorded::default());
    let capture = Capture::with_parts(
        config,
        opener,
        Arc::new(move |_| connector.clone()),
        events.clone(),
    );
    (capture, recorder, events)
}

fn file_capture(config: CaptureConfig) -> (Capture<Recorder>, Recorder, Arc<Recorded>) {
    let opener = Arc::new(SourceOpener {
        source: config.source.clone(),
        auto_reopen: config.auto_reopen,
    });
    capture_with(config, opener)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

fn ends(events: &Recorded) -> Vec<(InputEnd, usize)> {
    let mut chunks = 0;
    let mut out = Vec::new();
    for e in events.events() {
        match e {
            Event::Chunk(_) => chunks += 1,
            Event::End(end) => out.push((end, chunks)),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn a_file_input_is_flushed_and_reported_once_after_its_last_chunk() {
    let frames = 44_100 + 1234;
    let path = tone_file("end.wav", frames, 44_100);
    let config = file_config(&path, false, &[("spectrumBands", num(16.0))]);
    let (capture, recorder, events) = file_capture(config);
    capture.start(StartConfig::default()).await.unwrap();
    until("the end event", || !ends(&events).is_empty()).await;
    let found = ends(&events);
    assert_eq!(found.len(), 1);
    let (end, chunks_seen) = found[0];
    assert_eq!(end.frames, frames as u64);
    assert!((end.duration_ms - frames as f64 / 44.1).abs() < 1e-6);
    // Every chunk, the short last one included, came before the end event.
    assert_eq!(chunks_seen, events.chunk_seqs().len());
    let expected = frames as u64 * 16_000 / 44_100;
    let pipeline = capture.snapshot().counters.pipeline;
    assert_eq!(pipeline.samples_emitted.load(Relaxed), expected);
    capture.stop().await.unwrap();
    // Stopping after the end adds nothing.
    assert_eq!(pipeline.samples_emitted.load(Relaxed), expected);
    assert_eq!(ends(&events).len(), 1);
    assert_eq!(recorder.samples().len() as u64, expected);
    assert_eq!(recorder.state(|s| s.ended), 1);
    assert_eq!(
        events.device_states(),
        [DeviceState::Running, DeviceState::Ended]
    );
    // Levels of a −6 dBFS tone, with a spectrum that peaks in the 1 kHz band.
    let levels: Vec<_> = events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Level(l) => Some(l),
            _ => None,
        })
        .collect();
    let last = levels.last().unwrap();
    assert!((last.level.peak_dbfs - -6.02).abs() < 0.1, "{last:?}");
    let bands = last.bands.as_ref().unwrap();
    assert_eq!(bands.len(), 16);
    let peak = (0..16)
        .max_by(|a, b| bands[*a].total_cmp(&bands[*b]))
        .unwrap();
    assert_eq!(peak, 9, "1 kHz is in band 9 of 16: {bands:?}");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn levels_come_at_most_level_hz_times_a_second() {
    let path = tone_file("rate.wav", 44_100 * 3 / 2, 44_100);
    let config = file_config(
        &path,
        true,
        &[("levelHz", num(20.0)), ("daemon", Value::Bool(false))],
    );
    // Arrival times, taken as each level is emitted.
    struct Timed(std::sync::Mutex<Vec<(Instant, f64)>>);
    impl EventSink for Timed {
        fn emit(&self, event: Event) -> u64 {
            if let Event::Level(l) = event {
                self.0.lock().unwrap().push((Instant::now(), l.at_ms));
            }
            0
        }
    }
    let timed = Arc::new(Timed(Default::default()));
    let capture = Capture::with_parts(
        config.clone(),
        Arc::new(SourceOpener {
            source: config.source.clone(),
            auto_reopen: false,
        }),
        Arc::new(|_| Recorder::default()),
        timed.clone(),
    );
    capture.start(StartConfig::default()).await.unwrap();
    let pipeline = capture.snapshot().counters.pipeline;
    until("the end", || pipeline.device_state() == DeviceState::Ended).await;
    capture.stop().await.unwrap();
    let levels = timed.0.lock().unwrap().clone();
    let times: Vec<Instant> = levels.iter().map(|(t, _)| *t).collect();
    // Over any 1 s span: at most 20 (+1 for where the span starts).
    for (i, t) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        assert!(within <= 21, "{within} levels within 1 s");
    }
    // 1.5 s paced in real time at 20 Hz.
    assert!((25..=33).contains(&times.len()), "{} levels", times.len());
    // Time stamps follow the audio.
    let at: Vec<f64> = levels.iter().map(|(_, at)| *at).collect();
    assert!(at.windows(2).all(|w| w[1] >= w[0]), "{at:?}");
    let _ = std::fs::remove_file(path);
}

/// A device that can be lost: the first open plays `first`; reopening fails `failures` times,
/// then plays `second`. Keeps each stream's status so a test can report the loss.
struct Flaky {
    first: Source,
    second: Source,
    failures: u32,
    opens: AtomicU32,
    statuses: Mutex<Vec<Arc<InputStatus>>>,
}

impl Opener for Flaky {
    fn open(&self, counters: Arc<CaptureCounters>) -> Result<OpenStream> {
        let n = self.opens.fetch_add(1, Relaxed);
        let source = match n {
            0 => &self.first,
            n if n <= self.failures => return Err(Error::NoDevice("not back yet".into())),
            _ => &self.second,
        };
        let opened = capture::open(source, counters)?;
        self.statuses.lock().unwrap().push(opened.status.clone());
        Ok(opened)
    }
    fn reopens(&self) -> bool {
        true
    }
}

fn file_source(path: &std::path::Path) -> Source {
    Source::File(FileSource {
        path: path.to_owned(),
        realtime: true,
        looped: false,
    })
}

#[tokio::test]
async fn a_lost_input_is_reopened_at_another_rate_and_the_chunks_carry_on() {
    let first = tone_file("lost-a.wav", 44_100 * 5, 44_100);
    let second = tone_file("lost-b.wav", 48_000 * 5, 48_000);
    let flaky = Arc::new(Flaky {
        first: file_source(&first),
        second: file_source(&second),
        failures: 1,
        opens: AtomicU32::new(0),
        statuses: Mutex::default(),
    });
    let config = file_config(&first, true, &[]);
    let (capture, recorder, events) = capture_with(config, flaky.clone());
    capture.start(StartConfig::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    flaky.statuses.lock().unwrap()[0].report(Error::DeviceLost("unplugged".into()));
    let pipeline = capture.snapshot().counters.pipeline;
    until("a reopen", || pipeline.device_reopens.load(Relaxed) == 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    capture.stop().await.unwrap();
    use DeviceState::*;
    assert_eq!(
        events.device_states(),
        [Running, Lost, Reopening, Running],
        "a failed attempt, then one that worked"
    );
    assert_eq!(events.error_codes(), ["E_DEVICE_LOST", "E_NO_DEVICE"]);
    assert_eq!(pipeline.device_reopen_failures.load(Relaxed), 1);
    assert_eq!(
        flaky.opens.load(Relaxed),
        3,
        "the first open and two reopens"
    );
    let seqs = events.chunk_seqs();
    assert!(seqs.len() >= 8, "{seqs:?}");
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "one sequence"
    );
    assert_eq!(
        recorder.samples().len() as u64,
        pipeline.samples_emitted.load(Relaxed)
    );
    assert_eq!(
        recorder.state(|s| (s.connects, s.ended)),
        (1, 1),
        "one daemon session"
    );
    // The 48 kHz stream went through a new resampler: its tone is still 1 kHz at −6 dBFS.
    let chunks = recorder.state(|s| s.chunks.clone());
    let last = &chunks[chunks.len() - 2];
    let peak = last.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!((peak - 0.5).abs() < 0.01, "peak {peak}");
    let crossings = last
        .windows(2)
        .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
        .count();
    assert!(
        (99..=101).contains(&crossings),
        "{crossings} cycles in 100 ms"
    );
    let _ = std::fs::remove_file(first);
    let _ = std::fs::remove_file(second);
}

/// Counts opens; never succeeds.
struct NoDevice(AtomicU32);

impl Opener for NoDevice {
    fn open(&self, _: Arc<CaptureCounters>) -> Result<OpenStream> {
        self.0.fetch_add(1, Relaxed);
        Err(Error::NoDevice("no microphone".into()))
    }
    fn reopens(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn a_refused_daemon_opens_no_device_and_a_failed_device_ends_the_daemon_session() {
    let path = tone_file("refused.wav", 16_000, 16_000);
    // The daemon refuses our credentials: no device is opened, with or without waiting.
    for wait_for_daemon in [false, true] {
        let opener = Arc::new(NoDevice(AtomicU32::new(0)));
        let (capture, recorder, _) = capture_with(file_config(&path, true, &[]), opener.clone());
        recorder.state(|s| s.refuse = Some(Error::Unauthorized("expired".into())));
        let e = capture
            .start(StartConfig {
                wait_for_daemon,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), "E_UNAUTHORIZED");
        assert_eq!(opener.0.load(Relaxed), 0);
        assert!(!capture.is_capturing());
    }
    // The daemon answers but the device fails: the session it would have fed is ended.
    let opener = Arc::new(NoDevice(AtomicU32::new(0)));
    let (capture, recorder, _) = capture_with(file_config(&path, true, &[]), opener.clone());
    let e = capture.start(StartConfig::default()).await.unwrap_err();
    assert_eq!(e.code(), "E_NO_DEVICE");
    assert_eq!(recorder.state(|s| (s.connects, s.ended)), (1, 1));
    assert!(!capture.is_capturing());
    // An absent daemon is an error, unless the capture may wait for it.
    let unreachable = Error::DaemonUnreachable {
        path: "x".into(),
        reason: "down".into(),
    };
    let (capture, recorder, events) = file_capture(file_config(&path, true, &[]));
    recorder.state(|s| s.refuse = Some(unreachable.clone()));
    let e = capture.start(StartConfig::default()).await.unwrap_err();
    assert_eq!(e.code(), "E_DAEMON_UNREACHABLE");
    capture
        .start(StartConfig {
            wait_for_daemon: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(capture.is_capturing());
    until("a reconnect attempt", || {
        events.link_states().contains(&LinkState::Reconnecting)
    })
    .await;
    recorder.state(|s| s.refuse = None);
    until("the daemon", || {
        events.link_states().contains(&LinkState::Connected)
    })
    .await;
    capture.stop().await.unwrap();
    let emitted = capture
        .snapshot()
        .counters
        .pipeline
        .samples_emitted
        .load(Relaxed);
    assert_eq!(
        recorder.samples().len() as u64,
        emitted,
        "what waited was delivered"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn start_and_stop_are_idempotent_pause_holds_the_audio_and_a_restart_is_fresh() {
    let path = tone_file("cycle.wav", 16_000 * 20, 16_000);
    let (capture, recorder, events) = file_capture(file_config(&path, true, &[]));
    capture.stop().await.unwrap();
    capture.pause(); // harmless while stopped
    capture.start(StartConfig::default()).await.unwrap();
    capture.start(StartConfig::default()).await.unwrap();
    assert!(
        capture.is_capturing() && !capture.is_paused(),
        "a capture starts unpaused"
    );
    let counters = capture.snapshot().counters;
    until("chunks", || {
        counters.pipeline.chunks_emitted.load(Relaxed) >= 3
    })
    .await;
    capture.pause();
    assert!(capture.is_paused() && capture.snapshot().paused);
    // Let the pipeline see the pause, then nothing more is chunked.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let at_pause = counters.pipeline.chunks_emitted.load(Relaxed);
    until("paused frames", || {
        counters.pipeline.frames_paused.load(Relaxed) >= 8000
    })
    .await;
    assert_eq!(counters.pipeline.chunks_emitted.load(Relaxed), at_pause);
    capture.resume();
    until("chunks again", || {
        counters.pipeline.chunks_emitted.load(Relaxed) > at_pause + 2
    })
    .await;
    capture.stop().await.unwrap();
    capture.stop().await.unwrap();
    assert!(!capture.is_capturing() && !capture.is_paused());
    let first_run = events.chunk_seqs();
    assert_eq!(first_run, (0..first_run.len() as u64).collect::<Vec<_>>());
    // Everything emitted reached the daemon, except what was paused.
    let emitted = counters.pipeline.samples_emitted.load(Relaxed);
    let paused = counters.pipeline.frames_paused.load(Relaxed);
    assert_eq!(recorder.samples().len() as u64, emitted);
    let captured = counters.capture.frames_captured.load(Relaxed);
    assert!(
        emitted.abs_diff(captured - paused) <= 2,
        "{emitted} {captured} {paused}"
    );
    // A new run: new counters, `seq` from 0, a new daemon session.
    capture.start(StartConfig::default()).await.unwrap();
    let second = capture.snapshot().counters;
    assert!(!Arc::ptr_eq(&second.pipeline, &counters.pipeline));
    until("chunks", || {
        second.pipeline.chunks_emitted.load(Relaxed) >= 1
    })
    .await;
    capture.stop().await.unwrap();
    let seqs = events.chunk_seqs();
    assert_eq!(seqs[first_run.len()], 0);
    // Three daemon sessions, each ended: the pause ended the first (its result would be lost
    // to a realtime daemon's idle timeout), the resume opened the second, the restart a third.
    assert_eq!(recorder.state(|s| (s.connects, s.ended)), (3, 3));
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_capture_started_paused_sends_nothing_until_resumed() {
    let path = tone_file("started-paused.wav", 16_000 * 20, 16_000);
    let (capture, recorder, _) = file_capture(file_config(&path, true, &[]));
    capture
        .start(StartConfig {
            paused: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(capture.is_paused() && capture.snapshot().paused);
    let counters = capture.snapshot().counters;
    until("paused frames", || {
        counters.pipeline.frames_paused.load(Relaxed) >= 8000
    })
    .await;
    assert_eq!(counters.pipeline.chunks_emitted.load(Relaxed), 0);
    assert!(
        recorder.samples().is_empty(),
        "not one sample before resume()"
    );
    capture.resume();
    until("chunks", || {
        counters.pipeline.chunks_emitted.load(Relaxed) >= 2
    })
    .await;
    capture.stop().await.unwrap();
    let emitted = counters.pipeline.samples_emitted.load(Relaxed);
    assert_eq!(recorder.samples().len() as u64, emitted);
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_capture_dropped_while_running_still_stops_in_order() {
    let path = tone_file("dropped.wav", 16_000 * 20, 16_000);
    let (capture, recorder, _) = file_capture(file_config(&path, true, &[]));
    capture.start(StartConfig::default()).await.unwrap();
    let counters = capture.snapshot().counters;
    until("chunks", || {
        counters.pipeline.chunks_emitted.load(Relaxed) >= 2
    })
    .await;
    drop(capture);
    until("the daemon session to end", || {
        recorder.state(|s| s.ended) == 1
    })
    .await;
    assert_eq!(counters.pipeline.device_state(), DeviceState::Off);
    let emitted = counters.pipeline.samples_emitted.load(Relaxed);
    assert_eq!(
        recorder.samples().len() as u64,
        emitted,
        "flushed and delivered"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_returns_once_the_open_utterance_has_ended() {
    let speech = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/speech.wav");
    let config = file_config(&speech, true, &[("vad", Value::Bool(true))]);
    let (capture, recorder, events) = file_capture(config);
    capture.start(StartConfig::default()).await.unwrap();
    let speaking = || {
        events
            .events()
            .iter()
            .any(|e| matches!(e, Event::Voice(v) if v.speech))
    };
    until("speech", speaking).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // `pause()` blocks (briefly) until the pipeline has acted: the utterance is out already.
    tokio::task::block_in_place(|| capture.pause());
    let utterances: Vec<_> = events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Utterance(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(utterances.len(), 1, "ended before pause() returned");
    assert_eq!(utterances[0].reason.as_str(), "pause");
    capture.stop().await.unwrap();
    // The utterance's audio is exactly what the chunks carried over its range.
    let all = recorder.samples();
    let u = &utterances[0];
    assert_eq!(
        u.samples[..],
        all[u.start_sample as usize..u.end_sample as usize]
    );
}
