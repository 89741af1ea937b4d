//! Keeps alsa-lib from printing "ALSA lib ..." lines into the host app's terminal, and
//! libjack (loaded by ALSA's jack plugin) from printing its connection errors.

#[cfg(target_os = "linux")]
pub fn mute_alsa_errors() {
    use std::sync::Once;
    // Links the ALSA library the shim calls (cpal links the same one).
    use alsa_sys as _;

    extern "C" {
        fn stt_capture_mute_alsa_errors() -> std::ffi::c_int;
        fn stt_capture_mute_jack() -> std::ffi::c_int;
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the shim only installs static, do-nothing handlers: through
        // snd_lib_error_set_handler, which may be called at any time, and through libjack's
        // jack_set_error_function / jack_set_info_function when libjack is installed.
        unsafe {
            stt_capture_mute_alsa_errors();
            stt_capture_mute_jack();
        }
    });
}

#[cfg(not(target_os = "linux"))]
pub fn mute_alsa_errors() {}
