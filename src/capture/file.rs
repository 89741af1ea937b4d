//! A WAV file as the input: a reader thread decodes it (hound) and feeds the same
//! [`Processor`] the audio callback uses, so the file goes through the same downmix, ring,
//! resampler, chunker and transport as a microphone.
//!
//! Paced in real time by default (10 ms blocks on an absolute schedule, so no drift), or as
//! fast as the pipeline drains the ring. The reader thread is not a real-time thread, so it may
//! block and allocate; it still drops nothing: in fast mode it waits for room in the ring.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringbuf::HeapProd;

use super::processor::Processor;
use super::InputStatus;
use crate::error::{Error, Result};
use crate::stats::CaptureCounters;

/// The sample rates a file may have (what the resampler handles sensibly).
pub const FILE_RATES: std::ops::RangeInclusive<u32> = 1_000..=384_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    pub path: PathBuf,
    /// Pace the file at its own sample rate (`true`) or as fast as the pipeline takes it.
    pub realtime: bool,
    /// Start again from the beginning at the end, instead of ending the input.
    pub looped: bool,
}

/// What a file holds, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits: u16,
    pub float: bool,
    pub frames: u64,
}

impl WavFormat {
    /// The same names cpal uses for sample formats (`i16`, `f32`, ...). 8-bit WAV is unsigned.
    pub fn format_name(&self) -> String {
        match (self.float, self.bits) {
            (true, b) => format!("f{b}"),
            (false, 8) => "u8".to_owned(),
            (false, b) => format!("i{b}"),
        }
    }
}

type Reader = hound::WavReader<BufReader<File>>;

const SUPPORTED: &str = "PCM 8/16/24/32-bit integer or 32-bit float WAV is supported";

fn invalid(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("{}: {reason}", path.display()))
}

/// Opens the file and checks that it can be played.
pub fn open_wav(path: &Path) -> Result<(Reader, WavFormat)> {
    if path.is_dir() {
        return Err(invalid(path, "is a directory"));
    }
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(io) => invalid(path, io),
        hound::Error::FormatError(reason) if reason.starts_with("bits per sample") => invalid(
            path,
            format!("unsupported sample size ({reason}); {SUPPORTED}"),
        ),
        hound::Error::FormatError(reason) => {
            invalid(path, format!("not a valid WAV file ({reason})"))
        }
        hound::Error::Unsupported => {
            invalid(path, format!("unsupported WAV encoding; {SUPPORTED}"))
        }
        other => invalid(path, other),
    })?;
    let spec = reader.spec();
    let format = WavFormat {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits: spec.bits_per_sample,
        float: spec.sample_format == hound::SampleFormat::Float,
        frames: reader.duration() as u64,
    };
    if format.channels == 0 {
        return Err(invalid(path, "has 0 channels"));
    }
    if !FILE_RATES.contains(&format.sample_rate) {
        return Err(invalid(
            path,
            format!(
                "sample rate {} Hz is outside {}..={} Hz",
                format.sample_rate,
                FILE_RATES.start(),
                FILE_RATES.end()
            ),
        ));
    }
    let supported = if format.float {
        format.bits == 32
    } else {
        (1..=32).contains(&format.bits)
    };
    if !supported {
        return Err(invalid(
            path,
            format!(
                "{}-bit {} samples are not supported; {SUPPORTED}",
                format.bits,
                if format.float { "float" } else { "integer" }
            ),
        ));
    }
    if format.frames == 0 {
        return Err(invalid(path, "has no audio"));
    }
    Ok((reader, format))
}

