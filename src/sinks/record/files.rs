//! `recordUtterances: DIR`: every utterance also as its own 16 kHz f32 WAV, written and
//! fsynced by a thread of its own, named `utterance-<startMs>-<id>.wav` (the utterance
//! event's `startMs` and `id`: names sort by time and never repeat across captures). The
//! queue is bounded: an utterance that finds it full is not written, counted and reported.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::writer::{self, Format, Storage};
use crate::dsp::TARGET_RATE;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::stats::RecordCounters;

/// Utterances that may wait to be written.
const QUEUE: usize = 16;

struct Job {
    id: u64,
    start_ms: f64,
    samples: Vec<f32>,
}

/// The voice sink's end: hands utterances to the writer thread.
pub struct UtteranceFiles {
    jobs: SyncSender<Job>,
    counters: Arc<RecordCounters>,
    events: Events,
}

/// Checks `dir` and starts the writer thread; the thread ends once every [`UtteranceFiles`]
/// is dropped and the queue is written.
pub fn start(
    dir: &Path,
    counters: Arc<RecordCounters>,
    events: Events,
) -> Result<(UtteranceFiles, JoinHandle<()>)> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::RecordFailed(format!(
                "recordUtterances: {} is not a directory",
                dir.display()
            )))
        }
        Err(e) => {
            return Err(Error::RecordFailed(format!(
                "recordUtterances: {}: {e}",
                dir.display()
            )))
        }
    }
    let (jobs, queue) = mpsc::sync_channel(QUEUE);
    let thread = {
        let (dir, counters, events) = (dir.to_owned(), counters.clone(), events.clone());
        std::thread::Builder::new()
            .name("stt-record-utterances".into())
            .spawn(move || write_all(queue, &dir, &counters, &events))
            .map_err(|e| Error::RecordFailed(format!("cannot start the writer thread: {e}")))?
    };
    Ok((
        UtteranceFiles {
            jobs,
            counters,
            events,
        },
        thread,
    ))
}

impl UtteranceFiles {
    /// Queues one utterance (a copy) for its file.
    pub fn write(&self, id: u64, start_ms: f64, samples: &[f32]) {
        let job = Job {
            id,
            start_ms,
            samples: samples.to_vec(),
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                self.counters.utterances_failed.fetch_add(1, Relaxed);
                self.events.error(Error::RecordOverrun(format!(
                    "utterance {} not written: {QUEUE} utterances already wait for the disk",
                    job.id
                )));
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counters.utterances_failed.fetch_add(1, Relaxed);
            }
        }
    }
}

pub fn file_name(id: u64, start_ms: f64) -> String {
    format!("utterance-{}-{id}.wav", start_ms.max(0.0).round() as u64)
}

fn write_all(queue: Receiver<Job>, dir: &Path, counters: &RecordCounters, events: &Events) {
    for job in queue {
        let path = dir.join(file_name(job.id, job.start_ms));
        match write_one(&path, &job.samples) {
            Ok(()) => counters.utterances_written.fetch_add(1, Relaxed),
            Err(e) => {
                events.error(e);
                counters.utterances_failed.fetch_add(1, Relaxed)
            }
        };
    }
}

fn write_one(path: &PathBuf, samples: &[f32]) -> Result<()> {
    let file = writer::create(path, false)?;
    let written = write_wav(file, samples);
    if written.is_err() {
        // Half an utterance is no use to anyone: the error says what happened.
        let _ = std::fs::remove_file(path);
    }
    written.map_err(|e| Error::RecordFailed(format!("writing {} failed: {e}", path.display())))
}

fn write_wav(file: std::fs::File, samples: &[f32]) -> std::result::Result<(), hound::Error> {
    let mut sync = file.try_clone()?;
    let spec = Format::F32.spec(TARGET_RATE);
    let mut wav = hound::WavWriter::new(std::io::BufWriter::new(file), spec)?;
    samples.iter().try_for_each(|&s| wav.write_sample(s))?;
    wav.finalize()?;
    Ok(sync.sync()?)
}
