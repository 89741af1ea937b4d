//! The consumers of the 16 kHz stream, each a [`Sink`]. A sink reads its own options (from
//! the table in `options/table.rs`) and is built here for every capture run, in the order
//! the sinks see each block.

pub mod chunks;
pub mod levels;
pub mod record;
pub mod voice;

use std::sync::Arc;

use crate::delivery::DaemonSender;
use crate::error::Result;
use crate::events::Events;
use crate::options::Reader;
use crate::pipeline::sink::Sink;
use crate::stats::PipelineCounters;

/// What every sink reads from `new AudioCapture(options)`.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub levels: levels::LevelOptions,
    pub chunks: chunks::ChunkOptions,
    /// `None`: no voice activity detection.
    pub voice: Option<voice::VoiceOptions>,
    /// `record`: a recording from the start of every run.
    pub record: Option<record::RecordOptions>,
    /// `recordUtterances`: the folder for each utterance's own file.
    pub record_utterances: Option<std::path::PathBuf>,
}

impl SinkOptions {
    pub fn parse(options: &Reader<'_>) -> Result<Self> {
        Ok(Self {
            levels: levels::LevelOptions::parse(options)?,
            chunks: chunks::ChunkOptions::parse(options)?,
            voice: voice::VoiceOptions::parse(options)?,
            record: options
                .object("record")?
                .map(|r| record::RecordOptions::parse(&r))
                .transpose()?,
            record_utterances: options
                .text("recordUtterances")?
                .map(std::path::PathBuf::from),
        })
    }
}

/// What a capture run gives its sinks.
pub struct SinkContext {
    pub events: Events,
    pub counters: Arc<PipelineCounters>,
    /// The daemon's send queue; `None` without a daemon.
    pub daemon: Option<DaemonSender>,
    /// Where `startRecording()` reaches the record sink.
    pub record: record::RecordInbox,
    /// `recordUtterances`: the writer of each utterance's file.
    pub utterance_files: Option<record::files::UtteranceFiles>,
}

/// The sinks of one capture run.
pub fn build(options: &SinkOptions, mut context: SinkContext) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(levels::LevelSink::new(&options.levels, &context)),
        Box::new(chunks::ChunkSink::new(&options.chunks, &context)),
    ];
    if let Some(voice) = &options.voice {
        let files = context.utterance_files.take();
        sinks.push(Box::new(voice::VoiceSink::new(voice, &context, files)));
    }
    sinks.push(Box::new(record::RecordSink::new(
        context.record,
        context.counters.record.clone(),
    )));
    sinks
}