/// The reader thread. Dropping it stops and joins the thread.
pub struct FileInput {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FileInput {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the reader thread for an opened file.
pub fn start(
    source: FileSource,
    reader: Reader,
    format: WavFormat,
    ring: HeapProd<f32>,
    counters: Arc<CaptureCounters>,
    status: Arc<InputStatus>,
) -> Result<FileInput> {
    let stop = Arc::new(AtomicBool::new(false));
    let player = Player {
        processor: Processor::<f32>::new(format.channels as usize, ring, counters),
        block: vec![0.0; block_frames(format.sample_rate) * format.channels as usize],
        source,
        format,
        stop: stop.clone(),
        status,
    };
    let thread = std::thread::Builder::new()
        .name("stt-capture-file".into())
        .spawn(move || player.run(reader))
        .map_err(|e| Error::Internal(format!("cannot start the file reader thread: {e}")))?;
    Ok(FileInput {
        stop,
        thread: Some(thread),
    })
}

/// 10 ms of frames.
fn block_frames(rate: u32) -> usize {
    (rate as usize / 100).max(1)
}

struct Player {
    processor: Processor<f32>,
    block: Vec<f32>,
    source: FileSource,
    format: WavFormat,
    stop: Arc<AtomicBool>,
    status: Arc<InputStatus>,
}

impl Player {
    fn run(mut self, reader: Reader) {
        let started = Instant::now();
        let mut frames_done: u64 = 0;
        let mut reader = reader;
        loop {
            match self.play_once(reader, started, &mut frames_done) {
                // Stopped: not an end of the input.
                Ok(false) => return,
                Ok(true) if self.source.looped => match open_wav(&self.source.path) {
                    Ok((next, format)) if format == self.format => reader = next,
                    Ok(_) => return self.fail("the file changed format while looping".into()),
                    Err(e) => return self.fail(e.to_string()),
                },
                Ok(true) => break,
                Err(reason) => return self.fail(reason),
            }
        }
        self.status.ended.store(true, Ordering::Release);
    }

    /// Reports why the input ends early, and ends it.
    fn fail(&self, reason: String) {
        self.status.report(invalid(
            &self.source.path,
            format!("{reason}; the input ended"),
        ));
        self.status.ended.store(true, Ordering::Release);
    }

    /// Plays the file once. `Ok(true)` at its end, `Ok(false)` when stopped.
    fn play_once(
        &mut self,
        reader: Reader,
        started: Instant,
        frames_done: &mut u64,
    ) -> std::result::Result<bool, String> {
        let bits = self.format.bits;
        if self.format.float {
            self.play_samples(reader.into_samples::<f32>(), |s| s, started, frames_done)
        } else {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            self.play_samples(
                reader.into_samples::<i32>(),
                move |s| s as f32 * scale,
                started,
                frames_done,
            )
        }
    }

