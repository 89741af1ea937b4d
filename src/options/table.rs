//! Every option the addon takes: the one place that says its name, type, range, default and
//! doc. A new option is one entry here and one line where `parse.rs` reads it; its
//! TypeScript declaration follows (`render.rs`, checked against `header.d.ts` by a test).

use super::{Default as D, Kind, OptionSet, Spec};

const fn spec(name: &'static str, kind: Kind, default: D, doc: &'static str) -> Spec {
    Spec {
        name,
        kind,
        default,
        required: false,
        ts_type: None,
        doc,
    }
}

const fn typed(
    name: &'static str,
    kind: Kind,
    ts_type: &'static str,
    default: D,
    doc: &'static str,
) -> Spec {
    Spec {
        ts_type: Some(ts_type),
        ..spec(name, kind, default, doc)
    }
}

const fn int(min: u32, max: u32) -> Kind {
    Kind::Int { min, max }
}

const PATH: Kind = Kind::Text { max_len: 4096 };

pub const PROTOCOLS: &[&str] = &["auto", "legacy", "v1"];
pub const MODES: &[&str] = &["auto", "stream", "utterances"];

/// `new AudioCapture(options)`.
pub static CAPTURE: OptionSet = OptionSet {
    interface: "AudioCaptureOptions",
    label: "options",
    prefix: "",
    doc: "Options of `new AudioCapture(options)`. Unknown keys are rejected with `E_INVALID_OPTION`.",
    specs: &[
        spec(
            "protocol",
            Kind::Choice(PROTOCOLS),
            D::Choice("auto"),
            "Which daemon protocol to speak. `v1`: Super STT 0.2+, HTTP + WebSocket on `httpSocketPath`. \
             `legacy`: daemons up to 0.1.x, length-prefixed JSON on `socketPath`. `auto`: whichever socket \
             exists, v1 first, decided again on every reconnect; when only one of `socketPath` / \
             `httpSocketPath` is given, only that one is used.",
        ),
        spec(
            "mode",
            Kind::Choice(MODES),
            D::Choice("auto"),
            "How the daemon transcribes. `stream`: chunks into its realtime session (realtime \
             models). `utterances`: each utterance (voice activity) as one request to its batch \
             route (`POST /v1/transcribe`, legacy `transcribe`), which batch models (most local \
             ones, Whisper-class) need; a `transcription` per utterance. `auto`: on v1, the \
             realtime session when the daemon serves one, else utterances, decided again on \
             every connection; on legacy, `stream`. In `auto` and `utterances` the voice \
             activity detector is on unless `vad: false` (refused with `utterances`); turned \
             on this way, it scores audio only while something takes its result (the daemon \
             takes utterances, a `voice` or `utterance` listener, `recordUtterances`), so a \
             realtime stream does not pay for it.",
        ),
        spec(
            "socketPath",
            PATH,
            D::Described("the daemon's own rule, `$XDG_RUNTIME_DIR/stt/super-stt.sock` (or `/run/user/<uid>/stt/super-stt.sock`), falling back to `/tmp/stt/super-stt.sock` when that directory is unusable"),
            "Unix socket of a legacy Super STT daemon. A path that exists and is not a socket is refused.",
        ),
        spec(
            "httpSocketPath",
            PATH,
            D::Described("`$SUPER_STT_HTTP_SOCKET`, else `$XDG_RUNTIME_DIR/stt/super-stt-http.sock` with the same fallbacks as `socketPath`"),
            "Unix socket of a v1 (HTTP) Super STT daemon. A path that exists and is not a socket is refused.",
        ),
        spec(
            "token",
            PATH,
            D::Described("`$SUPER_STT_TOKEN`"),
            "v1 session token, sent as `Authorization: Bearer <token>`; printable ASCII without spaces. \
             Get one with `requestToken()`. A missing or refused token rejects `startCapture()` with \
             `E_UNAUTHORIZED`.",
        ),
        spec(
            "language",
            Kind::Text { max_len: 64 },
            D::Described("the daemon's setting"),
            "v1: language code sent in the session's `start` message, e.g. `en` or `pt-BR`.",
        ),
        spec(
            "clientId",
            Kind::Text { max_len: 1024 },
            D::Described("generated, unique per capture"),
            "Realtime session id sent to the daemon (at most 1024 bytes).",
        ),
        spec(
            "device",
            PATH,
            D::Described("the system default input"),
            "An `id` (or exact `name`) from `listInputDevices()`. An unknown one rejects \
             `startCapture()` with `E_NO_DEVICE` listing the ids.",
        ),
        spec(
            "sampleRate",
            int(1_000, 384_000),
            D::Described("the device's default"),
            "Ask the device for this rate (Hz). A rate it does not support rejects `startCapture()` with \
             `E_UNSUPPORTED_CONFIG` listing what it supports.",
        ),
        spec(
            "host",
            Kind::Text { max_len: 32 },
            D::Described("the host a `device` id names (`alsa:...`), else PulseAudio when a server answers, else ALSA"),
            "Audio host: `alsa` or `pulseaudio` (PulseAudio, or PipeWire through pipewire-pulse). An \
             unavailable host rejects `startCapture()` with `E_NO_DEVICE`.",
        ),
        spec(
            "channels",
            int(1, 64),
            D::Described("the device's default"),
            "Ask the device for this many channels, as `sampleRate`. Downmixed to mono either way.",
        ),
        spec(
            "stallTimeoutMs",
            int(100, 600_000),
            D::Int(2000),
            "A device that delivers no audio for this long (ms) without reporting an error raises \
             `E_DEVICE_STALLED` and a `device` event `stalled`.",
        ),
        spec(
            "autoReopen",
            Kind::Bool,
            D::Bool(true),
            "After the device is lost or stalls, open it again (the system default again if it was the \
             default, so a newly plugged-in default is picked up), with backoff from 200 ms to 5 s; \
             `device` events tell each step, `stats().deviceReopens` counts successes.",
        ),
        spec(
            "silenceWarnMs",
            int(0, 3_600_000),
            D::Int(3000),
            "A device that delivers only exact zeros for this long (ms) raises one `warning` \
             `W_ALL_ZERO_INPUT` (a muted microphone or denied access). 0 = off.",
        ),
        spec(
            "input",
            Kind::Object(&INPUT),
            D::None,
            "Replay a WAV file instead of a device, through the same ring, resampler, chunker and \
             transport. Any rate from 1 kHz to 384 kHz, any channel count, 8/16/24/32-bit integer or \
             32-bit float. A file that cannot be played rejects `startCapture()` with `E_INVALID_INPUT`. \
             Not with `device`, `sampleRate`, `channels` or `host`.",
        ),
        spec(
            "chunkMs",
            int(10, 1000),
            D::Int(100),
            "Chunk length in ms (100 ms is 1600 samples at 16 kHz).",
        ),
        spec("levelHz", int(1, 60), D::Int(30), "Level events per second."),
        spec(
            "spectrumBands",
            int(0, crate::dsp::spectrum::MAX_BANDS as u32),
            D::Int(0),
            "Spectrum bands in each level event (`bands`), log-spaced from 50 Hz to 8 kHz; 0 = no spectrum.",
        ),
        spec(
            "vad",
            Kind::Toggle(&VAD),
            D::Bool(false),
            "Voice activity detection on the 16 kHz stream (earshot, in the pipeline task, never \
             the audio callback): a `voice` event at every change between speech and silence, \
             and an `utterance` event with the audio of each spoken segment. `true` uses the \
             defaults of the object form.",
        ),
        spec(
            "record",
            Kind::Object(&RECORD),
            D::None,
            "Record every run to a WAV file from its first sample, as `startRecording(options)` \
             does; `stopRecording()` or `stopCapture()` ends it. A file that cannot be created \
             rejects `startCapture()` with `E_RECORD_FAILED`.",
        ),
        spec(
            "recordUtterances",
            PATH,
            D::None,
            "A folder (it must exist) where each utterance (`vad`) is also written as its own \
             16 kHz f32 WAV, `utterance-<startMs>-<id>.wav` after the `utterance` event's \
             fields. Files are never overwritten; a failure is an `error` event \
             `E_RECORD_FAILED` (the folder missing at start rejects `startCapture()`).",
        ),
        spec(
            "daemon",
            Kind::Bool,
            D::Bool(true),
            "`false` = capture only, no socket at all.",
        ),
        spec(
            "maxBufferMs",
            int(100, 600_000),
            D::Int(30_000),
            "Audio (ms, at least `chunkMs`) that may wait for the daemon while it is away or slow before \
             the oldest chunks are dropped and counted in `chunksDroppedQueue`.",
        ),
        spec(
            "reconnectInitialMs",
            int(1, 60_000),
            D::Int(100),
            "First reconnect delay (ms) after the daemon is lost; it doubles per attempt.",
        ),
        spec(
            "reconnectMaxMs",
            int(1, 600_000),
            D::Int(5000),
            "Cap of the reconnect delay (ms), at least `reconnectInitialMs`.",
        ),
        spec(
            "replyTimeoutMs",
            int(100, 600_000),
            D::Int(10_000),
            "How long (ms) to wait for each daemon reply before treating the connection as dead. \
             An utterance's transcription may take this plus three times its length.",
        ),
        spec(
            "stopTimeoutMs",
            int(0, 600_000),
            D::Int(5000),
            "How long (ms) `stopCapture()` waits for the daemon to take what is queued, also \
             for a daemon that is away (restarting): the link keeps reconnecting until then; what \
             is left is counted as `stopped`.",
        ),
    ],
};

