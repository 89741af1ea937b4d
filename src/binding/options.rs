//! JS options → a validated core config. Every rejection is `E_INVALID_OPTION` naming the
//! option and what it accepts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use napi::bindgen_prelude::*;
use napi::ValueType;

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::capture::{DeviceRequest, FileSource, Source};
use crate::dsp::spectrum::MAX_BANDS;
use crate::error::Error as CoreError;
use crate::pipeline::link::LinkConfig;
use crate::transport::any::ProtocolChoice;
use crate::transport::http::TokenRequest;
use crate::transport::socket_path::{
    check_socket_option, default_legacy_socket_path, default_v1_socket_path,
};

/// Where a token comes from when the `token` option is not given.
pub const TOKEN_ENV: &str = "SUPER_STT_TOKEN";

const KNOWN: &[&str] = &[
    "protocol",
    "socketPath",
    "httpSocketPath",
    "token",
    "language",
    "clientId",
    "device",
    "sampleRate",
    "channels",
    "host",
    "stallTimeoutMs",
    "autoReopen",
    "silenceWarnMs",
    "input",
    "chunkMs",
    "levelHz",
    "spectrumBands",
    "daemon",
    "maxBufferMs",
    "reconnectInitialMs",
    "reconnectMaxMs",
    "replyTimeoutMs",
];
const KNOWN_START: &[&str] = &["waitForDaemon"];
const KNOWN_INPUT: &[&str] = &["file", "realtime", "loop"];

const CHUNK_MS: RangeInclusive<u32> = 10..=1000;
const LEVEL_HZ: RangeInclusive<u32> = 1..=60;
const SPECTRUM_BANDS: RangeInclusive<u32> = 0..=MAX_BANDS as u32;
const MAX_BUFFER_MS: RangeInclusive<u32> = 100..=600_000;
const RECONNECT_INITIAL_MS: RangeInclusive<u32> = 1..=60_000;
const RECONNECT_MAX_MS: RangeInclusive<u32> = 1..=600_000;
const REPLY_TIMEOUT_MS: RangeInclusive<u32> = 100..=600_000;
const SAMPLE_RATE: RangeInclusive<u32> = 1_000..=384_000;
const CHANNELS: RangeInclusive<u32> = 1..=64;
const STALL_TIMEOUT_MS: RangeInclusive<u32> = 100..=600_000;
const SILENCE_WARN_MS: RangeInclusive<u32> = 0..=3_600_000;

#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub protocol: ProtocolChoice,
    pub socket_path: PathBuf,
    pub socket_path_given: bool,
    pub http_socket_path: PathBuf,
    pub http_socket_path_given: bool,
    pub token: Option<String>,
    pub language: Option<String>,
    pub client_id: String,
    pub source: Source,
    pub chunk_ms: u32,
    pub level_hz: u32,
    pub spectrum_bands: u32,
    pub daemon: bool,
    pub max_buffer_ms: u32,
    pub link: LinkConfig,
    /// Device inputs only.
    pub stall_timeout: Duration,
    /// Device inputs only; `None` = off (`silenceWarnMs: 0`).
    pub silence_warn: Option<Duration>,
    /// Device inputs only: open the device again after a loss or stall.
    pub auto_reopen: bool,
}

/// Options of one `startCapture()` call.
#[derive(Debug, Clone, Default)]
pub struct StartConfig {
    pub wait_for_daemon: bool,
}

fn generated_client_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "stt-capture-{}-{}-{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

fn non_empty_string(
    name: &str,
    value: Unknown<'_>,
    max_len: usize,
) -> std::result::Result<String, CoreError> {
    if value.get_type().ok() != Some(ValueType::String) {
        return Err(CoreError::invalid_option(name, "must be a string"));
    }
    // SAFETY: the type was checked to be a string just above.
    let s: String = unsafe { value.cast::<String>() }
        .map_err(|_| CoreError::invalid_option(name, "must be a valid UTF-8 string"))?;
    if s.is_empty() {
        return Err(CoreError::invalid_option(name, "must not be empty"));
    }
    if s.len() > max_len {
        return Err(CoreError::invalid_option(
            name,
            format!("must be at most {max_len} bytes"),
        ));
    }
    if s.contains('\0') {
        return Err(CoreError::invalid_option(name, "must not contain NUL"));
    }
    Ok(s)
}

