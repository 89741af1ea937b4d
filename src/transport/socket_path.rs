//! Where the legacy daemon listens, by the daemon's own rules (protocol doc §1).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const FALLBACK: &str = "/tmp/stt/super-stt.sock";

/// `runtime_dir` is `$XDG_RUNTIME_DIR` (None when unset).
pub fn legacy_socket_path(runtime_dir: Option<&str>, uid: u32) -> PathBuf {
    let dir = match runtime_dir {
        Some(d) => d.to_owned(),
        None => format!("/run/user/{uid}"),
    };
    let usable = !dir.is_empty()
        && dir.len() <= 256
        && !dir.contains("..")
        && !dir.contains('\0')
        && (dir.starts_with("/run/user/") || dir.starts_with("/tmp/"));
    if usable {
        PathBuf::from(dir).join("stt").join("super-stt.sock")
    } else {
        PathBuf::from(FALLBACK)
    }
}

/// The default path for this process.
pub fn default_legacy_socket_path() -> PathBuf {
    let runtime_dir = std::env::var("XDG_RUNTIME_DIR").ok();
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    legacy_socket_path(runtime_dir.as_deref(), uid)
}

/// Refuses a path that exists and is not a socket: we never connect to, create or change
/// anything else at the daemon's path. A missing path is fine (the daemon may start later).
pub fn check_socket_path(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => Err(Error::invalid_option(
            "socketPath",
            format!("{} exists and is not a Unix socket", path.display()),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_daemon_rules() {
        assert_eq!(
            legacy_socket_path(Some("/run/user/1000"), 0),
            PathBuf::from("/run/user/1000/stt/super-stt.sock")
        );
        assert_eq!(
            legacy_socket_path(None, 42),
            PathBuf::from("/run/user/42/stt/super-stt.sock")
        );
        assert_eq!(
            legacy_socket_path(Some("/tmp/x"), 0),
            PathBuf::from("/tmp/x/stt/super-stt.sock")
        );
        for bad in ["", "/home/me", "/run/user/../etc", "relative/run/user/1"] {
            assert_eq!(
                legacy_socket_path(Some(bad), 0),
                PathBuf::from(FALLBACK),
                "{bad:?}"
            );
        }
        let long = format!("/tmp/{}", "a".repeat(300));
        assert_eq!(legacy_socket_path(Some(&long), 0), PathBuf::from(FALLBACK));
    }

    #[test]
    fn only_a_socket_or_nothing_is_accepted_at_the_daemon_path() {
        let dir = std::env::temp_dir().join(format!("stt-sockpath-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("regular");
        std::fs::write(&file, b"keep me").unwrap();
        let err = check_socket_path(&file).unwrap_err();
        assert_eq!(err.code(), "E_INVALID_OPTION");
        assert!(err.to_string().contains("not a Unix socket"));
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
        assert_eq!(
            check_socket_path(&dir).unwrap_err().code(),
            "E_INVALID_OPTION"
        );
        assert!(check_socket_path(&dir.join("missing")).is_ok());
        let sock = dir.join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(check_socket_path(&sock).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
