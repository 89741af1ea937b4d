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
mod tests;
