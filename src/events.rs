//! Everything the core tells its user, as one `Event` enum, and the counted hand-off to
//! whoever listens (the binding forwards events to JS listeners).
//!
//! A new kind of event is one line in `events!` below (its payload type next to it), its JS
//! conversion in the binding and its typing in `header.d.ts`: kinds, names, parsing and the
//! per-kind drop counters all follow from this list.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crate::dsp::chunker::Chunk;
use crate::dsp::levels::Level;
use crate::dsp::utterance::EndReason;
use crate::error::Error;
use crate::stats::{DeviceState, LinkState};
use crate::transport::Transcription;
use crate::value::{object, Value};

macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal,)*) => {
        /// One thing to tell the user.
        #[derive(Debug, Clone)]
        pub enum Event {
            $($(#[$doc])* $variant($payload),)*
        }

        /// The kind of an [`Event`], as listeners subscribe to it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($variant,)*
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            /// The name JS uses for this kind (`capture.on(name, ...)`).
            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }
        }

        impl Event {
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant(_) => EventKind::$variant,)*
                }
            }
        }
    };
}

events! {
    /// A chunk of 16 kHz audio.
    Chunk(ChunkReady) = "chunk",
    /// A level reading, at most `levelHz` a second.
    Level(LevelReading) = "level",
    /// Something went wrong; the capture goes on where it can.
    Error(Error) = "error",
    /// A result from the daemon.
    Transcription(Transcription) = "transcription",
    /// The daemon link's state changed.
    Daemon(DaemonEvent) = "daemon",
    /// A file input ended, after its last chunk.
    End(InputEnd) = "end",
    /// Not a failure, but worth telling the user.
    Warning(WarningEvent) = "warning",
    /// The input device's state changed.
    Device(DeviceEvent) = "device",
    /// Voice activity changed between speech and silence.
    Voice(VoiceEvent) = "voice",
    /// One spoken segment ended: its audio.
    Utterance(UtteranceEvent) = "utterance",
}

impl EventKind {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl Event {
    /// The event as JS sees it (typed in `header.d.ts`; the binding converts the value).
    pub fn into_js(self) -> Value {
        match self {
            Event::Chunk(c) => object([
                ("seq", c.chunk.seq.into()),
                ("samples", Value::Float32Array(c.chunk.samples)),
                ("capturedAtMs", c.captured_at_ms.into()),
            ]),
            Event::Level(LevelReading {
                level: l,
                bands,
                at_ms,
            }) => object([
                ("rms", l.rms.into()),
                ("peak", l.peak.into()),
                ("rmsDbfs", l.rms_dbfs.into()),
                ("peakDbfs", l.peak_dbfs.into()),
                ("clipped", l.clipped.into()),
                ("bands", bands.map_or(Value::Undefined, Value::Float32Array)),
                ("atMs", at_ms.into()),
            ]),
            Event::Error(e) => Value::Error {
                code: e.code(),
                message: e.to_string(),
            },
            Event::Transcription(t) => {
                let u = t.utterance;
                object([
                    ("text", t.text.into()),
                    ("clientId", t.client_id.into()),
                    ("timestamp", t.timestamp.into()),
                    ("final", t.is_final.into()),
                    ("utteranceId", u.map(|u| u.id).into()),
                    ("startMs", u.map(|u| u.start_ms).into()),
                    ("endMs", u.map(|u| u.end_ms).into()),
                    ("latencyMs", u.map(|u| u.latency_ms).into()),
                ])
            }
            Event::Daemon(d) => object([
                ("state", d.state.as_str().into()),
                ("attempt", d.attempt.into()),
                ("delayMs", d.delay.map(|d| d.as_secs_f64() * 1000.0).into()),
                ("code", d.error.as_ref().map(Error::code).into()),
                ("reason", d.error.as_ref().map(Error::to_string).into()),
                ("protocol", d.protocol.into()),
                ("mode", d.mode.into()),
            ]),
            Event::End(end) => object([
                ("frames", end.frames.into()),
                ("durationMs", end.duration_ms.into()),
            ]),
            Event::Warning(w) => object([
                ("code", w.warning.code().into()),
                ("message", w.message.into()),
            ]),
            Event::Device(d) => object([
                ("state", d.state.as_str().into()),
                ("id", d.id.into()),
                ("name", d.name.into()),
            ]),
            Event::Voice(v) => object([
                ("state", if v.speech { "speech" } else { "silence" }.into()),
                ("atMs", v.at_ms.into()),
                ("sample", v.sample.into()),
                ("probability", f64::from(v.probability).into()),
            ]),
            Event::Utterance(u) => object([
                ("id", u.id.into()),
                ("samples", Value::Float32Array(u.samples)),
                ("startSample", u.start_sample.into()),
                ("endSample", u.end_sample.into()),
                ("startMs", u.start_ms.into()),
                ("endMs", u.end_ms.into()),
                ("reason", u.reason.as_str().into()),
            ]),
        }
    }
}

/// A change of voice activity, at the 16 kHz sample where the deciding run began.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceEvent {
    pub speech: bool,
    /// 16 kHz sample index of the boundary (the chunks' clock).
    pub sample: u64,
    /// Wall-clock ms of that sample.
    pub at_ms: f64,
    /// Speech probability of the frame that decided it.
    pub probability: f32,
}

