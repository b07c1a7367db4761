//go:build cgo && linux && !android

package audiodev

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdarg.h>

// Without a sound card, ALSA's library writes a dozen "ALSA lib ..." lines
// to stderr for every device it cannot open, over the radio's screen.
// miniaudio loads the library with dlopen, so we load it too (the process
// then shares one copy) and install an error handler that says nothing;
// the handle stays open, so the handler lasts as long as the process.
static void varta_alsa_silent(const char *file, int line, const char *function, int err, const char *fmt, ...) {
	(void)file; (void)line; (void)function; (void)err; (void)fmt;
}

static int varta_quiet_alsa(void) {
	void *h = dlopen("libasound.so.2", RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) {
		return -1;
	}
	int (*set_handler)(void *) = (int (*)(void *))dlsym(h, "snd_lib_error_set_handler");
	if (set_handler == NULL) {
		return -2;
	}
	return set_handler((void *)varta_alsa_silent);
}
*/
import "C"

import "sync"

var quietOnce sync.Once

// quietAudioLibraries stops ALSA from writing its errors to the terminal.
func quietAudioLibraries() {
	quietOnce.Do(func() { C.varta_quiet_alsa() })
}
