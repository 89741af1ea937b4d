//! The tokio task between the ring and the daemon:
//! timer tick → drain ring → resample → chunk → (JS events, bounded send queue → sender task).
//!
//! The task wakes on its own timer; the audio callback never signals it.

pub mod link;
pub mod queue;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::capture::StreamErrorSlot;
use crate::dsp::chunker::{Chunk, Chunker};
use crate::dsp::levels::{Level, LevelMeter};
use crate::dsp::resampler::StreamResampler;
use crate::dsp::{sanitize_in_place, TARGET_RATE};
use crate::error::{Error, Result};
use crate::stats::{CaptureCounters, FailureReason, PipelineCounters};
use crate::transport::{Connector, Transcription};
use link::{Link, LinkEvent};
use queue::{Outgoing, SendQueue};

/// Where the pipeline's events go (the binding forwards them to JS).
pub trait EventSink: Send + Sync + 'static {
    fn chunk(&self, chunk: &Chunk, captured_at_ms: f64);
    fn level(&self, level: Level);
    fn error(&self, error: &Error);
    fn transcription(&self, transcription: Transcription);
    fn daemon(&self, event: &LinkEvent);
}

/// Milliseconds since the Unix epoch.
pub fn wall_clock_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub device_rate: u32,
    /// Samples per chunk at 16 kHz.
    pub chunk_len: usize,
    pub tick: Duration,
    pub level_interval: Duration,
    pub send_queue_capacity: usize,
    /// How long a stop waits for the daemon to take the queued chunks.
    pub stop_timeout: Duration,
}

impl PipelineConfig {
    /// `max_buffer_ms`: how much audio may wait for the daemon before the oldest is dropped.
    pub fn new(device_rate: u32, chunk_ms: u32, max_buffer_ms: u32) -> Self {
        Self {
            device_rate,
            chunk_len: (TARGET_RATE * chunk_ms / 1000) as usize,
            tick: Duration::from_millis(5),
            level_interval: Duration::from_micros(1_000_000 / 30),
            send_queue_capacity: (max_buffer_ms / chunk_ms.max(1)).max(1) as usize,
            stop_timeout: Duration::from_secs(5),
        }
    }
}

pub struct Pipeline {
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

impl Pipeline {
    /// Stops after draining the ring, flushing the resampler and the final partial chunk and,
    /// with a daemon, sending everything queued and ending the session. Stop the audio stream
    /// first so that no frame arrives after the final drain.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        let _ = (&mut self.handle).await;
    }
}

impl Drop for Pipeline {
    /// A capture dropped without `stop()` (e.g. garbage-collected while running) still ends
    /// its task: it drains, flushes and ends the daemon session on its own.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Spawns the pipeline on the current tokio runtime.
#[allow(clippy::too_many_arguments)]
pub fn spawn<C: Connector>(
    ring: HeapCons<f32>,
    config: PipelineConfig,
    capture_counters: Arc<CaptureCounters>,
    counters: Arc<PipelineCounters>,
    stream_errors: Arc<StreamErrorSlot>,
    sink: Arc<dyn EventSink>,
    link: Option<Link<C>>,
) -> Result<Pipeline> {
    let resampler = StreamResampler::new(config.device_rate)?;
    let cancel = CancellationToken::new();
    let task = PipelineTask {
        ring,
        resampler,
        chunker: Chunker::new(config.chunk_len),
        meter: LevelMeter::default(),
        clock: CaptureClock::new(config.device_rate),
        drain_buf: vec![0.0; 8192],
        capture_counters,
        counters: counters.clone(),
        stream_errors,
        sink: sink.clone(),
        config: config.clone(),
    };
    let sender = link.map(|link| {
        let queue = Arc::new(SendQueue::new(config.send_queue_capacity, counters));
        let stopping = CancellationToken::new();
        let handle = tokio::spawn(link::run(link, queue.clone(), sink, stopping.clone()));
        Sender {
            queue,
            handle,
            stopping,
        }
    });
    let handle = tokio::spawn(task.run(cancel.clone(), sender));
    Ok(Pipeline { cancel, handle })
}

/// Maps positions in the stream to wall-clock time. Each drain observes "all frames counted
/// so far were captured no later than now"; the smallest such offset is the best estimate,
/// since scheduling delays only ever make an observation late.
struct CaptureClock {
    rate: f64,
    offset_ms: Option<f64>,
}

impl CaptureClock {
    fn new(rate: u32) -> Self {
        Self {
            rate: rate as f64,
            offset_ms: None,
        }
    }

