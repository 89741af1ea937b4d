//! Delivery of core [`Event`]s to JS listeners, and their JS shapes. Each listener is a weak
//! `ThreadsafeFunction` (it does not keep Node alive) with a bounded queue; a full queue drops
//! the event and the core counts it. Levels are latest-wins instead: at most one queued call
//! per listener, which delivers whatever level is newest when JS runs it. Never called from
//! the audio callback.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::error::Error as CoreError;
use crate::events::{Event, EventKind, EventSink, LevelReading};

/// Events queued per listener before new ones are dropped (and counted).
pub const LISTENER_QUEUE: usize = 64;

pub type ListenerFn =
    ThreadsafeFunction<JsEvent, Unknown<'static>, JsEvent, Status, false, true, LISTENER_QUEUE>;

/// A chunk of 16 kHz mono audio, exactly `chunkMs` long except the last one of a capture.
#[napi(object)]
pub struct ChunkEvent {
    /// Counts from 0 without gaps within one capture.
    pub seq: u32,
    /// Mono samples in [-1, 1] at 16 kHz.
    pub samples: Float32Array,
    /// Wall-clock time (ms since the Unix epoch) of the chunk's first sample.
    pub captured_at_ms: f64,
}

/// Signal level of the 16 kHz audio since the previous level event (at most `levelHz` a
/// second; when JS is busy, only the latest is kept).
#[napi(object)]
pub struct LevelEvent {
    /// Root mean square of the samples, 0..1.
    pub rms: f64,
    /// Largest absolute sample, 0..1.
    pub peak: f64,
    /// `rms` in dB relative to full scale (floored at -120).
    pub rms_dbfs: f64,
    /// `peak` in dB relative to full scale (floored at -120).
    pub peak_dbfs: f64,
    /// The input reached full scale (|sample| ≥ 0.999, before resampling) in this period.
    pub clipped: bool,
    /// With `spectrumBands`: band levels in dBFS (floored at -120), log-spaced from 50 Hz to
    /// 8 kHz, lowest first, over the last 128 ms. A full-scale sine reads -3 dBFS in its band.
    pub bands: Option<Float32Array>,
    /// Wall-clock time (ms since the Unix epoch) of the last sample measured.
    pub at_ms: f64,
}

/// A file input reached its end (not with `loop`); every chunk was emitted before this.
/// Call `stopCapture()` to finish delivering them to the daemon.
#[napi(object)]
pub struct EndEvent {
    /// Frames read from the file, at its own rate.
    pub frames: f64,
    pub duration_ms: f64,
}

/// A realtime transcription the daemon produced for this capture's session.
#[napi(object)]
pub struct TranscriptionEvent {
    pub text: String,
    pub client_id: String,
    /// RFC 3339: the daemon's timestamp (legacy) or when the result arrived (v1).
    pub timestamp: String,
    /// `true` for a finished result (v1 `done`, the last one arrives before `stopCapture()`
    /// resolves). `false` for a preview that later audio may change: v1 `preview`, and every
    /// legacy result (the legacy daemon re-transcribes a rolling window and never finishes).
    #[napi(js_name = "final")]
    pub is_final: bool,
}

/// A change of the daemon link's state.
#[napi(object)]
pub struct DaemonEvent {
    /// `connected`: audio flows to the daemon. `disconnected`: the link broke (see `code` and
    /// `reason`); chunks wait in the send queue. `reconnecting`: attempt number `attempt`
    /// starts after `delayMs`.
    #[napi(ts_type = "'connected' | 'disconnected' | 'reconnecting'")]
    pub state: String,
    /// Reconnect attempt, from 1 (with `reconnecting`).
    pub attempt: Option<u32>,
    /// Wait before that attempt, ms (with `reconnecting`).
    pub delay_ms: Option<f64>,
    /// Error code of why the link went down (with `disconnected`), or of why the previous
    /// attempt failed (with `reconnecting`).
    pub code: Option<String>,
    /// Error message to go with `code`.
    pub reason: Option<String>,
    /// The session's protocol (with `connected`).
    #[napi(ts_type = "'legacy' | 'v1'")]
    pub protocol: Option<String>,
}

