fn main() {
    if std::env::var_os("CARGO_FEATURE_BINDING").is_some() {
        napi_build::setup();
    }
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rerun-if-changed=native/mute_alsa.c");
        let mut build = cc::Build::new();
        build.file("native/mute_alsa.c");
        // Use the same ALSA headers cpal links against.
        if let Ok(lib) = pkg_config::Config::new()
            .cargo_metadata(false)
            .probe("alsa")
        {
            for path in lib.include_paths {
                build.include(path);
            }
        }
        build.compile("stt_capture_mute_alsa");
        // dlopen for the libjack silencer (part of libc since glibc 2.34; libdl before).
        println!("cargo:rustc-link-lib=dl");
    }
}