    fn play_samples<S: hound::Sample>(
        &mut self,
        mut samples: impl Iterator<Item = hound::Result<S>>,
        to_f32: impl Fn(S) -> f32,
        started: Instant,
        frames_done: &mut u64,
    ) -> std::result::Result<bool, String> {
        let channels = self.format.channels as usize;
        let rate = self.format.sample_rate as f64;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let mut filled = 0;
            let mut failure = None;
            for slot in self.block.iter_mut() {
                match samples.next() {
                    Some(Ok(s)) => {
                        *slot = to_f32(s);
                        filled += 1;
                    }
                    Some(Err(e)) => {
                        failure = Some(format!(
                            "unreadable after {} frames: {e}",
                            *frames_done + (filled / channels) as u64
                        ));
                        break;
                    }
                    None => break,
                }
            }
            let frames = filled / channels;
            if frames > 0 {
                let data = &self.block[..frames * channels];
                if self.source.realtime {
                    // Like a microphone: a block arrives once its last frame is "captured".
                    let due = started
                        + Duration::from_secs_f64((*frames_done + frames as u64) as f64 / rate);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                } else {
                    // Never drop in fast mode: wait for the pipeline to make room.
                    while self.processor.vacant_frames() < frames {
                        if self.stop.load(Ordering::Relaxed) {
                            return Ok(false);
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                self.processor.process(data);
                *frames_done += frames as u64;
            }
            if let Some(reason) = failure {
                return Err(reason);
            }
            if filled < self.block.len() {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Consumer, Split};
    use ringbuf::HeapRb;
    use std::sync::atomic::Ordering::Relaxed;

    fn pcm16(channels: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        }
    }

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stt-capture-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// Writes `frames` frames where channel `c` of frame `i` is `value(i, c)` in [-1, 1).
    fn write_wav(
        name: &str,
        spec: hound::WavSpec,
        frames: usize,
        value: impl Fn(usize, usize) -> f64,
    ) -> PathBuf {
        let path = temp_path(name);
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..frames {
            for c in 0..spec.channels as usize {
                let v = value(i, c);
                match spec.sample_format {
                    hound::SampleFormat::Float => w.write_sample(v as f32).unwrap(),
                    hound::SampleFormat::Int => {
                        let full = (1i64 << (spec.bits_per_sample - 1)) as f64;
                        w.write_sample((v * full).round() as i32).unwrap()
                    }
                }
            }
        }
        w.finalize().unwrap();
        path
    }

    /// Plays a file as fast as possible and returns the mono samples it pushed.
    fn play(path: &Path, looped: bool, max_frames: usize) -> (Vec<f32>, Arc<InputStatus>) {
        let (reader, format) = open_wav(path).unwrap();
        let (prod, mut cons) = HeapRb::<f32>::new(4096).split();
        let counters = Arc::new(CaptureCounters::default());
        let status = Arc::new(InputStatus::default());
        let source = FileSource {
            path: path.to_owned(),
            realtime: false,
            looped,
        };
        let input = start(
            source,
            reader,
            format,
            prod,
            counters.clone(),
            status.clone(),
        )
        .unwrap();
        let mut out = Vec::new();
        let mut buf = [0f32; 1024];
        loop {
            let ended = status.ended.load(Ordering::Acquire);
            let n = cons.pop_slice(&mut buf);
            out.extend_from_slice(&buf[..n]);
            if (ended && n == 0) || out.len() >= max_frames {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        drop(input);
        assert_eq!(counters.frames_dropped.load(Relaxed), 0);
        (out, status)
    }

    #[test]
    fn every_supported_encoding_decodes_to_the_same_mono_signal() {
        let frames = 4_410;
        let value = |i: usize, c: usize| {
            let x = 0.5 * (i as f64 * 0.013).sin();
            if c == 0 {
                x
            } else {
                -x * 0.5
            }
        };
        for (bits, float, channels, tolerance) in [
            (8u16, false, 1u16, 1.0 / 127.0),
            (16, false, 2, 1.0 / 32767.0),
            (24, false, 2, 1e-6),
            (32, false, 6, 1e-6),
            (32, true, 2, 1e-6),
        ] {
            let spec = hound::WavSpec {
                channels,
                sample_rate: 44_100,
                bits_per_sample: bits,
                sample_format: if float {
                    hound::SampleFormat::Float
                } else {
                    hound::SampleFormat::Int
                },
            };
            let name = format!("enc-{bits}-{float}-{channels}.wav");
            let path = write_wav(&name, spec, frames, value);
            let (reader, format) = open_wav(&path).unwrap();
            drop(reader);
            assert_eq!(format.frames, frames as u64);
            let (mono, status) = play(&path, false, usize::MAX);
            assert!(status.take().is_none(), "{name}: no error");
            assert_eq!(mono.len(), frames, "{name}: every frame");
            for (i, m) in mono.iter().enumerate() {
                let expected: f64 =
                    (0..channels as usize).map(|c| value(i, c)).sum::<f64>() / channels as f64;
                assert!(
                    (*m as f64 - expected).abs() <= tolerance,
                    "{name} frame {i}: {m} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn looping_restarts_at_the_first_frame() {
        let spec = pcm16(1);
        let path = write_wav("loop.wav", spec, 1000, |i, _| i as f64 / 32768.0);
        let (mono, _) = play(&path, true, 3500);
        assert!(mono.len() >= 3500);
        for (i, m) in mono.iter().enumerate() {
            assert_eq!(*m, (i % 1000) as f32 / 32768.0, "frame {i}");
        }
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let missing = temp_path("does-not-exist.wav");
        let text = temp_path("text.wav");
        std::fs::write(&text, "hello, not a wav").unwrap();
        let spec = pcm16(1);
        let empty = write_wav("empty.wav", spec, 0, |_, _| 0.0);
        let slow = write_wav(
            "slow.wav",
            hound::WavSpec {
                sample_rate: 500,
                ..spec
            },
            10,
            |_, _| 0.0,
        );
        let dir = temp_path("a-directory.wav");
        std::fs::create_dir_all(&dir).unwrap();
        for (path, expected) in [
            (&missing, "No such file"),
            (&text, "not a valid WAV"),
            (&empty, "no audio"),
            (&slow, "sample rate 500 Hz"),
            (&dir, "directory"),
        ] {
            let e = open_wav(path).err().expect("refused");
            assert_eq!(e.code(), "E_INVALID_INPUT");
            assert!(e.to_string().contains(expected), "{e}");
            assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
        }
    }

    #[test]
    fn a_truncated_file_plays_what_it_has_then_reports() {
        let spec = pcm16(2);
        let path = write_wav("truncated.wav", spec, 2000, |_, _| 0.25);
        let bytes = std::fs::read(&path).unwrap();
        // Cut the data in the middle of frame 1500.
        std::fs::write(&path, &bytes[..44 + 1500 * 4 + 2]).unwrap();
        let (mono, status) = play(&path, false, usize::MAX);
        assert_eq!(mono.len(), 1500);
        let e = status.take().expect("an error");
        assert_eq!(e.code(), "E_INVALID_INPUT");
        assert!(e.to_string().contains("after 1500 frames"), "{e}");
    }
}
