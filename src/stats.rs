//! Counters shared by the audio callback, the pipeline task and `stats()`.
//!
//! All atomics are `Relaxed`: each counter is independently meaningful and no counter is used
//! to publish other memory. The delivery counts, which must add up at every read, share one
//! mutex instead; only tokio tasks and `stats()` take it, never the audio callback.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Bumped only by the audio callback (one writer), read by anyone.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    pub frames_captured: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub callbacks: AtomicU64,
    pub ring_fill: AtomicU64,
    pub ring_high_water: AtomicU64,
}

impl CaptureCounters {
    /// Realtime-safe: atomics only.
    #[inline]
    pub fn record_callback(&self, frames: u64, dropped: u64, ring_fill: u64) {
        self.callbacks.fetch_add(1, Relaxed);
        self.frames_captured.fetch_add(frames, Relaxed);
        if dropped > 0 {
            self.frames_dropped.fetch_add(dropped, Relaxed);
        }
        self.ring_fill.store(ring_fill, Relaxed);
        self.ring_high_water.fetch_max(ring_fill, Relaxed);
    }
}

/// Why a chunk was given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The daemon answered `status: error` for this chunk.
    Rejected,
    /// The daemon's reply was not a valid frame or not valid JSON.
    Protocol,
    /// The connection broke (reset, closed, refused) before a reply.
    Connection,
    /// No reply within the reply timeout.
    Timeout,
    /// Still queued when a stop gave up on the daemon.
    Stopped,
}

/// What happened to every item of one kind (chunks, or utterances) handed to the daemon
/// link. Kept under one lock so that a snapshot always satisfies
/// `queued = sent + dropped_queue + failed + superseded + depth`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub queued: u64,
    pub sent: u64,
    pub dropped_queue: u64,
    pub failed: u64,
    /// Not sent because the daemon takes the other kind (chunks when it transcribes
    /// utterances, utterances when it streams): the other kind carries the same audio.
    pub superseded: u64,
    /// Queued plus in flight.
    pub depth: u64,
    pub high_water: u64,
    pub samples_sent: u64,
    pub failed_rejected: u64,
    pub failed_protocol: u64,
    pub failed_connection: u64,
    pub failed_timeout: u64,
    pub failed_stopped: u64,
}

impl Counts {
    pub fn count_failure(&mut self, reason: FailureReason) {
        self.failed += 1;
        *match reason {
            FailureReason::Rejected => &mut self.failed_rejected,
            FailureReason::Protocol => &mut self.failed_protocol,
            FailureReason::Connection => &mut self.failed_connection,
            FailureReason::Timeout => &mut self.failed_timeout,
            FailureReason::Stopped => &mut self.failed_stopped,
        } += 1;
    }

    pub fn invariant_holds(&self) -> bool {
        self.queued == self.sent + self.dropped_queue + self.failed + self.superseded + self.depth
    }
}

/// Chunks and utterances, counted apart but changed under the one lock.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub chunks: Counts,
    pub utterances: Counts,
}

impl Delivery {
    pub fn invariant_holds(&self) -> bool {
        self.chunks.invariant_holds() && self.utterances.invariant_holds()
    }
}

/// Which daemon route transcribes: its realtime stream, or one request per utterance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum DaemonMode {
    /// Not known yet (no session opened).
    #[default]
    Unknown = 0,
    Stream = 1,
    Utterances = 2,
}

impl DaemonMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonMode::Unknown => "",
            DaemonMode::Stream => "stream",
            DaemonMode::Utterances => "utterances",
        }
    }

    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => DaemonMode::Stream,
            2 => DaemonMode::Utterances,
            _ => DaemonMode::Unknown,
        }
    }
}

/// The daemon link's state, as `stats()` and `daemon` events report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum LinkState {
    /// No daemon link (daemon disabled or capture not started).
    #[default]
    Off = 0,
    Connected = 1,
    Disconnected = 2,
    Reconnecting = 3,
    /// The realtime session was ended for a pause; the next audio opens a new one.
    Idle = 4,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Off => "off",
            LinkState::Connected => "connected",
            LinkState::Disconnected => "disconnected",
            LinkState::Reconnecting => "reconnecting",
            LinkState::Idle => "idle",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => LinkState::Connected,
            2 => LinkState::Disconnected,
            3 => LinkState::Reconnecting,
            4 => LinkState::Idle,
            _ => LinkState::Off,
        }
    }
}