/// The audio of one spoken segment.
#[derive(Debug, Clone, PartialEq)]
pub struct UtteranceEvent {
    /// From 0, one per utterance of a capture.
    pub id: u64,
    pub samples: Vec<f32>,
    pub start_sample: u64,
    /// One past the last sample.
    pub end_sample: u64,
    pub start_ms: f64,
    pub end_ms: f64,
    pub reason: EndReason,
}

/// A chunk and the wall-clock time of its first sample.
#[derive(Debug, Clone)]
pub struct ChunkReady {
    pub chunk: Chunk,
    /// Wall-clock ms (Unix epoch) of the chunk's first sample.
    pub captured_at_ms: f64,
}

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

#[derive(Debug, Clone, PartialEq)]
pub struct WarningEvent {
    pub warning: Warning,
    pub message: String,
}

/// A change of the daemon link's state.
#[derive(Debug, Clone)]
pub struct DaemonEvent {
    pub state: LinkState,
    /// Reconnect attempt number, from 1 (with `Reconnecting`).
    pub attempt: Option<u32>,
    /// Wait before that attempt.
    pub delay: Option<Duration>,
    /// Why the link went down (with `Disconnected`), or why the previous attempt failed
    /// (with `Reconnecting`).
    pub error: Option<Error>,
    /// The session's protocol (with `Connected`): `legacy` or `v1`.
    pub protocol: Option<&'static str>,
    /// How the session transcribes (with `Connected`): `stream` or `utterances`.
    pub mode: Option<&'static str>,
}

impl DaemonEvent {
    pub fn state(state: LinkState) -> Self {
        Self {
            state,
            attempt: None,
            delay: None,
            error: None,
            protocol: None,
            mode: None,
        }
    }

    pub fn connected(protocol: &'static str) -> Self {
        Self {
            protocol: Some(protocol),
            ..Self::state(LinkState::Connected)
        }
    }

    pub fn disconnected(error: Error) -> Self {
        Self {
            error: Some(error),
            ..Self::state(LinkState::Disconnected)
        }
    }
}

/// Where events go. Implementations must not block: they are called from tokio tasks.
pub trait EventSink: Send + Sync + 'static {
    /// Whether anyone takes events of `kind`; events nobody wants are not built.
    fn wants(&self, _kind: EventKind) -> bool {
        true
    }

    /// Delivers `event`. Returns how many deliveries were dropped (a listener's queue was
    /// full, or a waiting latest-wins level was replaced).
    fn emit(&self, event: Event) -> u64;
}

/// Events dropped per kind, for `stats()`.
#[derive(Debug, Default)]
pub struct EventCounters {
    dropped: [AtomicU64; EventKind::COUNT],
}

impl EventCounters {
    pub fn dropped(&self, kind: EventKind) -> u64 {
        self.dropped[kind as usize].load(Relaxed)
    }
}

/// The pipeline's handle on the user's [`EventSink`]: counts what it drops.
#[derive(Clone)]
pub struct Events {
    sink: Arc<dyn EventSink>,
    counters: Arc<EventCounters>,
}