/// `input: { file, realtime, loop }`.
pub static INPUT: OptionSet = OptionSet {
    interface: "",
    label: "input",
    prefix: "input.",
    doc: "{ file: 'speech.wav', realtime?: true, loop?: false }",
    specs: &[
        Spec {
            required: true,
            ..spec("file", PATH, D::None, "a WAV file path")
        },
        spec(
            "realtime",
            Kind::Bool,
            D::Bool(true),
            "`true`: paced at the file's own rate; `false`: as fast as the pipeline takes it.",
        ),
        spec(
            "loop",
            Kind::Bool,
            D::Bool(false),
            "`true`: start again at the end; `false`: emit `end` after the last chunk.",
        ),
    ],
};

/// `vad: { ... }`.
pub static VAD: OptionSet = OptionSet {
    interface: "",
    label: "vad",
    prefix: "vad.",
    doc: "{ threshold: 0.6, minSpeechMs: 150, minSilenceMs: 600, preRollMs: 300, maxUtteranceMs: 30000 }",
    specs: &[
        spec(
            "threshold",
            Kind::Number {
                min: 0.05,
                max: 0.95,
            },
            D::Number(0.6),
            "Speech probability (earshot's score of each 16 ms frame) from which a frame counts as \
             speech; it counts as silence again below `threshold - 0.05`. Where others talk in \
             the background, a frame must also stand out of that babble by its level.",
        ),
        spec(
            "minSpeechMs",
            int(16, 5000),
            D::Int(150),
            "Speech this long (ms) starts an utterance; shorter bursts (a click, a cough) do not.",
        ),
        spec(
            "minSilenceMs",
            int(32, 10_000),
            D::Int(600),
            "Silence this long (ms) after speech ends the utterance; shorter pauses stay inside it.",
        ),
        spec(
            "preRollMs",
            int(0, 2000),
            D::Int(300),
            "Audio (ms) before the detected onset that each utterance includes, so its first \
             syllable is never cut; it includes as much after the offset (at most \
             `minSilenceMs`).",
        ),
        spec(
            "maxUtteranceMs",
            int(1000, 300_000),
            D::Int(30_000),
            "An utterance this long (ms) is cut at the quietest point of its last second and goes \
             on as a new one.",
        ),
    ],
};

