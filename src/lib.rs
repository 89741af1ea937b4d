#![deny(clippy::undocumented_unsafe_blocks)]
//! stt-capture: microphone → lock-free ring → 16 kHz → chunks → Super STT daemon.

#[cfg(feature = "binding")]
pub mod binding;
pub mod capture;
pub mod dsp;
pub mod error;
pub mod pipeline;
pub mod stats;
pub mod transport;

#[cfg(test)]
mod test_alloc;
