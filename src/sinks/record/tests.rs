use std::io::{self, Cursor, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::writer::{self, Ended, Finished, Format, Storage, WriterConfig};
use super::*;
use crate::events::testing::{recorded, Recorded};
use crate::pipeline::clock::Timeline;

fn block(samples: &[f32], start_sample: u64) -> Block<'_> {
    Block {
        samples,
        start_sample,
        timeline: Timeline::default(),
        clipped: false,
    }
}

/// A deterministic signal that never repeats within a test.
fn signal(n: usize, offset: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i + offset) as f32) * 0.000_37).sin() * 0.8)
        .collect()
}

fn temp_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "stt-record-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// In-memory storage that can be held shut (a stalled disk) or refuse bytes past a limit
/// (a full disk, RLIMIT_FSIZE), the way a file does: a partial write, then an error.
#[derive(Clone, Default)]
struct Memory {
    data: Arc<Mutex<Cursor<Vec<u8>>>>,
    shut: Arc<(Mutex<bool>, Condvar)>,
    limit: Option<u64>,
}

impl Memory {
    fn hold(&self, shut: bool) {
        *self.shut.0.lock().unwrap() = shut;
        self.shut.1.notify_all();
    }

    fn bytes(&self) -> Vec<u8> {
        self.data.lock().unwrap().get_ref().clone()
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut shut = self.shut.0.lock().unwrap();
        while *shut {
            shut = self.shut.1.wait(shut).unwrap();
        }
        let mut data = self.data.lock().unwrap();
        let room = self
            .limit
            .map_or(u64::MAX, |l| l.saturating_sub(data.position()));
        if room == 0 {
            return Err(io::Error::from_raw_os_error(libc::EFBIG));
        }
        let n = buf.len().min(room as usize);
        data.write(&buf[..n])
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Memory {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.data.lock().unwrap().seek(pos)
    }
}

impl Storage for Memory {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.data.lock().unwrap().get_mut().truncate(len as usize);
        Ok(())
    }
}

struct Rig {
    sink: RecordSink,
    control: RecordControl,
    counters: Arc<RecordCounters>,
    events: Arc<Recorded>,
}

fn rig() -> Rig {
    let (control, inbox) = channel();
    let counters = Arc::new(RecordCounters::default());
    let (events, _) = recorded();
    Rig {
        sink: RecordSink::new(inbox, counters.clone()),
        control,
        counters,
        events,
    }
}

impl Rig {
    fn start<S: Storage>(
        &self,
        storage: S,
        rate: Rate,
        sample_rate: u32,
        format: Format,
        capacity: usize,
    ) -> Finished {
        let events = crate::events::Events::new(self.events.clone(), Arc::default());
        let (feed, finished) = writer::start(
            storage,
            WriterConfig {
                path: PathBuf::from("test.wav"),
                sample_rate,
                format,
                capacity,
            },
            self.counters.clone(),
            events,
        )
        .unwrap();
        self.control.start(feed, rate).unwrap();
        finished
    }
}

fn read_f32(bytes: Vec<u8>) -> (hound::WavSpec, Vec<f32>) {
    let reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    let samples = reader.into_samples::<f32>().map(Result::unwrap).collect();
    (spec, samples)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test]
async fn a_16_khz_recording_holds_exactly_the_blocks_pushed_while_it_ran() {
    let mut rig = rig();
    let audio = signal(16_000, 0);
    // Before the recording: not in the file.
    rig.sink.push(&block(&audio[..1000], 0));
    let memory = Memory::default();
    let finished = rig.start(memory.clone(), Rate::Target, 16_000, Format::F32, 16_000);
    for (i, piece) in audio[1000..].chunks(700).enumerate() {
        rig.sink.push(&block(piece, 1000 + i as u64 * 700));
        // Device frames are not what a 16 kHz recording holds.
        rig.sink.push_device(&[0.5; 64], 48_000);
    }
    rig.sink.boundary(Boundary::Stop);
    let summary = finished.wait().await.unwrap();
    assert!(matches!(summary.ended, Ended::Stop));
    assert_eq!(summary.frames, 15_000);
    assert_eq!(summary.duration_ms(), 937.5);
    let (spec, samples) = read_f32(memory.bytes());
    assert_eq!(spec.sample_rate, 16_000);
    assert_eq!(spec.channels, 1);
    assert_eq!(samples, audio[1000..]);
    assert_eq!(rig.counters.state(), RecordState::Off);
    assert!(rig.events.error_codes().is_empty());
}