pub const RECORD_RATES: &[&str] = &["16000", "device"];
pub const RECORD_FORMATS: &[&str] = &["f32", "s16"];

/// `record: { ... }` and `startRecording(options)`.
pub static RECORD: OptionSet = OptionSet {
    interface: "RecordingOptions",
    label: "record",
    prefix: "record.",
    doc: "{ path: 'session.wav', rate?: 16000 | 'device', format?: 'f32' | 's16', overwrite?: false }",
    specs: &[
        Spec {
            required: true,
            ..spec(
                "path",
                PATH,
                D::None,
                "The WAV file to write. Its folder must exist; an existing file is refused \
                 (`E_RECORD_FAILED`) unless `overwrite`.",
            )
        },
        typed(
            "rate",
            Kind::Choice(RECORD_RATES),
            "16000 | 'device'",
            D::Choice("16000"),
            "`16000`: exactly the samples the chunks carry. `'device'`: the mono downmix at the \
             device's rate, bit for bit what the audio callback produced (a device reopened at \
             another rate ends it with `E_RECORD_FAILED`).",
        ),
        spec(
            "format",
            Kind::Choice(RECORD_FORMATS),
            D::Choice("f32"),
            "`f32`: 32-bit float, lossless. `s16`: 16-bit PCM, rounded and clamped.",
        ),
        spec(
            "overwrite",
            Kind::Bool,
            D::Bool(false),
            "Replace an existing file.",
        ),
        spec(
            "bufferMs",
            int(100, 600_000),
            D::Int(10_000),
            "Audio (ms) that may wait for the disk. A writer that falls this far behind ends the \
             recording with `E_RECORD_OVERRUN` at a block boundary; the capture goes on.",
        ),
    ],
};