/// Something worth telling the user that is not a failure; `code` is stable.
#[napi(object)]
pub struct WarningEvent {
    /// `W_ALL_ZERO_INPUT`: the device delivered only exact zeros for `silenceWarnMs` (a
    /// muted or unplugged microphone, or access denied). Once per run of zeros.
    #[napi(ts_type = "'W_ALL_ZERO_INPUT'")]
    pub code: String,
    pub message: String,
}

/// A change of the input device's state.
#[napi(object)]
pub struct DeviceEvent {
    /// `running` (at start, after a stall ends, after a reopen), `stalled` (no audio for
    /// `stallTimeoutMs`), `lost` (the device went away), `reopening` (`autoReopen` is opening it
    /// again, with backoff), `ended` (a file input reached its end). `id` and `name` are those
    /// of the device now in use (after a reopen of the default, possibly a new one).
    #[napi(ts_type = "'running' | 'stalled' | 'lost' | 'reopening' | 'ended'")]
    pub state: String,
    /// The device's id (as `listInputDevices()` reports it) or `file:<path>`.
    pub id: String,
    pub name: String,
}

/// What a listener's thread-safe function carries to the JS thread.
pub enum JsEvent {
    Event(Event),
    /// Delivered as whatever the slot holds when JS runs the call: the latest level.
    Level(Arc<LatestLevel>),
}

/// Latest-wins delivery of levels to one listener: at most one call is queued; a newer level
/// replaces the one waiting in the slot, and the replaced one counts as dropped.
#[derive(Default)]
pub struct LatestLevel {
    slot: Mutex<LevelSlot>,
}

#[derive(Default)]
struct LevelSlot {
    reading: Option<LevelReading>,
    call_queued: bool,
}

impl LatestLevel {
    fn lock(&self) -> std::sync::MutexGuard<'_, LevelSlot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `reading`. Returns whether it replaced an undelivered one, and whether the
    /// caller must queue a call (none is queued yet).
    fn offer(&self, reading: LevelReading) -> (bool, bool) {
        let mut slot = self.lock();
        let replaced = slot.reading.replace(reading).is_some();
        let queue_call = !std::mem::replace(&mut slot.call_queued, true);
        (replaced, queue_call)
    }

    /// The queued call could not be made: forget it and its reading.
    fn call_failed(&self) {
        let mut slot = self.lock();
        slot.call_queued = false;
        slot.reading = None;
    }

    /// On the JS thread, when the queued call runs.
    fn take(&self) -> Option<LevelReading> {
        let mut slot = self.lock();
        slot.call_queued = false;
        slot.reading.take()
    }
}

/// Creates a JS `Error` whose `code` is the stable error code.
pub fn create_js_error(env: sys::napi_env, code: &str, message: &str) -> Result<sys::napi_value> {
    // SAFETY: `env` is the live env of the JS thread this runs on (a TSFN call or a
    // promise-settling callback); every napi value here is created and used within it.
    unsafe {
        let code = ToNapiValue::to_napi_value(env, code)?;
        let message = ToNapiValue::to_napi_value(env, message)?;
        let mut error = std::ptr::null_mut();
        let status = sys::napi_create_error(env, code, message, &mut error);
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::from(status), "cannot create an Error"));
        }
        Ok(error)
    }
}

/// A core error as a `napi::Error` that rejects/throws as a JS `Error` with `code` set.
pub fn to_napi_error(env: &Env, error: &CoreError) -> Error {
    match create_js_error(env.raw(), error.code(), &error.to_string()) {
        // SAFETY: `value` was just created in this env on this thread.
        Ok(value) => Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }),
        Err(e) => e,
    }
}

fn level_event(reading: LevelReading) -> LevelEvent {
    let LevelReading {
        level: l,
        bands,
        at_ms,
    } = reading;
    LevelEvent {
        rms: l.rms,
        peak: l.peak,
        rms_dbfs: l.rms_dbfs,
        peak_dbfs: l.peak_dbfs,
        clipped: l.clipped,
        bands: bands.map(Float32Array::new),
        at_ms,
    }
}

/// Converts a napi object to a JS value.
///
/// # Safety
/// `env` must be the live env of the JS thread this runs on.
unsafe fn js<T: ToNapiValue>(env: sys::napi_env, value: T) -> Result<sys::napi_value> {
    // SAFETY: the caller's contract.
    unsafe { T::to_napi_value(env, value) }
}

