//! A recording's own thread: it takes the samples the record sink puts in a bounded ring and
//! writes them as WAV (hound), rewriting the header's sizes every [`FLUSH_EVERY`] so the file
//! is valid at every moment (a killed process leaves all but the last flush interval). At the
//! end it finalises and fsyncs, then reports a [`Summary`].
//!
//! A failed write ends the recording at the last flush: the file is cut back to the samples
//! its header counts, so it stays valid and says exactly what it holds.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::error::{Error, Result};
use crate::events::Events;
use crate::stats::{RecordCounters, RecordState};

/// How often the header's sizes are rewritten (the issue asks for at least once a second).
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// How long the writer sleeps between looks at the ring when nothing wakes it.
const POLL: Duration = Duration::from_millis(100);
/// Samples taken from the ring per copy.
const COPY: usize = 4096;

/// Sample format of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    F32,
    S16,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::F32 => "f32",
            Format::S16 => "s16",
        }
    }

    pub fn spec(self, rate: u32) -> hound::WavSpec {
        let (bits_per_sample, sample_format) = match self {
            Format::F32 => (32, hound::SampleFormat::Float),
            Format::S16 => (16, hound::SampleFormat::Int),
        };
        hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample,
            sample_format,
        }
    }
}

/// How a recording ended.
#[derive(Debug, Clone)]
pub enum Ended {
    /// `stopRecording()`, `stopCapture()` or the end of a file input.
    Stop,
    /// `E_RECORD_OVERRUN` or `E_RECORD_FAILED`.
    Error(Error),
}

/// What a finished recording holds.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: PathBuf,
    pub frames: u64,
    pub sample_rate: u32,
    pub format: Format,
    pub ended: Ended,
}

impl Summary {
    pub fn duration_ms(&self) -> f64 {
        self.frames as f64 * 1000.0 / self.sample_rate as f64
    }

    /// "<path> holds N frames (D ms)" for messages.
    fn holds(&self) -> String {
        format!(
            "{} holds {} frames ({:.0} ms at {} Hz)",
            self.path.display(),
            self.frames,
            self.duration_ms(),
            self.sample_rate
        )
    }
}

/// Where the WAV bytes go: a file, or in tests a writer that stalls or fails on cue.
pub trait Storage: Write + Seek + Send + 'static {
    /// Makes what was written durable (fsync).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the storage to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl Storage for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// Creates the file of a recording: a new one, unless `overwrite`. The OS reason of a
/// failure (exists, a directory, a missing folder, permission) is `E_RECORD_FAILED`.
pub fn create(path: &Path, overwrite: bool) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options.open(path).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::AlreadyExists {
            " (pass overwrite: true to replace it)"
        } else {
            ""
        };
        Error::RecordFailed(format!("cannot create {}: {e}{hint}", path.display()))
    })
}

/// Shares the storage between hound (which owns its writer) and the thread, which needs it
/// again after an error; once a write has failed every further write and seek is refused,
/// so hound's finalise on drop cannot rewrite the header.
struct Guarded<S> {
    inner: Arc<Mutex<S>>,
    failed: bool,
}

impl<S: Storage> Guarded<S> {
    fn io<T>(&mut self, f: impl FnOnce(&mut S) -> io::Result<T>) -> io::Result<T> {
        if self.failed {
            return Err(io::Error::other("an earlier write failed"));
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let result = f(&mut inner);
        self.failed = result.is_err();
        result
    }
}

impl<S: Storage> Write for Guarded<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io(|s| s.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io(|s| s.flush())
    }
}

impl<S: Storage> Seek for Guarded<S> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.io(|s| s.seek(pos))
    }
}

/// The sink's end of a recording: it pushes samples into `ring` and says when to stop.
pub struct Feed {
    pub ring: HeapProd<f32>,
    /// Capacity of `ring`, in samples.
    pub capacity: usize,
    pub sample_rate: u32,
    /// Dropping it (or sending an error) ends the recording once the ring is written.
    finish: SyncSender<Error>,
}

