/* Silences alsa-lib's default error handler, which prints "ALSA lib ..." lines to stderr.
 * Written in C because the handler is variadic, which stable Rust cannot define. */
#include <stdarg.h>
#include <alsa/asoundlib.h>

static void stt_capture_silent_alsa_handler(const char *file, int line, const char *function,
                                            int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

int stt_capture_mute_alsa_errors(void) {
    return snd_lib_error_set_handler(stt_capture_silent_alsa_handler);
}
