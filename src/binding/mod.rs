//! The only code that uses napi: the `AudioCapture` class, `listInputDevices`, option
//! parsing and the mapping of core errors to JS errors with a stable `code`.

mod events;
mod options;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::capture::{self, StreamInfo};
use crate::dsp::TARGET_RATE;
use crate::error::Error as CoreError;
use crate::pipeline::link::{self, Link};
use crate::pipeline::{self, EventSink, Pipeline, PipelineConfig};
use crate::stats::{CaptureCounters, PipelineCounters};
use crate::transport::any::AnyConnector;
use crate::transport::http;
use crate::transport::legacy::LegacyConnector;
use crate::transport::v1::{V1Config, V1Connector};
use crate::transport::{Connector, DaemonMessage, MessageHandler, Session};
use events::{to_napi_error, EventKind, Listener, ListenerFn, Listeners, LISTENER_QUEUE};
use options::{
    parse_options, parse_start_options, parse_token_request, CaptureConfig, StartConfig,
};

/// An input device as `listInputDevices()` reports it.
#[napi(object)]
pub struct InputDevice {
    /// cpal's device id, stable across calls and restarts: pass it as the `device` option.
    pub id: String,
    pub name: String,
    pub is_default: bool,
    /// The largest channel count the device offers.
    pub channels: u32,
    /// Common sample rates (Hz) the device supports.
    pub sample_rates: Vec<u32>,
    /// Sample formats the device offers (cpal's names: `i16`, `f32`, ...).
    pub sample_formats: Vec<String>,
    /// The audio host, e.g. `alsa`.
    pub host: String,
}

/// Lists the audio input devices of a host (`host`: `alsa`, `pulseaudio`; default: the one
/// a capture would use, PulseAudio when a server answers, else ALSA). Runs off the JS thread
/// and prints nothing.
#[napi(
    ts_args_type = "options?: { host?: string }",
    ts_return_type = "Promise<Array<InputDevice>>"
)]
pub fn list_input_devices<'env>(
    env: &'env Env,
    options: Option<Object<'_>>,
) -> Result<PromiseRaw<'env, Vec<InputDevice>>> {
    let host = options::parse_list_options(options);
    env.spawn_future_with_callback(
        async move {
            let Ok(host) = host else {
                return Ok(host.map(|_| Vec::new()));
            };
            let listed =
                tokio::task::spawn_blocking(move || capture::list_input_devices(host.as_deref()))
                    .await
                    .unwrap_or_else(|e| Err(CoreError::Internal(e.to_string())));
            Ok(listed)
        },
        |env, listed| match listed {
            Ok(devices) => Ok(devices
                .into_iter()
                .map(|d| InputDevice {
                    id: d.id,
                    name: d.name,
                    is_default: d.is_default,
                    channels: d.channels as u32,
                    sample_rates: d.sample_rates,
                    sample_formats: d.sample_formats,
                    host: d.host,
                })
                .collect()),
            Err(e) => Err(to_napi_error(env, &e)),
        },
    )
}

/// A session token granted by the daemon.
#[napi(object)]
pub struct TokenGrant {
    /// Pass as the `token` option (or `SUPER_STT_TOKEN`). Keep it secret.
    pub token: String,
    /// The scopes granted, sorted.
    pub scopes: Vec<String>,
    /// When the token expires (RFC 3339).
    pub expires_at: String,
}