impl Feed {
    /// Ends the recording with `error` after what the ring holds.
    pub fn fail(self, error: Error) {
        let _ = self.finish.try_send(error);
    }
}

/// The session's end of a recording: its summary once the file is final.
pub struct Finished {
    pub path: PathBuf,
    summary: tokio::sync::oneshot::Receiver<Summary>,
    thread: Option<JoinHandle<()>>,
}

impl Finished {
    /// The recording has ended (stopped, or on its own after an error).
    pub fn is_done(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the file to be final and fsynced; then the thread is gone.
    pub async fn wait(mut self) -> Result<Summary> {
        let summary = (&mut self.summary)
            .await
            .map_err(|_| Error::Internal("the recording's writer ended without a summary".into()));
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        summary
    }
}

/// What a writer needs besides its storage.
pub struct WriterConfig {
    pub path: PathBuf,
    pub sample_rate: u32,
    pub format: Format,
    /// Samples that may wait for the writer before the recording stops (`E_RECORD_OVERRUN`).
    pub capacity: usize,
}

/// Writes the header and starts the writer thread.
pub fn start<S: Storage>(
    storage: S,
    config: WriterConfig,
    counters: Arc<RecordCounters>,
    events: Events,
) -> Result<(Feed, Finished)> {
    let path = config.path.clone();
    let failed = |e: &dyn std::fmt::Display| {
        Error::RecordFailed(format!("cannot write {}: {e}", path.display()))
    };
    let storage = Arc::new(Mutex::new(storage));
    let guarded = Guarded {
        inner: storage.clone(),
        failed: false,
    };
    let mut wav = hound::WavWriter::new(
        BufWriter::with_capacity(64 * 1024, guarded),
        config.format.spec(config.sample_rate),
    )
    .map_err(|e| failed(&e))?;
    // The header is on disk before the first sample: the file is a valid, empty WAV.
    wav.flush().map_err(|e| failed(&e))?;
    let data_start = storage
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .stream_position()
        .map_err(|e| failed(&e))?;
    let (producer, consumer) = HeapRb::<f32>::new(config.capacity).split();
    let (finish, finish_rx) = mpsc::sync_channel(1);
    let (summary_tx, summary) = tokio::sync::oneshot::channel();
    counters.frames.store(0, Relaxed);
    counters.queue_high_water.store(0, Relaxed);
    counters.set_state(RecordState::Recording);
    let (writer_capacity, writer_rate) = (config.capacity, config.sample_rate);
    let writer = Writer {
        wav: Some(wav),
        storage,
        data_start,
        bytes_per_sample: config.format.spec(config.sample_rate).bits_per_sample as u64 / 8,
        durable: 0,
        ring: consumer,
        scratch: vec![0.0; COPY],
        config,
        counters,
        events,
    };
    let thread = std::thread::Builder::new()
        .name("stt-record".into())
        .spawn(move || {
            let summary = writer.run(finish_rx);
            let _ = summary_tx.send(summary);
        })
        .map_err(|e| Error::RecordFailed(format!("cannot start the writer thread: {e}")))?;
    Ok((
        Feed {
            ring: producer,
            capacity: writer_capacity,
            sample_rate: writer_rate,
            finish,
        },
        Finished {
            path: path.clone(),
            summary,
            thread: Some(thread),
        },
    ))
}

struct Writer<S: Storage> {
    wav: Option<hound::WavWriter<BufWriter<Guarded<S>>>>,
    storage: Arc<Mutex<S>>,
    /// Where the samples begin in the file.
    data_start: u64,
    bytes_per_sample: u64,
    /// Samples the header counted at the last successful flush.
    durable: u64,
    ring: HeapCons<f32>,
    scratch: Vec<f32>,
    config: WriterConfig,
    counters: Arc<RecordCounters>,
    events: Events,
}

impl<S: Storage> Writer<S> {
    fn run(mut self, finish: Receiver<Error>) -> Summary {
        let mut last_flush = Instant::now();
        let mut ended = Ended::Stop;
        loop {
            let stop = match finish.recv_timeout(POLL) {
                Ok(error) => {
                    ended = Ended::Error(error);
                    true
                }
                Err(RecvTimeoutError::Disconnected) => true,
                Err(RecvTimeoutError::Timeout) => false,
            };
            // After a stop the sink pushes nothing more: this takes the last samples.
            if let Err(e) = self.write_pending() {
                return self.failed(e);
            }
            if stop {
                break;
            }
            if last_flush.elapsed() >= FLUSH_EVERY {
                if let Err(e) = self.flush() {
                    return self.failed(e);
                }
                last_flush = Instant::now();
            }
        }
        match self.finalise() {
            Ok(()) => self.report(ended),
            Err(e) => self.failed(e),
        }
    }

