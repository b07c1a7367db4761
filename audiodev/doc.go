// Package audiodev opens the machine's microphone and speaker for the
// handheld radio, through miniaudio (cgo, github.com/gen2brain/malgo).
//
// Flow: OpenCapture starts the default capture device at 48 kHz mono
// signed 16-bit and delivers 20 ms frames (960 samples) on Capture.Frames;
// when the reader falls behind, the oldest frame is dropped. OpenPlayback
// starts the default playback device, fed by Playback.Write, which never
// blocks: it copies into a small ring that drops its oldest audio when full
// and plays silence when empty.
//
// A machine without audio (a server, a container, CI) is normal for Varta:
// every Open and Available fails fast, within Config.Timeout at the worst,
// with a sentence for a person that says what is missing and what the
// radio can do instead. Nothing here ever hangs the caller or crashes.
package audiodev
