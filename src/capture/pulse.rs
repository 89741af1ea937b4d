//! Capture from a PulseAudio (or pipewire-pulse) source through the server's own client
//! library, `libpulse.so.0`, loaded at run time: a machine without it still loads the addon
//! and captures through cpal's host instead.
//!
//! Why not cpal's PulseAudio stream: it caps the server-side record buffer at one fragment, so
//! audio the client has not read within 10–20 ms is dropped by the server where no counter of
//! ours can see it (measured: 47,750–47,780 frames/s of 48,000 with 20 ms fragments); it asks
//! the server for timing information after every callback (a second thread and a round trip
//! per fragment); and its reactor zero-fills a 1 MiB buffer on every socket read.
//!
//! Here nothing runs on a thread of its own. The server sends a fragment every
//! [`FRAGMENT_MS`] and holds up to [`SERVER_BUFFER_MS`] for us; the pipeline reads what has
//! arrived ([`PulseInput::pump`], never blocking) whenever it wakes for its own work, and
//! hands it to the same [`Processor`] a device callback runs. So a capture wakes about ten
//! times a second instead of once per fragment, and a hole in the stream (audio the server
//! dropped) is counted as dropped frames.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ringbuf::HeapProd;

use super::processor::Processor;
use super::InputStatus;
use crate::error::{Error, Result};
use crate::stats::CaptureCounters;

/// The fragment size asked of the server: how often audio arrives (and so how late the last
/// samples of a chunk can be). It costs us nothing: the pipeline reads at its own pace.
pub const FRAGMENT_MS: u32 = 10;
/// Audio the server keeps for us when the reader falls behind, before it drops any.
pub const SERVER_BUFFER_MS: u32 = 2000;
/// The longest wait for the server to accept the connection and the stream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Main loop iterations one pump runs at most: each dispatches what the server sent (a
/// fragment takes one or two), so this bounds a pump to a few seconds of fragments.
const PUMP_ITERATIONS: usize = 512;

// <pulse/def.h>, <pulse/sample.h>
const PA_SAMPLE_FLOAT32LE: c_int = 5;
const PA_CONTEXT_NOAUTOSPAWN: c_int = 1;
const PA_CONTEXT_READY: c_int = 4;
const PA_CONTEXT_FAILED: c_int = 5;
const PA_CONTEXT_TERMINATED: c_int = 6;
const PA_STREAM_READY: c_int = 2;
const PA_STREAM_FAILED: c_int = 3;
const PA_STREAM_TERMINATED: c_int = 4;
const PA_STREAM_ADJUST_LATENCY: c_int = 0x2000;
// <pulse/error.h>: nothing to open, as opposed to a failing one.
const PA_ERR_CONNECTIONREFUSED: c_int = 6;
const PA_ERR_NOENTITY: c_int = 5;
/// `(uint32_t) -1`: the server's default for a buffer attribute.
const PA_DEFAULT: u32 = u32::MAX;

#[repr(C)]
struct SampleSpec {
    format: c_int,
    rate: u32,
    channels: u8,
}

#[repr(C)]
struct BufferAttr {
    maxlength: u32,
    tlength: u32,
    prebuf: u32,
    minreq: u32,
    fragsize: u32,
}

type Ptr = *mut c_void;

