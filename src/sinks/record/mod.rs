//! Recording (`record` option, `startRecording()` / `stopRecording()`): the record sink puts
//! the samples of the running recording, at 16 kHz (exactly what the chunks carry) or at
//! the device rate (the callback's mono downmix, bit for bit), into a bounded ring that a
//! writer thread of its own empties into a WAV file (`writer.rs`). The sink never blocks and
//! never allocates: when the ring is full the recording stops at that block
//! (`E_RECORD_OVERRUN`) and the capture goes on. `recordUtterances` writes each utterance
//! to its own file (`files.rs`).

pub mod files;
pub mod writer;

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;

use ringbuf::traits::{Observer, Producer};

use crate::dsp::TARGET_RATE;
use crate::error::{Error, Result};
use crate::options::parse::{flag, int};
use crate::options::table::RECORD;
use crate::options::{Reader, Value};
use crate::pipeline::sink::{Block, Boundary, Sink};
use crate::stats::{RecordCounters, RecordState};
use writer::{Feed, Format};

/// Which samples a recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// The mono downmix at the device's rate, before resampling.
    Device,
    /// The 16 kHz stream the chunks carry.
    Target,
}

/// `record: { path, rate, format, overwrite, bufferMs }`, also `startRecording(options)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOptions {
    pub path: PathBuf,
    pub rate: Rate,
    pub format: Format,
    pub overwrite: bool,
    pub buffer_ms: u32,
}

impl RecordOptions {
    pub fn parse(options: &Reader<'_>) -> Result<Self> {
        let rate = match options.choice("rate")? {
            "device" => Rate::Device,
            _ => Rate::Target,
        };
        let format = match options.choice("format")? {
            "s16" => Format::S16,
            _ => Format::F32,
        };
        Ok(Self {
            path: PathBuf::from(options.text("path")?.unwrap_or_default()),
            rate,
            format,
            overwrite: flag(options, "overwrite")?,
            buffer_ms: int(options, "bufferMs")?,
        })
    }

    /// `startRecording(options)`: the same object as the `record` option, required.
    pub fn from_value(value: &Value) -> Result<Self> {
        if value.is_absent() {
            return Err(Error::invalid_option(
                "record",
                format!("startRecording() needs an object like {}", RECORD.doc),
            ));
        }
        Self::parse(&Reader::new(&RECORD, value)?)
    }

    /// The file's rate for a device running at `device_rate`.
    pub fn sample_rate(&self, device_rate: u32) -> u32 {
        match self.rate {
            Rate::Device => device_rate,
            Rate::Target => TARGET_RATE,
        }
    }

    /// Samples the writer may fall behind by.
    pub fn capacity(&self, sample_rate: u32) -> usize {
        (self.buffer_ms as usize * sample_rate as usize / 1000).max(1)
    }
}

/// What the session asks of the record sink.
pub enum Command {
    Start(Feed, Rate),
    Stop,
}

/// The session's handle on the record sink of one run.
#[derive(Clone)]
pub struct RecordControl {
    commands: SyncSender<Command>,
}

impl RecordControl {
    /// Hands a started recording to the sink, which takes it at its next block.
    pub fn start(&self, feed: Feed, rate: Rate) -> Result<()> {
        self.commands
            .try_send(Command::Start(feed, rate))
            .map_err(|_| Error::InvalidState("the capture is stopping".into()))
    }

    /// The sink ends the recording after the block it is on.
    pub fn stop(&self) {
        let _ = self.commands.try_send(Command::Stop);
    }
}

/// The sink's end of [`RecordControl`].
pub struct RecordInbox(Receiver<Command>);

/// A control and the inbox the run's record sink reads. The session holds one recording at
/// a time, so a start and a stop are the most that can wait.
pub fn channel() -> (RecordControl, RecordInbox) {
    let (commands, inbox) = mpsc::sync_channel(4);
    (RecordControl { commands }, RecordInbox(inbox))
}

struct Active {
    feed: Feed,
    rate: Rate,
}

pub struct RecordSink {
    inbox: RecordInbox,
    active: Option<Active>,
    counters: Arc<RecordCounters>,
}

impl RecordSink {
    pub fn new(inbox: RecordInbox, counters: Arc<RecordCounters>) -> Self {
        Self {
            inbox,
            active: None,
            counters,
        }
    }

    fn take_commands(&mut self) {
        loop {
            match self.inbox.0.try_recv() {
                Ok(Command::Start(feed, rate)) => self.active = Some(Active { feed, rate }),
                Ok(Command::Stop) => self.active = None,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    fn write(&mut self, samples: &[f32], rate: Rate, sample_rate: u32) {
        let Some(active) = self.active.as_mut().filter(|a| a.rate == rate) else {
            return;
        };
        if self.counters.state() != RecordState::Recording {
            // The writer stopped on its own (a failed write) and has said so.
            self.active = None;
            return;
        }
        let feed = &mut active.feed;
        let stop = if sample_rate != feed.sample_rate {
            Some(Error::RecordFailed(format!(
                "the device now runs at {sample_rate} Hz and the recording at {} Hz (a WAV \
                 file has one rate)",
                feed.sample_rate
            )))
        } else if feed.ring.vacant_len() < samples.len() {
            Some(Error::RecordOverrun(format!(
                "the writer fell {} ms behind",
                feed.capacity as u64 * 1000 / feed.sample_rate as u64
            )))
        } else {
            None
        };
        if let Some(error) = stop {
            // Whole blocks only: the file ends where the last one that fitted ended.
            if let Some(active) = self.active.take() {
                active.feed.fail(error);
            }
            return;
        }
        feed.ring.push_slice(samples);
        self.counters
            .queue_high_water
            .fetch_max(feed.ring.occupied_len() as u64, Relaxed);
    }
}

impl Sink for RecordSink {
    fn push(&mut self, block: &Block<'_>) {
        self.take_commands();
        self.write(block.samples, Rate::Target, TARGET_RATE);
    }

    fn push_device(&mut self, frames: &[f32], rate: u32) {
        self.take_commands();
        self.write(frames, Rate::Device, rate);
    }

    fn tick(&mut self, _now: std::time::Instant, _paused: bool) {
        self.take_commands();
    }

    fn boundary(&mut self, boundary: Boundary) {
        self.take_commands();
        if matches!(boundary, Boundary::End | Boundary::Stop) {
            // Dropping the feed ends the recording once the ring is written.
            self.active = None;
        }
    }
}

#[cfg(test)]
mod tests;
