//go:build cgo && (!linux || android)

package audiodev

func quietAudioLibraries() {}
