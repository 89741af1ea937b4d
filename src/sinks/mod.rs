//! The consumers of the 16 kHz stream, each a [`Sink`]. A sink reads its own options (from
//! the table in `options/table.rs`) and is built here for every capture run, in the order
//! the sinks see each block.

pub mod chunks;
pub mod levels;
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
}

impl SinkOptions {
    pub fn parse(options: &Reader<'_>) -> Result<Self> {
        Ok(Self {
            levels: levels::LevelOptions::parse(options)?,
            chunks: chunks::ChunkOptions::parse(options)?,
            voice: voice::VoiceOptions::parse(options)?,
        })
    }
}

/// What a capture run gives its sinks.
pub struct SinkContext {
    pub events: Events,
    pub counters: Arc<PipelineCounters>,
    /// The daemon's send queue; `None` without a daemon.
    pub daemon: Option<DaemonSender>,
}

/// The sinks of one capture run.
pub fn build(options: &SinkOptions, context: SinkContext) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(levels::LevelSink::new(&options.levels, &context)),
        Box::new(chunks::ChunkSink::new(&options.chunks, &context)),
    ];
    if let Some(voice) = &options.voice {
        sinks.push(Box::new(voice::VoiceSink::new(voice, &context)));
    }
    sinks
}