    fn wav(&mut self) -> &mut hound::WavWriter<BufWriter<Guarded<S>>> {
        self.wav
            .as_mut()
            .expect("the writer is open until it finalises")
    }

    fn write_pending(&mut self) -> std::result::Result<(), hound::Error> {
        let Self {
            wav,
            ring,
            scratch,
            config,
            ..
        } = self;
        let wav = wav.as_mut().expect("the writer is open until it finalises");
        loop {
            let n = ring.pop_slice(scratch);
            if n == 0 {
                return Ok(());
            }
            for &s in &scratch[..n] {
                match config.format {
                    Format::F32 => wav.write_sample(s)?,
                    Format::S16 => wav.write_sample(to_s16(s))?,
                }
            }
        }
    }

    fn flush(&mut self) -> std::result::Result<(), hound::Error> {
        let wav = self.wav();
        wav.flush()?;
        let len = wav.len() as u64;
        self.durable = len;
        self.counters.frames.store(len, Relaxed);
        Ok(())
    }

    fn finalise(&mut self) -> std::result::Result<(), hound::Error> {
        self.flush()?;
        if let Some(wav) = self.wav.take() {
            wav.finalize()?;
        }
        self.storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sync()?;
        Ok(())
    }

    /// A write failed: the file goes back to what its header counts, and says so.
    fn failed(mut self, e: hound::Error) -> Summary {
        drop(self.wav.take());
        let mut storage = self.storage.lock().unwrap_or_else(|p| p.into_inner());
        let _ = storage.truncate(self.data_start + self.durable * self.bytes_per_sample);
        let _ = storage.sync();
        drop(storage);
        self.counters.frames.store(self.durable, Relaxed);
        let reason = match e {
            hound::Error::IoError(e) => e.to_string(),
            e => e.to_string(),
        };
        self.report(Ended::Error(Error::RecordFailed(format!(
            "writing {} failed: {reason}",
            self.config.path.display()
        ))))
    }

    /// The summary; an error ending also becomes an `error` event (saying what the file
    /// holds) and the state in `stats()`.
    fn report(&self, ended: Ended) -> Summary {
        let mut summary = Summary {
            path: self.config.path.clone(),
            frames: self.counters.frames.load(Relaxed),
            sample_rate: self.config.sample_rate,
            format: self.config.format,
            ended: Ended::Stop,
        };
        let holds = summary.holds();
        summary.ended = match ended {
            Ended::Stop => {
                self.counters.set_state(RecordState::Off);
                Ended::Stop
            }
            Ended::Error(error) => {
                let (state, error) = match error {
                    Error::RecordOverrun(why) => (
                        RecordState::Overrun,
                        Error::RecordOverrun(format!("{why}; {holds}")),
                    ),
                    e => (RecordState::Failed, e.with_note(&holds)),
                };
                self.counters.set_state(state);
                self.events.error(error.clone());
                Ended::Error(error)
            }
        };
        summary
    }
}

/// f32 in [-1, 1] → 16-bit PCM, rounded, clamped.
pub fn to_s16(sample: f32) -> i16 {
    (sample as f64 * 32767.0)
        .round()
        .clamp(i16::MIN as f64, i16::MAX as f64) as i16
}
