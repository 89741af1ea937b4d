//! The tokio task between the ring and the daemon:
//! timer tick → drain ring → resample → chunk → (JS events, bounded send queue → sender task).
//!
//! The task wakes on its own timer; the audio callback never signals it.

pub mod link;
pub mod queue;

use std::sync::atomic::Ordering::{self, Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::capture::InputStatus;
use crate::dsp::chunker::{Chunk, Chunker};
use crate::dsp::levels::{reaches_clip_level, Level, LevelMeter};
use crate::dsp::resampler::StreamResampler;
use crate::dsp::spectrum::Spectrum;
use crate::dsp::{sanitize_in_place, TARGET_RATE};
use crate::error::{Error, Result};
use crate::stats::{CaptureCounters, DeviceState, FailureReason, PipelineCounters};
use crate::transport::{Connector, Transcription};
use link::{Link, LinkEvent};
use queue::{Outgoing, SendQueue};

/// One level event: the level since the previous one, and the spectrum of the latest window.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelReading {
    pub level: Level,
    /// Band levels in dBFS, lowest band first; `None` when the spectrum is off.
    pub bands: Option<Vec<f32>>,
    /// Wall-clock ms (Unix epoch) of the last sample measured.
    pub at_ms: f64,
}

/// The input will deliver nothing more (a file reached its end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputEnd {
    /// Frames the input delivered, at its own rate.
    pub frames: u64,
    pub duration_ms: f64,
}

/// A change of the input device's state.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    pub state: DeviceState,
    pub id: String,
    pub name: String,
}

/// Something worth telling the user that is not a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// The device delivers only exact zeros: typically a missing microphone permission, a
    /// muted or disconnected input.
    AllZeroInput,
}

impl Warning {
    pub fn code(self) -> &'static str {
        match self {
            Warning::AllZeroInput => "W_ALL_ZERO_INPUT",
        }
    }
}

/// Where the pipeline's events go (the binding forwards them to JS).
pub trait EventSink: Send + Sync + 'static {
    fn chunk(&self, chunk: &Chunk, captured_at_ms: f64);
    fn level(&self, level: LevelReading);
    fn error(&self, error: &Error);
    fn warning(&self, warning: Warning, message: &str);
    fn device(&self, event: &DeviceEvent);
    fn transcription(&self, transcription: Transcription);
    fn daemon(&self, event: &LinkEvent);
    /// After the last chunk of an input that ended on its own.
    fn input_end(&self, end: InputEnd);
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
    /// Spectrum bands per level event; 0 = no spectrum.
    pub spectrum_bands: usize,
    pub send_queue_capacity: usize,
    /// How long a stop waits for the daemon to take the queued chunks.
    pub stop_timeout: Duration,
    /// No callback for this long is a stall (`None`: not watched, e.g. a file input).
    pub stall_timeout: Option<Duration>,
    /// Exact zeros for this long raise `W_ALL_ZERO_INPUT` (`None`: not watched).
    pub silence_warn: Option<Duration>,
    /// The input, for `device` events.
    pub device_id: String,
    pub device_name: String,
}

