//! Where the daemon listens, by its own rules (protocol doc §1 and §2).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const FALLBACK: &str = "/tmp/stt/super-stt.sock";
pub const V1_FALLBACK: &str = "/tmp/stt/super-stt-http.sock";
const V1_NAME: &str = "super-stt-http.sock";
/// The v1 daemon's own override of its socket path, honoured by its clients too.
pub const V1_SOCKET_ENV: &str = "SUPER_STT_HTTP_SOCKET";

/// `runtime_dir` is `$XDG_RUNTIME_DIR` (None when unset).
pub fn legacy_socket_path(runtime_dir: Option<&str>, uid: u32) -> PathBuf {
    runtime_socket(runtime_dir, uid, "super-stt.sock", FALLBACK)
}

/// The v1 (HTTP) socket: `override_path` (`$SUPER_STT_HTTP_SOCKET`) when set, else
/// `stt/super-stt-http.sock` in the runtime directory, with the legacy rules for an unusable
/// directory.
pub fn v1_socket_path(runtime_dir: Option<&str>, uid: u32, override_path: Option<&str>) -> PathBuf {
    match override_path {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => runtime_socket(runtime_dir, uid, V1_NAME, V1_FALLBACK),
    }
}

fn runtime_socket(runtime_dir: Option<&str>, uid: u32, name: &str, fallback: &str) -> PathBuf {
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
        PathBuf::from(dir).join("stt").join(name)
    } else {
        PathBuf::from(fallback)
    }
}

fn runtime_dir_and_uid() -> (Option<String>, u32) {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    (std::env::var("XDG_RUNTIME_DIR").ok(), uid)
}

/// The default legacy path for this process.
pub fn default_legacy_socket_path() -> PathBuf {
    let (dir, uid) = runtime_dir_and_uid();
    legacy_socket_path(dir.as_deref(), uid)
}

/// The default v1 path for this process.
pub fn default_v1_socket_path() -> PathBuf {
    let (dir, uid) = runtime_dir_and_uid();
    let override_path = std::env::var(V1_SOCKET_ENV).ok();
    v1_socket_path(dir.as_deref(), uid, override_path.as_deref())
}

/// Refuses a path that exists and is not a socket: we never connect to, create or change
/// anything else at the daemon's path. A missing path is fine (the daemon may start later).
pub fn check_socket_path(path: &Path) -> Result<()> {
    check_socket_option("socketPath", path)
}

/// `check_socket_path` for the option named `option`.
pub fn check_socket_option(option: &str, path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => Err(Error::invalid_option(
            option,
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
    fn the_v1_socket_sits_next_to_the_legacy_one_unless_overridden() {
        assert_eq!(
            v1_socket_path(Some("/run/user/1000"), 0, None),
            PathBuf::from("/run/user/1000/stt/super-stt-http.sock")
        );
        assert_eq!(
            v1_socket_path(None, 7, Some("")),
            PathBuf::from("/run/user/7/stt/super-stt-http.sock")
        );
        assert_eq!(
            v1_socket_path(Some("/home/me"), 0, None),
            PathBuf::from(V1_FALLBACK)
        );
        assert_eq!(
            v1_socket_path(Some("/run/user/1"), 0, Some("/srv/stt.sock")),
            PathBuf::from("/srv/stt.sock")
        );
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
