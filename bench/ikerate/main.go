// Command ikerate measures how many IKE_SAs per second a responder sets up:
// it keeps -c IKEv2 initiators (espd's own engine) in flight against one
// responder, each doing IKE_SA_INIT and IKE_AUTH with a PSK and the first
// CHILD_SA, starts a new one as each finishes, and reports the rate of
// established SAs, the latency percentiles and its own CPU time.
//
// Established SAs are forgotten, never deleted: the responder keeps every
// one, as a gateway keeps its connected clients. Run it from a namespace of
// its own (bench/ikerate.sh does), since it binds UDP ports 500 and 4500.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"syscall"
	"time"
)

var progressOut io.Writer = os.Stderr

func main() {
	opt, jsonOut, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	g, err := newGenerator(opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cpuBefore := ownCPU()
	g.run()
	rep := g.report(ownCPU() - cpuBefore)
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "ikerate:", err)
			os.Exit(1)
		}
	} else {
		rep.print(os.Stdout)
	}
	if rep.Established == 0 {
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, bool, error) {
	fs := flag.NewFlagSet("ikerate", flag.ContinueOnError)
	var (
		target   = fs.String("target", "", "responder address (required)")
		local    = fs.String("local", "", "local address to bind (required)")
		localTS  = fs.String("local-ts", "198.18.128.0/17", "our traffic selector; with -per-sa-ts each SA takes one host address of it")
		remoteTS = fs.String("remote-ts", "198.18.2.0/24", "the responder's traffic selector we propose")
		jsonOut  = fs.Bool("json", false, "print the report as JSON")
		opt      = options{}
		port     = fs.Uint("port", 500, "local IKE port")
		natPort  = fs.Uint("nat-port", 4500, "local NAT-T port")
		tPort    = fs.Uint("target-port", 500, "responder's IKE port")
		tNATPort = fs.Uint("target-nat-port", 4500, "responder's NAT-T port")
	)
	fs.IntVar(&opt.Total, "n", 1000, "SAs to attempt (0: until -duration has passed)")
	fs.DurationVar(&opt.Duration, "duration", 0, "with -n 0, keep starting SAs for this long")
	fs.IntVar(&opt.Concurrency, "c", 20, "SAs in flight")
	fs.DurationVar(&opt.Timeout, "timeout", 20*time.Second, "give an SA up after this long")
	fs.StringVar(&opt.Proposal, "proposal", "aes128gcm16-prfsha256-x25519", "IKE proposal")
	fs.StringVar(&opt.ESP, "esp", "aes128gcm16", "ESP proposal of the CHILD_SA")
	fs.StringVar(&opt.PSK, "psk", "", "pre-shared key (required)")
	fs.StringVar(&opt.LocalID, "local-id", "c%d.ikerate.test", `our identity; "%d" becomes the SA's index, so each SA is another client`)
	fs.StringVar(&opt.RemoteID, "remote-id", "", "the responder's identity to insist on (empty: any)")
	fs.BoolVar(&opt.PerSATS, "per-sa-ts", true, "give each SA its own host address of -local-ts, as road warriors have")
	fs.IntVar(&opt.Workers, "workers", runtime.GOMAXPROCS(0), "goroutines that process replies")
	fs.DurationVar(&opt.Progress, "progress", 0, "print progress to stderr at this interval (0: never)")
	if err := fs.Parse(args); err != nil {
		return opt, false, err
	}
	if fs.NArg() > 0 {
		return opt, false, fmt.Errorf("ikerate: unexpected arguments %q", fs.Args())
	}
	var err error
	if opt.Target, err = netip.ParseAddr(*target); err != nil {
		return opt, false, fmt.Errorf("ikerate: -target: %w", err)
	}
	if opt.Local, err = netip.ParseAddr(*local); err != nil {
		return opt, false, fmt.Errorf("ikerate: -local: %w", err)
	}
	if opt.Target.Is4() != opt.Local.Is4() {
		return opt, false, fmt.Errorf("ikerate: -target %v and -local %v are of different families", opt.Target, opt.Local)
	}
	if opt.LocalTS, err = netip.ParsePrefix(*localTS); err != nil {
		return opt, false, fmt.Errorf("ikerate: -local-ts: %w", err)
	}
	if opt.RemoteTS, err = netip.ParsePrefix(*remoteTS); err != nil {
		return opt, false, fmt.Errorf("ikerate: -remote-ts: %w", err)
	}
	for name, v := range map[string]uint{"port": *port, "nat-port": *natPort, "target-port": *tPort, "target-nat-port": *tNATPort} {
		if v == 0 || v > 65535 {
			return opt, false, fmt.Errorf("ikerate: -%s %d is no UDP port", name, v)
		}
	}
	opt.Port, opt.NATPort, opt.TargetPort, opt.TargetNATPort = uint16(*port), uint16(*natPort), uint16(*tPort), uint16(*tNATPort)
	switch {
	case opt.Port == opt.NATPort:
		return opt, false, fmt.Errorf("ikerate: -port and -nat-port must differ")
	case opt.PSK == "":
		return opt, false, fmt.Errorf("ikerate: -psk is required")
	case opt.Total < 0 || (opt.Total == 0 && opt.Duration <= 0):
		return opt, false, fmt.Errorf("ikerate: give -n > 0, or -n 0 with -duration")
	case opt.Concurrency < 1:
		return opt, false, fmt.Errorf("ikerate: -c must be at least 1")
	case opt.Workers < 1:
		return opt, false, fmt.Errorf("ikerate: -workers must be at least 1")
	case opt.Timeout <= 0:
		return opt, false, fmt.Errorf("ikerate: -timeout must be positive")
	}
	if opt.Total > 0 {
		opt.Duration = 0
	}
	return opt, *jsonOut, nil
}

