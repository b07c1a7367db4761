package server

import "sync"

// voiceQueue is a bounded FIFO of voice datagrams for one listener. When it
// is full, push drops the oldest datagram: late voice is worth less than
// current voice. The datagrams are shared, read-only, between the queues of
// every listener of a talkgroup; quic-go copies them in SendDatagram.
type voiceQueue struct {
	mu    sync.Mutex // guards the fields below; never held across I/O
	buf   [][]byte
	head  int // index of the oldest entry
	n     int
	ready chan struct{} // has a value when the queue went from empty to non-empty
}

func newVoiceQueue(size int) *voiceQueue {
	return &voiceQueue{buf: make([][]byte, size), ready: make(chan struct{}, 1)}
}

// push appends b and reports whether an older datagram was dropped to make
// room. It never blocks and does not allocate.
func (q *voiceQueue) push(b []byte) (dropped bool) {
	q.mu.Lock()
	if q.n == len(q.buf) {
		q.buf[q.head] = nil
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		dropped = true
	}
	q.buf[(q.head+q.n)%len(q.buf)] = b
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return dropped
}

// pop removes and returns the oldest datagram, or nil when the queue is empty.
func (q *voiceQueue) pop() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return nil
	}
	b := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return b
}

// len returns the number of queued datagrams.
func (q *voiceQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