fn integer_in(
    name: &str,
    value: Unknown<'_>,
    range: RangeInclusive<u32>,
) -> std::result::Result<u32, CoreError> {
    let expected = format!(
        "must be an integer from {} to {}",
        range.start(),
        range.end()
    );
    if value.get_type().ok() != Some(ValueType::Number) {
        return Err(CoreError::invalid_option(name, expected));
    }
    // SAFETY: the type was checked to be a number just above.
    let n: f64 = unsafe { value.cast::<f64>() }
        .map_err(|_| CoreError::invalid_option(name, expected.clone()))?;
    if !n.is_finite() || n.fract() != 0.0 || n < *range.start() as f64 || n > *range.end() as f64 {
        return Err(CoreError::invalid_option(
            name,
            format!("{expected} (got {n})"),
        ));
    }
    Ok(n as u32)
}

fn boolean(name: &str, value: Unknown<'_>) -> std::result::Result<bool, CoreError> {
    if value.get_type().ok() != Some(ValueType::Boolean) {
        return Err(CoreError::invalid_option(name, "must be a boolean"));
    }
    // SAFETY: the type was checked to be a boolean just above.
    unsafe { value.cast::<bool>() }
        .map_err(|_| CoreError::invalid_option(name, "must be a boolean"))
}

/// Rejects keys of `options` that are not in `known`, listing both.
fn checked_object<'a>(
    options: &'a Object<'a>,
    what: &str,
    known: &[&str],
) -> std::result::Result<(), CoreError> {
    let keys = Object::keys(options)
        .map_err(|e| CoreError::invalid_option(what, format!("must be a plain object ({e})")))?;
    let unknown: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(CoreError::invalid_option(
        what,
        format!(
            "unknown option(s) {}; known: {}",
            unknown.join(", "),
            known.join(", ")
        ),
    ))
}

/// `None` for an absent, `undefined` or `null` property.
fn property<'a>(
    options: &'a Object<'a>,
    name: &str,
) -> std::result::Result<Option<Unknown<'a>>, CoreError> {
    let v: Unknown = options
        .get_named_property(name)
        .map_err(|e| CoreError::invalid_option(name, e.to_string()))?;
    Ok(match v.get_type() {
        Ok(ValueType::Undefined) | Ok(ValueType::Null) => None,
        _ => Some(v),
    })
}

