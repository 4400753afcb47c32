package message

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// TSType is a traffic selector's TS Type (RFC 7296 §3.13.1; 10 is RFC
// 9478's security label).
type TSType uint8

const (
	TSIPv4AddrRange TSType = 7
	TSIPv6AddrRange TSType = 8
	TSSecLabel      TSType = 10
)

func (t TSType) String() string {
	switch t {
	case TSIPv4AddrRange:
		return "TS_IPV4_ADDR_RANGE"
	case TSIPv6AddrRange:
		return "TS_IPV6_ADDR_RANGE"
	case TSSecLabel:
		return "TS_SECLABEL"
	}
	return fmt.Sprintf("TS_TYPE(%d)", uint8(t))
}

// Selector lengths of the address range types, header included.
const (
	tsHeaderLen   = 4
	tsIPv4Len     = 16
	tsIPv6Len     = 40
	tsPayloadHead = 4
)

// OpaquePorts is the port range RFC 7296 §3.13.1 uses for "OPAQUE": start
// 65535, end 0, the one range whose start may exceed its end.
const (
	OpaqueStartPort uint16 = 0xffff
	OpaqueEndPort   uint16 = 0
)

// TrafficSelector is one traffic selector (RFC 7296 §3.13.1):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   TS Type     |IP Protocol ID*|       Selector Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Start Port*         |           End Port*           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                         Starting Address*                     ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                         Ending Address*                       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// (* fields of the two address range types.) IPProtocol 0 means any
// protocol, ports 0-65535 any port; for ICMP the "ports" are type and code
// (RFC 7296 §3.13.1). A selector of another type keeps everything after
// its 4-byte header in Data, so that the exchange can refuse it.
type TrafficSelector struct {
	TSType     TSType
	IPProtocol uint8
	StartPort  uint16
	EndPort    uint16
	StartAddr  netip.Addr
	EndAddr    netip.Addr
	Data       []byte
}

// TSFromPrefix returns the address range selector covering prefix, for
// any protocol and port.
func TSFromPrefix(prefix netip.Prefix) TrafficSelector {
	prefix = prefix.Masked()
	start := prefix.Addr()
	raw := start.AsSlice()
	for bit := prefix.Bits(); bit < len(raw)*8; bit++ {
		raw[bit/8] |= 0x80 >> (bit % 8)
	}
	end, _ := netip.AddrFromSlice(raw)
	ts := TrafficSelector{TSType: TSIPv4AddrRange, StartPort: 0, EndPort: 0xffff, StartAddr: start, EndAddr: end}
	if start.Is6() {
		ts.TSType = TSIPv6AddrRange
	}
	return ts
}

func (ts TrafficSelector) String() string {
	switch ts.TSType {
	case TSIPv4AddrRange, TSIPv6AddrRange:
		s := ts.StartAddr.String() + ".." + ts.EndAddr.String()
		if ts.IPProtocol != 0 || ts.StartPort != 0 || ts.EndPort != 0xffff {
			s += fmt.Sprintf("[%d/%d-%d]", ts.IPProtocol, ts.StartPort, ts.EndPort)
		}
		return s
	}
	return fmt.Sprintf("%v(%x)", ts.TSType, ts.Data)
}

// addrLen is the length of each address of an address range type.
func (t TSType) addrLen() int {
	switch t {
	case TSIPv4AddrRange:
		return 4
	case TSIPv6AddrRange:
		return 16
	}
	return 0
}

// check applies RFC 7296 §3.13.1's rules to an address range selector:
// addresses of the type's family, start <= end, and ports in order unless
// OPAQUE. Other types need only be non-empty, as strongSwan requires of a
// security label.
func (ts TrafficSelector) check() error {
	n := ts.TSType.addrLen()
	if n == 0 {
		if ts.TSType == TSSecLabel && len(ts.Data) == 0 {
			return malformed("empty %v", ts.TSType)
		}
		return nil
	}
	if ts.StartAddr.BitLen() != n*8 || ts.EndAddr.BitLen() != n*8 {
		return malformed("%v with addresses %v and %v", ts.TSType, ts.StartAddr, ts.EndAddr)
	}
	if ts.StartAddr.Compare(ts.EndAddr) > 0 {
		return malformed("%v starts at %v after its end %v", ts.TSType, ts.StartAddr, ts.EndAddr)
	}
	if ts.StartPort > ts.EndPort && (ts.StartPort != OpaqueStartPort || ts.EndPort != OpaqueEndPort) {
		return malformed("%v ports %d-%d", ts.TSType, ts.StartPort, ts.EndPort)
	}
	return nil
}

