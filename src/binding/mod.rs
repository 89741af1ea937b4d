//! The only code that uses napi: the `AudioCapture` class, `listInputDevices`, option
//! parsing and the mapping of core errors to JS errors with a stable `code`.

mod events;
mod options;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::capture::{self, StreamInfo};
use crate::error::Error as CoreError;
use crate::pipeline::{self, EventSink, Pipeline, PipelineConfig};
use crate::stats::{CaptureCounters, PipelineCounters};
use crate::transport::legacy::LegacyLink;
use events::{to_napi_error, EventKind, Listener, ListenerFn, Listeners, LISTENER_QUEUE};
use options::{parse_options, CaptureConfig};

/// An input device as `listInputDevices()` reports it.
#[napi(object)]
pub struct InputDevice {
    /// Stable id to pass as the `device` option.
    pub id: String,
    pub name: String,
    pub is_default: bool,
    /// The largest channel count the device offers.
    pub channels: u32,
    /// Common sample rates (Hz) the device supports.
    pub sample_rates: Vec<u32>,
}

/// Lists the audio input devices. Runs off the JS thread and prints nothing.
#[napi(ts_return_type = "Promise<Array<InputDevice>>")]
pub fn list_input_devices(env: &Env) -> Result<PromiseRaw<'_, Vec<InputDevice>>> {
    env.spawn_future_with_callback(
        async {
            let listed = tokio::task::spawn_blocking(capture::list_input_devices)
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
                })
                .collect()),
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
    /// Chunks put in the send queue to the daemon.
    pub chunks_queued: f64,
    /// Chunks the daemon acknowledged.
    pub chunks_sent: f64,
    /// Chunks that failed to send (error reply, broken connection).
    pub chunks_failed: f64,
    /// Chunks dropped from a full send queue (oldest first).
    pub chunks_dropped_queue: f64,
    /// 16 kHz samples the daemon acknowledged.
    pub samples_sent: f64,
    /// Chunks waiting for the daemon or in flight.
    pub send_queue_depth: f64,
    pub send_queue_high_water: f64,
    /// Median time from sending a chunk to the daemon's reply, ms.
    pub send_latency_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub send_latency_p99_ms: f64,
    /// `chunk` events dropped because a listener's queue was full.
    pub chunk_events_dropped: f64,
    /// `level` events dropped because a listener's queue was full.
    pub level_events_dropped: f64,
    /// 0 until a capture has started.
    pub device_sample_rate: f64,
    pub device_channels: f64,
    /// cpal's name of the device sample format, e.g. `f32`, `i16`.
    pub sample_format: String,
}

struct Running {
    stream: cpal::Stream,
    pipeline: Pipeline,
}

struct Shared {
    config: CaptureConfig,
    state: tokio::sync::Mutex<Option<Running>>,
    capturing: AtomicBool,
    counters: Mutex<(
        Arc<CaptureCounters>,
        Arc<PipelineCounters>,
        Option<StreamInfo>,
    )>,
    listeners: Arc<Listeners>,
}

impl Shared {
    async fn start(self: Arc<Self>) -> std::result::Result<(), CoreError> {
        let mut state = self.state.lock().await;
        if state.is_some() {
            return Ok(());
        }
        let capture_counters = Arc::new(CaptureCounters::default());
        let pipeline_counters = Arc::new(PipelineCounters::default());
        let sink: Arc<dyn EventSink> = self.listeners.clone();
        let transport = if self.config.daemon {
            let sink = sink.clone();
            Some(
                LegacyLink::open(
                    self.config.socket_path.clone(),
                    self.config.client_id.clone(),
                    Box::new(move |t| sink.transcription(t)),
                )
                .await?,
            )
        } else {
            None
        };
        let device = self.config.device.clone();
        let counters = capture_counters.clone();
        let opened =
            tokio::task::spawn_blocking(move || capture::open_input(device.as_deref(), counters))
                .await
                .unwrap_or_else(|e| Err(CoreError::Internal(e.to_string())));
        let opened = match opened {
            Ok(opened) => opened,
            Err(e) => {
                if let Some(mut link) = transport {
                    use crate::transport::Transport;
                    let _ = link.end_session().await;
                }
                return Err(e);
            }
        };
        self.listeners.set_counters(pipeline_counters.clone());
        let config = PipelineConfig::new(opened.info.sample_rate, self.config.chunk_ms);
        let pipeline = pipeline::spawn(
            opened.ring,
            config,
            capture_counters.clone(),
            pipeline_counters.clone(),
            opened.errors,
            sink,
            transport,
        )?;
        *self.counters.lock().unwrap_or_else(|p| p.into_inner()) =
            (capture_counters, pipeline_counters, Some(opened.info));
        *state = Some(Running {
            stream: opened.stream,
            pipeline,
        });
        self.capturing.store(true, Relaxed);
        Ok(())
    }

    async fn stop(self: Arc<Self>) -> std::result::Result<(), CoreError> {
        let mut state = self.state.lock().await;
        let Some(Running { stream, pipeline }) = state.take() else {
            return Ok(());
        };
        // Stop the device first so the pipeline's final drain sees every frame. Dropping a
        // stream joins cpal's capture thread: do it on a blocking thread, not a runtime worker.
        let _ = tokio::task::spawn_blocking(move || drop(stream)).await;
        pipeline.stop().await;
        self.capturing.store(false, Relaxed);
        Ok(())
    }
}

/// Captures a microphone, converts it to 16 kHz mono chunks and streams them to the Super STT
/// daemon. Events: `chunk`, `level`, `error`, `transcription`.
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
                counters: Mutex::new((Default::default(), Default::default(), None)),
                listeners: Arc::new(Listeners::default()),
            }),
            listener_refs: Vec::new(),
            next_listener_id: 0,
        })
    }

    /// Opens the device, connects to the daemon and starts its realtime session. Resolves
    /// once audio flows. Rejects with `E_DAEMON_UNREACHABLE`, `E_NO_DEVICE`,
    /// `E_UNSUPPORTED_CONFIG` or `E_DEVICE`, leaving nothing running. Harmless when already
    /// capturing.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn start_capture<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let shared = self.shared.clone();
        env.spawn_future_with_callback(async move { Ok(shared.start().await) }, |env, r| {
            r.map_err(|e| to_napi_error(env, &e))
        })
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
        let (cap, pipe, info) = self
            .shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let n = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed) as f64;
        CaptureStats {
            frames_captured: n(&cap.frames_captured),
            frames_dropped: n(&cap.frames_dropped),
            callbacks: n(&cap.callbacks),
            ring_capacity: info.as_ref().map_or(0.0, |i| i.ring_capacity as f64),
            ring_fill: n(&cap.ring_fill),
            ring_high_water: n(&cap.ring_high_water),
            chunks_emitted: n(&pipe.chunks_emitted),
            samples_emitted: n(&pipe.samples_emitted),
            chunks_queued: n(&pipe.chunks_queued),
            chunks_sent: n(&pipe.chunks_sent),
            chunks_failed: n(&pipe.chunks_failed),
            chunks_dropped_queue: n(&pipe.chunks_dropped_queue),
            samples_sent: n(&pipe.samples_sent),
            send_queue_depth: n(&pipe.send_queue_depth),
            send_queue_high_water: n(&pipe.send_queue_high_water),
            send_latency_p50_ms: pipe.send_latency.quantile_ms(0.5),
            send_latency_p99_ms: pipe.send_latency.quantile_ms(0.99),
            chunk_events_dropped: n(&pipe.chunk_events_dropped),
            level_events_dropped: n(&pipe.level_events_dropped),
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