/// The functions used, with the signatures of <pulse/*.h>, resolved once per process.
struct Api {
    mainloop_new: unsafe extern "C" fn() -> Ptr,
    mainloop_get_api: unsafe extern "C" fn(Ptr) -> Ptr,
    mainloop_prepare: unsafe extern "C" fn(Ptr, c_int) -> c_int,
    mainloop_poll: unsafe extern "C" fn(Ptr) -> c_int,
    mainloop_dispatch: unsafe extern "C" fn(Ptr) -> c_int,
    mainloop_free: unsafe extern "C" fn(Ptr),
    context_new: unsafe extern "C" fn(Ptr, *const c_char) -> Ptr,
    context_connect: unsafe extern "C" fn(Ptr, *const c_char, c_int, *const c_void) -> c_int,
    context_get_state: unsafe extern "C" fn(Ptr) -> c_int,
    context_errno: unsafe extern "C" fn(Ptr) -> c_int,
    context_disconnect: unsafe extern "C" fn(Ptr),
    context_unref: unsafe extern "C" fn(Ptr),
    stream_new: unsafe extern "C" fn(Ptr, *const c_char, *const SampleSpec, *const c_void) -> Ptr,
    stream_connect_record:
        unsafe extern "C" fn(Ptr, *const c_char, *const BufferAttr, c_int) -> c_int,
    stream_get_state: unsafe extern "C" fn(Ptr) -> c_int,
    stream_peek: unsafe extern "C" fn(Ptr, *mut *const c_void, *mut usize) -> c_int,
    stream_drop: unsafe extern "C" fn(Ptr) -> c_int,
    stream_disconnect: unsafe extern "C" fn(Ptr) -> c_int,
    stream_unref: unsafe extern "C" fn(Ptr),
    stream_cork: unsafe extern "C" fn(Ptr, c_int, *const c_void, *const c_void) -> Ptr,
    stream_get_buffer_attr: unsafe extern "C" fn(Ptr) -> *const BufferAttr,
    operation_unref: unsafe extern "C" fn(Ptr),
    strerror: unsafe extern "C" fn(c_int) -> *const c_char,
    /// Keeps the functions above mapped.
    _library: libloading::Library,
}

impl Api {
    fn load() -> Option<Api> {
        // SAFETY: libpulse's initialisers only set up its own state; each symbol is given
        // the signature its header declares, and the library lives in the returned value as
        // long as the pointers are used (forever: it is kept in a static).
        unsafe {
            let library = libloading::Library::new("libpulse.so.0").ok()?;
            macro_rules! get {
                ($name:literal) => {
                    *library.get($name).ok()?
                };
            }
            Some(Api {
                mainloop_new: get!(b"pa_mainloop_new\0"),
                mainloop_get_api: get!(b"pa_mainloop_get_api\0"),
                mainloop_prepare: get!(b"pa_mainloop_prepare\0"),
                mainloop_poll: get!(b"pa_mainloop_poll\0"),
                mainloop_dispatch: get!(b"pa_mainloop_dispatch\0"),
                mainloop_free: get!(b"pa_mainloop_free\0"),
                context_new: get!(b"pa_context_new\0"),
                context_connect: get!(b"pa_context_connect\0"),
                context_get_state: get!(b"pa_context_get_state\0"),
                context_errno: get!(b"pa_context_errno\0"),
                context_disconnect: get!(b"pa_context_disconnect\0"),
                context_unref: get!(b"pa_context_unref\0"),
                stream_new: get!(b"pa_stream_new\0"),
                stream_connect_record: get!(b"pa_stream_connect_record\0"),
                stream_get_state: get!(b"pa_stream_get_state\0"),
                stream_peek: get!(b"pa_stream_peek\0"),
                stream_drop: get!(b"pa_stream_drop\0"),
                stream_disconnect: get!(b"pa_stream_disconnect\0"),
                stream_unref: get!(b"pa_stream_unref\0"),
                stream_cork: get!(b"pa_stream_cork\0"),
                stream_get_buffer_attr: get!(b"pa_stream_get_buffer_attr\0"),
                operation_unref: get!(b"pa_operation_unref\0"),
                strerror: get!(b"pa_strerror\0"),
                _library: library,
            })
        }
    }

    fn describe(&self, code: c_int) -> String {
        // SAFETY: pa_strerror takes any int and returns a static string or null.
        let text = unsafe { (self.strerror)(code) };
        if text.is_null() {
            return format!("PulseAudio error {code}");
        }
        // SAFETY: non-null, NUL-terminated and static, as above.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(Api::load).as_ref()
}

/// Whether captures from the PulseAudio host use this module: libpulse is installed, and
/// `STT_CAPTURE_PULSE=cpal` does not ask for cpal's own PulseAudio stream (for comparison,
/// `npm run bench:hosts`, or as a way around a problem with this one).
pub fn available() -> bool {
    std::env::var("STT_CAPTURE_PULSE").as_deref() != Ok("cpal") && api().is_some()
}

/// A `pa_mainloop` with a context and its record stream on it, used by one thread at a time
/// (the opener, then the pipeline).
struct Connection {
    api: &'static Api,
    mainloop: Ptr,
    context: Ptr,
    stream: Ptr,
}

// SAFETY: libpulse objects may move between threads as long as one thread at a time uses
// them (no threaded main loop is involved): the opener connects, then hands the whole
// connection to the pipeline, which alone uses it from then on.
unsafe impl Send for Connection {}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: every pointer is live (null ones are skipped) and released once, here, in
        // the order libpulse requires: the stream, the context, then their main loop.
        unsafe {
            if !self.stream.is_null() {
                (self.api.stream_disconnect)(self.stream);
                (self.api.stream_unref)(self.stream);
            }
            if !self.context.is_null() {
                (self.api.context_disconnect)(self.context);
                (self.api.context_unref)(self.context);
            }
            (self.api.mainloop_free)(self.mainloop);
        }
    }
}

