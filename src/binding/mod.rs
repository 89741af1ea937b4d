//! The only code that uses napi: the `AudioCapture` class over the core's
//! [`session::Capture`], the module functions, and conversions (JS options into the core's
//! option values, core events and stats into JS objects, core errors into JS errors with a
//! stable `code`). No lifecycle decision is made here.

mod events;
mod stats;
mod values;

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::ValueType;
use napi_derive::napi;

use crate::capture;
use crate::error::Error as CoreError;
use crate::events::EventKind;
use crate::options::parse::{parse_list_options, StartConfig, TokenRequestConfig};
use crate::session::{self, Capture, CaptureConfig};
use crate::sinks::record::writer::{Ended, Summary};
use crate::sinks::record::RecordOptions;
use crate::transport::any::AnyConnector;
use events::{to_napi_error, Listener, ListenerFn, Listeners, LISTENER_QUEUE};
pub use stats::{CaptureStats, FailureCounts};
use values::to_value;

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
    ts_args_type = "options?: ListInputDevicesOptions",
    ts_return_type = "Promise<Array<InputDevice>>"
)]
pub fn list_input_devices<'env>(
    env: &'env Env,
    options: Option<Unknown<'_>>,
) -> Result<PromiseRaw<'env, Vec<InputDevice>>> {
    let host = to_value(options).and_then(|v| parse_list_options(&v));
    env.spawn_future_with_callback(
        async move {
            let host = match host {
                Ok(host) => host,
                Err(e) => return Ok(Err(e)),
            };
            Ok(
                tokio::task::spawn_blocking(move || capture::list_input_devices(host.as_deref()))
                    .await
                    .unwrap_or_else(|e| Err(CoreError::Internal(e.to_string()))),
            )
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
    options: Option<Unknown<'_>>,
) -> Result<PromiseRaw<'env, TokenGrant>> {
    let config = to_value(options).and_then(|v| TokenRequestConfig::parse(&v));
    env.spawn_future_with_callback(
        async move {
            Ok(match config {
                Ok(config) => session::request_token(&config).await,
                Err(e) => Err(e),
            })
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

/// What a finished recording holds.
#[napi(object)]
pub struct RecordingSummary {
    pub path: String,
    /// Mono frames in the file.
    pub frames: f64,
    pub duration_ms: f64,
    pub sample_rate: u32,
    #[napi(ts_type = "'f32' | 's16'")]
    pub format: String,
    /// Why it ended early: `E_RECORD_OVERRUN` or `E_RECORD_FAILED`; absent after a stop.
    pub error_code: Option<String>,
    /// The message of that error.
    pub error: Option<String>,
}

impl From<Summary> for RecordingSummary {
    fn from(s: Summary) -> Self {
        let (error_code, error) = match &s.ended {
            Ended::Stop => (None, None),
            Ended::Error(e) => (Some(e.code().to_owned()), Some(e.to_string())),
        };
        RecordingSummary {
            path: s.path.display().to_string(),
            frames: s.frames as f64,
            duration_ms: s.duration_ms(),
            sample_rate: s.sample_rate,
            format: s.format.as_str().to_owned(),
            error_code,
            error,
        }
    }
}

/// Runs when the addon loads, before any call: the runtime the session asks for, instead of
/// napi's default (one worker per core). Without it, napi's default still works.
#[napi_derive::module_init]
fn init() {
    if let Ok(runtime) = session::runtime() {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

/// Captures a microphone, converts it to 16 kHz mono chunks and streams them to the Super STT
/// daemon. Events: `chunk`, `level`, `error`, `warning`, `transcription`, `daemon`, `device`,
/// `end`.
#[napi]
pub struct AudioCapture {
    capture: Arc<Capture<AnyConnector>>,
    listeners: Arc<Listeners>,
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
    pub fn new(env: Env, options: Option<Unknown<'_>>) -> Result<Self> {
        let config = to_value(options)
            .and_then(|v| CaptureConfig::parse(&v))
            .map_err(|e| to_napi_error(&env, &e))?;
        let listeners = Arc::new(Listeners::default());
        Ok(Self {
            capture: Arc::new(Capture::new(config, listeners.clone())),
            listeners,
            listener_refs: Vec::new(),
            next_listener_id: 0,
        })
    }

    /// Opens the device, connects to the daemon and starts its realtime session. Resolves
    /// once audio flows. Rejects with `E_DAEMON_UNREACHABLE`, `E_DAEMON_ERROR`,
    /// `E_DAEMON_TIMEOUT`, `E_NO_DEVICE`, `E_UNSUPPORTED_CONFIG`, `E_DEVICE` or
    /// `E_INVALID_OPTION`, leaving nothing running. With `waitForDaemon: true` an absent
    /// daemon is not an error: audio is queued and the link keeps reconnecting. With
    /// `paused: true` it starts as `pause()` leaves it (push-to-talk: `resume()` to talk).
    /// Harmless when already capturing.
    #[napi(
        ts_args_type = "options?: StartCaptureOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn start_capture<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, ()>> {
        // Bad options reject the promise like every other start failure, never throw.
        let start = to_value(options).and_then(|v| StartConfig::parse(&v));
        let capture = self.capture.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(match start {
                    Ok(start) => capture.start(start).await,
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
        let capture = self.capture.clone();
        env.spawn_future_with_callback(async move { Ok(capture.stop().await) }, |env, r| {
            r.map_err(|e| to_napi_error(env, &e))
        })
    }

    /// Starts recording the running capture to a WAV file, from its next block: a writer
    /// thread of its own, the header's sizes updated every 250 ms so the file is valid even
    /// if the process is killed. Resolves once the file is created. Rejects with
    /// `E_RECORD_FAILED` (the OS reason: the file exists and `overwrite` is not set, a
    /// missing folder, a directory, permission), `E_INVALID_STATE` (not capturing, or already
    /// recording) or `E_INVALID_OPTION`. Later failures (`E_RECORD_FAILED`: disk full, file
    /// too large; `E_RECORD_OVERRUN`: the disk fell `bufferMs` behind) are `error` events:
    /// the recording stops at a block boundary, the file stays valid, the capture goes on.
    #[napi(
        ts_args_type = "options: RecordingOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn start_recording<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let options = to_value(options).and_then(|v| RecordOptions::from_value(&v));
        let capture = self.capture.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(match options {
                    Ok(options) => capture.start_recording(options).await,
                    Err(e) => Err(e),
                })
            },
            |env, r| r.map_err(|e| to_napi_error(env, &e)),
        )
    }

    /// Stops the recording after the block in progress; resolves once its file is final and
    /// fsynced, with what it holds. For a recording that already ended (with
    /// `stopCapture()`, or on its own after an error, which `error` says) it resolves with
    /// that one. Rejects with `E_INVALID_STATE` when there is none.
    #[napi(ts_return_type = "Promise<RecordingSummary>")]
    pub fn stop_recording<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, RecordingSummary>> {
        let capture = self.capture.clone();
        env.spawn_future_with_callback(
            async move { Ok(capture.stop_recording().await) },
            |env, r| {
                r.map(RecordingSummary::from)
                    .map_err(|e| to_napi_error(env, &e))
            },
        )
    }

    /// Pauses a running capture: the device stays open, but nothing is resampled, queued or
    /// sent, and `level` events report silence. A device that can stop (a PulseAudio
    /// stream, ALSA hardware that can pause) is stopped, so a paused capture costs next to
    /// nothing; another runs on and its audio is discarded. Counted in `stats()` (`paused`,
    /// `pausedMs`, `framesPaused`). Harmless when already paused or not capturing (a new
    /// capture starts unpaused).
    #[napi]
    pub fn pause(&self) {
        self.capture.pause();
    }

    /// Resumes a paused capture; the audio continues where it stopped. Harmless when running.
    #[napi]
    pub fn resume(&self) {
        self.capture.resume();
    }

    /// True while paused.
    #[napi(getter)]
    pub fn is_paused(&self) -> bool {
        self.capture.is_paused()
    }

    /// True between a successful `startCapture()` and the end of `stopCapture()`.
    #[napi(getter)]
    pub fn is_capturing(&self) -> bool {
        self.capture.is_capturing()
    }

    /// The session id sent to the daemon.
    #[napi(getter)]
    pub fn client_id(&self) -> String {
        self.capture.config().client_id.clone()
    }

    /// Counters of the current (or last) capture.
    #[napi]
    pub fn stats(&self) -> CaptureStats {
        self.capture.snapshot().into()
    }

    /// Adds a listener. Throws `E_INVALID_OPTION` for an unknown event name or a listener
    /// that is not a function.
    #[napi(
        ts_generic_types = "E extends keyof AudioCaptureEvents",
        ts_args_type = "event: E, listener: AudioCaptureEvents[E]",
        ts_return_type = "this"
    )]
    pub fn on<'a>(
        &mut self,
        env: Env,
        this: This<'a>,
        event: Unknown<'_>,
        listener: Unknown<'_>,
    ) -> Result<This<'a>> {
        let kind = event_kind(&env, &event)?;
        let listener = function(&env, &listener)?;
        let func: ListenerFn = listener
            .build_threadsafe_function::<events::JsEvent>()
            .callee_handled::<false>()
            .weak::<true>()
            .max_queue_size::<LISTENER_QUEUE>()
            .build_callback(|ctx| Ok(ctx.value))?;
        let id = self.next_listener_id;
        self.next_listener_id += 1;
        self.listener_refs.push((id, kind, listener.create_ref()?));
        self.listeners.add(Listener {
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
        event: Unknown<'_>,
        listener: Unknown<'_>,
    ) -> Result<This<'a>> {
        let kind = event_kind(&env, &event)?;
        let listener = function(&env, &listener)?;
        let mut found = None;
        for (i, (_, k, r)) in self.listener_refs.iter().enumerate().rev() {
            if *k == kind && env.strict_equals(r.borrow_back(&env)?, listener)? {
                found = Some(i);
                break;
            }
        }
        if let Some(i) = found {
            let (id, _, _) = self.listener_refs.remove(i);
            self.listeners.remove(id);
        }
        Ok(this)
    }
}

fn invalid(env: &Env, option: &str, reason: String) -> Error {
    to_napi_error(env, &CoreError::invalid_option(option, reason))
}

fn event_kind(env: &Env, event: &Unknown<'_>) -> Result<EventKind> {
    let names = EventKind::NAMES.join(", ");
    if event.get_type()? != ValueType::String {
        let got = values::describe(event);
        return Err(invalid(
            env,
            "event",
            format!("must be an event name ({names}); got {got}"),
        ));
    }
    // SAFETY: the type was checked to be a string just above.
    let name: String = unsafe { event.cast() }?;
    EventKind::parse(&name).ok_or_else(|| {
        invalid(
            env,
            "event",
            format!("unknown event {name:?}; events: {names}"),
        )
    })
}

fn function<'a>(
    env: &Env,
    listener: &Unknown<'a>,
) -> Result<Function<'a, Unknown<'static>, Unknown<'static>>> {
    if listener.get_type()? != ValueType::Function {
        let got = values::describe(listener);
        return Err(invalid(
            env,
            "listener",
            format!("must be a function (got {got})"),
        ));
    }
    // SAFETY: the type was checked to be a function just above.
    unsafe { listener.cast() }
}
