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
            // Only ALSA's own headers: a cross compiler (zig, building against an old glibc)
            // must not see the build machine's libc headers next to them in /usr/include.
            let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
            let only_alsa = out.join("alsa-include");
            for path in lib.include_paths {
                if link_alsa_headers(&path, &only_alsa) {
                    build.include(&only_alsa);
                } else {
                    build.include(path);
                }
            }
        }
        build.compile("stt_capture_mute_alsa");
        // dlopen for the libjack silencer (part of libc since glibc 2.34; libdl before).
        println!("cargo:rustc-link-lib=dl");
    }
}

/// Makes `dir/alsa` a link to `include/alsa`; false when there is none (or no symlinks).
#[cfg(unix)]
fn link_alsa_headers(include: &std::path::Path, dir: &std::path::Path) -> bool {
    let alsa = include.join("alsa");
    if !alsa.is_dir() {
        return false;
    }
    let link = dir.join("alsa");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&alsa, &link).is_ok()
}

#[cfg(not(unix))]
fn link_alsa_headers(_: &std::path::Path, _: &std::path::Path) -> bool {
    false
}