/// Asks a Super STT 0.2+ daemon for a session token (`POST /v1/auth/request`). The daemon
/// shows the user a consent prompt naming this program and the scopes, so this resolves only
/// once the user answers, or after `timeoutMs` (default 120000). Rejects with
/// `E_UNAUTHORIZED` when the user denies (the daemon remembers a denial until it restarts),
/// `E_DAEMON_UNREACHABLE`, `E_DAEMON_TIMEOUT`, `E_DAEMON_ERROR` or `E_INVALID_OPTION`.
#[napi(
    ts_args_type = "options: TokenRequestOptions",
    ts_return_type = "Promise<TokenGrant>"
)]
pub fn request_token<'env>(
    env: &'env Env,
    options: Object<'_>,
) -> Result<PromiseRaw<'env, TokenGrant>> {
    let config = parse_token_request(options);
    env.spawn_future_with_callback(
        async move {
            let config = match config {
                Ok(config) => config,
                Err(e) => return Ok(Err(e)),
            };
            let timeout = config.timeout;
            Ok(
                match tokio::time::timeout(
                    timeout,
                    http::request_token(&config.socket_path, &config.request),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(CoreError::DaemonTimeout(format!(
                        "no answer to the token request within {} ms",
                        timeout.as_millis()
                    ))),
                },
            )
        },
        |env, r| match r {
            Ok(grant) => Ok(TokenGrant {
                token: grant.token,
                scopes: grant.scopes,
                expires_at: grant.expires_at,
            }),
            Err(e) => Err(to_napi_error(env, &e)),
        },
    )
}

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
    /// Chunks put in the send queue to the daemon. At every call,
    /// `chunksQueued = chunksSent + chunksDroppedQueue + chunksFailed + sendQueueDepth`.
    pub chunks_queued: f64,
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
    /// `off` (no daemon link), `connected`, `disconnected` or `reconnecting`.
    #[napi(ts_type = "'off' | 'connected' | 'disconnected' | 'reconnecting'")]
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
    /// `transcription` and `daemon` events dropped because a listener's queue was full.
    pub other_events_dropped: f64,
    /// True while `pause()`d.
    pub paused: bool,
    /// Time spent paused, ms.
    pub paused_ms: f64,
    /// Device frames discarded while paused (included in `framesCaptured`).
    pub frames_paused: f64,
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

struct Running {
    /// Owns the input: stopping it stops the input first, then drains.
    pipeline: Pipeline,
}

/// The counters of the current (or last) capture.
#[derive(Default, Clone)]
struct Counters {
    capture: Arc<CaptureCounters>,
    pipeline: Arc<PipelineCounters>,
    info: Option<StreamInfo>,
    send_queue_capacity: usize,
}

struct Shared {
    config: CaptureConfig,
    state: tokio::sync::Mutex<Option<Running>>,
    capturing: AtomicBool,
    counters: Mutex<Counters>,
    listeners: Arc<Listeners>,
}

impl Shared {
    async fn start(self: Arc<Self>, start: StartConfig) -> std::result::Result<(), CoreError> {
        let mut state = self.state.lock().await;
        if state.is_some() {
            return Ok(());
        }
        let capture_counters = Arc::new(CaptureCounters::default());
        let pipeline_counters = Arc::new(PipelineCounters::default());
        let sink: Arc<dyn EventSink> = self.listeners.clone();
        let mut link = if self.config.daemon {
            Some(self.open_link(&start, &pipeline_counters, &sink).await?)
        } else {
            None
        };
        let source = self.config.source.clone();
        let counters = capture_counters.clone();
        let opened = tokio::task::spawn_blocking(move || capture::open(&source, counters))
            .await
            .unwrap_or_else(|e| Err(CoreError::Internal(e.to_string())));
        let opened = match opened {
            Ok(opened) => opened,
            Err(e) => {
                if let Some(session) = link.as_mut().and_then(|l| l.session.take()) {
                    let _ = session.end().await;
                }
                return Err(e);
            }
        };
        self.listeners.set_counters(pipeline_counters.clone());
        let mut config = PipelineConfig::new(
            opened.info.sample_rate,
            self.config.chunk_ms,
            self.config.max_buffer_ms,
        );
        config.level_interval = std::time::Duration::from_secs(1) / self.config.level_hz;
        config.spectrum_bands = self.config.spectrum_bands as usize;
        if matches!(self.config.source, capture::Source::Device(_)) {
            config.stall_timeout = Some(self.config.stall_timeout);
            config.silence_warn = self.config.silence_warn;
        }
        config.device_id = opened.info.device_id.clone();
        config.device_name = opened.info.device_name.clone();
        let queue_capacity = config.send_queue_capacity;
        let reopen: Option<pipeline::Reopen> = match &self.config.source {
            capture::Source::Device(_) if self.config.auto_reopen => {
                let (source, counters) = (self.config.source.clone(), capture_counters.clone());
                Some(Arc::new(move || capture::open(&source, counters.clone())))
            }
            _ => None,
        };
        let input = pipeline::Input {
            handle: opened.input,
            reopen,
        };
        let pipeline = pipeline::spawn(
            Some(input),
            opened.ring,
            config,
            capture_counters.clone(),
            pipeline_counters.clone(),
            opened.status,
            sink,
            link,
        )?;
        *self.counters.lock().unwrap_or_else(|p| p.into_inner()) = Counters {
            capture: capture_counters,
            pipeline: pipeline_counters,
            info: Some(opened.info),
            send_queue_capacity: if self.config.daemon {
                queue_capacity
            } else {
                0
            },
        };
        *state = Some(Running { pipeline });
        self.capturing.store(true, Relaxed);
        Ok(())
    }