// TS is the Traffic Selector payload, TSi or TSr (RFC 7296 §3.13):
//
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Number of TSs |                 RESERVED                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       <Traffic Selectors>                     ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type TS struct {
	// Responder selects TSr; false is TSi.
	Responder bool
	Selectors []TrafficSelector
}

func (ts *TS) Type() PayloadType {
	if ts.Responder {
		return PayloadTSr
	}
	return PayloadTSi
}

func (ts *TS) Encode(b []byte) ([]byte, error) {
	if len(ts.Selectors) > 0xff {
		return nil, cannotEncode("%d traffic selectors", len(ts.Selectors))
	}
	b = append(b, byte(len(ts.Selectors)), 0, 0, 0)
	for _, sel := range ts.Selectors {
		if err := sel.check(); err != nil {
			return nil, cannotEncode("%v", err)
		}
		n := sel.TSType.addrLen()
		length := tsHeaderLen + len(sel.Data)
		if n > 0 {
			length = tsHeaderLen + 4 + 2*n
		}
		if length > maxPayloadLen {
			return nil, cannotEncode("traffic selector of %d bytes", length)
		}
		b = append(b, byte(sel.TSType), sel.IPProtocol)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
		if n == 0 {
			b = append(b, sel.Data...)
			continue
		}
		b = binary.BigEndian.AppendUint16(b, sel.StartPort)
		b = binary.BigEndian.AppendUint16(b, sel.EndPort)
		b = append(b, sel.StartAddr.AsSlice()...)
		b = append(b, sel.EndAddr.AsSlice()...)
	}
	return b, nil
}

func (ts *TS) Decode(body []byte) error {
	if len(body) < tsPayloadHead {
		return truncated("TS payload of %d bytes", len(body))
	}
	count := int(body[0])
	body = body[tsPayloadHead:]
	ts.Selectors = make([]TrafficSelector, 0, min(count, len(body)/tsHeaderLen))
	for len(body) > 0 {
		if len(body) < tsHeaderLen {
			return truncated("traffic selector header needs %d bytes, %d left", tsHeaderLen, len(body))
		}
		sel := TrafficSelector{TSType: TSType(body[0]), IPProtocol: body[1]}
		length := int(binary.BigEndian.Uint16(body[2:]))
		if length < tsHeaderLen {
			return malformed("traffic selector length %d", length)
		}
		if length > len(body) {
			return truncated("traffic selector of %d bytes, %d left", length, len(body))
		}
		if n := sel.TSType.addrLen(); n > 0 {
			if length != tsHeaderLen+4+2*n {
				return malformed("%v of %d bytes, want %d", sel.TSType, length, tsHeaderLen+4+2*n)
			}
			sel.StartPort = binary.BigEndian.Uint16(body[4:])
			sel.EndPort = binary.BigEndian.Uint16(body[6:])
			sel.StartAddr, _ = netip.AddrFromSlice(body[8 : 8+n])
			sel.EndAddr, _ = netip.AddrFromSlice(body[8+n : 8+2*n])
		} else {
			sel.Data = body[tsHeaderLen:length:length]
		}
		if err := sel.check(); err != nil {
			return err
		}
		ts.Selectors = append(ts.Selectors, sel)
		body = body[length:]
	}
	if len(ts.Selectors) != count {
		return malformed("TS payload says %d selectors, holds %d", count, len(ts.Selectors))
	}
	return nil
}

// Contains reports whether the address range selector covers addr (any
// protocol and port).
func (ts TrafficSelector) Contains(addr netip.Addr) bool {
	if ts.TSType.addrLen() == 0 || addr.BitLen() != ts.StartAddr.BitLen() {
		return false
	}
	return addr.Compare(ts.StartAddr) >= 0 && addr.Compare(ts.EndAddr) <= 0
}