impl PipelineConfig {
    /// `max_buffer_ms`: how much audio may wait for the daemon before the oldest is dropped.
    pub fn new(device_rate: u32, chunk_ms: u32, max_buffer_ms: u32) -> Self {
        Self {
            device_rate,
            chunk_len: (TARGET_RATE * chunk_ms / 1000) as usize,
            tick: Duration::from_millis(5),
            level_interval: Duration::from_secs(1) / 30,
            spectrum_bands: 0,
            send_queue_capacity: (max_buffer_ms / chunk_ms.max(1)).max(1) as usize,
            stop_timeout: Duration::from_secs(5),
            stall_timeout: None,
            silence_warn: None,
            device_id: String::new(),
            device_name: String::new(),
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
    input: Option<Input>,
    ring: HeapCons<f32>,
    config: PipelineConfig,
    capture_counters: Arc<CaptureCounters>,
    counters: Arc<PipelineCounters>,
    input_status: Arc<InputStatus>,
    sink: Arc<dyn EventSink>,
    link: Option<Link<C>>,
) -> Result<Pipeline> {
    let resampler = StreamResampler::new(config.device_rate)?;
    let cancel = CancellationToken::new();
    let reopen = input.as_ref().and_then(|i| i.reopen.clone());
    let task = PipelineTask {
        ring,
        resampler,
        chunker: Chunker::new(config.chunk_len),
        meter: LevelMeter::default(),
        spectrum: (config.spectrum_bands > 0).then(|| Spectrum::new(config.spectrum_bands)),
        clock: CaptureClock::new(config.device_rate),
        drain_buf: vec![0.0; 8192],
        samples_out: 0,
        input_ended: false,
        watch: InputWatch::default(),
        input: input.map(|i| i.handle),
        reopen,
        reopening: Reopening::default(),
        capture_counters,
        counters: counters.clone(),
        input_status,
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
    /// Device frames counted and 16 kHz samples produced before the current stream opened
    /// (a reopened device starts a new timeline).
    frames_base: u64,
    samples_base: u64,
}

impl CaptureClock {
    fn new(rate: u32) -> Self {
        Self::rebased(rate, 0, 0)
    }

    fn rebased(rate: u32, frames_base: u64, samples_base: u64) -> Self {
        Self {
            rate: rate as f64,
            offset_ms: None,
            frames_base,
            samples_base,
        }
    }

    fn observe(&mut self, frames_captured: u64) {
        let frames = frames_captured.saturating_sub(self.frames_base);
        let offset = wall_clock_ms()
            - frames as f64 * 1000.0 / self.rate
            - self.samples_base as f64 * 1000.0 / TARGET_RATE as f64;
        self.offset_ms = Some(self.offset_ms.map_or(offset, |o| o.min(offset)));
    }

    /// Wall-clock ms of the 16 kHz sample `index`.
    fn time_of(&self, index: u64) -> f64 {
        self.offset_ms.unwrap_or(0.0) + index as f64 * 1000.0 / TARGET_RATE as f64
    }
}

/// What the pipeline tracks about the input between ticks: callbacks (stalls), exact zeros
/// (silence warning) and pausing.
#[derive(Debug, Default)]
struct InputWatch {
    last_callbacks: u64,
    /// When the callback count last changed.
    last_progress: Option<Instant>,
    stalled: bool,
    lost: bool,
    /// Since when only exact zeros have arrived (`None` after any other sample).
    zeros_since: Option<Instant>,
    /// Warned for the current run of zeros.
    warned_zeros: bool,
    /// The previous tick, for paused time.
    last_tick: Option<Instant>,
}

/// Opens the input again after it was lost or stalled (blocking; run off the runtime).
pub type Reopen = Arc<dyn Fn() -> Result<crate::capture::OpenStream> + Send + Sync>;

/// The running input and how to get it back.
pub struct Input {
    pub handle: crate::capture::InputHandle,
    /// `None`: no automatic reopening (`autoReopen: false`, or a file).
    pub reopen: Option<Reopen>,
}

/// A reopen in progress, and the backoff between attempts.
#[derive(Default)]
struct Reopening {
    attempt: u32,
    next_at: Option<Instant>,
    pending: Option<JoinHandle<Result<crate::capture::OpenStream>>>,
    reported: bool,
}

const REOPEN_INITIAL: Duration = Duration::from_millis(200);
const REOPEN_MAX: Duration = Duration::from_secs(5);

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
    spectrum: Option<Spectrum>,
    clock: CaptureClock,
    drain_buf: Vec<f32>,
    /// 16 kHz samples out of the resampler so far.
    samples_out: u64,
    /// The input ended and the pipeline flushed it.
    input_ended: bool,
    watch: InputWatch,
    /// Dropped (on a blocking thread) at stop, before the final drain.
    input: Option<crate::capture::InputHandle>,
    reopen: Option<Reopen>,
    reopening: Reopening,
    capture_counters: Arc<CaptureCounters>,
    counters: Arc<PipelineCounters>,
    input_status: Arc<InputStatus>,
    sink: Arc<dyn EventSink>,
    config: PipelineConfig,
}

impl PipelineTask {
    async fn run(mut self, cancel: CancellationToken, sender: Option<Sender>) {
        let queue = sender.as_ref().map(|s| s.queue.clone());
        self.set_device_state(DeviceState::Running);
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let interval = self.config.level_interval;
        let mut next_level = Instant::now() + interval;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let now = Instant::now();
            let paused = self.counters.paused.load(Relaxed);
            if paused {
                self.discard_paused(now);
            } else {
                self.watch.last_tick = None;
                self.drain(queue.as_deref(), false);
            }
            if let Some(error) = self.input_status.take() {
                if matches!(error, Error::DeviceLost(_)) && !self.watch.lost {
                    self.watch.lost = true;
                    self.set_device_state(DeviceState::Lost);
                }
                self.sink.error(&error);
            }
            self.finish_ended_input(queue.as_deref());
            self.watch_input(now);
            self.reopen_if_needed(now, queue.as_deref());
            if now >= next_level {
                // On schedule on average; after a stall, start over rather than burst.
                next_level += interval;
                if next_level <= now {
                    next_level = now + interval;
                }
                if paused {
                    self.emit_silence_level();
                } else {
                    self.emit_level();
                }
            }
        }
        // Stop the input before the final drain so that no frame arrives after it. Dropping
        // it joins cpal's thread (or the file reader): a blocking call.
        if let Some(input) = self.input.take() {
            let _ = tokio::task::spawn_blocking(move || drop(input)).await;
        }
        if let Some(pending) = self.reopening.pending.take() {
            pending.abort(); // a blocking open cannot be interrupted; its result is dropped
        }
        if !self.input_ended {
            if self.counters.paused.load(Relaxed) {
                self.discard_paused(Instant::now());
            }
            self.drain(queue.as_deref(), true);
            self.emit_level();
        }
        self.counters.set_device_state(DeviceState::Off);
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

    fn set_device_state(&self, state: DeviceState) {
        if self.counters.device_state() == state {
            return;
        }
        self.counters.set_device_state(state);
        self.sink.device(&DeviceEvent {
            state,
            id: self.config.device_id.clone(),
            name: self.config.device_name.clone(),
        });
    }

    /// While paused the stream keeps running: its frames are taken from the ring and counted,
    /// not resampled, chunked or sent.
    fn discard_paused(&mut self, now: Instant) {
        loop {
            let n = self.ring.pop_slice(&mut self.drain_buf);
            if n == 0 {
                break;
            }
            self.counters.frames_paused.fetch_add(n as u64, Relaxed);
        }
        if let Some(last) = self.watch.last_tick {
            let ms = now.duration_since(last).as_millis() as u64;
            self.counters.paused_ms.fetch_add(ms, Relaxed);
        }
        self.watch.last_tick = Some(now);
        // Silence while paused is not the device's fault.
        self.watch.zeros_since = None;
    }

    /// After a loss or stall (with `autoReopen`): opens the device again with backoff, off the
    /// runtime, and swaps the new stream in when it is ready.
    fn reopen_if_needed(&mut self, now: Instant, queue: Option<&SendQueue>) {
        if self.reopen.is_none() {
            return;
        }
        if let Some(pending) = &self.reopening.pending {
            if !pending.is_finished() {
                return;
            }
            let pending = self.reopening.pending.take().expect("checked above");
            let result = match futures_util::FutureExt::now_or_never(pending) {
                Some(Ok(result)) => result,
                Some(Err(e)) => Err(Error::Internal(e.to_string())),
                None => Err(Error::Internal("reopen task not finished".into())),
            };
            match result {
                Ok(opened) => self.swap_input(opened, now, queue),
                Err(e) => {
                    self.counters.device_reopen_failures.fetch_add(1, Relaxed);
                    if !self.reopening.reported {
                        self.reopening.reported = true;
                        self.sink
                            .error(&e.with_note("reopening the device; will keep trying"));
                    }
                    let delay = REOPEN_INITIAL
                        .saturating_mul(2u32.saturating_pow(self.reopening.attempt.min(16)))
                        .min(REOPEN_MAX);
                    self.reopening.next_at = Some(now + delay);
                }
            }
            return;
        }
        if !(self.watch.lost || self.watch.stalled) || self.input_ended {
            return;
        }
        if self.reopening.next_at.is_some_and(|at| now < at) {
            return;
        }
        self.reopening.attempt += 1;
        self.set_device_state(DeviceState::Reopening);
        // The old stream goes first: a device that is still half there may refuse a second open.
        if let Some(old) = self.input.take() {
            drop(tokio::task::spawn_blocking(move || drop(old)));
        }
        // Cloned only here: this runs every tick.
        let Some(reopen) = self.reopen.clone() else {
            return;
        };
        self.reopening.pending = Some(tokio::task::spawn_blocking(move || reopen()));
    }

    /// Continues the capture on a newly opened stream. What the old ring still held is
    /// drained first; a new rate gets a new resampler (the old one's tail is flushed into the
    /// same chunk sequence).
    fn swap_input(
        &mut self,
        opened: crate::capture::OpenStream,
        now: Instant,
        queue: Option<&SendQueue>,
    ) {
        let rate = opened.info.sample_rate;
        let new_rate = rate != self.config.device_rate;
        self.drain_with(queue, new_rate, false);
        if new_rate {
            match StreamResampler::new(rate) {
                Ok(r) => self.resampler = r,
                Err(e) => {
                    self.sink.error(&e);
                    return;
                }
            }
            self.config.device_rate = rate;
        }
        self.clock = CaptureClock::rebased(
            rate,
            self.capture_counters.frames_captured.load(Relaxed),
            self.samples_out,
        );
        self.ring = opened.ring;
        self.input_status = opened.status;
        self.input = Some(opened.input);
        self.config.device_id = opened.info.device_id;
        self.config.device_name = opened.info.device_name;
        self.counters.device_reopens.fetch_add(1, Relaxed);
        self.reopening = Reopening::default();
        self.watch = InputWatch {
            last_callbacks: self.capture_counters.callbacks.load(Relaxed),
            last_progress: Some(now),
            ..InputWatch::default()
        };
        self.set_device_state(DeviceState::Running);
    }

    /// The stall watchdog: callbacks must keep arriving while the device runs.
    fn watch_input(&mut self, now: Instant) {
        let Some(stall_timeout) = self.config.stall_timeout else {
            return;
        };
        if self.input_ended || self.watch.lost {
            return;
        }
        let callbacks = self.capture_counters.callbacks.load(Relaxed);
        let last_progress = *self.watch.last_progress.get_or_insert(now);
        if callbacks != self.watch.last_callbacks {
            self.watch.last_callbacks = callbacks;
            self.watch.last_progress = Some(now);
            if self.watch.stalled {
                self.watch.stalled = false;
                self.set_device_state(DeviceState::Running);
            }
        } else if !self.watch.stalled && now.duration_since(last_progress) >= stall_timeout {
            self.watch.stalled = true;
            self.counters.device_stalls.fetch_add(1, Relaxed);
            self.set_device_state(DeviceState::Stalled);
            self.sink.error(&Error::DeviceStalled(format!(
                "{} delivered no audio for {} ms",
                self.config.device_name,
                stall_timeout.as_millis()
            )));
        }
    }

    /// Notes whether a drained block was all exact zeros, and warns once per run of them.
    fn watch_zeros(&mut self, all_zero: bool, now: Instant) {
        let Some(limit) = self.config.silence_warn else {
            return;
        };
        if !all_zero {
            self.watch.zeros_since = None;
            self.watch.warned_zeros = false;
            return;
        }
        let since = *self.watch.zeros_since.get_or_insert(now);
        if !self.watch.warned_zeros && now.duration_since(since) >= limit {
            self.watch.warned_zeros = true;
            self.sink.warning(
                Warning::AllZeroInput,
                &format!(
                    "{} has delivered only exact zeros for {} ms: is the microphone muted, \
                     unplugged, or is access to it denied?",
                    self.config.device_name,
                    limit.as_millis()
                ),
            );
        }
    }

    /// A paused capture reports silence at the level rate.
    fn emit_silence_level(&mut self) {
        self.meter.take();
        let bands = self
            .spectrum
            .as_ref()
            .map(|s| vec![crate::dsp::levels::DBFS_FLOOR as f32; s.band_count()]);
        self.sink.level(LevelReading {
            level: Level::silence(),
            bands,
            at_ms: wall_clock_ms(),
        });
    }

    /// Sends the level since the previous call, if any audio arrived.
    fn emit_level(&mut self) {
        let Some(level) = self.meter.take() else {
            return;
        };
        let bands = self.spectrum.as_mut().map(|spectrum| {
            let mut bands = Vec::with_capacity(spectrum.band_count());
            spectrum.compute(&mut bands);
            bands
        });
        self.sink.level(LevelReading {
            level,
            bands,
            at_ms: self.clock.time_of(self.samples_out),
        });
    }

    /// Once an input that ends on its own (a file) has ended: everything it delivered goes
    /// through, including the resampler's tail and the last partial chunk, then `input_end`.
    fn finish_ended_input(&mut self, queue: Option<&SendQueue>) {
        if self.input_ended || !self.input_status.ended.load(Ordering::Acquire) {
            return;
        }
        self.input_ended = true;
        // Frames pushed before `ended` was set may have arrived after this tick's drain.
        self.drain(queue, true);
        self.emit_level();
        self.set_device_state(DeviceState::Ended);
        let frames = self.capture_counters.frames_captured.load(Relaxed);
        self.sink.input_end(InputEnd {
            frames,
            duration_ms: frames as f64 * 1000.0 / self.config.device_rate as f64,
        });
    }

    /// Moves everything in the ring through the resampler and chunker. `last` also flushes
    /// the resampler's tail and the final partial chunk.
    fn drain(&mut self, queue: Option<&SendQueue>, last: bool) {
        self.drain_with(queue, last, last);
    }

    /// `drain`, flushing the resampler's tail and the partial chunk separately.
    fn drain_with(
        &mut self,
        queue: Option<&SendQueue>,
        flush_resampler: bool,
        flush_chunker: bool,
    ) {
        let Self {
            ring,
            resampler,
            chunker,
            meter,
            spectrum,
            clock,
            drain_buf,
            samples_out,
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
            *samples_out += samples.len() as u64;
            meter.push(samples);
            if let Some(spectrum) = spectrum.as_mut() {
                spectrum.push(samples);
            }
            chunker.push(samples, &mut on_chunk);
        };
        let mut clipped = false;
        let mut drained = 0;
        let mut all_zero = true;
        loop {
            let n = ring.pop_slice(drain_buf);
            if n == 0 {
                break;
            }
            drained += n;
            all_zero &= drain_buf[..n].iter().all(|&s| s == 0.0);
            clipped |= reaches_clip_level(&drain_buf[..n]);
            resampler.process(&drain_buf[..n], &mut on_samples);
        }
        capture_counters
            .ring_fill
            .store(ring.occupied_len() as u64, Relaxed);
        if flush_resampler {
            resampler.flush(&mut on_samples);
        }
        if flush_chunker {
            if let Some(chunk) = chunker.flush() {
                on_chunk(chunk);
            }
        }
        if clipped {
            meter.mark_clipped();
        }
        if drained > 0 {
            self.watch_zeros(all_zero, Instant::now());
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
        fn protocol(&self) -> &'static str {
            "recorder"
        }
    }

    #[derive(Default)]
    struct Events {
        seqs: Mutex<Vec<u64>>,
        levels: Mutex<Vec<(Instant, LevelReading)>>,
        /// Chunks seen when each input end arrived.
        ends: Mutex<Vec<(InputEnd, usize)>>,
        errors: Mutex<Vec<&'static str>>,
        devices: Mutex<Vec<DeviceState>>,
    }

    impl EventSink for Events {
        fn chunk(&self, chunk: &Chunk, _: f64) {
            self.seqs.lock().unwrap().push(chunk.seq);
        }
        fn level(&self, level: LevelReading) {
            self.levels.lock().unwrap().push((Instant::now(), level));
        }
        fn error(&self, e: &Error) {
            self.errors.lock().unwrap().push(e.code());
        }
        fn transcription(&self, _: Transcription) {}
        fn daemon(&self, _: &LinkEvent) {}
        fn warning(&self, _: Warning, _: &str) {}
        fn device(&self, event: &DeviceEvent) {
            self.devices.lock().unwrap().push(event.state);
        }
        fn input_end(&self, end: InputEnd) {
            let chunks = self.seqs.lock().unwrap().len();
            self.ends.lock().unwrap().push((end, chunks));
        }
    }

    fn recorder_link() -> (Recorder, Link<Recorder>) {
        let recorder = Recorder::default();
        let link = Link {
            connector: recorder.clone(),
            session: None,
            config: link::LinkConfig::default(),
        };
        (recorder, link)
    }

    /// A stereo 44.1 kHz 16-bit WAV of a 1 kHz tone at −6 dBFS.
    fn tone_file(name: &str, frames: usize) -> std::path::PathBuf {
        tone_file_at(name, frames, 44_100)
    }

    fn tone_file_at(name: &str, frames: usize, rate: u32) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("stt-pipeline-{}-{name}", std::process::id()));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..frames {
            let v = 0.5 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / rate as f64).sin();
            let s = (v * 32768.0).round() as i16;
            w.write_sample(s).unwrap();
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        path
    }