// report is what one run measured; its JSON form is what bench/ikerate.sh
// reads.
type report struct {
	Target      string `json:"target"`
	Proposal    string `json:"proposal"`
	ESP         string `json:"esp"`
	Concurrency int    `json:"concurrency"`
	Attempted   int    `json:"attempted"`
	Established int    `json:"established"`
	Failed      int    `json:"failed"`
	// Failures counts the failed attempts by reason.
	Failures map[string]int `json:"failures,omitempty"`
	// Seconds runs from the first initiation to the last attempt's end.
	Seconds float64 `json:"seconds"`
	// Rate is established SAs per second over Seconds.
	Rate float64 `json:"rate_per_s"`
	// QuarterRates are the rates of the first, second, third and last
	// quarter of the established SAs, in the order they finished.
	QuarterRates []float64 `json:"quarter_rates_per_s,omitempty"`
	LatencyMS    latencyMS `json:"latency_ms"`
	// Requests sent, by exchange. More IKE_SA_INIT requests than attempts
	// come from COOKIE demands, INVALID_KE_PAYLOAD and retransmissions.
	InitRequests     uint64 `json:"ike_sa_init_requests"`
	AuthRequests     uint64 `json:"ike_auth_requests"`
	OtherRequests    uint64 `json:"other_requests"`
	CookieReplies    uint64 `json:"cookie_replies"`
	InvalidKEReplies uint64 `json:"invalid_ke_replies"`
	Unrouted         uint64 `json:"unrouted_datagrams"`
	SendErrors       uint64 `json:"send_errors"`
	// GeneratorCPU is this process's user+system time during the run: if
	// it approaches Seconds × its cores, the generator, not the responder,
	// was the limit.
	GeneratorCPU float64 `json:"generator_cpu_s"`
}

type latencyMS struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func (g *generator) report(cpu time.Duration) report {
	r := &g.res
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := report{
		Target:           g.opt.Target.String(),
		Proposal:         g.opt.Proposal,
		ESP:              g.opt.ESP,
		Concurrency:      g.opt.Concurrency,
		Established:      r.established,
		Failures:         map[string]int{},
		InitRequests:     g.initRequests.Load(),
		AuthRequests:     g.authRequests.Load(),
		OtherRequests:    g.otherRequests.Load(),
		CookieReplies:    g.cookieReplies.Load(),
		InvalidKEReplies: g.invalidKEReplies.Load(),
		Unrouted:         g.unrouted.Load(),
		SendErrors:       g.sendErrors.Load(),
		GeneratorCPU:     cpu.Seconds(),
	}
	for why, n := range r.failed {
		rep.Failed += n
		rep.Failures[why] = n
	}
	rep.Attempted = rep.Established + rep.Failed
	if !r.lastDone.IsZero() {
		rep.Seconds = r.lastDone.Sub(r.firstStart).Seconds()
	}
	if rep.Seconds > 0 {
		rep.Rate = float64(rep.Established) / rep.Seconds
	}
	rep.QuarterRates = quarterRates(r.firstStart, r.doneAt)
	if len(r.latencies) > 0 {
		s := sortedCopy(r.latencies)
		var sum time.Duration
		for _, d := range s {
			sum += d
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		rep.LatencyMS = latencyMS{
			Mean: ms(sum / time.Duration(len(s))),
			P50:  ms(percentile(s, 50)), P90: ms(percentile(s, 90)), P99: ms(percentile(s, 99)),
			Max: ms(s[len(s)-1]),
		}
	}
	return rep
}

func (rep report) print(w io.Writer) {
	fmt.Fprintf(w, "ikerate: %d IKE_SAs against %s (%s, ESP %s), %d in flight\n",
		rep.Attempted, rep.Target, rep.Proposal, rep.ESP, rep.Concurrency)
	fmt.Fprintf(w, "  established %d, failed %d, in %.3f s: %.1f IKE_SAs/s\n",
		rep.Established, rep.Failed, rep.Seconds, rep.Rate)
	if len(rep.QuarterRates) == 4 {
		fmt.Fprintf(w, "  by quarter of the SAs: %.0f %.0f %.0f %.0f IKE_SAs/s\n",
			rep.QuarterRates[0], rep.QuarterRates[1], rep.QuarterRates[2], rep.QuarterRates[3])
	}
	fmt.Fprintf(w, "  latency ms: mean %.2f  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
		rep.LatencyMS.Mean, rep.LatencyMS.P50, rep.LatencyMS.P90, rep.LatencyMS.P99, rep.LatencyMS.Max)
	fmt.Fprintf(w, "  requests sent: IKE_SA_INIT %d (COOKIE replies %d, INVALID_KE %d), IKE_AUTH %d, other %d\n",
		rep.InitRequests, rep.CookieReplies, rep.InvalidKEReplies, rep.AuthRequests, rep.OtherRequests)
	fmt.Fprintf(w, "  generator CPU %.2f s; unrouted datagrams %d; send errors %d\n",
		rep.GeneratorCPU, rep.Unrouted, rep.SendErrors)
	reasons := make([]string, 0, len(rep.Failures))
	for why := range rep.Failures {
		reasons = append(reasons, why)
	}
	sort.Strings(reasons)
	for _, why := range reasons {
		fmt.Fprintf(w, "  failed %d: %s\n", rep.Failures[why], why)
	}
}

// ownCPU is this process's user plus system time so far.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
