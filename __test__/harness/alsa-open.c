/* A plain alsa-lib client for the silence test's positive control: it opens the default
 * capture PCM with alsa-lib's own error handler, which prints "ALSA lib ..." lines to stderr
 * when the device is broken. Exits 0 if the open succeeded, 1 if not. */
#include <alsa/asoundlib.h>

int main(void) {
    snd_pcm_t *pcm = NULL;
    int err = snd_pcm_open(&pcm, "default", SND_PCM_STREAM_CAPTURE, 0);
    if (err < 0) return 1;
    snd_pcm_close(pcm);
    return 0;
}