    fn start_file(
        path: &std::path::Path,
        realtime: bool,
        configure: impl FnOnce(&mut PipelineConfig),
    ) -> (
        Pipeline,
        crate::capture::InputHandle,
        Recorder,
        Arc<Events>,
        Arc<PipelineCounters>,
    ) {
        let capture = Arc::new(CaptureCounters::default());
        let source = crate::capture::Source::File(crate::capture::FileSource {
            path: path.to_owned(),
            realtime,
            looped: false,
        });
        let opened = crate::capture::open(&source, capture.clone()).unwrap();
        let mut config = PipelineConfig::new(opened.info.sample_rate, 100, 30_000);
        configure(&mut config);
        let counters = Arc::new(PipelineCounters::default());
        let events = Arc::new(Events::default());
        let (recorder, link) = recorder_link();
        let pipeline = spawn(
            None,
            opened.ring,
            config,
            capture,
            counters.clone(),
            opened.status,
            events.clone(),
            Some(link),
        )
        .unwrap();
        (pipeline, opened.input, recorder, events, counters)
    }

    async fn wait_for_end(events: &Events) {
        for _ in 0..2000 {
            if !events.ends.lock().unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the input never ended");
    }

    #[tokio::test]
    async fn a_lost_input_is_reopened_at_another_rate_and_the_chunks_carry_on() {
        let first = tone_file_at("lost-a.wav", 44_100 * 5, 44_100);
        let second = tone_file_at("lost-b.wav", 48_000 * 5, 48_000);
        let capture = Arc::new(CaptureCounters::default());
        let file = |path: &std::path::Path| {
            crate::capture::Source::File(crate::capture::FileSource {
                path: path.to_owned(),
                realtime: true,
                looped: false,
            })
        };
        let opened = crate::capture::open(&file(&first), capture.clone()).unwrap();
        let status = opened.status.clone();
        let attempts = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let reopen: Reopen = {
            let (source, capture, attempts) = (file(&second), capture.clone(), attempts.clone());
            // The first attempt fails, as a device that is not back yet would.
            Arc::new(move || {
                if attempts.fetch_add(1, Relaxed) == 0 {
                    return Err(Error::NoDevice("not back yet".into()));
                }
                crate::capture::open(&source, capture.clone())
            })
        };
        let config = PipelineConfig::new(opened.info.sample_rate, 100, 30_000);
        let counters = Arc::new(PipelineCounters::default());
        let events = Arc::new(Events::default());
        let (recorder, link) = recorder_link();
        let pipeline = spawn(
            Some(Input {
                handle: opened.input,
                reopen: Some(reopen),
            }),
            opened.ring,
            config,
            capture.clone(),
            counters.clone(),
            opened.status,
            events.clone(),
            Some(link),
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        status.report(Error::DeviceLost("unplugged".into()));
        for _ in 0..400 {
            if counters.device_reopens.load(Relaxed) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(counters.device_reopens.load(Relaxed), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        pipeline.stop().await;
        use DeviceState::*;
        assert_eq!(
            *events.devices.lock().unwrap(),
            [Running, Lost, Reopening, Running],
            "a failed attempt, then one that worked"
        );
        assert_eq!(
            *events.errors.lock().unwrap(),
            ["E_DEVICE_LOST", "E_NO_DEVICE"]
        );
        assert_eq!(counters.device_reopen_failures.load(Relaxed), 1);
        assert_eq!(attempts.load(Relaxed), 2);
        let seqs = events.seqs.lock().unwrap().clone();
        assert!(seqs.len() >= 8, "{seqs:?}");
        assert_eq!(
            seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "one sequence"
        );
        let sent: usize = recorder.chunks.lock().unwrap().iter().map(Vec::len).sum();
        assert_eq!(sent as u64, counters.samples_emitted.load(Relaxed));
        // The 48 kHz stream went through a new resampler: its tone is still 1 kHz at −6 dBFS.
        let chunks = recorder.chunks.lock().unwrap();
        let last = &chunks[chunks.len() - 2];
        let peak = last.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.01, "peak {peak}");
        let crossings = last
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        assert!(
            (99..=101).contains(&crossings),
            "{crossings} cycles in 100 ms"
        );
        let _ = std::fs::remove_file(first);
        let _ = std::fs::remove_file(second);
    }

    #[tokio::test]
    async fn a_file_input_is_flushed_and_reported_once_after_its_last_chunk() {
        let frames = 44_100 + 1234;
        let path = tone_file("end.wav", frames);
        let (pipeline, _input, recorder, events, counters) = start_file(&path, false, |c| {
            c.spectrum_bands = 16;
        });
        wait_for_end(&events).await;
        let ends = events.ends.lock().unwrap().clone();
        let chunks_at_end = events.seqs.lock().unwrap().len();
        assert_eq!(ends.len(), 1);
        let (end, chunks_seen) = ends[0];
        assert_eq!(end.frames, frames as u64);
        assert!((end.duration_ms - frames as f64 / 44.1).abs() < 1e-6);
        // Every chunk, the short last one included, came before the end event.
        assert_eq!(chunks_seen, chunks_at_end);
        let expected = frames as u64 * 16_000 / 44_100;
        assert_eq!(counters.samples_emitted.load(Relaxed), expected);
        pipeline.stop().await;
        // Stopping after the end adds nothing.
        assert_eq!(counters.samples_emitted.load(Relaxed), expected);
        assert_eq!(events.ends.lock().unwrap().len(), 1);
        let sent: usize = recorder.chunks.lock().unwrap().iter().map(Vec::len).sum();
        assert_eq!(sent as u64, expected);
        // Levels of a −6 dBFS tone, with a spectrum that peaks in the 1 kHz band.
        let levels = events.levels.lock().unwrap();
        let (_, last) = levels.last().unwrap();
        assert!((last.level.peak_dbfs - -6.02).abs() < 0.1, "{last:?}");
        let bands = last.bands.as_ref().unwrap();
        assert_eq!(bands.len(), 16);
        let peak = (0..16)
            .max_by(|a, b| bands[*a].total_cmp(&bands[*b]))
            .unwrap();
        assert_eq!(peak, 9, "1 kHz is in band 9 of 16: {bands:?}");
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn levels_come_at_most_level_hz_times_a_second() {
        let path = tone_file("rate.wav", 44_100 * 3 / 2);
        let (pipeline, _input, _, events, _) = start_file(&path, true, |c| {
            c.level_interval = Duration::from_secs(1) / 20;
        });
        wait_for_end(&events).await;
        pipeline.stop().await;
        let levels = events.levels.lock().unwrap();
        let times: Vec<Instant> = levels.iter().map(|(t, _)| *t).collect();
        // Over any 1 s span: at most 20 (+1 for where the span starts).
        for (i, t) in times.iter().enumerate() {
            let within = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            assert!(within <= 21, "{within} levels within 1 s");
        }
        // 1.5 s paced in real time at 20 Hz.
        assert!((25..=33).contains(&times.len()), "{} levels", times.len());
        // Time stamps follow the audio.
        let at: Vec<f64> = levels.iter().map(|(_, l)| l.at_ms).collect();
        assert!(at.windows(2).all(|w| w[1] >= w[0]), "{at:?}");
        let _ = std::fs::remove_file(path);
    }

    /// Takes events without allocating.
    struct NullSink;

    impl EventSink for NullSink {
        fn chunk(&self, _: &Chunk, _: f64) {}
        fn level(&self, _: LevelReading) {}
        fn error(&self, _: &Error) {}
        fn transcription(&self, _: Transcription) {}
        fn daemon(&self, _: &LinkEvent) {}
        fn input_end(&self, _: InputEnd) {}
        fn warning(&self, _: Warning, _: &str) {}
        fn device(&self, _: &DeviceEvent) {}
    }

    #[test]
    fn the_steady_state_loop_allocates_only_the_payloads_it_hands_on() {
        use crate::test_alloc::allocations_during;
        for rate in [48_000u32, 44_100, 16_000] {
            let (mut prod, ring) = HeapRb::<f32>::new(rate as usize).split();
            let capture_counters = Arc::new(CaptureCounters::default());
            let counters = Arc::new(PipelineCounters::default());
            let mut config = PipelineConfig::new(rate, 100, 600_000);
            config.spectrum_bands = 32;
            config.silence_warn = Some(Duration::from_secs(3));
            let queue = SendQueue::new(config.send_queue_capacity, counters.clone());
            let mut task = PipelineTask {
                ring,
                resampler: StreamResampler::new(rate).unwrap(),
                chunker: Chunker::new(config.chunk_len),
                meter: LevelMeter::default(),
                spectrum: Some(Spectrum::new(32)),
                clock: CaptureClock::new(rate),
                drain_buf: vec![0.0; 8192],
                samples_out: 0,
                input_ended: false,
                watch: InputWatch::default(),
                input: None,
                reopen: None,
                reopening: Reopening::default(),
                capture_counters: capture_counters.clone(),
                counters: counters.clone(),
                input_status: Arc::new(InputStatus::default()),
                sink: Arc::new(NullSink),
                config,
            };
            let period = rate as usize / 200;
            let block: Vec<f32> = (0..period).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
            // Like the task: a callback's worth of audio, a drain; a level every 7th tick.
            let mut tick = |task: &mut PipelineTask, n: usize| {
                assert_eq!(prod.push_slice(&block), period);
                capture_counters.record_callback(period as u64, 0, 0);
                task.drain(Some(&queue), false);
                if n.is_multiple_of(7) {
                    task.emit_level();
                }
            };
            // Warm-up: one second.
            for n in 0..200 {
                tick(&mut task, n);
            }
            let chunks_before = counters.chunks_emitted.load(Relaxed);
            let mut levels = 0;
            let allocations = allocations_during(|| {
                for n in 0..2000 {
                    tick(&mut task, n);
                    levels += n.is_multiple_of(7) as usize;
                }
            });
            let chunks = (counters.chunks_emitted.load(Relaxed) - chunks_before) as usize;
            assert_eq!(chunks, 100, "{rate} Hz: 10 s of chunks");
            // Per chunk: its own buffer (it leaves for the daemon). Per level: the bands
            // buffer for JS, which this sink drops at once (an allocation and a free).
            assert_eq!(allocations, chunks + 2 * levels, "{rate} Hz");
        }
    }

    #[tokio::test]
    async fn every_frame_reaches_the_transport_at_44_1_khz() {
        let rate = 44_100;
        let (mut prod, cons) = HeapRb::<f32>::new(rate as usize * 2).split();
        let capture = Arc::new(CaptureCounters::default());
        let counters = Arc::new(PipelineCounters::default());
        let events = Arc::new(Events::default());
        let (recorder, link) = recorder_link();
        let pipeline = spawn(
            None,
            cons,
            PipelineConfig::new(rate, 100, 30_000),
            capture.clone(),
            counters.clone(),
            Arc::new(InputStatus::default()),
            events.clone(),
            Some(link),
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
        assert!(!events.levels.lock().unwrap().is_empty());
        let delivery = counters.delivery();
        assert_eq!(delivery.chunks_sent, chunks.len() as u64);
        assert_eq!(delivery.samples_sent, total as u64);
        assert_eq!(delivery.send_queue_depth, 0);
        assert_eq!(counters.delivery_latency.count(), chunks.len() as u64);
        assert!(chunks.iter().flatten().all(|s| s.abs() <= 1.0));
    }
}