/// `startCapture(options)`.
pub static START: OptionSet = OptionSet {
    interface: "StartCaptureOptions",
    label: "startCapture options",
    prefix: "",
    doc: "Options of `startCapture(options)`.",
    specs: &[
        spec(
            "waitForDaemon",
            Kind::Bool,
            D::Bool(false),
            "`true`: a daemon that is not reachable yet is not an error; audio is queued (up to \
             `maxBufferMs`) and the link reconnects until the daemon answers.",
        ),
        spec(
            "paused",
            Kind::Bool,
            D::Bool(false),
            "`true`: start as `pause()` leaves it: the device and the daemon link are open, so \
             `resume()` takes effect at once (it wakes the pipeline), and not one sample captured \
             before it is sent (push-to-talk).",
        ),
    ],
};

/// `listInputDevices(options)`.
pub static LIST: OptionSet = OptionSet {
    interface: "ListInputDevicesOptions",
    label: "listInputDevices options",
    prefix: "",
    doc: "Options of `listInputDevices(options)`.",
    specs: &[spec(
        "host",
        Kind::Text { max_len: 32 },
        D::Described("the host a capture would use"),
        "Audio host to list: `alsa` or `pulseaudio`.",
    )],
};

/// `requestToken(options)`.
pub static TOKEN_REQUEST: OptionSet = OptionSet {
    interface: "TokenRequestOptions",
    label: "requestToken options",
    prefix: "",
    doc: "Options of `requestToken(options)`.",
    specs: &[
        Spec {
            required: true,
            ..spec(
                "appName",
                Kind::Text { max_len: 256 },
                D::None,
                "the name the user sees in the consent prompt",
            )
        },
        typed(
            "scopes",
            Kind::Names,
            "string[]",
            D::Described("`['transcribe']`, which is what capturing needs"),
            "Scopes to ask for.",
        ),
        spec(
            "version",
            Kind::Text { max_len: 64 },
            D::None,
            "Your app's version, passed on to the daemon.",
        ),
        spec(
            "httpSocketPath",
            PATH,
            D::Described("as for `AudioCaptureOptions.httpSocketPath`"),
            "The v1 daemon's socket.",
        ),
        spec(
            "timeoutMs",
            int(100, 3_600_000),
            D::Int(120_000),
            "How long (ms) to wait for the user to answer the prompt.",
        ),
    ],
};

/// Every top-level option set, in the order `header.d.ts` declares them.
pub static ALL: &[&OptionSet] = &[&CAPTURE, &RECORD, &START, &LIST, &TOKEN_REQUEST];
