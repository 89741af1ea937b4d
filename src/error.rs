//! The one error type of the core. Every variant has a stable code that JS sees as `err.code`.

/// Every failure the addon can report, with a stable code per variant.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption { option: String, reason: String },
    #[error("no input device: {0}")]
    NoDevice(String),
    #[error("unsupported device configuration: {0}")]
    UnsupportedConfig(String),
    #[error("audio device error: {0}")]
    Device(String),
    #[error("the audio device went away: {0}")]
    DeviceLost(String),
    #[error("the audio device stopped delivering audio: {0}")]
    DeviceStalled(String),
    #[error("invalid input file: {0}")]
    InvalidInput(String),
    #[error("cannot reach the STT daemon at {path}: {reason}")]
    DaemonUnreachable { path: String, reason: String },
    #[error("the STT daemon answered with an error: {0}")]
    DaemonError(String),
    #[error("the STT daemon refused our credentials: {0}")]
    Unauthorized(String),
    #[error("protocol error talking to the STT daemon: {0}")]
    Protocol(String),
    #[error("the STT daemon did not answer: {0}")]
    DaemonTimeout(String),
    #[error("the STT daemon cannot take this now: {0}")]
    DaemonBusy(String),
    #[error("recording stopped, the disk did not keep up: {0}")]
    RecordOverrun(String),
    #[error("recording failed: {0}")]
    RecordFailed(String),
    #[error("not possible now: {0}")]
    InvalidState(String),
    #[error("audio dropped: {0}")]
    QueueFull(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable string JS code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidOption { .. } => "E_INVALID_OPTION",
            Error::NoDevice(_) => "E_NO_DEVICE",
            Error::UnsupportedConfig(_) => "E_UNSUPPORTED_CONFIG",
            Error::Device(_) => "E_DEVICE",
            Error::DeviceLost(_) => "E_DEVICE_LOST",
            Error::DeviceStalled(_) => "E_DEVICE_STALLED",
            Error::InvalidInput(_) => "E_INVALID_INPUT",
            Error::DaemonUnreachable { .. } => "E_DAEMON_UNREACHABLE",
            Error::DaemonError(_) => "E_DAEMON_ERROR",
            Error::Unauthorized(_) => "E_UNAUTHORIZED",
            Error::Protocol(_) => "E_PROTOCOL",
            Error::DaemonTimeout(_) => "E_DAEMON_TIMEOUT",
            Error::DaemonBusy(_) => "E_DAEMON_BUSY",
            Error::RecordOverrun(_) => "E_RECORD_OVERRUN",
            Error::RecordFailed(_) => "E_RECORD_FAILED",
            Error::InvalidState(_) => "E_INVALID_STATE",
            Error::QueueFull(_) => "E_QUEUE_FULL",
            Error::Internal(_) => "E_INTERNAL",
        }
    }

    /// The same error with `note` appended to its message.
    pub fn with_note(self, note: &str) -> Self {
        let add = |s: String| format!("{s}; {note}");
        match self {
            Error::InvalidOption { option, reason } => Error::InvalidOption {
                option,
                reason: add(reason),
            },
            Error::DaemonUnreachable { path, reason } => Error::DaemonUnreachable {
                path,
                reason: add(reason),
            },
            Error::NoDevice(s) => Error::NoDevice(add(s)),
            Error::UnsupportedConfig(s) => Error::UnsupportedConfig(add(s)),
            Error::Device(s) => Error::Device(add(s)),
            Error::DeviceLost(s) => Error::DeviceLost(add(s)),
            Error::DeviceStalled(s) => Error::DeviceStalled(add(s)),
            Error::InvalidInput(s) => Error::InvalidInput(add(s)),
            Error::DaemonError(s) => Error::DaemonError(add(s)),
            Error::Unauthorized(s) => Error::Unauthorized(add(s)),
            Error::Protocol(s) => Error::Protocol(add(s)),
            Error::DaemonTimeout(s) => Error::DaemonTimeout(add(s)),
            Error::DaemonBusy(s) => Error::DaemonBusy(add(s)),
            Error::RecordOverrun(s) => Error::RecordOverrun(add(s)),
            Error::RecordFailed(s) => Error::RecordFailed(add(s)),
            Error::InvalidState(s) => Error::InvalidState(add(s)),
            Error::QueueFull(s) => Error::QueueFull(add(s)),
            Error::Internal(s) => Error::Internal(add(s)),
        }
    }

    pub fn invalid_option(option: &str, reason: impl Into<String>) -> Self {
        Error::InvalidOption {
            option: option.to_owned(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_messages_name_the_option() {
        let e = Error::invalid_option("chunkMs", "must be between 10 and 1000");
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("chunkMs"));
        assert_eq!(Error::NoDevice("x".into()).code(), "E_NO_DEVICE");
        let unreachable = Error::DaemonUnreachable {
            path: "/tmp/x".into(),
            reason: "refused".into(),
        };
        assert_eq!(unreachable.code(), "E_DAEMON_UNREACHABLE");
        assert!(unreachable.to_string().contains("/tmp/x"));
    }
}
