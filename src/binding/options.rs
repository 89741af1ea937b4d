//! JS options → a validated core config. Every rejection is `E_INVALID_OPTION` naming the
//! option and what it accepts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use napi::bindgen_prelude::*;
use napi::ValueType;

use crate::error::Error as CoreError;
use crate::transport::socket_path::default_legacy_socket_path;

pub const DEFAULT_CHUNK_MS: u32 = 100;
pub const CHUNK_MS_RANGE: std::ops::RangeInclusive<u32> = 10..=1000;
const KNOWN: &[&str] = &["socketPath", "clientId", "device", "chunkMs", "daemon"];

#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub socket_path: PathBuf,
    pub client_id: String,
    pub device: Option<String>,
    pub chunk_ms: u32,
    pub daemon: bool,
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

pub fn parse_options(options: Option<Object<'_>>) -> std::result::Result<CaptureConfig, CoreError> {
    let mut config = CaptureConfig {
        socket_path: default_legacy_socket_path(),
        client_id: generated_client_id(),
        device: None,
        chunk_ms: DEFAULT_CHUNK_MS,
        daemon: true,
    };
    let Some(options) = options else {
        return Ok(config);
    };
    let keys = Object::keys(&options).map_err(|e| {
        CoreError::invalid_option("options", format!("must be a plain object ({e})"))
    })?;
    let unknown: Vec<&String> = keys
        .iter()
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        let unknown: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        return Err(CoreError::invalid_option(
            "options",
            format!(
                "unknown option(s) {}; known: {}",
                unknown.join(", "),
                KNOWN.join(", ")
            ),
        ));
    }
    let get = |name: &str| -> std::result::Result<Option<Unknown<'_>>, CoreError> {
        let v: Unknown = options
            .get_named_property(name)
            .map_err(|e| CoreError::invalid_option(name, e.to_string()))?;
        Ok(match v.get_type() {
            Ok(ValueType::Undefined) | Ok(ValueType::Null) => None,
            _ => Some(v),
        })
    };
    if let Some(v) = get("socketPath")? {
        config.socket_path = PathBuf::from(non_empty_string("socketPath", v, 4096)?);
    }
    if let Some(v) = get("clientId")? {
        config.client_id = non_empty_string("clientId", v, 1024)?;
    }
    if let Some(v) = get("device")? {
        config.device = Some(non_empty_string("device", v, 4096)?);
    }
    if let Some(v) = get("chunkMs")? {
        let range = format!(
            "must be an integer from {} to {}",
            CHUNK_MS_RANGE.start(),
            CHUNK_MS_RANGE.end()
        );
        if v.get_type().ok() != Some(ValueType::Number) {
            return Err(CoreError::invalid_option("chunkMs", range));
        }
        // SAFETY: the type was checked to be a number just above.
        let ms: f64 = unsafe { v.cast::<f64>() }
            .map_err(|_| CoreError::invalid_option("chunkMs", range.clone()))?;
        if !ms.is_finite()
            || ms.fract() != 0.0
            || !CHUNK_MS_RANGE.contains(&(ms as u32))
            || ms < 0.0
        {
            return Err(CoreError::invalid_option(
                "chunkMs",
                format!("{range} (got {ms})"),
            ));
        }
        config.chunk_ms = ms as u32;
    }
    if let Some(v) = get("daemon")? {
        if v.get_type().ok() != Some(ValueType::Boolean) {
            return Err(CoreError::invalid_option("daemon", "must be a boolean"));
        }
        // SAFETY: the type was checked to be a boolean just above.
        config.daemon = unsafe { v.cast::<bool>() }
            .map_err(|_| CoreError::invalid_option("daemon", "must be a boolean"))?;
    }
    Ok(config)
}