    fn observe(&mut self, frames_captured: u64) {
        let offset = wall_clock_ms() - frames_captured as f64 * 1000.0 / self.rate;
        self.offset_ms = Some(self.offset_ms.map_or(offset, |o| o.min(offset)));
    }

    /// Wall-clock ms of the 16 kHz sample `index`.
    fn time_of(&self, index: u64) -> f64 {
        self.offset_ms.unwrap_or(0.0) + index as f64 * 1000.0 / TARGET_RATE as f64
    }
}

/// The link task and the queue that feeds it.
struct Sender {
    queue: Arc<SendQueue>,
    handle: JoinHandle<()>,
    stopping: CancellationToken,
}

struct PipelineTask {
    ring: HeapCons<f32>,
    resampler: StreamResampler,
    chunker: Chunker,
    meter: LevelMeter,
    clock: CaptureClock,
    drain_buf: Vec<f32>,
    capture_counters: Arc<CaptureCounters>,
    counters: Arc<PipelineCounters>,
    stream_errors: Arc<StreamErrorSlot>,
    sink: Arc<dyn EventSink>,
    config: PipelineConfig,
}

impl PipelineTask {
    async fn run(mut self, cancel: CancellationToken, sender: Option<Sender>) {
        let queue = sender.as_ref().map(|s| s.queue.clone());
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_level = Instant::now();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            self.drain(queue.as_deref(), false);
            if let Some(message) = self.stream_errors.take() {
                self.sink.error(&Error::Device(message));
            }
            if last_level.elapsed() >= self.config.level_interval {
                last_level = Instant::now();
                if let Some(level) = self.meter.take() {
                    self.sink.level(level);
                }
            }
        }
        self.drain(queue.as_deref(), true);
        if let Some(level) = self.meter.take() {
            self.sink.level(level);
        }
        if let Some(Sender {
            queue,
            mut handle,
            stopping,
        }) = sender
        {
            queue.close();
            stopping.cancel();
            if tokio::time::timeout(self.config.stop_timeout, &mut handle)
                .await
                .is_err()
            {
                handle.abort();
                let _ = handle.await;
                let lost = queue.fail_remaining(FailureReason::Stopped, true);
                self.sink.error(&Error::DaemonTimeout(format!(
                    "the daemon did not take the last {lost} chunk(s) within {} ms of stop",
                    self.config.stop_timeout.as_millis()
                )));
            }
        }
    }