pub fn parse_options(options: Option<Object<'_>>) -> std::result::Result<CaptureConfig, CoreError> {
    let mut config = CaptureConfig {
        protocol: ProtocolChoice::Auto,
        socket_path: default_legacy_socket_path(),
        socket_path_given: false,
        http_socket_path: default_v1_socket_path(),
        http_socket_path_given: false,
        token: None,
        language: None,
        client_id: generated_client_id(),
        source: Source::Device(DeviceRequest::default()),
        chunk_ms: 100,
        level_hz: 30,
        spectrum_bands: 0,
        daemon: true,
        max_buffer_ms: 30_000,
        link: LinkConfig::default(),
        stall_timeout: Duration::from_millis(2000),
        silence_warn: Some(Duration::from_millis(3000)),
        auto_reopen: true,
    };
    config.token = token_from_env()?;
    let Some(options) = options else {
        check_daemon_paths(&config)?;
        return Ok(config);
    };
    checked_object(&options, "options", KNOWN)?;
    let get = |name: &str| property(&options, name);
    if let Some(v) = get("protocol")? {
        let name = non_empty_string("protocol", v, 16)?;
        config.protocol = ProtocolChoice::parse(&name).ok_or_else(|| {
            CoreError::invalid_option(
                "protocol",
                format!(
                    "must be one of {} (got {name:?})",
                    ProtocolChoice::NAMES.join(", ")
                ),
            )
        })?;
    }
    if let Some(v) = get("socketPath")? {
        config.socket_path = PathBuf::from(non_empty_string("socketPath", v, 4096)?);
        config.socket_path_given = true;
    }
    if let Some(v) = get("httpSocketPath")? {
        config.http_socket_path = PathBuf::from(non_empty_string("httpSocketPath", v, 4096)?);
        config.http_socket_path_given = true;
    }
    if let Some(v) = get("token")? {
        config.token = Some(token("token", non_empty_string("token", v, 4096)?)?);
    }
    if let Some(v) = get("language")? {
        let language = non_empty_string("language", v, 64)?;
        if !language
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CoreError::invalid_option(
                "language",
                format!("must be a language code like \"en\" or \"pt-BR\" (got {language:?})"),
            ));
        }
        config.language = Some(language);
    }
    if let Some(v) = get("clientId")? {
        config.client_id = non_empty_string("clientId", v, 1024)?;
    }
    let mut request = DeviceRequest::default();
    if let Some(v) = get("device")? {
        request.device = Some(non_empty_string("device", v, 4096)?);
    }
    if let Some(v) = get("sampleRate")? {
        request.sample_rate = Some(integer_in("sampleRate", v, SAMPLE_RATE)?);
    }
    if let Some(v) = get("channels")? {
        request.channels = Some(integer_in("channels", v, CHANNELS)? as u16);
    }
    if let Some(v) = get("host")? {
        request.host = Some(host_name(v)?);
    }
    if let Some(v) = get("input")? {
        for (name, given) in [
            ("device", request.device.is_some()),
            ("sampleRate", request.sample_rate.is_some()),
            ("channels", request.channels.is_some()),
            ("host", request.host.is_some()),
        ] {
            if given {
                return Err(CoreError::invalid_option(
                    "input",
                    format!("cannot be combined with `{name}`: a file has its own"),
                ));
            }
        }
        config.source = Source::File(parse_input(v)?);
    } else {
        config.source = Source::Device(request);
    }
    if let Some(v) = get("stallTimeoutMs")? {
        config.stall_timeout =
            Duration::from_millis(integer_in("stallTimeoutMs", v, STALL_TIMEOUT_MS)? as u64);
    }
    if let Some(v) = get("autoReopen")? {
        config.auto_reopen = boolean("autoReopen", v)?;
    }
    if let Some(v) = get("silenceWarnMs")? {
        let ms = integer_in("silenceWarnMs", v, SILENCE_WARN_MS)?;
        config.silence_warn = (ms > 0).then(|| Duration::from_millis(ms as u64));
    }
    if let Some(v) = get("chunkMs")? {
        config.chunk_ms = integer_in("chunkMs", v, CHUNK_MS)?;
    }
    if let Some(v) = get("levelHz")? {
        config.level_hz = integer_in("levelHz", v, LEVEL_HZ)?;
    }
    if let Some(v) = get("spectrumBands")? {
        config.spectrum_bands = integer_in("spectrumBands", v, SPECTRUM_BANDS)?;
    }
    if let Some(v) = get("daemon")? {
        config.daemon = boolean("daemon", v)?;
    }
    if let Some(v) = get("maxBufferMs")? {
        config.max_buffer_ms = integer_in("maxBufferMs", v, MAX_BUFFER_MS)?;
    }
    let ms = |n: u32| Duration::from_millis(n as u64);
    if let Some(v) = get("reconnectInitialMs")? {
        config.link.reconnect_initial =
            ms(integer_in("reconnectInitialMs", v, RECONNECT_INITIAL_MS)?);
    }
    if let Some(v) = get("reconnectMaxMs")? {
        config.link.reconnect_max = ms(integer_in("reconnectMaxMs", v, RECONNECT_MAX_MS)?);
    }
    if config.link.reconnect_max < config.link.reconnect_initial {
        return Err(CoreError::invalid_option(
            "reconnectMaxMs",
            format!(
                "must be at least reconnectInitialMs ({} ms)",
                config.link.reconnect_initial.as_millis()
            ),
        ));
    }
    if let Some(v) = get("replyTimeoutMs")? {
        config.link.reply_timeout = ms(integer_in("replyTimeoutMs", v, REPLY_TIMEOUT_MS)?);
    }
    if config.max_buffer_ms < config.chunk_ms {
        return Err(CoreError::invalid_option(
            "maxBufferMs",
            format!("must be at least chunkMs ({} ms)", config.chunk_ms),
        ));
    }
    check_daemon_paths(&config)?;
    Ok(config)
}