impl Connection {
    fn context_error(&self) -> c_int {
        // SAFETY: a live context.
        unsafe { (self.api.context_errno)(self.context) }
    }

    fn stream_state(&self) -> c_int {
        // SAFETY: a live stream.
        unsafe { (self.api.stream_get_state)(self.stream) }
    }

    /// One main loop iteration: waits up to `timeout` (zero: not at all) for the server,
    /// dispatches what came. The number of sources dispatched; `None`: the loop failed.
    fn iterate(&self, timeout: Duration) -> Option<c_int> {
        let usec = timeout.as_micros().min(i32::MAX as u128) as c_int;
        // SAFETY: a live main loop, used by this thread only (see the Send impl).
        unsafe {
            if (self.api.mainloop_prepare)(self.mainloop, usec) < 0
                || (self.api.mainloop_poll)(self.mainloop) < 0
            {
                return None;
            }
            let dispatched = (self.api.mainloop_dispatch)(self.mainloop);
            (dispatched >= 0).then_some(dispatched)
        }
    }

    /// Iterates until `ready` says yes (`Ok`) or no (`Err` with the context's error code).
    fn wait_for(
        &self,
        ready: impl Fn(&Self) -> Option<bool>,
        deadline: Instant,
    ) -> Result<(), c_int> {
        loop {
            match ready(self) {
                Some(true) => return Ok(()),
                Some(false) => return Err(self.context_error()),
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.iterate(left).is_none() {
                return Err(-1);
            }
        }
    }
}

/// A connected record stream, read by the pipeline ([`Self::pump`]); dropping it
/// disconnects.
pub struct PulseInput {
    connection: Connection,
    processor: Processor<f32>,
    channels: usize,
    /// For a fragment that is not f32-aligned in memory (libpulse gives no promise).
    scratch: Vec<f32>,
    corked: bool,
    /// The server or the source went away (reported once): nothing more is read.
    gone: bool,
    status: Arc<InputStatus>,
    /// Frames in each fragment, as the server granted it.
    fragment_frames: u64,
}

impl PulseInput {
    /// Frames the server sends at a time: what the pipeline expects to arrive together
    /// (a pump counts each piece it takes as a callback, and takes several fragments at once
    /// when they are contiguous, so the average of those is no guide).
    pub fn fragment_frames(&self) -> u64 {
        self.fragment_frames
    }

    /// Corks the stream (the server stops sending) or uncorks it.
    pub fn set_corked(&mut self, corked: bool) {
        if corked == self.corked || self.gone {
            return;
        }
        self.corked = corked;
        let api = self.connection.api;
        // SAFETY: a live stream on the thread that uses it; no completion callback, so the
        // operation is released at once.
        unsafe {
            let operation = (api.stream_cork)(
                self.connection.stream,
                c_int::from(corked),
                std::ptr::null(),
                std::ptr::null(),
            );
            if !operation.is_null() {
                (api.operation_unref)(operation);
            }
        }
        // Sends the request now, not at the next pump.
        self.pump();
    }

    /// Hands everything the server has sent since the last call to the processor, as a device
    /// callback would, and notices a server or source that went away (`E_DEVICE_LOST`).
    /// Never blocks.
    pub fn pump(&mut self) {
        if self.gone {
            return;
        }
        for _ in 0..PUMP_ITERATIONS {
            match self.connection.iterate(Duration::ZERO) {
                Some(0) => break,
                Some(_) => {}
                None => return self.went_away("the PulseAudio source went away"),
            }
        }
        if self.connection.stream_state() != PA_STREAM_READY {
            return self.went_away("the PulseAudio source went away");
        }
        if self.read_available().is_err() {
            self.went_away("reading the PulseAudio source failed");
        }
    }