/// What the input device is doing, as the pipeline sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceState {
    /// No capture running.
    #[default]
    Off,
    Running,
    /// No callback for `stallTimeoutMs` although no error was reported.
    Stalled,
    /// cpal reported the device gone.
    Lost,
    /// Opening the device again after a loss or stall.
    Reopening,
    /// A file input reached its end.
    Ended,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Off => "off",
            DeviceState::Running => "running",
            DeviceState::Stalled => "stalled",
            DeviceState::Lost => "lost",
            DeviceState::Ended => "ended",
            DeviceState::Reopening => "reopening",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => DeviceState::Running,
            2 => DeviceState::Stalled,
            3 => DeviceState::Lost,
            4 => DeviceState::Reopening,
            5 => DeviceState::Ended,
            _ => DeviceState::Off,
        }
    }
}

/// Bumped by the pipeline task: what it made of the audio, and what the device did.
/// Counters only count: control (pausing) lives in `session::Control`.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    pub chunks_emitted: AtomicU64,
    pub samples_emitted: AtomicU64,
    /// Time spent paused, ms, as of the last paused tick (see [`Self::paused_ms`]).
    pub paused_ms: AtomicU64,
    /// Wall-clock ms of the last paused tick, as `f64` bits; 0 when not paused.
    paused_tick_at_ms: AtomicU64,
    /// Device frames discarded while paused.
    pub frames_paused: AtomicU64,
    /// The device's estimated rate error in ppm, as `f64` bits (0 until estimated).
    device_clock_ppm: AtomicU64,
    /// Published by the supervisor, which keeps its own copy: never read back to decide.
    device_state: AtomicU8,
    /// Times the pipeline woke (ticks): its cost follows this, not the audio's rate.
    pub wakeups: AtomicU64,
    /// Times the device stopped delivering callbacks for `stallTimeoutMs`.
    pub device_stalls: AtomicU64,
    /// Times the device was opened again after a loss or stall.
    pub device_reopens: AtomicU64,
    /// Reopen attempts that failed.
    pub device_reopen_failures: AtomicU64,
    /// 16 kHz samples the voice activity detector judged speech.
    pub speech_samples: AtomicU64,
    /// Utterances emitted.
    pub utterances: AtomicU64,
    /// 16 ms frames the voice activity detector scored.
    pub vad_frames: AtomicU64,
    /// The recording of the current (or last) run.
    pub record: Arc<RecordCounters>,
}

impl PipelineCounters {
    /// A paused tick at wall-clock `at_ms` (0: the capture runs again).
    pub fn set_paused_tick(&self, at_ms: f64) {
        self.paused_tick_at_ms.store(at_ms.to_bits(), Relaxed);
    }

    /// Time spent paused, ms, at wall-clock `now_ms`: a paused pipeline may sleep up to a
    /// second between ticks, so the time since its last one is added.
    pub fn paused_ms(&self, now_ms: f64) -> f64 {
        let counted = self.paused_ms.load(Relaxed) as f64;
        let tick = f64::from_bits(self.paused_tick_at_ms.load(Relaxed));
        if tick > 0.0 {
            counted + (now_ms - tick).max(0.0)
        } else {
            counted
        }
    }

    pub fn set_device_clock_ppm(&self, ppm: f64) {
        self.device_clock_ppm.store(ppm.to_bits(), Relaxed);
    }

    pub fn device_clock_ppm(&self) -> f64 {
        f64::from_bits(self.device_clock_ppm.load(Relaxed))
    }

    pub fn set_device_state(&self, state: DeviceState) {
        self.device_state.store(state as u8, Relaxed);
    }

    pub fn device_state(&self) -> DeviceState {
        DeviceState::from_u8(self.device_state.load(Relaxed))
    }
}

/// Where the recording stands (`stats().recordState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum RecordState {
    /// No recording, or the last one was stopped.
    #[default]
    Off = 0,
    Recording = 1,
    /// The writer fell behind by the whole buffer: the recording stopped (`E_RECORD_OVERRUN`).
    Overrun = 2,
    /// A write failed: the recording stopped (`E_RECORD_FAILED`).
    Failed = 3,
}

impl RecordState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Off => "off",
            RecordState::Recording => "recording",
            RecordState::Overrun => "overrun",
            RecordState::Failed => "failed",
        }
    }
}

/// Bumped by the record sink and the writer threads.
#[derive(Debug, Default)]
pub struct RecordCounters {
    state: AtomicU8,
    /// Frames the recording file holds (its header may lag by up to a flush interval).
    pub frames: AtomicU64,
    /// Most frames that waited for the writer at once.
    pub queue_high_water: AtomicU64,
    /// `recordUtterances`: files written, and utterances not written (a full queue or an
    /// error).
    pub utterances_written: AtomicU64,
    pub utterances_failed: AtomicU64,
}

