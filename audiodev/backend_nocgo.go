//go:build !cgo

package audiodev

// openBackend without cgo: miniaudio cannot be linked.
func openBackend(cfg Config, kind deviceKind, cb backendCallbacks) (stop func(), err error) {
	return nil, &noDeviceError{kind: kind.String(), reason: "this varta was built without cgo, so it cannot reach the audio system"}
}