impl Events {
    pub fn new(sink: Arc<dyn EventSink>, counters: Arc<EventCounters>) -> Self {
        Self { sink, counters }
    }

    pub fn wants(&self, kind: EventKind) -> bool {
        self.sink.wants(kind)
    }

    pub fn emit(&self, event: Event) {
        let kind = event.kind();
        let dropped = self.sink.emit(event);
        if dropped > 0 {
            self.counters.dropped[kind as usize].fetch_add(dropped, Relaxed);
        }
    }

    pub fn error(&self, error: Error) {
        self.emit(Event::Error(error));
    }
}

#[cfg(test)]
pub mod testing {
    //! Event sinks for tests.
    use super::*;
    use std::sync::Mutex;

    /// Keeps every event.
    #[derive(Default)]
    pub struct Recorded(pub Mutex<Vec<Event>>);

    impl EventSink for Recorded {
        fn emit(&self, event: Event) -> u64 {
            self.0.lock().unwrap().push(event);
            0
        }
    }

    impl Recorded {
        pub fn events(&self) -> Vec<Event> {
            self.0.lock().unwrap().clone()
        }

        pub fn error_codes(&self) -> Vec<&'static str> {
            self.events()
                .iter()
                .filter_map(|e| match e {
                    Event::Error(e) => Some(e.code()),
                    _ => None,
                })
                .collect()
        }

        pub fn device_states(&self) -> Vec<DeviceState> {
            self.events()
                .iter()
                .filter_map(|e| match e {
                    Event::Device(d) => Some(d.state),
                    _ => None,
                })
                .collect()
        }

        pub fn chunk_seqs(&self) -> Vec<u64> {
            self.events()
                .iter()
                .filter_map(|e| match e {
                    Event::Chunk(c) => Some(c.chunk.seq),
                    _ => None,
                })
                .collect()
        }

        pub fn link_states(&self) -> Vec<LinkState> {
            self.events()
                .iter()
                .filter_map(|e| match e {
                    Event::Daemon(d) => Some(d.state),
                    _ => None,
                })
                .collect()
        }
    }

    pub fn recorded() -> (Arc<Recorded>, Events) {
        let sink = Arc::new(Recorded::default());
        let events = Events::new(sink.clone(), Arc::default());
        (sink, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_unique_names_that_parse_back() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.name()), Some(*kind));
        }
        let mut names = EventKind::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::COUNT);
        assert_eq!(EventKind::parse("chunks"), None);
    }

    #[test]
    fn events_take_the_js_shapes_header_d_ts_declares() {
        let chunk = Event::Chunk(ChunkReady {
            chunk: Chunk {
                seq: 3,
                start_sample: 4800,
                samples: vec![0.5; 2],
            },
            captured_at_ms: 12.5,
        });
        assert_eq!(
            chunk.into_js(),
            object([
                ("seq", 3u64.into()),
                ("samples", Value::Float32Array(vec![0.5; 2])),
                ("capturedAtMs", 12.5.into()),
            ])
        );
        // Absent optional fields are left out, not `undefined` properties.
        let daemon = Event::Daemon(DaemonEvent::connected("v1")).into_js();
        assert_eq!(
            daemon,
            object([("state", "connected".into()), ("protocol", "v1".into())])
        );
        let error = Event::Error(Error::NoDevice("none".into())).into_js();
        assert!(matches!(
            error,
            Value::Error {
                code: "E_NO_DEVICE",
                ..
            }
        ));
    }

    #[test]
    fn dropped_deliveries_are_counted_by_kind() {
        struct DropsAll;
        impl EventSink for DropsAll {
            fn emit(&self, _: Event) -> u64 {
                2
            }
        }
        let counters = Arc::new(EventCounters::default());
        let events = Events::new(Arc::new(DropsAll), counters.clone());
        events.error(Error::Internal("x".into()));
        events.emit(Event::Daemon(DaemonEvent::state(LinkState::Off)));
        assert_eq!(counters.dropped(EventKind::Error), 2);
        assert_eq!(counters.dropped(EventKind::Daemon), 2);
        assert_eq!(counters.dropped(EventKind::Chunk), 0);
    }
}
