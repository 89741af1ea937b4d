//! Input devices and the cpal stream. The audio callback itself lives in [`processor`].

mod alsa_quiet;
mod devices;
pub mod file;
pub mod processor;
#[cfg(target_os = "linux")]
pub mod pulse;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, I24, U24};
use ringbuf::traits::Split;
use ringbuf::{HeapCons, HeapRb};

use crate::error::{Error, Result};
use crate::stats::CaptureCounters;
use processor::Processor;

pub use alsa_quiet::mute_alsa_errors;
use devices::{choose_config, device_id, device_name, find_device, host_for};
pub use devices::{host_names, list_input_devices, InputDeviceInfo};
pub use file::{FileInput, FileSource};

/// Seconds of device audio the ring holds: room for the pipeline task to stall this long
/// (GC pause, busy runtime) before frames are dropped.
pub const RING_SECONDS: f64 = 2.0;

/// A device and, optionally, the configuration to ask of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRequest {
    /// An audio host by name (`alsa`, `pulseaudio`); `None` = the device id's host, else
    /// cpal's preference (PulseAudio when a server answers, else ALSA).
    pub host: Option<String>,
    /// An id or exact name from [`list_input_devices`]; `None` = the system default.
    pub device: Option<String>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
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
    Device(DeviceRequest),
    File(FileSource),
}

/// Keeps the input running; dropping it stops the input (and joins its thread). Blocking.
pub enum InputHandle {
    Device(cpal::Stream),
    #[cfg(target_os = "linux")]
    Pulse(pulse::PulseInput),
    File(FileInput),
}

impl InputHandle {
    /// Stops or restarts the device while the capture is paused, so that a paused capture
    /// costs nothing: the PulseAudio stream is corked, a cpal stream paused where its device
    /// can pause (most ALSA hardware can). Returns whether the device is stopped; where it
    /// is not (a file, a device that cannot pause), it runs on and the pipeline discards
    /// what it delivers.
    pub fn set_paused(&mut self, paused: bool) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            InputHandle::Pulse(input) => {
                input.set_corked(paused);
                paused
            }
            InputHandle::Device(stream) if paused => stream.pause().is_ok(),
            InputHandle::Device(stream) => {
                // A device that cannot start again is caught by the stall watch.
                let _ = stream.play();
                false
            }
            InputHandle::File(_) => false,
        }
    }

    /// Whether the input is read on the pipeline's wake-ups ([`Self::pump`]) rather than
    /// calling back on a thread of its own: its frame count then changes only when pumped.
    pub fn is_pumped(&self) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            InputHandle::Pulse(_) => true,
            InputHandle::Device(_) | InputHandle::File(_) => false,
        }
    }

    /// Frames the input delivers at a time when it knows (PulseAudio's fragments); `None`:
    /// as many as its callbacks bring on average.
    pub fn frames_per_delivery(&self) -> Option<u64> {
        match self {
            #[cfg(target_os = "linux")]
            InputHandle::Pulse(input) => Some(input.fragment_frames()),
            InputHandle::Device(_) | InputHandle::File(_) => None,
        }
    }

    /// Reads what an input that is read rather than called back (PulseAudio) has received
    /// since the last call; the pipeline calls it before every drain. Never blocks.
    pub fn pump(&mut self) {
        match self {
            #[cfg(target_os = "linux")]
            InputHandle::Pulse(input) => input.pump(),
            InputHandle::Device(_) | InputHandle::File(_) => {}
        }
    }
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
        Source::Device(request) => open_input(request, counters),
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

/// Opens the requested input device and configuration and starts the stream. Blocking: call
/// it off the JS thread.
fn open_input(request: &DeviceRequest, counters: Arc<CaptureCounters>) -> Result<OpenStream> {
    mute_alsa_errors();
    let host = host_for(request.host.as_deref(), request.device.as_deref())?;
    let device = find_device(&host, request.device.as_deref())?;
    let supported = choose_config(&device, request)?;
    let mut config = supported.config();
    let is_pulse = host.id().to_string() == "pulseaudio";
    #[cfg(target_os = "linux")]
    if is_pulse && pulse::available() {
        return open_pulse(&device, &config, counters);
    }
    if is_pulse {
        // The server's default record fragment is about 2 s: audio would arrive in 2 s bursts
        // that nearly fill the ring. Ask for 10 ms fragments instead.
        if let cpal::SupportedBufferSize::Range { min, max } = supported.buffer_size() {
            let frames = (config.sample_rate / 100).clamp(*min, *max);
            config.buffer_size = cpal::BufferSize::Fixed(frames);
        }
    }
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

/// A PulseAudio source through libpulse (see [`pulse`]), at the configuration cpal's host
/// chose, always as f32 (the server converts).
#[cfg(target_os = "linux")]
fn open_pulse(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    counters: Arc<CaptureCounters>,
) -> Result<OpenStream> {
    let id = device_id(device).unwrap_or_default();
    // cpal's id is `pulseaudio:<source name>`.
    let source = id.split_once(':').map_or(id.as_str(), |(_, name)| name);
    let (producer, consumer, capacity) = ring_for(config.sample_rate);
    let status = Arc::new(InputStatus::default());
    let input = pulse::start(
        source,
        config.sample_rate,
        config.channels,
        producer,
        counters,
        status.clone(),
    )?;
    Ok(OpenStream {
        input: InputHandle::Pulse(input),
        info: StreamInfo {
            device_name: device_name(device),
            device_id: id,
            sample_rate: config.sample_rate,
            channels: config.channels,
            sample_format: SampleFormat::F32.to_string(),
            ring_capacity: capacity,
        },
        ring: consumer,
        status,
    })
}

/// A stream error from cpal: the device gone is `E_DEVICE_LOST` (the pipeline then reopens
/// it), anything else (an overrun, a driver error) `E_DEVICE`.
fn stream_error(err: &cpal::Error) -> Error {
    match err.kind() {
        cpal::ErrorKind::DeviceNotAvailable => Error::DeviceLost(err.to_string()),
        _ => Error::Device(err.to_string()),
    }
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
            move |err: cpal::Error| status.report(stream_error(&err)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vanished_device_is_lost_and_other_stream_errors_are_device_errors() {
        let gone = cpal::Error::with_message(cpal::ErrorKind::DeviceNotAvailable, "unplugged");
        let e = stream_error(&gone);
        assert_eq!(e.code(), "E_DEVICE_LOST");
        assert!(e.to_string().contains("unplugged"), "{e}");
        let xrun = cpal::Error::new(cpal::ErrorKind::Xrun);
        assert_eq!(stream_error(&xrun).code(), "E_DEVICE");
    }
}
