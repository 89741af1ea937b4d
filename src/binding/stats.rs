//! `stats()`: a snapshot of the core's counters as one JS object.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use napi_derive::napi;

use crate::events::EventKind;
use crate::session::Snapshot;
use crate::stats::{Counts, Delivery, LinkState};

/// A snapshot of what happened to every sample. Cheap; call it at any rate. Counters cover
/// the current capture, or the last one after `stopCapture()`.
#[napi(object)]
pub struct CaptureStats {
    /// Frames the device delivered to the audio callback.
    pub frames_captured: f64,
    /// Frames dropped because the ring was full (newest dropped first).
    pub frames_dropped: f64,
    /// Audio callbacks run.
    pub callbacks: f64,
    /// Ring capacity in mono frames at the device rate.
    pub ring_capacity: f64,
    /// Frames waiting in the ring at the last callback or drain.
    pub ring_fill: f64,
    /// Most frames ever waiting in the ring.
    pub ring_high_water: f64,
    /// Chunks produced by the pipeline (and emitted as `chunk` events).
    pub chunks_emitted: f64,
    /// 16 kHz samples in those chunks.
    pub samples_emitted: f64,
    /// Chunks put in the send queue to the daemon. At every call, `chunksQueued =
    /// chunksSent + chunksDroppedQueue + chunksFailed + chunksSuperseded + sendQueueDepth`.
    pub chunks_queued: f64,
    /// Chunks not sent because the daemon transcribes utterances (which carry the same audio).
    pub chunks_superseded: f64,
    /// Chunks the daemon acknowledged.
    pub chunks_sent: f64,
    /// Chunks given up on; `chunksFailedByReason` says why.
    pub chunks_failed: f64,
    pub chunks_failed_by_reason: FailureCounts,
    /// Chunks dropped from a full send queue (oldest first).
    pub chunks_dropped_queue: f64,
    /// 16 kHz samples the daemon acknowledged.
    pub samples_sent: f64,
    /// Chunks waiting for the daemon or in flight.
    pub send_queue_depth: f64,
    pub send_queue_high_water: f64,
    /// Chunks the send queue holds before dropping the oldest (`maxBufferMs / chunkMs`).
    pub send_queue_capacity: f64,
    /// Sends that failed, including those retried on a new connection.
    pub send_attempts_failed: f64,
    /// Utterances put in the send queue for the daemon's batch route. At every call,
    /// `utterancesQueued = utterancesSent + utterancesDroppedQueue + utterancesFailed +
    /// utterancesSuperseded + utterancesPending`.
    pub utterances_queued: f64,
    /// Utterances the daemon transcribed.
    pub utterances_sent: f64,
    /// Utterances given up on; `utterancesFailedByReason` says why.
    pub utterances_failed: f64,
    pub utterances_failed_by_reason: FailureCounts,
    /// Utterances dropped from a full send queue (oldest first; `maxBufferMs` counts their audio).
    pub utterances_dropped_queue: f64,
    /// Utterances not sent because the daemon streams (the chunks carry the same audio).
    pub utterances_superseded: f64,
    /// Utterances waiting for the daemon or in flight.
    pub utterances_pending: f64,
    /// Median time from the end of an utterance's audio to its transcription, ms.
    pub transcription_latency_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub transcription_latency_p99_ms: f64,
    /// How the daemon transcribes: `stream`, `utterances`, or empty before a session.
    #[napi(ts_type = "'' | 'stream' | 'utterances'")]
    pub daemon_mode: String,
    /// Median time from sending a chunk to the daemon's reply, ms.
    pub send_latency_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub send_latency_p99_ms: f64,
    /// Median time from a chunk's last captured sample to the daemon's reply, ms.
    pub delivery_latency_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub delivery_latency_p99_ms: f64,
    /// True while a daemon session is open.
    pub daemon_connected: bool,
    /// Protocol of the last daemon session opened: `legacy`, `v1`, or empty before one.
    #[napi(ts_type = "'' | 'legacy' | 'v1'")]
    pub daemon_protocol: String,
    /// `error` messages the daemon sent about this capture's session (v1).
    pub daemon_errors: f64,
    /// `off` (no daemon link), `connected`, `disconnected`, `reconnecting` or `idle` (the
    /// realtime session was ended for a pause; the next audio opens one).
    #[napi(ts_type = "'off' | 'connected' | 'disconnected' | 'reconnecting' | 'idle'")]
    pub daemon_state: String,
    /// Times the link came back after losing the daemon.
    pub reconnects: f64,
    /// Connection attempts that failed.
    pub connect_failures: f64,
    /// Transcriptions received for this capture's session.
    pub transcriptions: f64,
    /// `chunk` events dropped because a listener's queue was full.
    pub chunk_events_dropped: f64,
    /// `level` events dropped because a listener's queue was full.
    pub level_events_dropped: f64,
    /// `error` events dropped because a listener's queue was full.
    pub error_events_dropped: f64,
    /// `utterance` events dropped because a listener's queue was full.
    pub utterance_events_dropped: f64,
    /// `transcription`, `daemon`, `voice`, `device`, `warning` and `end` events dropped
    /// because a listener's queue was full.
    pub other_events_dropped: f64,
    /// With `vad`: time judged speech, ms.
    pub speech_ms: f64,
    /// With `vad`: utterances emitted.
    pub utterances: f64,
    /// With `vad`: 16 ms frames scored by the voice activity detector.
    pub vad_frames: f64,
    /// `recording` while a recording runs; `overrun` or `failed` after one stopped on its
    /// own (`E_RECORD_OVERRUN`, `E_RECORD_FAILED`); else `off`.
    #[napi(ts_type = "'off' | 'recording' | 'overrun' | 'failed'")]
    pub record_state: String,
    /// Frames the current (or last) recording's file holds, as of its last header update
    /// (at most 250 ms ago while it runs; exact once it ended).
    pub record_frames: f64,
    /// Most frames that waited for the recording's writer at once (its limit is `bufferMs`).
    pub record_queue_high_water: f64,
    /// `recordUtterances`: utterance files written.
    pub record_utterances_written: f64,
    /// `recordUtterances`: utterances not written (the writer's queue was full, or a write
    /// failed; each is an `error` event).
    pub record_utterances_failed: f64,
    /// True while `pause()`d.
    pub paused: bool,
    /// Time spent paused, ms.
    pub paused_ms: f64,
    /// Device frames discarded while paused (included in `framesCaptured`).
    pub frames_paused: f64,
    /// How far the device's clock runs from the system's, in ppm (positive: fast), as the
    /// capture clock estimates it; 0 until its fit spans 4 s (a stream's first 6–8 s).
    /// Timestamps follow the device either way: this shows a drifting device.
    pub device_clock_ppm: f64,
    /// Times the pipeline woke to move audio from the device to the sinks: about one per
    /// chunk plus a few a second (levels, when listened to, add theirs). The CPU a capture
    /// costs follows this count.
    pub pipeline_wakeups: f64,
    /// `off`, `running`, `stalled` (no audio for `stallTimeoutMs`), `lost` or `ended` (a file).
    #[napi(ts_type = "'off' | 'running' | 'stalled' | 'lost' | 'reopening' | 'ended'")]
    pub device_state: String,
    /// Times the device stalled.
    pub device_stalls: f64,
    /// Times the device was opened again after a loss or stall (`autoReopen`).
    pub device_reopens: f64,
    /// Reopen attempts that failed (they are retried with backoff).
    pub device_reopen_failures: f64,
    /// 0 until a capture has started.
    pub device_sample_rate: f64,
    pub device_channels: f64,
    /// cpal's name of the device sample format, e.g. `f32`, `i16`.
    pub sample_format: String,
}

