#![deny(clippy::undocumented_unsafe_blocks)]
//! stt-capture: microphone → lock-free ring → 16 kHz → chunks → Super STT daemon.

pub mod dsp;
pub mod error;
pub mod stats;
pub mod capture;
pub mod transport;
pub mod pipeline;
pub mod binding;
