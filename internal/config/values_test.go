package config

import (
	"bytes"
	"testing"
	"time"
)

func TestParseNumber(t *testing.T) {
	good := map[string]uint64{
		"0": 0, "4500": 4500, "0100": 100, "0x0e5d": 0xe5d, "0XE5D": 0xe5d, "0xffffffffffffffff": 1<<64 - 1,
		"18446744073709551615": 1<<64 - 1,
	}
	for in, want := range good {
		if got, err := parseNumber(in); err != nil || got != want {
			t.Errorf("parseNumber(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0x", "-1", "+1", "1_000", "1.5", "0x1g", "12a", " 1", "18446744073709551616", "0x10000000000000000"} {
		if got, err := parseNumber(in); err == nil {
			t.Errorf("parseNumber(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"0": 0, "3600": time.Hour, "90s": 90 * time.Second, "90S": 90 * time.Second, "30m": 30 * time.Minute,
		"1h": time.Hour, "1 h": time.Hour, "2d": 48 * time.Hour, "0x10": 16 * time.Second,
		"0x1d": 29 * time.Second, "0x1m": time.Minute,
	}
	for in, want := range good {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "h", "1y", "1hh", "1.5h", "-1s", "9999999999999d"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseBytes(t *testing.T) {
	good := map[string]uint64{
		"0": 0, "500000000": 500000000, "1k": 1 << 10, "1K": 1 << 10, "900M": 900 << 20, "2 G": 2 << 30,
		"0x10k": 16 << 10, "0xffffffffffffffff": 1<<64 - 1,
	}
	for in, want := range good {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "K", "1T", "1KB", "17179869184G"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, in := range []string{"yes", "YES", "true", "enabled", "1"} {
		if got, err := parseBool(in); err != nil || !got {
			t.Errorf("parseBool(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"no", "False", "disabled", "0"} {
		if got, err := parseBool(in); err != nil || got {
			t.Errorf("parseBool(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseBool("y"); err == nil {
		t.Error(`parseBool("y") succeeded`)
	}
}

func TestParseHexKey(t *testing.T) {
	for in, want := range map[string][]byte{"0x0aFF": {0x0a, 0xff}, "0X0a": {0x0a}, "0a0b": {0x0a, 0x0b}} {
		if got, err := parseHexKey(in); err != nil || !bytes.Equal(got, want) {
			t.Errorf("parseHexKey(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0x", "0x0", "0xgg", "0a:0b", "0x 0a"} {
		if got, err := parseHexKey(in); err == nil {
			t.Errorf("parseHexKey(%q) = %x, want an error", in, got)
		}
	}
}
