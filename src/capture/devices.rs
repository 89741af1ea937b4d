//! Hosts and input devices: listing them, finding the one asked for, and choosing the
//! configuration to open.

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::SampleFormat;

use super::{mute_alsa_errors, DeviceRequest};
use crate::error::{Error, Result};

const COMMON_RATES: [u32; 11] = [
    8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000,
];

#[derive(Debug, Clone)]
pub struct InputDeviceInfo {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub channels: u16,
    pub sample_rates: Vec<u32>,
    /// cpal's names of the sample formats offered, e.g. `i16`, `f32`.
    pub sample_formats: Vec<String>,
    /// The audio host, e.g. `alsa`.
    pub host: String,
}

pub(super) fn device_id(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.to_string())
}

pub(super) fn device_name(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| device_id(device).unwrap_or_default())
}

/// The names of the audio hosts this build has, e.g. `alsa`, `pulseaudio`.
pub fn host_names() -> Vec<String> {
    cpal::ALL_HOSTS.iter().map(|h| h.to_string()).collect()
}

/// The host to use: `requested` by name, else the one a device id names (`alsa:default`),
/// else cpal's preference. Blocking: connecting to a sound server can take a moment.
pub fn host_for(requested: Option<&str>, device: Option<&str>) -> Result<cpal::Host> {
    let from_device = device
        .and_then(|d| d.split_once(':'))
        .map(|(h, _)| h)
        .filter(|h| cpal::ALL_HOSTS.iter().any(|id| id.to_string() == *h));
    let Some(name) = requested.or(from_device) else {
        return Ok(cpal::default_host());
    };
    let id = cpal::ALL_HOSTS
        .iter()
        .find(|id| id.to_string() == name)
        .ok_or_else(|| {
            Error::invalid_option(
                "host",
                format!(
                    "unknown host {name:?}; this build has {}",
                    host_names().join(", ")
                ),
            )
        })?;
    cpal::host_from_id(*id)
        .map_err(|e| Error::NoDevice(format!("the {name} audio host is not available: {e}")))
}

/// Lists input devices of a host (see [`host_for`]). Blocking (ALSA probes devices): call it
/// off the JS thread.
pub fn list_input_devices(host: Option<&str>) -> Result<Vec<InputDeviceInfo>> {
    mute_alsa_errors();
    let host = host_for(host, None)?;
    let host_name = host.id().to_string();
    let default_id = host.default_input_device().and_then(|d| device_id(&d));
    let devices = host
        .input_devices()
        .map_err(|e| Error::Device(format!("cannot enumerate input devices: {e}")))?;
    let mut out = Vec::new();
    for device in devices {
        let Some(id) = device_id(&device) else {
            continue;
        };
        let Ok(configs) = device.supported_input_configs() else {
            continue;
        };
        let mut channels = 0;
        let mut rates = Vec::new();
        let mut formats = Vec::new();
        for c in configs {
            if !is_pcm(c.sample_format()) {
                continue;
            }
            channels = channels.max(c.channels());
            let format = c.sample_format().to_string();
            if !formats.contains(&format) {
                formats.push(format);
            }
            let (lo, hi) = (c.min_sample_rate(), c.max_sample_rate());
            rates.extend(
                COMMON_RATES
                    .iter()
                    .copied()
                    .filter(|r| (lo..=hi).contains(r)),
            );
        }
        if channels == 0 {
            continue;
        }
        rates.sort_unstable();
        rates.dedup();
        out.push(InputDeviceInfo {
            is_default: default_id.as_deref() == Some(id.as_str()),
            name: device_name(&device),
            id,
            channels,
            sample_rates: rates,
            sample_formats: formats,
            host: host_name.clone(),
        });
    }
    Ok(out)
}

pub(super) fn find_device(host: &cpal::Host, wanted: Option<&str>) -> Result<cpal::Device> {
    let Some(wanted) = wanted else {
        return host
            .default_input_device()
            .ok_or_else(|| Error::NoDevice("the system has no default input device".into()));
    };
    let devices = host
        .input_devices()
        .map_err(|e| Error::NoDevice(format!("cannot enumerate input devices: {e}")))?;
    let mut seen = Vec::new();
    for device in devices {
        let id = device_id(&device).unwrap_or_default();
        let name = device_name(&device);
        if id == wanted || name == wanted {
            return Ok(device);
        }
        seen.push(id);
    }
    Err(Error::NoDevice(format!(
        "no input device with id or name {wanted:?}; available: {}",
        if seen.is_empty() {
            "none".to_owned()
        } else {
            seen.join(", ")
        }
    )))
}

/// The configuration to open: the device's default, or the supported one matching the
/// requested rate and channels (default sample format first, then f32, then any).
pub(super) fn choose_config(
    device: &cpal::Device,
    request: &DeviceRequest,
) -> Result<cpal::SupportedStreamConfig> {
    let default = device.default_input_config().map_err(|e| {
        Error::NoDevice(format!(
            "{} has no usable input configuration: {e}",
            device_name(device)
        ))
    })?;
    if request.sample_rate.is_none() && request.channels.is_none() {
        return Ok(default);
    }
    let rate = request.sample_rate.unwrap_or(default.sample_rate());
    let channels = request.channels.unwrap_or(default.channels());
    let ranges: Vec<cpal::SupportedStreamConfigRange> = device
        .supported_input_configs()
        .map_err(|e| Error::UnsupportedConfig(e.to_string()))?
        .collect();
    let preference = |format: SampleFormat| {
        if format == default.sample_format() {
            0
        } else if format == SampleFormat::F32 {
            1
        } else {
            2
        }
    };
    ranges
        .iter()
        .filter(|r| {
            is_pcm(r.sample_format())
                && r.channels() == channels
                && (r.min_sample_rate()..=r.max_sample_rate()).contains(&rate)
        })
        .min_by_key(|r| preference(r.sample_format()))
        .map(|r| r.with_sample_rate(rate))
        .ok_or_else(|| {
            Error::UnsupportedConfig(format!(
                "{} cannot capture {channels} channel(s) at {rate} Hz; it supports {}",
                device_name(device),
                describe_ranges(&ranges)
            ))
        })
}

/// The formats the audio callback converts (not DSD bitstreams).
fn is_pcm(format: SampleFormat) -> bool {
    use SampleFormat::*;
    matches!(
        format,
        I8 | I16 | I24 | I32 | I64 | U8 | U16 | U24 | U32 | U64 | F32 | F64
    )
}

/// `1 ch 8000–48000 Hz (i16, f32); 2 ch 8000–48000 Hz (i16, f32)`.
fn describe_ranges(ranges: &[cpal::SupportedStreamConfigRange]) -> String {
    let mut groups: Vec<(u16, u32, u32, Vec<String>)> = Vec::new();
    for r in ranges.iter().filter(|r| is_pcm(r.sample_format())) {
        let (ch, lo, hi) = (r.channels(), r.min_sample_rate(), r.max_sample_rate());
        let format = r.sample_format().to_string();
        match groups
            .iter_mut()
            .find(|g| g.0 == ch && g.1 == lo && g.2 == hi)
        {
            Some(g) if !g.3.contains(&format) => g.3.push(format),
            Some(_) => {}
            None => groups.push((ch, lo, hi, vec![format])),
        }
    }
    if groups.is_empty() {
        return "no input configuration".into();
    }
    groups
        .iter()
        .map(|(ch, lo, hi, formats)| format!("{ch} ch {lo}–{hi} Hz ({})", formats.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
