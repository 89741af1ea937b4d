//! Fixed-length chunks of the 16 kHz stream: `chunk` events, and the daemon's send queue.
//! Lossless up to the queue's bound.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::SinkContext;
use crate::delivery::queue::{Outgoing, Work};
use crate::delivery::DaemonSender;
use crate::dsp::chunker::{Chunk, Chunker};
use crate::dsp::TARGET_RATE;
use crate::error::Result;
use crate::events::{ChunkReady, Event, EventKind, Events};
use crate::options::parse::int;
use crate::options::Reader;
use crate::pipeline::clock::Timeline;
use crate::pipeline::sink::{Block, Boundary, Due, Sink};
use crate::stats::PipelineCounters;

/// `chunkMs`.
#[derive(Debug, Clone)]
pub struct ChunkOptions {
    pub chunk_ms: u32,
}

impl ChunkOptions {
    pub fn parse(options: &Reader<'_>) -> Result<Self> {
        Ok(Self {
            chunk_ms: int(options, "chunkMs")?,
        })
    }

    /// Samples per chunk at 16 kHz.
    pub fn chunk_len(&self) -> usize {
        (TARGET_RATE * self.chunk_ms / 1000) as usize
    }
}

pub struct ChunkSink {
    chunker: Chunker,
    timeline: Timeline,
    /// `None`: no daemon (`daemon: false`).
    daemon: Option<DaemonSender>,
    counters: Arc<PipelineCounters>,
    events: Events,
}

impl ChunkSink {
    pub fn new(options: &ChunkOptions, context: &SinkContext) -> Self {
        Self {
            chunker: Chunker::new(options.chunk_len()),
            timeline: Timeline::default(),
            daemon: context.daemon.clone(),
            counters: context.counters.clone(),
            events: context.events.clone(),
        }
    }
}

/// Hands one chunk on: to JS listeners (a copy, only when someone listens) and to the daemon.
fn emit(
    chunk: Chunk,
    timeline: Timeline,
    daemon: Option<&DaemonSender>,
    counters: &PipelineCounters,
    events: &Events,
) {
    counters.chunks_emitted.fetch_add(1, Relaxed);
    counters
        .samples_emitted
        .fetch_add(chunk.samples.len() as u64, Relaxed);
    if events.wants(EventKind::Chunk) {
        events.emit(Event::Chunk(ChunkReady {
            captured_at_ms: timeline.time_of(chunk.start_sample),
            chunk: chunk.clone(),
        }));
    }
    if let Some(daemon) = daemon {
        let captured_end_ms = timeline.time_of(chunk.start_sample + chunk.samples.len() as u64);
        daemon.send(Outgoing::new(Work::Chunk(chunk), captured_end_ms));
    }
}

impl Sink for ChunkSink {
    fn push(&mut self, block: &Block<'_>) {
        self.timeline = block.timeline;
        let Self {
            chunker,
            timeline,
            daemon,
            counters,
            events,
        } = self;
        chunker.push(block.samples, &mut |chunk| {
            emit(chunk, *timeline, daemon.as_ref(), counters, events)
        });
    }

    /// A chunk someone waits for (JS or the daemon) is due when its last sample arrives.
    fn due(&self) -> Due {
        if self.daemon.is_some() || self.events.wants(EventKind::Chunk) {
            Due::AfterSamples(self.chunker.remaining() as u64)
        } else {
            Due::Idle
        }
    }

    fn boundary(&mut self, boundary: Boundary) {
        // A pause keeps the partial chunk (the audio continues where it stopped), but ends the
        // daemon's realtime session, whose result would be lost to its idle timeout.
        if boundary == Boundary::Pause {
            if let Some(daemon) = &self.daemon {
                daemon.send(Outgoing::new(Work::EndSession, 0.0));
            }
            return;
        }
        if let Some(chunk) = self.chunker.flush() {
            emit(
                chunk,
                self.timeline,
                self.daemon.as_ref(),
                &self.counters,
                &self.events,
            );
        }
    }
}
