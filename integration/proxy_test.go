package integration

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// udpProxy relays one client's UDP packets to the relay and back, on
// 127.0.0.1. While blackholed it drops everything in both directions, as a
// radio that walked into a dead spot would.
type udpProxy struct {
	front    *net.UDPConn // the client talks to this
	back     *net.UDPConn // this talks to the relay
	relay    *net.UDPAddr
	client   atomic.Pointer[net.UDPAddr]
	blackout atomic.Bool
	wg       sync.WaitGroup
}

func newUDPProxy(t *testing.T, relayAddr string) *udpProxy {
	t.Helper()
	ra, err := net.ResolveUDPAddr("udp", relayAddr)
	if err != nil {
		t.Fatal(err)
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{front: front, back: back, relay: ra}
	p.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.client.Store(from)
			if !p.blackout.Load() {
				back.WriteToUDP(buf[:n], p.relay)
			}
		}
	})
	p.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := back.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if c := p.client.Load(); c != nil && !p.blackout.Load() {
				front.WriteToUDP(buf[:n], c)
			}
		}
	})
	t.Cleanup(func() {
		front.Close()
		back.Close()
		p.wg.Wait()
	})
	return p
}

func (p *udpProxy) addr() string { return p.front.LocalAddr().String() }
