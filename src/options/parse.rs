//! Option values → validated configs. Every rejection is `E_INVALID_OPTION` naming the
//! option and what it accepts; ranges and defaults come from `table.rs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::table::{CAPTURE, LIST, START, TOKEN_REQUEST};
use super::{Reader, Value};
use crate::capture::{DeviceRequest, FileSource, Source};
use crate::delivery::link::LinkConfig;
use crate::error::{Error, Result};
use crate::transport::any::ProtocolChoice;
use crate::transport::http::TokenRequest;
use crate::transport::socket_path::{
    check_socket_option, default_legacy_socket_path, default_v1_socket_path,
};

/// Where a token comes from when the `token` option is not given.
pub const TOKEN_ENV: &str = "SUPER_STT_TOKEN";

/// Everything `new AudioCapture(options)` decides.
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

/// Options of `requestToken()`.
#[derive(Debug, Clone)]
pub struct TokenRequestConfig {
    pub socket_path: PathBuf,
    pub request: TokenRequest,
    pub timeout: Duration,
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

fn ms(n: u32) -> Duration {
    Duration::from_millis(n as u64)
}

/// Integers with a default in the table always have a value.
fn int(o: &Reader<'_>, name: &str) -> Result<u32> {
    o.int(name)?
        .ok_or_else(|| Error::Internal(format!("{name} has no default")))
}

fn flag(o: &Reader<'_>, name: &str) -> Result<bool> {
    o.bool(name)?
        .ok_or_else(|| Error::Internal(format!("{name} has no default")))
}

impl CaptureConfig {
    pub fn parse(value: &Value) -> Result<Self> {
        let env_token = token_from_env()?;
        let o = Reader::new(&CAPTURE, value)?;
        let protocol = o.choice("protocol")?;
        let socket_path = o.text("socketPath")?;
        let http_socket_path = o.text("httpSocketPath")?;
        let token = match o.text("token")? {
            Some(t) => Some(token("token", t)?),
            None => env_token,
        };
        let language = o.text("language")?;
        if let Some(language) = &language {
            if !language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(Error::invalid_option(
                    "language",
                    format!("must be a language code like \"en\" or \"pt-BR\" (got {language:?})"),
                ));
            }
        }
        let request = DeviceRequest {
            device: o.text("device")?,
            sample_rate: o.int("sampleRate")?,
            channels: o.int("channels")?.map(|c| c as u16),
            host: o.text("host")?.map(|h| host_name(&h)).transpose()?,
        };
        let source = match o.object("input")? {
            Some(input) => {
                for (name, given) in [
                    ("device", request.device.is_some()),
                    ("sampleRate", request.sample_rate.is_some()),
                    ("channels", request.channels.is_some()),
                    ("host", request.host.is_some()),
                ] {
                    if given {
                        return Err(Error::invalid_option(
                            "input",
                            format!("cannot be combined with `{name}`: a file has its own"),
                        ));
                    }
                }
                Source::File(FileSource {
                    path: PathBuf::from(input.text("file")?.unwrap_or_default()),
                    realtime: flag(&input, "realtime")?,
                    looped: flag(&input, "loop")?,
                })
            }
            None => Source::Device(request),
        };
        let silence_warn_ms = int(&o, "silenceWarnMs")?;
        let config = CaptureConfig {
            protocol: ProtocolChoice::parse(protocol)
                .ok_or_else(|| Error::Internal(format!("protocol {protocol}")))?,
            socket_path_given: socket_path.is_some(),
            socket_path: socket_path.map_or_else(default_legacy_socket_path, PathBuf::from),
            http_socket_path_given: http_socket_path.is_some(),
            http_socket_path: http_socket_path.map_or_else(default_v1_socket_path, PathBuf::from),
            token,
            language,
            client_id: o.text("clientId")?.unwrap_or_else(generated_client_id),
            source,
            chunk_ms: int(&o, "chunkMs")?,
            level_hz: int(&o, "levelHz")?,
            spectrum_bands: int(&o, "spectrumBands")?,
            daemon: flag(&o, "daemon")?,
            max_buffer_ms: int(&o, "maxBufferMs")?,
            link: LinkConfig {
                reconnect_initial: ms(int(&o, "reconnectInitialMs")?),
                reconnect_max: ms(int(&o, "reconnectMaxMs")?),
                reply_timeout: ms(int(&o, "replyTimeoutMs")?),
                ..LinkConfig::default()
            },
            stall_timeout: ms(int(&o, "stallTimeoutMs")?),
            silence_warn: (silence_warn_ms > 0).then(|| ms(silence_warn_ms)),
            auto_reopen: flag(&o, "autoReopen")?,
        };
        if config.link.reconnect_max < config.link.reconnect_initial {
            return Err(Error::invalid_option(
                "reconnectMaxMs",
                format!(
                    "must be at least reconnectInitialMs ({} ms)",
                    config.link.reconnect_initial.as_millis()
                ),
            ));
        }
        if config.max_buffer_ms < config.chunk_ms {
            return Err(Error::invalid_option(
                "maxBufferMs",
                format!("must be at least chunkMs ({} ms)", config.chunk_ms),
            ));
        }
        config.check_daemon_paths()?;
        Ok(config)
    }