    /// Connects and starts the daemon session. With `waitForDaemon`, a daemon that does not
    /// answer yet is not an error: the link starts out reconnecting. Refused credentials and
    /// bad paths are errors either way: waiting would not fix them.
    async fn open_link(
        &self,
        start: &StartConfig,
        counters: &Arc<PipelineCounters>,
        sink: &Arc<dyn EventSink>,
    ) -> std::result::Result<Link<AnyConnector>, CoreError> {
        let on_message: MessageHandler = {
            let (counters, sink) = (counters.clone(), sink.clone());
            Arc::new(move |message| match message {
                DaemonMessage::Transcription(t) => {
                    counters.transcriptions.fetch_add(1, Relaxed);
                    sink.transcription(t);
                }
                DaemonMessage::Error(e) => {
                    counters.daemon_errors.fetch_add(1, Relaxed);
                    sink.error(&e);
                }
            })
        };
        let config = &self.config;
        let connector = AnyConnector {
            choice: config.protocol,
            legacy: LegacyConnector::new(
                config.socket_path.clone(),
                config.client_id.clone(),
                TARGET_RATE,
                on_message.clone(),
            ),
            v1: V1Connector::new(
                V1Config {
                    path: config.http_socket_path.clone(),
                    token: config.token.clone(),
                    language: config.language.clone(),
                    sample_rate: TARGET_RATE,
                },
                config.client_id.clone(),
                on_message,
            ),
            legacy_path_given: config.socket_path_given,
            v1_path_given: config.http_socket_path_given,
        };
        let link_config = config.link.clone();
        let session = match link::within(link_config.reply_timeout, connector.connect()).await {
            Ok(session) => Some(session),
            Err(e)
                if start.wait_for_daemon
                    && !matches!(
                        e,
                        CoreError::InvalidOption { .. } | CoreError::Unauthorized(_)
                    ) =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        Ok(Link {
            connector,
            session,
            config: link_config,
        })
    }

    async fn stop(self: Arc<Self>) -> std::result::Result<(), CoreError> {
        let mut state = self.state.lock().await;
        let Some(Running { pipeline }) = state.take() else {
            return Ok(());
        };
        pipeline.stop().await;
        self.capturing.store(false, Relaxed);
        Ok(())
    }
}

/// Captures a microphone, converts it to 16 kHz mono chunks and streams them to the Super STT
/// daemon. Events: `chunk`, `level`, `error`, `warning`, `transcription`, `daemon`, `device`,
/// `end`.
#[napi]
pub struct AudioCapture {
    shared: Arc<Shared>,
    /// JS references to the listeners, for `off()`; only touched on the JS thread.
    listener_refs: Vec<(
        u64,
        EventKind,
        FunctionRef<Unknown<'static>, Unknown<'static>>,
    )>,
    next_listener_id: u64,
}

#[napi]
impl AudioCapture {
    /// Validates the options; nothing is opened until `startCapture()`.
    /// Throws `E_INVALID_OPTION` naming the offending option.
    #[napi(constructor, ts_args_type = "options?: AudioCaptureOptions")]
    pub fn new(env: Env, options: Option<Object<'_>>) -> Result<Self> {
        let config = parse_options(options).map_err(|e| to_napi_error(&env, &e))?;
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                state: tokio::sync::Mutex::new(None),
                capturing: AtomicBool::new(false),
                counters: Mutex::new(Counters::default()),
                listeners: Arc::new(Listeners::default()),
            }),
            listener_refs: Vec::new(),
            next_listener_id: 0,
        })
    }

    /// Opens the device, connects to the daemon and starts its realtime session. Resolves
    /// once audio flows. Rejects with `E_DAEMON_UNREACHABLE`, `E_DAEMON_ERROR`,
    /// `E_DAEMON_TIMEOUT`, `E_NO_DEVICE`, `E_UNSUPPORTED_CONFIG`, `E_DEVICE` or
    /// `E_INVALID_OPTION`, leaving nothing running. With `waitForDaemon: true` an absent
    /// daemon is not an error: audio is queued and the link keeps reconnecting. Harmless when
    /// already capturing.
    #[napi(
        ts_args_type = "options?: StartCaptureOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn start_capture<'env>(
        &self,
        env: &'env Env,
        options: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, ()>> {
        // Bad options reject the promise like every other start failure, never throw.
        let start = parse_start_options(options);
        let shared = self.shared.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(match start {
                    Ok(start) => shared.start(start).await,
                    Err(e) => Err(e),
                })
            },
            |env, r| r.map_err(|e| to_napi_error(env, &e)),
        )
    }

    /// Stops the device, flushes the last partial chunk to the daemon and ends the daemon
    /// session. Harmless when not capturing; the capture can be started again.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop_capture<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let shared = self.shared.clone();
        env.spawn_future_with_callback(async move { Ok(shared.stop().await) }, |env, r| {
            r.map_err(|e| to_napi_error(env, &e))
        })
    }

    /// Pauses a running capture: the device stays open, but nothing is resampled, queued or
    /// sent, and `level` events report silence. Counted in `stats()` (`paused`, `pausedMs`,
    /// `framesPaused`). Harmless when already paused or not capturing (a new capture starts
    /// unpaused).
    #[napi]
    pub fn pause(&self) {
        self.current_counters().paused.store(true, Relaxed);
    }

    /// Resumes a paused capture; the audio continues where it stopped. Harmless when running.
    #[napi]
    pub fn resume(&self) {
        self.current_counters().paused.store(false, Relaxed);
    }

    /// True while paused.
    #[napi(getter)]
    pub fn is_paused(&self) -> bool {
        self.shared.capturing.load(Relaxed) && self.current_counters().paused.load(Relaxed)
    }

    fn current_counters(&self) -> Arc<PipelineCounters> {
        self.shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pipeline
            .clone()
    }

    /// True between a successful `startCapture()` and the end of `stopCapture()`.
    #[napi(getter)]
    pub fn is_capturing(&self) -> bool {
        self.shared.capturing.load(Relaxed)
    }

    /// The session id sent to the daemon.
    #[napi(getter)]
    pub fn client_id(&self) -> String {
        self.shared.config.client_id.clone()
    }

    /// Counters of the current (or last) capture.
    #[napi]
    pub fn stats(&self) -> CaptureStats {
        let Counters {
            capture: cap,
            pipeline: pipe,
            info,
            send_queue_capacity,
        } = self
            .shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let n = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed) as f64;
        let d = pipe.delivery();
        let link_state = pipe.link_state();
        CaptureStats {
            frames_captured: n(&cap.frames_captured),
            frames_dropped: n(&cap.frames_dropped),
            callbacks: n(&cap.callbacks),
            ring_capacity: info.as_ref().map_or(0.0, |i| i.ring_capacity as f64),
            ring_fill: n(&cap.ring_fill),
            ring_high_water: n(&cap.ring_high_water),
            chunks_emitted: n(&pipe.chunks_emitted),
            samples_emitted: n(&pipe.samples_emitted),
            chunks_queued: d.chunks_queued as f64,
            chunks_sent: d.chunks_sent as f64,
            chunks_failed: d.chunks_failed as f64,
            chunks_failed_by_reason: FailureCounts {
                rejected: d.failed_rejected as f64,
                protocol: d.failed_protocol as f64,
                connection: d.failed_connection as f64,
                timeout: d.failed_timeout as f64,
                stopped: d.failed_stopped as f64,
            },
            chunks_dropped_queue: d.chunks_dropped_queue as f64,
            samples_sent: d.samples_sent as f64,
            send_queue_depth: d.send_queue_depth as f64,
            send_queue_high_water: d.send_queue_high_water as f64,
            send_queue_capacity: send_queue_capacity as f64,
            send_attempts_failed: n(&pipe.send_attempts_failed),
            send_latency_p50_ms: pipe.send_latency.quantile_ms(0.5),
            send_latency_p99_ms: pipe.send_latency.quantile_ms(0.99),
            delivery_latency_p50_ms: pipe.delivery_latency.quantile_ms(0.5),
            delivery_latency_p99_ms: pipe.delivery_latency.quantile_ms(0.99),
            daemon_connected: link_state == crate::stats::LinkState::Connected,
            daemon_state: link_state.as_str().to_owned(),
            daemon_protocol: pipe.daemon_protocol().to_owned(),
            daemon_errors: n(&pipe.daemon_errors),
            reconnects: n(&pipe.reconnects),
            connect_failures: n(&pipe.connect_failures),
            transcriptions: n(&pipe.transcriptions),
            chunk_events_dropped: n(&pipe.chunk_events_dropped),
            level_events_dropped: n(&pipe.level_events_dropped),
            error_events_dropped: n(&pipe.error_events_dropped),
            other_events_dropped: n(&pipe.other_events_dropped),
            paused: pipe.paused.load(Relaxed) && self.shared.capturing.load(Relaxed),
            paused_ms: n(&pipe.paused_ms),
            frames_paused: n(&pipe.frames_paused),
            device_state: pipe.device_state().as_str().to_owned(),
            device_stalls: n(&pipe.device_stalls),
            device_reopens: n(&pipe.device_reopens),
            device_reopen_failures: n(&pipe.device_reopen_failures),
            device_sample_rate: info.as_ref().map_or(0.0, |i| i.sample_rate as f64),
            device_channels: info.as_ref().map_or(0.0, |i| i.channels as f64),
            sample_format: info.map(|i| i.sample_format).unwrap_or_default(),
        }
    }

    /// Adds a listener. Throws `E_INVALID_OPTION` for an unknown event name.
    #[napi(
        ts_generic_types = "E extends keyof AudioCaptureEvents",
        ts_args_type = "event: E, listener: AudioCaptureEvents[E]",
        ts_return_type = "this"
    )]
    pub fn on<'a>(
        &mut self,
        env: Env,
        this: This<'a>,
        event: String,
        listener: Function<'_, Unknown<'static>, Unknown<'static>>,
    ) -> Result<This<'a>> {
        let kind = parse_event(&env, &event)?;
        let func: ListenerFn = listener
            .build_threadsafe_function::<events::JsEvent>()
            .callee_handled::<false>()
            .weak::<true>()
            .max_queue_size::<LISTENER_QUEUE>()
            .build_callback(|ctx| Ok(ctx.value))?;
        let id = self.next_listener_id;
        self.next_listener_id += 1;
        self.listener_refs.push((id, kind, listener.create_ref()?));
        self.shared.listeners.add(Listener {
            id,
            kind,
            func: Arc::new(func),
            latest_level: Default::default(),
        });
        Ok(this)
    }

    /// Removes a listener added with `on` (the most recently added match, like Node's
    /// EventEmitter).
    #[napi(
        ts_generic_types = "E extends keyof AudioCaptureEvents",
        ts_args_type = "event: E, listener: AudioCaptureEvents[E]",
        ts_return_type = "this"
    )]
    pub fn off<'a>(
        &mut self,
        env: Env,
        this: This<'a>,
        event: String,
        listener: Function<'_, Unknown<'static>, Unknown<'static>>,
    ) -> Result<This<'a>> {
        let kind = parse_event(&env, &event)?;
        let mut found = None;
        for (i, (_, k, r)) in self.listener_refs.iter().enumerate().rev() {
            if *k == kind && env.strict_equals(r.borrow_back(&env)?, listener)? {
                found = Some(i);
                break;
            }
        }
        if let Some(i) = found {
            let (id, _, _) = self.listener_refs.remove(i);
            self.shared.listeners.remove(id);
        }
        Ok(this)
    }
}

fn parse_event(env: &Env, event: &str) -> Result<EventKind> {
    EventKind::parse(event).ok_or_else(|| {
        to_napi_error(
            env,
            &CoreError::invalid_option(
                "event",
                format!(
                    "unknown event {event:?}; events: {}",
                    EventKind::NAMES.join(", ")
                ),
            ),
        )
    })
}
