//! Option values → validated configs for the module functions and `startCapture()`, and the
//! helpers every parser shares (the capture's own config is `session::config`). Every
//! rejection is `E_INVALID_OPTION` naming the option and what it accepts; ranges and
//! defaults come from `table.rs`.

use std::path::PathBuf;
use std::time::Duration;

use super::table::{LIST, START, TOKEN_REQUEST};
use super::{Reader, Value};
use crate::error::{Error, Result};
use crate::transport::http::TokenRequest;
use crate::transport::socket_path::{check_socket_option, default_v1_socket_path};

/// Where a token comes from when the `token` option is not given.
pub const TOKEN_ENV: &str = "SUPER_STT_TOKEN";

/// Options of one `startCapture()` call.
#[derive(Debug, Clone, Default)]
pub struct StartConfig {
    pub wait_for_daemon: bool,
    pub paused: bool,
}

/// Options of `requestToken()`.
#[derive(Debug, Clone)]
pub struct TokenRequestConfig {
    pub socket_path: PathBuf,
    pub request: TokenRequest,
    pub timeout: Duration,
}

pub fn ms(n: u32) -> Duration {
    Duration::from_millis(n as u64)
}

/// Integers with a default in the table always have a value.
pub fn int(o: &Reader<'_>, name: &str) -> Result<u32> {
    o.int(name)?
        .ok_or_else(|| Error::Internal(format!("{name} has no default")))
}

pub fn flag(o: &Reader<'_>, name: &str) -> Result<bool> {
    o.bool(name)?
        .ok_or_else(|| Error::Internal(format!("{name} has no default")))
}

impl StartConfig {
    pub fn parse(value: &Value) -> Result<Self> {
        let o = Reader::new(&START, value)?;
        Ok(Self {
            wait_for_daemon: flag(&o, "waitForDaemon")?,
            paused: flag(&o, "paused")?,
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
pub fn host_name(name: &str) -> Result<String> {
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
pub fn token(name: &str, value: String) -> Result<String> {
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value)
    } else {
        Err(Error::invalid_option(
            name,
            "must be printable ASCII without spaces (the daemon's session_token)",
        ))
    }
}

pub fn token_from_env() -> Result<Option<String>> {
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
