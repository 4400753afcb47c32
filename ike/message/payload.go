package message

import (
	"encoding/binary"
	"fmt"
)

// PayloadType is a Next Payload value (RFC 7296 §3.2 and the IANA "IKEv2
// Payload Types" registry).
type PayloadType uint8

const (
	PayloadNone PayloadType = 0

	// Values 1-32 are reserved so that they never collide with IKEv1's
	// payload types (RFC 7296 §3.2). An IKEv1 payload inside an IKEv2
	// message is therefore simply an unknown type: skipped unless its
	// critical bit is set (IKEv1 has a reserved zero octet there, so it
	// normally is not).

	PayloadSA       PayloadType = 33 // Security Association, §3.3
	PayloadKE       PayloadType = 34 // Key Exchange, §3.4
	PayloadIDi      PayloadType = 35 // Identification - Initiator, §3.5
	PayloadIDr      PayloadType = 36 // Identification - Responder, §3.5
	PayloadCERT     PayloadType = 37 // Certificate, §3.6
	PayloadCERTREQ  PayloadType = 38 // Certificate Request, §3.7
	PayloadAUTH     PayloadType = 39 // Authentication, §3.8
	PayloadNonce    PayloadType = 40 // Nonce, §3.9
	PayloadNotify   PayloadType = 41 // Notify, §3.10
	PayloadDelete   PayloadType = 42 // Delete, §3.11
	PayloadVendorID PayloadType = 43 // Vendor ID, §3.12
	PayloadTSi      PayloadType = 44 // Traffic Selector - Initiator, §3.13
	PayloadTSr      PayloadType = 45 // Traffic Selector - Responder, §3.13
	PayloadSK       PayloadType = 46 // Encrypted and Authenticated, §3.14
	PayloadCP       PayloadType = 47 // Configuration, §3.15
	PayloadEAP      PayloadType = 48 // Extensible Authentication, §3.16
	PayloadGSPM     PayloadType = 49 // Generic Secure Password Methods, RFC 6467
	PayloadIDg      PayloadType = 50 // Group Identification, G-IKEv2
	PayloadGSA      PayloadType = 51 // Group Security Association, G-IKEv2
	PayloadKD       PayloadType = 52 // Key Download, G-IKEv2
	PayloadSKF      PayloadType = 53 // Encrypted and Authenticated Fragment, RFC 7383
	PayloadPS       PayloadType = 54 // Puzzle Solution, RFC 8019
)

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi",
	PayloadIDr: "IDr", PayloadCERT: "CERT", PayloadCERTREQ: "CERTREQ",
	PayloadAUTH: "AUTH", PayloadNonce: "No", PayloadNotify: "N",
	PayloadDelete: "D", PayloadVendorID: "V", PayloadTSi: "TSi",
	PayloadTSr: "TSr", PayloadSK: "SK", PayloadCP: "CP", PayloadEAP: "EAP",
	PayloadGSPM: "GSPM", PayloadIDg: "IDg", PayloadGSA: "GSA",
	PayloadKD: "KD", PayloadSKF: "SKF", PayloadPS: "PS",
}

func (t PayloadType) String() string {
	if name, ok := payloadNames[t]; ok {
		return name
	}
	return fmt.Sprintf("PAYLOAD(%d)", uint8(t))
}

// Payload is one IKEv2 payload. Encode appends its body, everything after
// the 4-byte generic payload header, to b; the message encoder writes the
// generic header, whose Next Payload depends on the payload that follows.
// Decode reads a body; the decoded payload may keep slices of body.
type Payload interface {
	Type() PayloadType
	Encode(b []byte) ([]byte, error)
	Decode(body []byte) error
}

// GenericHeaderLen is the generic payload header (RFC 7296 §3.2).
const GenericHeaderLen = 4

// maxPayloadLen is what the 16-bit Payload Length field can say.
const maxPayloadLen = 0xffff

// The generic payload header (RFC 7296 §3.2):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Payload  |C|  RESERVED   |         Payload Length        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The critical bit C belongs to this payload (its type is the previous
// header's Next Payload), not to the next one.
type GenericHeaderView []byte

const criticalBit = 0x80

func (v GenericHeaderView) NextPayload() PayloadType { return PayloadType(v[0]) }
func (v GenericHeaderView) Critical() bool           { return v[1]&criticalBit != 0 }
func (v GenericHeaderView) Length() uint16           { return binary.BigEndian.Uint16(v[2:]) }

// Unknown is a payload of a type this package does not decode, kept as
// raw bytes: a non-critical unknown payload is skipped by the exchange but
// stays in the message (RFC 7296 §2.5), and a round trip is exact.
type Unknown struct {
	PayloadType PayloadType
	Critical    bool
	Body        []byte
}

func (u *Unknown) Type() PayloadType               { return u.PayloadType }
func (u *Unknown) Encode(b []byte) ([]byte, error) { return append(b, u.Body...), nil }
func (u *Unknown) Decode(body []byte) error        { u.Body = body; return nil }

