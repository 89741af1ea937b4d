//! The consumers of the 16 kHz stream, each a [`crate::pipeline::sink::Sink`]. Adding one is
//! a file here, its option (`options/`) and its event (`events.rs`); the session builds
//! the list the pipeline feeds.

pub mod chunks;
pub mod levels;