impl ToNapiValue for JsEvent {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let event = match val {
            JsEvent::Event(event) => event,
            JsEvent::Level(latest) => match latest.take() {
                Some(reading) => Event::Level(reading),
                // Unreachable: a reading is stored before each call is queued.
                None => Event::Level(LevelReading {
                    level: crate::dsp::levels::Level::silence(),
                    bands: None,
                    at_ms: 0.0,
                }),
            },
        };
        // SAFETY: `env` is the live env of the JS thread running this TSFN call, which
        // every `js` call below converts in.
        unsafe {
            match event {
                Event::Chunk(c) => js(
                    env,
                    ChunkEvent {
                        seq: c.chunk.seq as u32,
                        samples: Float32Array::new(c.chunk.samples),
                        captured_at_ms: c.captured_at_ms,
                    },
                ),
                Event::Level(reading) => js(env, level_event(reading)),
                Event::Error(e) => create_js_error(env, e.code(), &e.to_string()),
                Event::Transcription(t) => js(
                    env,
                    TranscriptionEvent {
                        text: t.text,
                        client_id: t.client_id,
                        timestamp: t.timestamp,
                        is_final: t.is_final,
                    },
                ),
                Event::Daemon(d) => js(
                    env,
                    DaemonEvent {
                        state: d.state.as_str().to_owned(),
                        attempt: d.attempt,
                        delay_ms: d.delay.map(|d| d.as_secs_f64() * 1000.0),
                        code: d.error.as_ref().map(|e| e.code().to_owned()),
                        reason: d.error.as_ref().map(|e| e.to_string()),
                        protocol: d.protocol.map(str::to_owned),
                    },
                ),
                Event::End(end) => js(
                    env,
                    EndEvent {
                        frames: end.frames as f64,
                        duration_ms: end.duration_ms,
                    },
                ),
                Event::Warning(w) => js(
                    env,
                    WarningEvent {
                        code: w.warning.code().to_owned(),
                        message: w.message,
                    },
                ),
                Event::Device(d) => js(
                    env,
                    DeviceEvent {
                        state: d.state.as_str().to_owned(),
                        id: d.id,
                        name: d.name,
                    },
                ),
            }
        }
    }
}

pub struct Listener {
    pub id: u64,
    pub kind: EventKind,
    pub func: Arc<ListenerFn>,
    /// Used by `level` listeners only.
    pub latest_level: Arc<LatestLevel>,
}

/// The listeners events go to. Shared with the core's tasks; holds no JS references (those
/// stay on the JS thread), only thread-safe functions.
#[derive(Default)]
pub struct Listeners {
    list: Mutex<Vec<Listener>>,
}

impl Listeners {
    pub fn add(&self, listener: Listener) {
        self.lock().push(listener);
    }

    pub fn remove(&self, id: u64) {
        self.lock().retain(|l| l.id != id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Listener>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Latest wins: a listener whose previous level is still waiting for JS gets this one in
    /// its place, so a busy event loop never accumulates levels.
    fn emit_level(&self, reading: LevelReading) -> u64 {
        let mut dropped = 0;
        for l in self.lock().iter().filter(|l| l.kind == EventKind::Level) {
            let (replaced, queue_call) = l.latest_level.offer(reading.clone());
            dropped += replaced as u64;
            if queue_call {
                let event = JsEvent::Level(l.latest_level.clone());
                if l.func.call(event, ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                    l.latest_level.call_failed();
                    dropped += 1;
                }
            }
        }
        dropped
    }
}

impl EventSink for Listeners {
    fn wants(&self, kind: EventKind) -> bool {
        self.lock().iter().any(|l| l.kind == kind)
    }

    fn emit(&self, event: Event) -> u64 {
        let event = match event {
            Event::Level(reading) => return self.emit_level(reading),
            event => event,
        };
        let kind = event.kind();
        let list = self.lock();
        let targets = || list.iter().filter(|l| l.kind == kind);
        let count = targets().count();
        let mut dropped = 0;
        let mut event = Some(event);
        for (i, l) in targets().enumerate() {
            // The last listener takes the event itself; the others get copies.
            let payload = if i + 1 == count {
                event.take()
            } else {
                event.clone()
            };
            let Some(payload) = payload else { break };
            let call = l.func.call(
                JsEvent::Event(payload),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
            dropped += (call != Status::Ok) as u64;
        }
        dropped
    }
}
