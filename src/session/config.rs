//! `new AudioCapture(options)` → the capture's config. Sinks read their own options
//! (`SinkOptions::parse`); the rest is read here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::capture::{DeviceRequest, FileSource, Source};
use crate::delivery::link::LinkConfig;
use crate::error::{Error, Result};
use crate::options::parse::{flag, host_name, int, ms, token, token_from_env};
use crate::options::table::CAPTURE;
use crate::options::{Reader, Value};
use crate::sinks::{voice::VoiceOptions, SinkOptions};
use crate::transport::any::ProtocolChoice;
use crate::transport::socket_path::{
    check_socket_option, default_legacy_socket_path, default_v1_socket_path,
};
use crate::transport::ModeChoice;
use std::time::Duration;

/// Everything `new AudioCapture(options)` decides.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub protocol: ProtocolChoice,
    /// Which route transcribes (`mode`).
    pub mode: ModeChoice,
    pub socket_path: PathBuf,
    pub socket_path_given: bool,
    pub http_socket_path: PathBuf,
    pub http_socket_path_given: bool,
    pub token: Option<String>,
    pub language: Option<String>,
    pub client_id: String,
    pub source: Source,
    /// What each sink reads from the options.
    pub sinks: SinkOptions,
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

impl CaptureConfig {
    pub fn parse(value: &Value) -> Result<Self> {
        let env_token = token_from_env()?;
        let o = Reader::new(&CAPTURE, value)?;
        let protocol = o.choice("protocol")?;
        let mode = o.choice("mode")?;
        let mode =
            ModeChoice::parse(mode).ok_or_else(|| Error::Internal(format!("mode {mode}")))?;
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
        let daemon = flag(&o, "daemon")?;
        let mut sinks = SinkOptions::parse(&o)?;
        if daemon && mode != ModeChoice::Stream && sinks.voice.is_none() {
            // Utterances come from the voice activity detector.
            if o.given("vad") {
                if mode == ModeChoice::Utterances {
                    return Err(Error::invalid_option(
                        "vad",
                        "cannot be false with mode 'utterances': utterances come from it",
                    ));
                }
            } else {
                sinks.voice = VoiceOptions::parse(&Reader::new(
                    &CAPTURE,
                    &Value::Object(vec![("vad".into(), Value::Bool(true))]),
                )?)?
                .map(|voice| VoiceOptions {
                    always: false,
                    ..voice
                });
            }
        }
        let client_id = o.text("clientId")?.unwrap_or_else(generated_client_id);
        let config = CaptureConfig {
            protocol: ProtocolChoice::parse(protocol)
                .ok_or_else(|| Error::Internal(format!("protocol {protocol}")))?,
            socket_path_given: socket_path.is_some(),
            socket_path: socket_path.map_or_else(default_legacy_socket_path, PathBuf::from),
            http_socket_path_given: http_socket_path.is_some(),
            http_socket_path: http_socket_path.map_or_else(default_v1_socket_path, PathBuf::from),
            token,
            language,
            client_id: client_id.clone(),
            mode,
            source,
            sinks,
            daemon,
            max_buffer_ms: int(&o, "maxBufferMs")?,
            link: LinkConfig {
                reconnect_initial: ms(int(&o, "reconnectInitialMs")?),
                reconnect_max: ms(int(&o, "reconnectMaxMs")?),
                reply_timeout: ms(int(&o, "replyTimeoutMs")?),
                stop_timeout: ms(int(&o, "stopTimeoutMs")?),
                client_id,
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
        if config.max_buffer_ms < config.sinks.chunks.chunk_ms {
            return Err(Error::invalid_option(
                "maxBufferMs",
                format!(
                    "must be at least chunkMs ({} ms)",
                    config.sinks.chunks.chunk_ms
                ),
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

#[cfg(test)]
mod tests;