    fn went_away(&mut self, what: &str) {
        self.gone = true;
        let why = describe(self.connection.api, self.connection.context_error());
        self.status
            .report(Error::DeviceLost(format!("{what}: {why}")));
    }

    fn read_available(&mut self) -> Result<(), c_int> {
        let api = self.connection.api;
        let stream = self.connection.stream;
        loop {
            let mut data: *const c_void = std::ptr::null();
            let mut bytes = 0usize;
            // SAFETY: a live stream, used by this thread only; the out-pointers are valid.
            if unsafe { (api.stream_peek)(stream, &mut data, &mut bytes) } < 0 {
                return Err(self.connection.context_error());
            }
            if bytes == 0 {
                return Ok(());
            }
            if data.is_null() {
                // A hole: audio the server dropped.
                self.processor.lost(bytes / (4 * self.channels));
            } else if data.cast::<f32>().is_aligned() {
                // SAFETY: libpulse guarantees `bytes` readable bytes at `data` until the drop
                // below; aligned for f32 as just checked; f32 has no invalid bit patterns.
                let samples = unsafe { std::slice::from_raw_parts(data.cast::<f32>(), bytes / 4) };
                self.processor.process(samples);
            } else {
                let samples = bytes / 4;
                let mut start = 0;
                while start < samples {
                    let len = self.scratch.len().min(samples - start);
                    for (k, slot) in self.scratch[..len].iter_mut().enumerate() {
                        // SAFETY: sample `start + k` lies within the `bytes` readable at
                        // `data`; the read is unaligned on purpose.
                        *slot = unsafe { data.cast::<f32>().add(start + k).read_unaligned() };
                    }
                    self.processor.process(&self.scratch[..len]);
                    start += len;
                }
            }
            // SAFETY: releases the fragment just peeked (holes are dropped the same way).
            if unsafe { (api.stream_drop)(stream) } < 0 {
                return Err(self.connection.context_error());
            }
        }
    }
}

/// The server's socket as the environment names it (the one cpal's host enumerated). Named
/// explicitly so libpulse never autospawns a server of its own.
fn server_address() -> Option<CString> {
    let path = pulseaudio::socket_path_from_env()?;
    address_of(&path)
}

fn address_of(path: &Path) -> Option<CString> {
    CString::new(format!("unix:{}", path.display())).ok()
}

/// Bytes of `ms` of `channels` × f32 at `rate`, in whole frames.
fn bytes_of_ms(ms: u32, rate: u32, channels: u16) -> u32 {
    (rate as u64 * ms as u64 / 1000 * channels as u64 * 4).min(u32::MAX as u64) as u32
}

/// Opens `source` (a PulseAudio source name) as f32 at `rate` × `channels`. Blocking
/// (connects to the server): call it off the JS thread.
pub fn start(
    source: &str,
    rate: u32,
    channels: u16,
    producer: HeapProd<f32>,
    counters: Arc<CaptureCounters>,
    status: Arc<InputStatus>,
) -> Result<PulseInput> {
    let api = api().ok_or_else(|| Error::Device("libpulse.so.0 is not installed".into()))?;
    let channels_u8 = u8::try_from(channels)
        .map_err(|_| Error::UnsupportedConfig(format!("{channels} channels")))?;
    let server = server_address()
        .ok_or_else(|| Error::NoDevice("no PulseAudio server socket is reachable".into()))?;
    let source_name = CString::new(source)
        .map_err(|_| Error::invalid_option("device", "a PulseAudio source name holds a NUL"))?;
    let why = |code: c_int| {
        format!(
            "cannot open PulseAudio source {source:?}: {}",
            describe(api, code)
        )
    };
    let connection =
        connect(api, &server, &source_name, rate, channels_u8).map_err(|code| match code {
            PA_ERR_NOENTITY | PA_ERR_CONNECTIONREFUSED => Error::NoDevice(why(code)),
            _ => Error::Device(why(code)),
        })?;
    // SAFETY: a ready stream; the attributes live as long as the stream and are read at once.
    let granted = unsafe { (api.stream_get_buffer_attr)(connection.stream).as_ref() }
        .map_or(0, |attr| attr.fragsize);
    let frame_bytes = 4 * channels as u64;
    let fragment_frames = match granted as u64 / frame_bytes {
        0 => bytes_of_ms(FRAGMENT_MS, rate, channels) as u64 / frame_bytes,
        frames => frames,
    };
    Ok(PulseInput {
        fragment_frames,
        connection,
        processor: Processor::<f32>::new(channels as usize, producer, counters),
        channels: channels as usize,
        scratch: vec![0.0; bytes_of_ms(FRAGMENT_MS * 4, rate, channels) as usize / 4],
        corked: false,
        gone: false,
        status,
    })
}

fn describe(api: &Api, code: c_int) -> String {
    if code < 0 {
        return "the server did not answer in time".into();
    }
    api.describe(code)
}

/// Connects a context and a record stream; the error is a PulseAudio error code (-1: timed
/// out).
fn connect(
    api: &'static Api,
    server: &CStr,
    source: &CStr,
    rate: u32,
    channels: u8,
) -> Result<Connection, c_int> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    // SAFETY: plain constructors; null results are checked.
    let mainloop = unsafe { (api.mainloop_new)() };
    if mainloop.is_null() {
        return Err(-1);
    }
    let mut connection = Connection {
        api,
        mainloop,
        context: std::ptr::null_mut(),
        stream: std::ptr::null_mut(),
    };
    // SAFETY: a live main loop; the name is a NUL-terminated literal.
    let context =
        unsafe { (api.context_new)((api.mainloop_get_api)(mainloop), c"stt-capture".as_ptr()) };
    if context.is_null() {
        return Err(-1);
    }
    connection.context = context;
    // SAFETY: a live context; `server` outlives the call (libpulse copies it).
    if unsafe {
        (api.context_connect)(
            context,
            server.as_ptr(),
            PA_CONTEXT_NOAUTOSPAWN,
            std::ptr::null(),
        )
    } < 0
    {
        return Err(connection.context_error());
    }
    connection.wait_for(
        // SAFETY: a live context.
        |c| match unsafe { (api.context_get_state)(c.context) } {
            PA_CONTEXT_READY => Some(true),
            PA_CONTEXT_FAILED | PA_CONTEXT_TERMINATED => Some(false),
            _ => None,
        },
        deadline,
    )?;
    let spec = SampleSpec {
        format: PA_SAMPLE_FLOAT32LE,
        rate,
        channels,
    };
    // SAFETY: a ready context; the spec outlives the call; a null channel map means the
    // default map for `channels`.
    let stream = unsafe { (api.stream_new)(context, c"capture".as_ptr(), &spec, std::ptr::null()) };
    if stream.is_null() {
        return Err(connection.context_error());
    }
    connection.stream = stream;
    let attr = BufferAttr {
        maxlength: bytes_of_ms(SERVER_BUFFER_MS, rate, channels as u16),
        tlength: PA_DEFAULT,
        prebuf: PA_DEFAULT,
        minreq: PA_DEFAULT,
        fragsize: bytes_of_ms(FRAGMENT_MS, rate, channels as u16),
    };
    // SAFETY: a new stream; `source` and `attr` outlive the call.
    if unsafe {
        (api.stream_connect_record)(stream, source.as_ptr(), &attr, PA_STREAM_ADJUST_LATENCY)
    } < 0
    {
        return Err(connection.context_error());
    }
    connection.wait_for(
        |c| match c.stream_state() {
            PA_STREAM_READY => Some(true),
            PA_STREAM_FAILED | PA_STREAM_TERMINATED => Some(false),
            _ => None,
        },
        deadline,
    )?;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_whole_frames_of_f32() {
        assert_eq!(bytes_of_ms(10, 48_000, 2), 480 * 2 * 4);
        assert_eq!(bytes_of_ms(2000, 44_100, 1), 88_200 * 4);
        assert_eq!(bytes_of_ms(10, 22_050, 2), 220 * 2 * 4);
    }

    #[test]
    fn the_server_is_named_by_its_socket() {
        let a = address_of(Path::new("/run/user/1000/pulse/native")).unwrap();
        assert_eq!(a.to_str().unwrap(), "unix:/run/user/1000/pulse/native");
    }
}