#[tokio::test]
async fn a_device_rate_recording_holds_the_device_frames_bit_for_bit() {
    let mut rig = rig();
    let memory = Memory::default();
    let finished = rig.start(memory.clone(), Rate::Device, 44_100, Format::F32, 44_100);
    let frames = signal(44_100, 7);
    for piece in frames.chunks(441) {
        rig.sink.push_device(piece, 44_100);
        rig.sink.push(&block(&[0.25; 160], 0));
    }
    rig.control.stop();
    rig.sink.tick(Instant::now(), false);
    // After the stop: not in the file.
    rig.sink.push_device(&frames[..441], 44_100);
    let summary = finished.wait().await.unwrap();
    assert_eq!(summary.frames, 44_100);
    let (spec, samples) = read_f32(memory.bytes());
    assert_eq!(spec.sample_rate, 44_100);
    assert_eq!(
        samples.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
        frames.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn s16_rounds_and_clamps() {
    let mut rig = rig();
    let memory = Memory::default();
    let finished = rig.start(memory.clone(), Rate::Target, 16_000, Format::S16, 1600);
    let audio = [
        0.0,
        0.5,
        -0.5,
        1.0,
        -1.0,
        1.5,
        -1.5,
        1.0 / 32767.0,
        0.4999 / 32767.0,
    ];
    rig.sink.push(&block(&audio, 0));
    rig.sink.boundary(Boundary::End);
    let summary = finished.wait().await.unwrap();
    assert_eq!(summary.format.as_str(), "s16");
    let reader = hound::WavReader::new(Cursor::new(memory.bytes())).unwrap();
    assert_eq!(reader.spec().bits_per_sample, 16);
    let samples: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
    assert_eq!(
        samples,
        [0, 16384, -16384, 32767, -32767, 32767, -32768, 1, 0]
    );
}

#[tokio::test]
async fn a_stalled_disk_stops_the_recording_at_a_block_boundary_and_the_stream_goes_on() {
    let mut rig = rig();
    let memory = Memory::default();
    let capacity = 8000;
    let finished = rig.start(memory.clone(), Rate::Target, 16_000, Format::F32, capacity);
    memory.hold(true);
    let audio = signal(200_000, 3);
    for (i, piece) in audio.chunks(4000).enumerate() {
        rig.sink.push(&block(piece, i as u64 * 4000));
        let Some(active) = &rig.sink.active else {
            break;
        };
        // A disk that keeps up empties the ring; this one stops taking bytes once the
        // writer's own buffer is full.
        let deadline = Instant::now() + Duration::from_millis(300);
        while active.feed.ring.occupied_len() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert!(rig.sink.active.is_none(), "the ring never filled");
    assert!(rig.counters.queue_high_water.load(Relaxed) <= capacity as u64);
    memory.hold(false);
    let summary = finished.wait().await.unwrap();
    let Ended::Error(error) = &summary.ended else {
        panic!("expected an overrun, got {:?}", summary.ended)
    };
    assert_eq!(error.code(), "E_RECORD_OVERRUN");
    assert!(
        error
            .to_string()
            .contains(&format!("{} frames", summary.frames)),
        "{error}"
    );
    assert_eq!(rig.events.error_codes(), ["E_RECORD_OVERRUN"]);
    assert_eq!(rig.counters.state(), RecordState::Overrun);
    // Whole blocks, the first ones, nothing missing in between: more than the writer's
    // buffer (64 KiB) took before the disk stalled.
    assert_eq!(summary.frames % 4000, 0);
    assert!(
        summary.frames > 16_384 && summary.frames < 200_000,
        "{}",
        summary.frames
    );
    let (_, samples) = read_f32(memory.bytes());
    assert_eq!(samples, audio[..summary.frames as usize]);
    // The sink goes on taking blocks (and ignores them).
    rig.sink.push(&block(&audio[..1000], 200_000));
    rig.sink.boundary(Boundary::Stop);
}

#[tokio::test]
async fn a_failed_write_leaves_a_valid_file_with_what_its_header_counts() {
    let mut rig = rig();
    let memory = Memory {
        // The header and 3000 samples fit.
        limit: Some(100 + 3000 * 4),
        ..Memory::default()
    };
    let finished = rig.start(memory.clone(), Rate::Target, 16_000, Format::F32, 16_000);
    let audio = signal(12_000, 11);
    rig.sink.push(&block(&audio[..2000], 0));
    // Once the header counts those 2000, more than the limit allows.
    wait_until("a flush", || rig.counters.frames.load(Relaxed) == 2000);
    rig.sink.push(&block(&audio[2000..], 2000));
    wait_until("the failure", || {
        rig.counters.state() == RecordState::Failed
    });
    // The sink lets go at its next block.
    rig.sink.push(&block(&audio[..10], 12_000));
    assert!(rig.sink.active.is_none());
    let summary = finished.wait().await.unwrap();
    let Ended::Error(error) = &summary.ended else {
        panic!("expected a failure")
    };
    assert_eq!(error.code(), "E_RECORD_FAILED");
    assert!(error.to_string().contains("File too large"), "{error}");
    assert_eq!(summary.frames, 2000);
    let (_, samples) = read_f32(memory.bytes());
    assert_eq!(samples, audio[..2000]);
    assert_eq!(rig.events.error_codes(), ["E_RECORD_FAILED"]);
}

#[tokio::test]
async fn a_device_that_changes_rate_ends_a_device_rate_recording() {
    let mut rig = rig();
    let memory = Memory::default();
    let finished = rig.start(memory.clone(), Rate::Device, 48_000, Format::F32, 48_000);
    rig.sink.push_device(&signal(480, 0), 48_000);
    rig.sink.push_device(&signal(441, 0), 44_100);
    let summary = finished.wait().await.unwrap();
    let Ended::Error(error) = &summary.ended else {
        panic!("expected a failure")
    };
    assert_eq!(error.code(), "E_RECORD_FAILED");
    assert!(error.to_string().contains("44100 Hz"), "{error}");
    assert_eq!(summary.frames, 480);
    assert_eq!(read_f32(memory.bytes()).1, signal(480, 0));
}

#[test]
fn files_are_never_replaced_unless_asked() {
    let dir = temp_dir();
    let path = dir.join("a.wav");
    std::fs::write(&path, b"keep").unwrap();
    let e = writer::create(&path, false).unwrap_err();
    assert_eq!(e.code(), "E_RECORD_FAILED");
    assert!(e.to_string().contains("overwrite: true"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    writer::create(&path, true).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    for (bad, reason) in [
        (dir.join("missing").join("a.wav"), "No such file"),
        (dir.clone(), "exists"),
    ] {
        let e = writer::create(&bad, false).unwrap_err();
        assert!(e.to_string().contains(reason), "{e}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn options_parse_with_defaults_and_name_what_is_wrong() {
    use crate::value::Value;
    let obj = |fields: Vec<(&str, Value)>| {
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let parsed =
        RecordOptions::from_value(&obj(vec![("path", Value::String("a.wav".into()))])).unwrap();
    assert_eq!(parsed.rate, Rate::Target);
    assert_eq!(parsed.format, Format::F32);
    assert!(!parsed.overwrite);
    assert_eq!(parsed.capacity(16_000), 160_000);
    let device = RecordOptions::from_value(&obj(vec![
        ("path", Value::String("a.wav".into())),
        ("rate", Value::String("device".into())),
        ("format", Value::String("s16".into())),
    ]))
    .unwrap();
    assert_eq!(
        (device.rate, device.sample_rate(44_100)),
        (Rate::Device, 44_100)
    );
    let number = RecordOptions::from_value(&obj(vec![
        ("path", Value::String("a".into())),
        ("rate", Value::Number(16000.0)),
    ]))
    .unwrap();
    assert_eq!(number.rate, Rate::Target);
    for (fields, named) in [
        (vec![], "record.path"),
        (
            vec![
                ("path", Value::String("a".into())),
                ("rate", Value::Number(48000.0)),
            ],
            "record.rate",
        ),
        (
            vec![
                ("path", Value::String("a".into())),
                ("rate", Value::String("16000".into())),
            ],
            "record.rate",
        ),
        (
            vec![
                ("path", Value::String("a".into())),
                ("format", Value::String("mp3".into())),
            ],
            "record.format",
        ),
        (
            vec![
                ("path", Value::String("a".into())),
                ("bufferMs", Value::Number(5.0)),
            ],
            "record.bufferMs",
        ),
    ] {
        let e = RecordOptions::from_value(&obj(fields)).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains(named), "{e}");
    }
    let e = RecordOptions::from_value(&Value::Undefined).unwrap_err();
    assert!(
        e.to_string().contains("startRecording() needs an object"),
        "{e}"
    );
}

#[test]
fn utterance_files_are_written_whole_and_never_over_an_existing_one() {
    let dir = temp_dir();
    let counters = Arc::new(RecordCounters::default());
    let (events, handle) = recorded();
    let (files, thread) = files::start(&dir, counters.clone(), handle).unwrap();
    let audio = signal(8000, 5);
    std::fs::write(dir.join(files::file_name(1, 1_700_000_000_000.4)), b"x").unwrap();
    files.write(0, 1_700_000_000_000.4, &audio);
    files.write(1, 1_700_000_000_000.4, &audio);
    drop(files);
    thread.join().unwrap();
    let written = dir.join("utterance-1700000000000-0.wav");
    let (spec, samples) = read_f32(std::fs::read(written).unwrap());
    assert_eq!((spec.sample_rate, samples), (16_000, audio));
    assert_eq!(counters.utterances_written.load(Relaxed), 1);
    assert_eq!(counters.utterances_failed.load(Relaxed), 1);
    assert_eq!(events.error_codes(), ["E_RECORD_FAILED"]);
    assert_eq!(
        std::fs::read(dir.join("utterance-1700000000000-1.wav")).unwrap(),
        b"x"
    );
    let e = files::start(
        &dir.join("missing"),
        counters,
        crate::events::testing::recorded().1,
    )
    .err()
    .unwrap();
    assert_eq!(e.code(), "E_RECORD_FAILED");
    std::fs::remove_dir_all(dir).unwrap();
}