    /// Moves everything in the ring through the resampler and chunker. `last` also flushes
    /// the resampler's tail and the final partial chunk.
    fn drain(&mut self, queue: Option<&SendQueue>, last: bool) {
        let Self {
            ring,
            resampler,
            chunker,
            meter,
            clock,
            drain_buf,
            capture_counters,
            counters,
            sink,
            ..
        } = self;
        clock.observe(capture_counters.frames_captured.load(Relaxed));
        let clock = &*clock;
        let mut on_chunk = |mut chunk: Chunk| {
            sanitize_in_place(&mut chunk.samples);
            counters.chunks_emitted.fetch_add(1, Relaxed);
            counters
                .samples_emitted
                .fetch_add(chunk.samples.len() as u64, Relaxed);
            sink.chunk(&chunk, clock.time_of(chunk.start_sample));
            if let Some(queue) = queue {
                let captured_end_ms =
                    clock.time_of(chunk.start_sample + chunk.samples.len() as u64);
                let first_drop = queue.push(Outgoing {
                    chunk,
                    captured_end_ms,
                    attempts: 0,
                });
                if first_drop {
                    sink.error(&Error::QueueFull(format!(
                        "the daemon is not taking audio and {} chunks are waiting; dropping the oldest",
                        queue.capacity()
                    )));
                }
            }
        };
        let mut on_samples = |samples: &[f32]| {
            meter.push(samples);
            chunker.push(samples, &mut on_chunk);
        };
        loop {
            let n = ring.pop_slice(drain_buf);
            if n == 0 {
                break;
            }
            resampler.process(&drain_buf[..n], &mut on_samples);
        }
        capture_counters
            .ring_fill
            .store(ring.occupied_len() as u64, Relaxed);
        if last {
            resampler.flush(&mut on_samples);
            if let Some(chunk) = chunker.flush() {
                on_chunk(chunk);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Producer, Split};
    use ringbuf::HeapRb;
    use std::sync::Mutex;

    /// Records what a daemon would receive.
    #[derive(Clone, Default)]
    struct Recorder {
        chunks: Arc<Mutex<Vec<Vec<f32>>>>,
        ended: Arc<Mutex<bool>>,
    }

    impl Connector for Recorder {
        type Session = Recorder;
        async fn connect(&self) -> Result<Recorder> {
            Ok(self.clone())
        }
    }

    impl crate::transport::Session for Recorder {
        async fn send_chunk(&mut self, samples: &[f32]) -> Result<()> {
            self.chunks.lock().unwrap().push(samples.to_vec());
            Ok(())
        }
        async fn broken(&mut self) -> Error {
            std::future::pending().await
        }
        async fn end(self) -> Result<()> {
            *self.ended.lock().unwrap() = true;
            Ok(())
        }
    }

    #[derive(Default)]
    struct Events {
        seqs: Mutex<Vec<u64>>,
        levels: Mutex<usize>,
    }

    impl EventSink for Events {
        fn chunk(&self, chunk: &Chunk, _: f64) {
            self.seqs.lock().unwrap().push(chunk.seq);
        }
        fn level(&self, _: Level) {
            *self.levels.lock().unwrap() += 1;
        }
        fn error(&self, e: &Error) {
            panic!("unexpected error event: {e}");
        }
        fn transcription(&self, _: Transcription) {}
        fn daemon(&self, _: &LinkEvent) {}
    }

    #[tokio::test]
    async fn every_frame_reaches_the_transport_at_44_1_khz() {
        let rate = 44_100;
        let (mut prod, cons) = HeapRb::<f32>::new(rate as usize * 2).split();
        let capture = Arc::new(CaptureCounters::default());
        let counters = Arc::new(PipelineCounters::default());
        let events = Arc::new(Events::default());
        let recorder = Recorder::default();
        let pipeline = spawn(
            cons,
            PipelineConfig::new(rate, 100, 30_000),
            capture.clone(),
            counters.clone(),
            Arc::new(StreamErrorSlot::default()),
            events.clone(),
            Some(Link {
                connector: recorder.clone(),
                session: None,
                config: link::LinkConfig::default(),
            }),
        )
        .unwrap();
        // 1.23 s of a 1 kHz sine, in callback-sized pieces, while the pipeline runs.
        let frames = 54_243;
        let signal: Vec<f32> = (0..frames)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin())
            .collect();
        for part in signal.chunks(441) {
            assert_eq!(prod.push_slice(part), part.len());
            capture.record_callback(part.len() as u64, 0, 0);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        pipeline.stop().await;

        let chunks = recorder.chunks.lock().unwrap().clone();
        let total: usize = chunks.iter().map(Vec::len).sum();
        assert_eq!(total as u64, frames as u64 * 16_000 / rate as u64);
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c.len() == 1600));
        assert!(*recorder.ended.lock().unwrap(), "the session was ended");
        let seqs = events.seqs.lock().unwrap().clone();
        assert_eq!(seqs, (0..chunks.len() as u64).collect::<Vec<_>>());
        assert!(*events.levels.lock().unwrap() >= 1);
        let delivery = counters.delivery();
        assert_eq!(delivery.chunks_sent, chunks.len() as u64);
        assert_eq!(delivery.samples_sent, total as u64);
        assert_eq!(delivery.send_queue_depth, 0);
        assert_eq!(counters.delivery_latency.count(), chunks.len() as u64);
        assert!(chunks.iter().flatten().all(|s| s.abs() <= 1.0));
    }
}
