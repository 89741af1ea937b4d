//! Keeps alsa-lib from printing "ALSA lib ..." lines into the host app's terminal.

#[cfg(target_os = "linux")]
pub fn mute_alsa_errors() {
    use std::sync::Once;
    // Links the ALSA library the shim calls (cpal links the same one).
    use alsa_sys as _;

    extern "C" {
        fn stt_capture_mute_alsa_errors() -> std::ffi::c_int;
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the shim only installs a static, do-nothing handler through
        // snd_lib_error_set_handler, which may be called at any time.
        unsafe {
            stt_capture_mute_alsa_errors();
        }
    });
}

#[cfg(not(target_os = "linux"))]
pub fn mute_alsa_errors() {}
