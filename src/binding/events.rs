//! Delivery of core [`Event`]s to JS listeners (their JS shapes are the core's:
//! `Event::into_js`). Each listener is a weak
//! `ThreadsafeFunction` (it does not keep Node alive) with a bounded queue; a full queue drops
//! the event and the core counts it. Levels are latest-wins instead: at most one queued call
//! per listener, which delivers whatever level is newest when JS runs it. Never called from
//! the audio callback.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

use super::values::to_js;
use crate::error::Error as CoreError;
use crate::events::{Event, EventKind, EventSink, LevelReading};

/// Events queued per listener before new ones are dropped (and counted).
pub const LISTENER_QUEUE: usize = 64;

pub type ListenerFn =
    ThreadsafeFunction<JsEvent, Unknown<'static>, JsEvent, Status, false, true, LISTENER_QUEUE>;

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
        // SAFETY: `env` is the live env of the JS thread running this TSFN call.
        unsafe { to_js(env, event.into_js()) }
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