/// Refuses a daemon path that exists and is not a socket, for each path the protocol choice
/// may use.
fn check_daemon_paths(config: &CaptureConfig) -> std::result::Result<(), CoreError> {
    if !config.daemon {
        return Ok(());
    }
    let auto_only = |given: bool, other_given: bool| given || !other_given;
    let legacy = match config.protocol {
        ProtocolChoice::Legacy => true,
        ProtocolChoice::V1 => false,
        ProtocolChoice::Auto => auto_only(config.socket_path_given, config.http_socket_path_given),
    };
    let v1 = match config.protocol {
        ProtocolChoice::Legacy => false,
        ProtocolChoice::V1 => true,
        ProtocolChoice::Auto => auto_only(config.http_socket_path_given, config.socket_path_given),
    };
    if legacy {
        check_socket_option("socketPath", &config.socket_path)?;
    }
    if v1 {
        check_socket_option("httpSocketPath", &config.http_socket_path)?;
    }
    Ok(())
}

/// One of the audio hosts this build has.
pub fn host_name(value: Unknown<'_>) -> std::result::Result<String, CoreError> {
    let name = non_empty_string("host", value, 32)?;
    let known = crate::capture::host_names();
    if known.contains(&name) {
        Ok(name)
    } else {
        Err(CoreError::invalid_option(
            "host",
            format!("must be one of {} (got {name:?})", known.join(", ")),
        ))
    }
}

/// `listInputDevices({ host })`.
pub fn parse_list_options(
    options: Option<Object<'_>>,
) -> std::result::Result<Option<String>, CoreError> {
    let Some(options) = options else {
        return Ok(None);
    };
    checked_object(&options, "listInputDevices options", &["host"])?;
    property(&options, "host")?.map(host_name).transpose()
}

/// A bearer token: printable ASCII without spaces, as an HTTP header value needs.
fn token(name: &str, value: String) -> std::result::Result<String, CoreError> {
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value)
    } else {
        Err(CoreError::invalid_option(
            name,
            "must be printable ASCII without spaces (the daemon's session_token)",
        ))
    }
}

fn token_from_env() -> std::result::Result<Option<String>, CoreError> {
    match std::env::var(TOKEN_ENV) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) if v.len() > 4096 => Err(CoreError::invalid_option(
            TOKEN_ENV,
            "must be at most 4096 bytes",
        )),
        Ok(v) => token(TOKEN_ENV, v).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(CoreError::invalid_option(
            TOKEN_ENV,
            "must be printable ASCII",
        )),
    }
}

/// `input: { file, realtime?, loop? }`. The file itself is opened (and refused with
/// `E_INVALID_INPUT`) at `startCapture()`.
fn parse_input(value: Unknown<'_>) -> std::result::Result<FileSource, CoreError> {
    const SHAPE: &str =
        "must be an object like { file: 'speech.wav', realtime?: true, loop?: false }";
    if value.get_type().ok() != Some(ValueType::Object) || value.is_array().unwrap_or(false) {
        return Err(CoreError::invalid_option("input", SHAPE));
    }
    // SAFETY: the type was checked to be an object just above.
    let input: Object =
        unsafe { value.cast::<Object>() }.map_err(|_| CoreError::invalid_option("input", SHAPE))?;
    checked_object(&input, "input", KNOWN_INPUT)?;
    let file = property(&input, "file")?
        .ok_or_else(|| CoreError::invalid_option("input.file", "is required: a WAV file path"))?;
    let mut source = FileSource {
        path: PathBuf::from(non_empty_string("input.file", file, 4096)?),
        realtime: true,
        looped: false,
    };
    if let Some(v) = property(&input, "realtime")? {
        source.realtime = boolean("input.realtime", v)?;
    }
    if let Some(v) = property(&input, "loop")? {
        source.looped = boolean("input.loop", v)?;
    }
    Ok(source)
}