/// Why chunks were given up on.
#[napi(object)]
pub struct FailureCounts {
    /// The daemon answered `status: error`.
    pub rejected: f64,
    /// The reply was not valid framing or JSON (after retries).
    pub protocol: f64,
    /// The connection broke before a reply (after retries).
    pub connection: f64,
    /// No reply within `replyTimeoutMs` (after retries).
    pub timeout: f64,
    /// Still waiting when `stopCapture()` gave up on an absent daemon.
    pub stopped: f64,
}

impl From<Snapshot> for CaptureStats {
    fn from(s: Snapshot) -> Self {
        let Snapshot {
            counters,
            info,
            send_queue_capacity,
            paused,
            capturing: _,
        } = s;
        let (cap, pipe, link, events) = (
            &counters.capture,
            &counters.pipeline,
            &counters.delivery,
            &counters.events,
        );
        let n = |a: &AtomicU64| a.load(Relaxed) as f64;
        let Delivery {
            chunks: c,
            utterances: u,
        } = link.delivery();
        let link_state = link.link_state();
        let dropped = |kind: EventKind| events.dropped(kind) as f64;
        let other_dropped = [
            EventKind::Transcription,
            EventKind::Daemon,
            EventKind::End,
            EventKind::Warning,
            EventKind::Device,
            EventKind::Voice,
        ]
        .into_iter()
        .map(dropped)
        .sum();
        CaptureStats {
            frames_captured: n(&cap.frames_captured),
            frames_dropped: n(&cap.frames_dropped),
            callbacks: n(&cap.callbacks),
            ring_capacity: info.as_ref().map_or(0.0, |i| i.ring_capacity as f64),
            ring_fill: n(&cap.ring_fill),
            ring_high_water: n(&cap.ring_high_water),
            chunks_emitted: n(&pipe.chunks_emitted),
            samples_emitted: n(&pipe.samples_emitted),
            chunks_queued: c.queued as f64,
            chunks_superseded: c.superseded as f64,
            chunks_sent: c.sent as f64,
            chunks_failed: c.failed as f64,
            chunks_failed_by_reason: FailureCounts::from(&c),
            chunks_dropped_queue: c.dropped_queue as f64,
            samples_sent: c.samples_sent as f64,
            send_queue_depth: c.depth as f64,
            send_queue_high_water: c.high_water as f64,
            send_queue_capacity: send_queue_capacity as f64,
            utterances_queued: u.queued as f64,
            utterances_sent: u.sent as f64,
            utterances_failed: u.failed as f64,
            utterances_failed_by_reason: FailureCounts::from(&u),
            utterances_dropped_queue: u.dropped_queue as f64,
            utterances_superseded: u.superseded as f64,
            utterances_pending: u.depth as f64,
            transcription_latency_p50_ms: link.transcription_latency.quantile_ms(0.5),
            transcription_latency_p99_ms: link.transcription_latency.quantile_ms(0.99),
            daemon_mode: link.daemon_mode().as_str().to_owned(),
            send_attempts_failed: n(&link.send_attempts_failed),
            send_latency_p50_ms: link.send_latency.quantile_ms(0.5),
            send_latency_p99_ms: link.send_latency.quantile_ms(0.99),
            delivery_latency_p50_ms: link.delivery_latency.quantile_ms(0.5),
            delivery_latency_p99_ms: link.delivery_latency.quantile_ms(0.99),
            daemon_connected: link_state == LinkState::Connected,
            daemon_state: link_state.as_str().to_owned(),
            daemon_protocol: link.daemon_protocol().to_owned(),
            daemon_errors: n(&link.daemon_errors),
            reconnects: n(&link.reconnects),
            connect_failures: n(&link.connect_failures),
            transcriptions: n(&link.transcriptions),
            chunk_events_dropped: dropped(EventKind::Chunk),
            level_events_dropped: dropped(EventKind::Level),
            error_events_dropped: dropped(EventKind::Error),
            utterance_events_dropped: dropped(EventKind::Utterance),
            other_events_dropped: other_dropped,
            speech_ms: n(&pipe.speech_samples) / 16.0,
            utterances: n(&pipe.utterances),
            vad_frames: n(&pipe.vad_frames),
            record_state: pipe.record.state().as_str().to_owned(),
            record_frames: n(&pipe.record.frames),
            record_queue_high_water: n(&pipe.record.queue_high_water),
            record_utterances_written: n(&pipe.record.utterances_written),
            record_utterances_failed: n(&pipe.record.utterances_failed),
            paused,
            paused_ms: pipe.paused_ms(crate::time::wall_clock_ms()).floor(),
            frames_paused: n(&pipe.frames_paused),
            device_clock_ppm: pipe.device_clock_ppm(),
            pipeline_wakeups: n(&pipe.wakeups),
            device_state: pipe.device_state().as_str().to_owned(),
            device_stalls: n(&pipe.device_stalls),
            device_reopens: n(&pipe.device_reopens),
            device_reopen_failures: n(&pipe.device_reopen_failures),
            device_sample_rate: info.as_ref().map_or(0.0, |i| i.sample_rate as f64),
            device_channels: info.as_ref().map_or(0.0, |i| i.channels as f64),
            sample_format: info.map(|i| i.sample_format).unwrap_or_default(),
        }
    }
}

impl From<&Counts> for FailureCounts {
    fn from(c: &Counts) -> Self {
        FailureCounts {
            rejected: c.failed_rejected as f64,
            protocol: c.failed_protocol as f64,
            connection: c.failed_connection as f64,
            timeout: c.failed_timeout as f64,
            stopped: c.failed_stopped as f64,
        }
    }
}
