/* Silences alsa-lib's default error handler, which prints "ALSA lib ..." lines to stderr.
 * Written in C because the handler is variadic, which stable Rust cannot define. */
#include <stdarg.h>
#include <dlfcn.h>
#include <alsa/asoundlib.h>

static void stt_capture_silent_alsa_handler(const char *file, int line, const char *function,
                                            int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

int stt_capture_mute_alsa_errors(void) {
    return snd_lib_error_set_handler(stt_capture_silent_alsa_handler);
}

typedef void (*stt_capture_jack_message_fn)(const char *);
typedef void (*stt_capture_jack_set_fn)(stt_capture_jack_message_fn);

static void stt_capture_silent_jack_message(const char *message) { (void)message; }

/* ALSA's jack plugin (libasound2-plugins, common on desktops) loads libjack while devices are
 * listed or opened, and libjack prints "Cannot connect to server socket ..." to stderr when no
 * JACK server runs. Loading libjack first, when it is installed, and giving it silent error and
 * info callbacks keeps that off the terminal: the plugin then uses this same instance, which
 * stays loaded. Without libjack there is nothing to silence. */
int stt_capture_mute_jack(void) {
    void *jack = dlopen("libjack.so.0", RTLD_LAZY | RTLD_GLOBAL);
    if (jack == NULL) {
        return -1;
    }
    stt_capture_jack_set_fn set_error = (stt_capture_jack_set_fn)dlsym(jack, "jack_set_error_function");
    stt_capture_jack_set_fn set_info = (stt_capture_jack_set_fn)dlsym(jack, "jack_set_info_function");
    if (set_error != NULL) {
        set_error(stt_capture_silent_jack_message);
    }
    if (set_info != NULL) {
        set_info(stt_capture_silent_jack_message);
    }
    return 0;
}