// newPayload returns an empty payload of a type this package decodes, or
// nil for any other type.
func newPayload(t PayloadType) Payload {
	switch t {
	case PayloadSA:
		return new(SA)
	case PayloadKE:
		return new(KE)
	case PayloadIDi:
		return &ID{}
	case PayloadIDr:
		return &ID{Responder: true}
	case PayloadCERT:
		return new(Cert)
	case PayloadCERTREQ:
		return new(CertReq)
	case PayloadAUTH:
		return new(Auth)
	case PayloadNonce:
		return new(Nonce)
	case PayloadNotify:
		return new(Notify)
	case PayloadDelete:
		return new(Delete)
	case PayloadVendorID:
		return new(VendorID)
	case PayloadTSi:
		return &TS{}
	case PayloadTSr:
		return &TS{Responder: true}
	case PayloadSK:
		return new(Encrypted)
	case PayloadCP:
		return new(CP)
	case PayloadEAP:
		return new(EAP)
	case PayloadSKF:
		return new(EncryptedFragment)
	}
	return nil
}

// isEncrypted reports the two payloads whose Next Payload names the first
// payload inside them and which therefore end the outer chain.
func isEncrypted(t PayloadType) bool { return t == PayloadSK || t == PayloadSKF }

// decodeChain walks a chain of generic payload headers (RFC 7296 §3.2)
// starting with a payload of type first, until a Next Payload of zero,
// which must come exactly at the end of data. In an outer chain an SK or
// SKF payload ends the walk and must end data too (RFC 7296 §3.14, RFC 7383
// §2.5: it MUST be the last payload); inside SK it is malformed.
func decodeChain(data []byte, first PayloadType, outer bool) ([]Payload, error) {
	var payloads []Payload
	next := first
	offset := 0
	for next != PayloadNone {
		rest := data[offset:]
		if len(rest) < GenericHeaderLen {
			return nil, truncated("%v payload header at offset %d needs %d bytes, %d left", next, offset, GenericHeaderLen, len(rest))
		}
		h := GenericHeaderView(rest)
		length := int(h.Length())
		if length < GenericHeaderLen {
			return nil, malformed("%v payload at offset %d has length %d, less than its own header", next, offset, length)
		}
		if length > len(rest) {
			return nil, truncated("%v payload at offset %d has length %d, only %d bytes left", next, offset, length, len(rest))
		}
		typ := next
		body := rest[GenericHeaderLen:length:length]
		p := newPayload(typ)
		switch {
		case p == nil && h.Critical():
			return nil, &UnsupportedCriticalPayloadError{Type: typ}
		case p == nil:
			p = &Unknown{PayloadType: typ}
		case isEncrypted(typ) && !outer:
			return nil, malformed("%v payload inside an encrypted payload", typ)
		}
		if err := p.Decode(body); err != nil {
			return nil, fmt.Errorf("%v payload at offset %d: %w", typ, offset, err)
		}
		if u, ok := p.(*Unknown); ok {
			u.Critical = h.Critical()
		}
		payloads = append(payloads, p)
		next = h.NextPayload()
		offset += length
		if isEncrypted(typ) {
			setFirstPayload(p, next)
			if offset != len(data) {
				return nil, malformed("%d bytes after the %v payload, which must be the last", len(data)-offset, typ)
			}
			return payloads, nil
		}
	}
	if offset != len(data) {
		return nil, malformed("%d bytes after the last payload", len(data)-offset)
	}
	return payloads, nil
}

func setFirstPayload(p Payload, first PayloadType) {
	switch p := p.(type) {
	case *Encrypted:
		p.FirstPayload = first
	case *EncryptedFragment:
		p.FirstPayload = first
	}
}

// firstInner is the Next Payload an SK or SKF payload writes.
func firstInner(p Payload) PayloadType {
	switch p := p.(type) {
	case *Encrypted:
		return p.FirstPayload
	case *EncryptedFragment:
		return p.FirstPayload
	}
	return PayloadNone
}

// appendChain appends payloads, each behind its generic header, with the
// last one's Next Payload set to after. An SK or SKF payload must be last
// and writes the type of its first inner payload instead.
func appendChain(b []byte, payloads []Payload, after PayloadType) ([]byte, error) {
	for i, p := range payloads {
		if p == nil {
			return nil, cannotEncode("payload %d is nil", i)
		}
		next := after
		if i+1 < len(payloads) {
			if payloads[i+1] == nil {
				return nil, cannotEncode("payload %d is nil", i+1)
			}
			next = payloads[i+1].Type()
		}
		if isEncrypted(p.Type()) {
			if i+1 != len(payloads) || after != PayloadNone {
				return nil, cannotEncode("%v payload must be the last", p.Type())
			}
			next = firstInner(p)
		}
		var flags byte
		if u, ok := p.(*Unknown); ok && u.Critical {
			flags = criticalBit
		}
		start := len(b)
		b = append(b, byte(next), flags, 0, 0)
		var err error
		if b, err = p.Encode(b); err != nil {
			return nil, fmt.Errorf("%v payload: %w", p.Type(), err)
		}
		length := len(b) - start
		if length > maxPayloadLen {
			return nil, cannotEncode("%v payload of %d bytes exceeds %d", p.Type(), length, maxPayloadLen)
		}
		binary.BigEndian.PutUint16(b[start+2:], uint16(length))
	}
	return b, nil
}

// firstType is the Next Payload that introduces payloads, or after if
// there are none.
func firstType(payloads []Payload, after PayloadType) PayloadType {
	if len(payloads) == 0 || payloads[0] == nil {
		return after
	}
	return payloads[0].Type()
}
