//! Input devices and the cpal stream. The audio callback itself lives in [`processor`].

mod alsa_quiet;
pub mod file;
pub mod processor;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, I24, U24};
use ringbuf::traits::Split;
use ringbuf::{HeapCons, HeapRb};

use crate::error::{Error, Result};
use crate::stats::CaptureCounters;
use processor::Processor;

pub use alsa_quiet::mute_alsa_errors;
pub use file::{FileInput, FileSource};

/// Seconds of device audio the ring holds: room for the pipeline task to stall this long
/// (GC pause, busy runtime) before frames are dropped.
pub const RING_SECONDS: f64 = 2.0;

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
}

/// What the opened stream actually runs at.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    pub device_id: String,
    pub device_name: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: String,
    pub ring_capacity: usize,
}

/// What the input reports besides samples: an error from cpal's stream thread (not the data
/// callback) or the file reader, and the end of a file. Read by the pipeline task.
#[derive(Debug, Default)]
pub struct InputStatus {
    error: Mutex<Option<Error>>,
    /// Set once no more frames will arrive (a file input reached its end or failed).
    pub ended: AtomicBool,
}

impl InputStatus {
    /// Keeps the first error until it is taken.
    pub fn report(&self, error: Error) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(error);
        }
    }

    /// Takes the pending error, if any.
    pub fn take(&self) -> Option<Error> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}

/// Where audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An input device: an id or exact name from [`list_input_devices`], or the default.
    Device(Option<String>),
    File(FileSource),
}

/// Keeps the input running; dropping it stops the input (and joins its thread). Blocking.
pub enum InputHandle {
    Device(cpal::Stream),
    File(FileInput),
}

pub struct OpenStream {
    pub input: InputHandle,
    pub info: StreamInfo,
    pub ring: HeapCons<f32>,
    pub status: Arc<InputStatus>,
}

/// Opens the source and starts it. Blocking: call it off the JS thread.
pub fn open(source: &Source, counters: Arc<CaptureCounters>) -> Result<OpenStream> {
    match source {
        Source::Device(wanted) => open_input(wanted.as_deref(), counters),
        Source::File(file) => open_file(file, counters),
    }
}

fn ring_for(rate: u32) -> (ringbuf::HeapProd<f32>, HeapCons<f32>, usize) {
    let capacity = ((rate as f64 * RING_SECONDS) as usize).max(8192);
    let (producer, consumer) = HeapRb::<f32>::new(capacity).split();
    (producer, consumer, capacity)
}

fn open_file(source: &FileSource, counters: Arc<CaptureCounters>) -> Result<OpenStream> {
    let (reader, format) = file::open_wav(&source.path)?;
    let (producer, consumer, capacity) = ring_for(format.sample_rate);
    let status = Arc::new(InputStatus::default());
    let input = file::start(
        source.clone(),
        reader,
        format,
        producer,
        counters,
        status.clone(),
    )?;
    Ok(OpenStream {
        input: InputHandle::File(input),
        info: StreamInfo {
            device_id: format!("file:{}", source.path.display()),
            device_name: source.path.display().to_string(),
            sample_rate: format.sample_rate,
            channels: format.channels,
            sample_format: format.format_name(),
            ring_capacity: capacity,
        },
        ring: consumer,
        status,
    })
}

fn device_id(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.to_string())
}

fn device_name(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| device_id(device).unwrap_or_default())
}

/// Lists input devices of the default host. Blocking (ALSA probes devices): call it off the
/// JS thread.
pub fn list_input_devices() -> Result<Vec<InputDeviceInfo>> {
    mute_alsa_errors();
    let host = cpal::default_host();
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
        for c in configs {
            channels = channels.max(c.channels());
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
        });
    }
    Ok(out)
}

fn find_device(host: &cpal::Host, wanted: Option<&str>) -> Result<cpal::Device> {
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

/// Opens the input device (`None` = system default) at its default configuration and starts
/// the stream. Blocking: call it off the JS thread.
fn open_input(wanted: Option<&str>, counters: Arc<CaptureCounters>) -> Result<OpenStream> {
    mute_alsa_errors();
    let host = cpal::default_host();
    let device = find_device(&host, wanted)?;
    let supported = device.default_input_config().map_err(|e| {
        Error::NoDevice(format!(
            "{} has no usable input configuration: {e}",
            device_name(&device)
        ))
    })?;
    let config = supported.config();
    let (producer, consumer, capacity) = ring_for(config.sample_rate);
    let status = Arc::new(InputStatus::default());
    let format = supported.sample_format();
    let channels = config.channels as usize;

    macro_rules! build {
        ($t:ty) => {
            build_stream::<$t>(
                &device,
                config,
                channels,
                producer,
                counters,
                status.clone(),
            )
        };
    }
    let stream = match format {
        SampleFormat::I8 => build!(i8),
        SampleFormat::I16 => build!(i16),
        SampleFormat::I24 => build!(I24),
        SampleFormat::I32 => build!(i32),
        SampleFormat::I64 => build!(i64),
        SampleFormat::U8 => build!(u8),
        SampleFormat::U16 => build!(u16),
        SampleFormat::U24 => build!(U24),
        SampleFormat::U32 => build!(u32),
        SampleFormat::U64 => build!(u64),
        SampleFormat::F32 => build!(f32),
        SampleFormat::F64 => build!(f64),
        other => Err(Error::UnsupportedConfig(format!(
            "sample format {other} is not PCM"
        ))),
    }?;
    stream
        .play()
        .map_err(|e| Error::Device(format!("cannot start the input stream: {e}")))?;
    Ok(OpenStream {
        input: InputHandle::Device(stream),
        info: StreamInfo {
            device_id: device_id(&device).unwrap_or_default(),
            device_name: device_name(&device),
            sample_rate: config.sample_rate,
            channels: config.channels,
            sample_format: format.to_string(),
            ring_capacity: capacity,
        },
        ring: consumer,
        status,
    })
}

fn build_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    producer: ringbuf::HeapProd<f32>,
    counters: Arc<CaptureCounters>,
    status: Arc<InputStatus>,
) -> Result<cpal::Stream>
where
    T: SizedSample + 'static,
    f32: FromSample<T>,
{
    let mut processor = Processor::<T>::new(channels, producer, counters);
    device
        .build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _| processor.process(data),
            // cpal's error callback, not the data path: a rare event.
            move |err| status.report(Error::Device(err.to_string())),
            None,
        )
        .map_err(|e| match e.kind() {
            cpal::ErrorKind::UnsupportedConfig | cpal::ErrorKind::InvalidInput => {
                Error::UnsupportedConfig(e.to_string())
            }
            cpal::ErrorKind::DeviceNotAvailable => Error::NoDevice(e.to_string()),
            _ => Error::Device(e.to_string()),
        })
}

#[cfg(test)]
mod realtime_alloc_tests;
