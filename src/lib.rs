#![deny(clippy::undocumented_unsafe_blocks)]
//! stt-capture: microphone → lock-free ring → 16 kHz → sinks (levels, chunks → daemon).

#[cfg(feature = "binding")]
pub mod binding;
pub mod capture;
pub mod delivery;
pub mod dsp;
pub mod error;
pub mod events;
pub mod options;
pub mod pipeline;
pub mod session;
pub mod sinks;
pub mod stats;
pub mod time;
pub mod transport;
pub mod value;

#[cfg(test)]
mod test_alloc;
