//! Fixed-length chunks of the 16 kHz stream: `chunk` events, and the daemon's send queue.
//! Lossless up to the queue's bound.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::delivery::queue::Outgoing;
use crate::delivery::ChunkSender;
use crate::dsp::chunker::{Chunk, Chunker};
use crate::events::{ChunkReady, Event, EventKind, Events};
use crate::pipeline::clock::Timeline;
use crate::pipeline::sink::{Block, Boundary, Sink};
use crate::stats::PipelineCounters;

pub struct ChunkSink {
    chunker: Chunker,
    timeline: Timeline,
    /// `None`: no daemon (`daemon: false`).
    daemon: Option<ChunkSender>,
    counters: Arc<PipelineCounters>,
    events: Events,
}

impl ChunkSink {
    /// `chunk_len`: samples per chunk at 16 kHz.
    pub fn new(
        chunk_len: usize,
        daemon: Option<ChunkSender>,
        counters: Arc<PipelineCounters>,
        events: Events,
    ) -> Self {
        Self {
            chunker: Chunker::new(chunk_len),
            timeline: Timeline::default(),
            daemon,
            counters,
            events,
        }
    }
}

/// Hands one chunk on: to JS listeners (a copy, only when someone listens) and to the daemon.
fn emit(
    chunk: Chunk,
    timeline: Timeline,
    daemon: Option<&ChunkSender>,
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
        daemon.send(Outgoing {
            chunk,
            captured_end_ms,
            attempts: 0,
        });
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

    fn boundary(&mut self, boundary: Boundary) {
        // A pause keeps the partial chunk: the audio continues where it stopped.
        if boundary == Boundary::Pause {
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
