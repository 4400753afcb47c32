package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"strings"
	"time"
)

// The value syntaxes follow strongSwan where it has one (strongswan.conf(5)
// NUMBER FORMATS and TIME FORMATS; the vici plugin's parse_time,
// parse_bytes and parse_bool), with one deliberate difference: a leading
// zero does not switch to octal, so "0100" is one hundred, not 64.

// parseNumber reads a decimal or 0x-prefixed hexadecimal unsigned integer.
func parseNumber(s string) (uint64, error) {
	digits, base := s, uint64(10)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits, base = s[2:], 16
	}
	if digits == "" {
		return 0, fmt.Errorf("%q is not a number (want decimal or 0x-prefixed hexadecimal)", s)
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		d, ok := digitValue(digits[i])
		if !ok || uint64(d) >= base {
			return 0, fmt.Errorf("%q is not a number (want decimal or 0x-prefixed hexadecimal)", s)
		}
		hi, lo := bits.Mul64(n, base)
		if hi != 0 || lo+uint64(d) < lo {
			return 0, fmt.Errorf("%q is too large", s)
		}
		n = lo + uint64(d)
	}
	return n, nil
}

func digitValue(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// splitSuffix separates a number from a one-letter unit, allowing blanks
// between them as strongSwan does ("1h", "1 h", "500M"). In "0x1d" the d is
// a hex digit, as it is for strtoul.
func splitSuffix(s string) (number string, suffix byte) {
	if s == "" {
		return s, 0
	}
	last := s[len(s)-1]
	lower := last | 0x20
	if lower < 'a' || lower > 'z' {
		return s, 0
	}
	if _, isHexDigit := digitValue(last); isHexDigit && (strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")) {
		return s, 0
	}
	return strings.TrimRight(s[:len(s)-1], " "), lower
}

// parseDuration reads a time in seconds with an optional s, m, h or d
// suffix (strongSwan's TIME FORMATS).
func parseDuration(s string) (time.Duration, error) {
	number, suffix := splitSuffix(s)
	unit := time.Second
	switch suffix {
	case 0, 's':
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("%q is not a time (want seconds, or a number with an s, m, h or d suffix)", s)
	}
	n, err := parseNumber(number)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time (want seconds, or a number with an s, m, h or d suffix)", s)
	}
	if n > uint64(math.MaxInt64/int64(unit)) {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(n) * unit, nil
}

// parseBytes reads a byte count with an optional K, M or G suffix, which
// multiply by powers of 1024 (the vici plugin's parse_bytes).
func parseBytes(s string) (uint64, error) {
	number, suffix := splitSuffix(s)
	var shift uint
	switch suffix {
	case 0:
	case 'k':
		shift = 10
	case 'm':
		shift = 20
	case 'g':
		shift = 30
	default:
		return 0, fmt.Errorf("%q is not a byte count (want a number with an optional K, M or G suffix)", s)
	}
	n, err := parseNumber(number)
	if err != nil {
		return 0, fmt.Errorf("%q is not a byte count (want a number with an optional K, M or G suffix)", s)
	}
	if n > math.MaxUint64>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

// parseBool reads strongSwan's booleans, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "enabled", "1":
		return true, nil
	case "no", "false", "disabled", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (want yes or no)", s)
}

// parseHexKey reads key material as hex digits, with or without 0x.
func parseHexKey(s string) ([]byte, error) {
	digits := s
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		digits = s[2:]
	}
	if digits == "" {
		return nil, errors.New("empty key")
	}
	if len(digits)%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits (%d)", len(digits))
	}
	key, err := hex.DecodeString(digits)
	if err != nil {
		var invalid hex.InvalidByteError
		if errors.As(err, &invalid) {
			return nil, fmt.Errorf("%q is not a hex digit", rune(invalid))
		}
		return nil, err
	}
	return key, nil
}

// splitList splits a swanctl list: comma-separated, blanks around the
// commas allowed.
func splitList(s string) ([]string, error) {
	parts := strings.Split(s, ",")
	for i, part := range parts {
		parts[i] = strings.TrimSpace(part)
		if parts[i] == "" {
			return nil, errors.New("empty entry in a comma-separated list")
		}
	}
	return parts, nil
}

// parseAddr reads one unicast IP address; zones and IPv4-mapped IPv6
// addresses, which an SA cannot use, are refused.
func parseAddr(s string) (netip.Addr, error) {
	if strings.Contains(s, ",") {
		return netip.Addr{}, fmt.Errorf("%q is a list; a manual SA takes exactly one address", s)
	}
	addr, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	case addr.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%q has a zone, which an SA cannot use", s)
	case addr.Is4In6():
		return netip.Addr{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address; write %s", s, addr.Unmap())
	case addr.IsUnspecified():
		return netip.Addr{}, fmt.Errorf("%q is the unspecified address; a manual SA needs a concrete one", s)
	}
	return addr, nil
}

// parsePrefix reads "addr/len" or a bare address, which stands for the
// host prefix (/32 or /128). With masked, host bits must be zero, as in a
// traffic selector; without, they are kept, as in an interface address.
func parsePrefix(s string, masked bool) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or prefix", s)
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP prefix", s)
	}
	if masked && prefix.Masked() != prefix {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", s, prefix.Masked())
	}
	return prefix, nil
}

func hostPrefix(addr netip.Addr) netip.Prefix { return netip.PrefixFrom(addr, addr.BitLen()) }

func family(addr netip.Addr) string {
	if addr.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
