// Package codec turns PCM into Opus frames and back for Varta's radios and
// consoles. It is the only package that links libopus (through cgo); the relay
// never imports it.
//
// Sending side:
//
//	ReadWAV / microphone -> SplitFrames (960 samples = 20 ms at 48 kHz)
//	  -> Encoder.Encode -> frame, unless it is a DTX frame -> SFrame seal
//
// Receiving side, one JitterBuffer per talker's burst:
//
//	SFrame open -> JitterBuffer.Push(seq, frame, end, arrival)
//	playout clock every 20 ms -> JitterBuffer.Pop(now) -> 960 samples: the
//	  frame itself, FEC recovery from the next frame, or concealment
//
// All audio is 48 kHz mono signed 16-bit PCM. ReadWAV converts common WAV
// files to it; WriteWAV writes it. Nothing in this package reads the clock:
// the jitter buffer is handed arrival and playout times, so its behaviour is
// deterministic in tests.
package codec