impl RecordCounters {
    pub fn set_state(&self, state: RecordState) {
        self.state.store(state as u8, Relaxed);
    }

    pub fn state(&self) -> RecordState {
        match self.state.load(Relaxed) {
            1 => RecordState::Recording,
            2 => RecordState::Overrun,
            3 => RecordState::Failed,
            _ => RecordState::Off,
        }
    }
}

/// Bumped by the daemon link and the send queue.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    delivery: Mutex<Delivery>,
    link_state: AtomicU8,
    /// The protocol of the last session opened (`legacy` or `v1`), empty before one.
    daemon_protocol: Mutex<&'static str>,
    /// `error` messages the daemon sent about our session.
    pub daemon_errors: AtomicU64,
    /// Successful reconnections after the link was lost.
    pub reconnects: AtomicU64,
    /// Connection attempts that failed.
    pub connect_failures: AtomicU64,
    /// Sends that failed, including ones retried later.
    pub send_attempts_failed: AtomicU64,
    pub transcriptions: AtomicU64,
    daemon_mode: AtomicU8,
    /// From the end of an utterance's audio to its transcription.
    pub transcription_latency: LatencyHistogram,
    /// From sending a chunk to the daemon's reply.
    pub send_latency: LatencyHistogram,
    /// From a chunk's last captured sample to the daemon's reply.
    pub delivery_latency: LatencyHistogram,
}

impl DeliveryCounters {
    /// Updates the delivery counts in one critical section. Not for the audio thread.
    pub fn update_delivery<R>(&self, f: impl FnOnce(&mut Delivery) -> R) -> R {
        // The closures only do arithmetic: a poisoned lock still holds consistent counts.
        f(&mut self.delivery.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn delivery(&self) -> Delivery {
        *self.delivery.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_link_state(&self, state: LinkState) {
        self.link_state.store(state as u8, Relaxed);
    }

    pub fn link_state(&self) -> LinkState {
        LinkState::from_u8(self.link_state.load(Relaxed))
    }

    pub fn set_daemon_protocol(&self, protocol: &'static str) {
        *self
            .daemon_protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = protocol;
    }

    pub fn set_daemon_mode(&self, mode: DaemonMode) {
        self.daemon_mode.store(mode as u8, Relaxed);
    }

    pub fn daemon_mode(&self) -> DaemonMode {
        DaemonMode::from_u8(self.daemon_mode.load(Relaxed))
    }

    pub fn daemon_protocol(&self) -> &'static str {
        *self
            .daemon_protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Lock-free latency histogram: 8 log-spaced buckets per octave of microseconds
/// (about 9 % resolution), up to ~2^27 µs; larger values land in the last bucket.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; Self::BUCKETS],
    count: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    const PER_OCTAVE: f64 = 8.0;
    const BUCKETS: usize = 28 * 8;

    fn bucket_of(micros: u64) -> usize {
        let v = micros.max(1) as f64;
        ((v.log2() * Self::PER_OCTAVE) as usize).min(Self::BUCKETS - 1)
    }

    /// The value that represents a bucket: its geometric middle, in milliseconds.
    fn bucket_value_ms(bucket: usize) -> f64 {
        2f64.powf((bucket as f64 + 0.5) / Self::PER_OCTAVE) / 1000.0
    }

    pub fn record_micros(&self, micros: u64) {
        self.buckets[Self::bucket_of(micros)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// The `q` quantile (0..=1) in milliseconds, or 0 when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::bucket_value_ms(i);
            }
        }
        Self::bucket_value_ms(Self::BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_within_bucket_resolution() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.5), 0.0);
        for _ in 0..98 {
            h.record_micros(2_000);
        }
        h.record_micros(40_000);
        h.record_micros(40_000);
        let p50 = h.quantile_ms(0.5);
        let p99 = h.quantile_ms(0.99);
        assert!((p50 - 2.0).abs() / 2.0 < 0.1, "p50 {p50}");
        assert!((p99 - 40.0).abs() / 40.0 < 0.1, "p99 {p99}");
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn high_water_tracks_the_maximum_fill() {
        let c = CaptureCounters::default();
        c.record_callback(240, 0, 500);
        c.record_callback(240, 10, 100);
        assert_eq!(c.ring_fill.load(Relaxed), 100);
        assert_eq!(c.ring_high_water.load(Relaxed), 500);
        assert_eq!(c.frames_captured.load(Relaxed), 480);
        assert_eq!(c.frames_dropped.load(Relaxed), 10);
        assert_eq!(c.callbacks.load(Relaxed), 2);
    }
}
