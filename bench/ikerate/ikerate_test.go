package main

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer/installertest"
	"github.com/espd/espd/ike"
)

// loopbackResponder is an ike.Manager behind two UDP sockets on 127.0.0.1,
// as espd runs one: IKE on the first port, the NAT-T port with the non-ESP
// marker on the second.
type loopbackResponder struct {
	m         *ike.Manager
	installed *installertest.Recorder
	ike, natt *net.UDPConn
	wg        sync.WaitGroup
}

func startResponder(t *testing.T, cookieThreshold int) *loopbackResponder {
	t.Helper()
	r := &loopbackResponder{installed: &installertest.Recorder{}}
	var err error
	for _, c := range []**net.UDPConn{&r.ike, &r.natt} {
		if *c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	ikeAddr := r.ike.LocalAddr().(*net.UDPAddr).AddrPort()
	natPort := r.natt.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	r.m, err = ike.NewManager(ike.ManagerConfig{
		Connections: []ike.Config{{
			Name:      "rw",
			Local:     ikeAddr,
			NATPort:   natPort,
			Proposals: []string{"aes128gcm16-prfsha256-x25519"},
			PSK:       []byte("ikerate test key"),
			LocalID:   ike.ParseID("gw.ikerate.test"),
			Children: []ike.ChildConfig{{
				Name:         "rw",
				ESPProposals: []string{"aes128gcm16"},
				LocalTS:      []netip.Prefix{netip.MustParsePrefix("198.18.2.0/24")},
				RemoteTS:     []netip.Prefix{netip.MustParsePrefix("198.18.128.0/17")},
			}},
		}},
		Installer: r.installed,
		Send: func(b []byte, from, to netip.AddrPort) {
			conn := r.ike
			if from.Port() == natPort {
				conn, b = r.natt, append([]byte{0, 0, 0, 0}, b...)
			}
			_, _ = conn.WriteToUDPAddrPort(b, to)
		},
		CookieThreshold: cookieThreshold,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, conn := range []*net.UDPConn{r.ike, r.natt} {
		port := conn.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			buf := make([]byte, 65536)
			for {
				n, from, err := conn.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				b := buf[:n]
				if port == natPort {
					if !bytes.HasPrefix(b, nonESPMarker) {
						continue
					}
					b = b[4:]
				}
				_ = r.m.HandleDatagram(bytes.Clone(b), from, netip.AddrPortFrom(ikeAddr.Addr(), port))
			}
		}()
	}
	t.Cleanup(func() {
		r.ike.Close()
		r.natt.Close()
		r.wg.Wait()
	})
	return r
}

func (r *loopbackResponder) options(total, concurrency int) options {
	return options{
		Target:        netip.MustParseAddr("127.0.0.1"),
		TargetPort:    r.ike.LocalAddr().(*net.UDPAddr).AddrPort().Port(),
		TargetNATPort: r.natt.LocalAddr().(*net.UDPAddr).AddrPort().Port(),
		Local:         netip.MustParseAddr("127.0.0.1"),
		Total:         total,
		Concurrency:   concurrency,
		Timeout:       10 * time.Second,
		Proposal:      "aes128gcm16-prfsha256-x25519",
		ESP:           "aes128gcm16",
		PSK:           "ikerate test key",
		LocalID:       "c%d.ikerate.test",
		RemoteID:      "gw.ikerate.test",
		LocalTS:       netip.MustParsePrefix("198.18.128.0/17"),
		PerSATS:       true,
		RemoteTS:      netip.MustParsePrefix("198.18.2.0/24"),
		Workers:       2,
	}
}

func runGenerator(t *testing.T, opt options) report {
	t.Helper()
	g, err := newGenerator(opt)
	if err != nil {
		t.Fatal(err)
	}
	g.run()
	return g.report(0)
}

func TestEstablishesAgainstManager(t *testing.T) {
	r := startResponder(t, 0)
	rep := runGenerator(t, r.options(40, 8))
	if rep.Established != 40 || rep.Failed != 0 {
		t.Fatalf("established %d, failed %d (%v), want 40 and 0", rep.Established, rep.Failed, rep.Failures)
	}
	if rep.InitRequests != 40 || rep.AuthRequests != 40 {
		t.Errorf("sent %d IKE_SA_INIT and %d IKE_AUTH requests, want 40 each", rep.InitRequests, rep.AuthRequests)
	}
	if rep.Rate <= 0 || rep.LatencyMS.P50 <= 0 || rep.LatencyMS.Max < rep.LatencyMS.P99 || len(rep.QuarterRates) != 4 {
		t.Errorf("implausible figures: %+v", rep)
	}
	// Each SA got its own host selector, so the responder installed 40
	// distinct outbound SAs towards 40 addresses.
	remotes := map[netip.Prefix]bool{}
	for _, sa := range r.m.SAs() {
		for _, child := range sa.Children() {
			for _, ts := range child.RemoteTS {
				remotes[ts] = true
			}
		}
	}
	if len(remotes) != 40 {
		t.Errorf("responder has CHILD_SAs towards %d distinct selectors, want 40", len(remotes))
	}
}

func TestRetriesWithCookie(t *testing.T) {
	r := startResponder(t, 2)
	rep := runGenerator(t, r.options(30, 10))
	if rep.Established != 30 {
		t.Fatalf("established %d of 30 (%v)", rep.Established, rep.Failures)
	}
	if rep.CookieReplies == 0 || rep.InitRequests != 30+rep.CookieReplies {
		t.Errorf("COOKIE replies %d, IKE_SA_INIT requests %d: want some COOKIEs, each answered by one more request",
			rep.CookieReplies, rep.InitRequests)
	}
}

func TestTimeoutWithoutResponder(t *testing.T) {
	// A bound socket that never answers.
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	opt := (&loopbackResponder{ike: silent, natt: silent}).options(3, 3)
	opt.Timeout = 200 * time.Millisecond
	rep := runGenerator(t, opt)
	if rep.Established != 0 || rep.Failed != 3 {
		t.Fatalf("established %d failed %d, want 0 and 3", rep.Established, rep.Failed)
	}
	for why := range rep.Failures {
		if !strings.HasPrefix(why, "timeout") {
			t.Errorf("failure %q, want a timeout", why)
		}
	}
}

func TestNthAddr(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		i      int
		want   string
	}{
		{"198.18.128.0/17", 0, "198.18.128.0"},
		{"198.18.128.0/17", 300, "198.18.129.44"},
		{"198.18.128.0/17", 32768, "198.18.128.0"},
		{"198.18.128.7/30", 5, "198.18.128.5"},
		{"2001:db8:ffff::/64", 65536, "2001:db8:ffff::1:0"},
	} {
		if got := nthAddr(netip.MustParsePrefix(tc.prefix), tc.i); got.String() != tc.want {
			t.Errorf("nthAddr(%s, %d) = %v, want %s", tc.prefix, tc.i, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

func TestQuarterRates(t *testing.T) {
	start := time.Unix(1000, 0)
	var done []time.Time
	// 8 SAs: two a second for 2 s, then one a second for 4 s.
	for _, ms := range []int{500, 1000, 1500, 2000, 3000, 4000, 5000, 6000} {
		done = append(done, start.Add(time.Duration(ms)*time.Millisecond))
	}
	got := quarterRates(start, done)
	want := []float64{2, 2, 1, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("quarterRates = %v, want %v", got, want)
		}
	}
	if quarterRates(start, done[:3]) != nil {
		t.Errorf("quarter rates of 3 SAs, want none")
	}
}