pub fn parse_start_options(
    options: Option<Object<'_>>,
) -> std::result::Result<StartConfig, CoreError> {
    let mut config = StartConfig::default();
    let Some(options) = options else {
        return Ok(config);
    };
    checked_object(&options, "startCapture options", KNOWN_START)?;
    if let Some(v) = property(&options, "waitForDaemon")? {
        config.wait_for_daemon = boolean("waitForDaemon", v)?;
    }
    Ok(config)
}

const KNOWN_TOKEN_REQUEST: &[&str] = &[
    "appName",
    "scopes",
    "version",
    "httpSocketPath",
    "timeoutMs",
];
const TOKEN_TIMEOUT_MS: RangeInclusive<u32> = 100..=3_600_000;

/// Options of `requestToken()`.
#[derive(Debug, Clone)]
pub struct TokenRequestConfig {
    pub socket_path: PathBuf,
    pub request: TokenRequest,
    pub timeout: Duration,
}

pub fn parse_token_request(
    options: Object<'_>,
) -> std::result::Result<TokenRequestConfig, CoreError> {
    checked_object(&options, "requestToken options", KNOWN_TOKEN_REQUEST)?;
    let get = |name: &str| property(&options, name);
    let app_name = get("appName")?.ok_or_else(|| {
        CoreError::invalid_option(
            "appName",
            "is required: the name the user sees in the consent prompt",
        )
    })?;
    let mut config = TokenRequestConfig {
        socket_path: default_v1_socket_path(),
        request: TokenRequest {
            app_name: non_empty_string("appName", app_name, 256)?,
            scopes: vec!["transcribe".to_owned()],
            version: None,
        },
        // The daemon waits for the user to answer its consent prompt.
        timeout: Duration::from_secs(120),
    };
    if let Some(v) = get("scopes")? {
        config.request.scopes = string_list("scopes", v)?;
    }
    if let Some(v) = get("version")? {
        config.request.version = Some(non_empty_string("version", v, 64)?);
    }
    if let Some(v) = get("httpSocketPath")? {
        config.socket_path = PathBuf::from(non_empty_string("httpSocketPath", v, 4096)?);
    }
    if let Some(v) = get("timeoutMs")? {
        config.timeout =
            Duration::from_millis(integer_in("timeoutMs", v, TOKEN_TIMEOUT_MS)? as u64);
    }
    check_socket_option("httpSocketPath", &config.socket_path)?;
    Ok(config)
}

/// A non-empty array of short `[a-z_]` names, like the daemon's scopes.
fn string_list(name: &str, value: Unknown<'_>) -> std::result::Result<Vec<String>, CoreError> {
    const SHAPE: &str = "must be a non-empty array of scope names like [\"transcribe\"]";
    if !value.is_array().unwrap_or(false) {
        return Err(CoreError::invalid_option(name, SHAPE));
    }
    // SAFETY: the value was checked to be an array just above.
    let array: Array =
        unsafe { value.cast::<Array>() }.map_err(|_| CoreError::invalid_option(name, SHAPE))?;
    if array.len() == 0 || array.len() > 32 {
        return Err(CoreError::invalid_option(name, SHAPE));
    }
    let mut out = Vec::with_capacity(array.len() as usize);
    for i in 0..array.len() {
        let item: Unknown = array
            .get(i)
            .map_err(|e| CoreError::invalid_option(name, e.to_string()))?
            .ok_or_else(|| CoreError::invalid_option(name, SHAPE))?;
        let scope = non_empty_string(name, item, 64)?;
        if !scope.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(CoreError::invalid_option(
                name,
                format!("{SHAPE} (got {scope:?})"),
            ));
        }
        out.push(scope);
    }
    Ok(out)
}