    /// Refuses a daemon path that exists and is not a socket, for each path the protocol
    /// choice may use.
    fn check_daemon_paths(&self) -> Result<()> {
        if !self.daemon {
            return Ok(());
        }
        let auto_only = |given: bool, other_given: bool| given || !other_given;
        let legacy = match self.protocol {
            ProtocolChoice::Legacy => true,
            ProtocolChoice::V1 => false,
            ProtocolChoice::Auto => auto_only(self.socket_path_given, self.http_socket_path_given),
        };
        let v1 = match self.protocol {
            ProtocolChoice::Legacy => false,
            ProtocolChoice::V1 => true,
            ProtocolChoice::Auto => auto_only(self.http_socket_path_given, self.socket_path_given),
        };
        if legacy {
            check_socket_option("socketPath", &self.socket_path)?;
        }
        if v1 {
            check_socket_option("httpSocketPath", &self.http_socket_path)?;
        }
        Ok(())
    }
}

impl StartConfig {
    pub fn parse(value: &Value) -> Result<Self> {
        let o = Reader::new(&START, value)?;
        Ok(Self {
            wait_for_daemon: flag(&o, "waitForDaemon")?,
        })
    }
}

/// `listInputDevices({ host })`: the host to list, `None` for the default.
pub fn parse_list_options(value: &Value) -> Result<Option<String>> {
    let o = Reader::new(&LIST, value)?;
    o.text("host")?.map(|h| host_name(&h)).transpose()
}

impl TokenRequestConfig {
    pub fn parse(value: &Value) -> Result<Self> {
        let o = Reader::new(&TOKEN_REQUEST, value)?;
        let config = Self {
            socket_path: o
                .text("httpSocketPath")?
                .map_or_else(default_v1_socket_path, PathBuf::from),
            request: TokenRequest {
                app_name: o.text("appName")?.unwrap_or_default(),
                scopes: o
                    .names("scopes")?
                    .unwrap_or_else(|| vec!["transcribe".to_owned()]),
                version: o.text("version")?,
            },
            timeout: ms(int(&o, "timeoutMs")?),
        };
        check_socket_option("httpSocketPath", &config.socket_path)?;
        Ok(config)
    }
}

/// One of the audio hosts this build has.
fn host_name(name: &str) -> Result<String> {
    let known = crate::capture::host_names();
    if known.iter().any(|k| k == name) {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid_option(
            "host",
            format!("must be one of {} (got {name:?})", known.join(", ")),
        ))
    }
}

/// A bearer token: printable ASCII without spaces, as an HTTP header value needs.
fn token(name: &str, value: String) -> Result<String> {
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value)
    } else {
        Err(Error::invalid_option(
            name,
            "must be printable ASCII without spaces (the daemon's session_token)",
        ))
    }
}

fn token_from_env() -> Result<Option<String>> {
    match std::env::var(TOKEN_ENV) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) if v.len() > 4096 => Err(Error::invalid_option(
            TOKEN_ENV,
            "must be at most 4096 bytes",
        )),
        Ok(v) => token(TOKEN_ENV, v).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::invalid_option(TOKEN_ENV, "must be printable ASCII"))
        }
    }
}

#[cfg(test)]
mod tests;
