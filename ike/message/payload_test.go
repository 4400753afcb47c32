package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// TestPayloadRoundTrip encodes every sample payload, decodes it into a
// fresh payload of its type and checks that the result encodes to the
// same bytes and equals the original field by field.
func TestPayloadRoundTrip(t *testing.T) {
	for _, p := range samplePayloads() {
		t.Run(p.Type().String(), func(t *testing.T) {
			body := encodeBody(t, p)
			decoded := freshPayload(p)
			if err := decoded.Decode(body); err != nil {
				t.Fatalf("Decode(%x): %v", body, err)
			}
			if again := encodeBody(t, decoded); !bytes.Equal(again, body) {
				t.Fatalf("re-encoded\n got %x\nwant %x", again, body)
			}
			if !reflect.DeepEqual(normalize(decoded), normalize(p)) {
				t.Fatalf("decoded %#v\nwant %#v", decoded, p)
			}
		})
	}
}

// freshPayload returns an empty payload of p's type, as the chain decoder
// would make it.
func freshPayload(p Payload) Payload {
	if u, ok := p.(*Unknown); ok {
		return &Unknown{PayloadType: u.PayloadType}
	}
	return newPayload(p.Type())
}

// normalize maps empty slices to nil so that DeepEqual compares content:
// a decoder returns empty sub-slices where a literal has nil.
func normalize(p Payload) Payload {
	v := reflect.New(reflect.TypeOf(p).Elem())
	v.Elem().Set(reflect.ValueOf(p).Elem())
	normalizeValue(v.Elem())
	return v.Interface().(Payload)
}

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			if v.CanSet() {
				v.Set(reflect.Zero(v.Type()))
			}
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			copied := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(copied, v)
			for i := range copied.Len() {
				normalizeValue(copied.Index(i))
			}
			v.Set(copied)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				normalizeValue(v.Field(i))
			}
		}
	}
}

// TestPayloadTruncatedPrefix cuts every sample payload's body short at
// every length. Decoding a prefix must never panic, and must either fail
// or describe exactly that prefix (an opaque payload, or a list cut at an
// element boundary, is still a valid payload).
func TestPayloadTruncatedPrefix(t *testing.T) {
	for _, p := range samplePayloads() {
		t.Run(p.Type().String(), func(t *testing.T) {
			body := encodeBody(t, p)
			for n := range len(body) {
				prefix := append([]byte(nil), body[:n]...)
				decoded := freshPayload(p)
				err := decoded.Decode(prefix)
				if err != nil {
					if !errors.Is(err, ErrMalformed) {
						t.Fatalf("prefix %d: error %v does not wrap ErrMalformed", n, err)
					}
					continue
				}
				again, err := decoded.Encode(nil)
				if err != nil || !bytes.Equal(again, body[:n]) {
					t.Fatalf("prefix %d decoded without error but re-encodes to %x (%v), want %x", n, again, err, body[:n])
				}
			}
		})
	}
}

// TestMessageTruncatedPrefix puts each sample payload in a message and
// cuts the datagram at every length, with the IKE header's Length patched
// to match so that the cut reaches the payload decoders: every prefix must
// fail with ErrMalformed.
func TestMessageTruncatedPrefix(t *testing.T) {
	for _, p := range samplePayloads() {
		t.Run(p.Type().String(), func(t *testing.T) {
			m := &Message{Header: Header{SPIi: 1, Exchange: ExchangeInformational}, Payloads: []Payload{p, &Nonce{Data: seq(0, 16)}}}
			whole := mustEncode(t, m)
			if _, err := Parse(whole); err != nil {
				t.Fatalf("whole message: %v", err)
			}
			for n := range len(whole) {
				prefix := append([]byte(nil), whole[:n]...)
				if n >= HeaderLen {
					HeaderView(prefix).SetLength(uint32(n))
				}
				if _, err := Parse(prefix); !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d of %d: error %v, want ErrMalformed", n, len(whole), err)
				}
			}
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range []*Message{sampleInitRequest(), sampleAuthRequest(), {Header: Header{SPIi: 9, SPIr: 10, Exchange: ExchangeInformational, Flags: FlagResponse, MessageID: 7}}} {
		raw := mustEncode(t, m)
		parsed, err := Parse(raw)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		want := m.Header
		want.Length, want.NextPayload = uint32(len(raw)), firstType(m.Payloads, PayloadNone)
		if parsed.Header != want {
			t.Fatalf("header %+v, want %+v", parsed.Header, want)
		}
		equalEncodings(t, parsed.Payloads, m.Payloads)
		if again := mustEncode(t, parsed); !bytes.Equal(again, raw) {
			t.Fatalf("re-encoded message differs:\n got %x\nwant %x", again, raw)
		}
	}
}

func TestParseDoesNotAliasDatagram(t *testing.T) {
	raw := mustEncode(t, sampleInitRequest())
	m, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	clear(raw)
	if nonce := m.Find(PayloadNonce).(*Nonce); !bytes.Equal(nonce.Data, seq(0x50, 32)) {
		t.Fatalf("nonce changed with the datagram: %x", nonce.Data)
	}
}

func TestMessageString(t *testing.T) {
	got := sampleInitRequest().String()
	want := "IKE_SA_INIT request 0 [ SA KE No N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(IKEV2_FRAGMENTATION_SUPPORTED) N(SIGNATURE_HASH_ALGORITHMS) N(REDIRECT_SUPPORTED) V ]"
	if got != want {
		t.Fatalf("String() = %q\nwant %q", got, want)
	}
}

func TestMessageFind(t *testing.T) {
	m := sampleInitRequest()
	if ke, ok := m.Find(PayloadKE).(*KE); !ok || ke.Group != DHCurve25519 {
		t.Fatalf("Find(KE) = %v", m.Find(PayloadKE))
	}
	if m.Find(PayloadAUTH) != nil {
		t.Fatal("Find(AUTH) found something")
	}
	if n := m.Notify(NotifyIKEv2FragmentationSupported); n == nil {
		t.Fatal("Notify(IKEV2_FRAGMENTATION_SUPPORTED) = nil")
	}
	if got := len(m.Notifies()); got != 5 {
		t.Fatalf("%d notifies, want 5", got)
	}
	if got := len(m.FindAll(PayloadNotify)); got != 5 {
		t.Fatalf("FindAll(N) found %d, want 5", got)
	}
}

// rawMessage assembles a datagram from a header and hand-made payloads,
// each given as its type, the generic header's second octet and a body;
// the length fields are filled in unless overridden with lengths.
type rawPayload struct {
	typ    PayloadType
	flags  byte
	body   []byte
	length int // 0: computed; negative: 0
}

func rawMessage(payloads ...rawPayload) []byte {
	first := PayloadNone
	if len(payloads) > 0 {
		first = payloads[0].typ
	}
	b := appendHeader(nil, Header{SPIi: 1, Exchange: ExchangeInformational}, first)
	for i, p := range payloads {
		next := PayloadNone
		if i+1 < len(payloads) {
			next = payloads[i+1].typ
		}
		length := p.length
		switch {
		case length == 0:
			length = GenericHeaderLen + len(p.body)
		case length < 0:
			length = 0
		}
		b = append(b, byte(next), p.flags)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
		b = append(b, p.body...)
	}
	HeaderView(b).SetLength(uint32(len(b)))
	return b
}

// TestParseMalformed covers the generic payload chain's bad inputs.
func TestParseMalformed(t *testing.T) {
	nonce := seq(0, 16)
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"payload length below 4", rawMessage(rawPayload{typ: PayloadNonce, body: nonce, length: 3}), ErrMalformed},
		{"payload length 0", rawMessage(rawPayload{typ: PayloadNonce, body: nonce, length: -1}), ErrMalformed},
		{"payload length beyond the message", rawMessage(rawPayload{typ: PayloadNonce, body: nonce, length: 100}), ErrTruncated},
		{"second payload beyond the message", rawMessage(rawPayload{typ: PayloadNonce, body: nonce}, rawPayload{typ: PayloadVendorID, body: seq(0, 4), length: 9}), ErrTruncated},
		{"next payload but no bytes", func() []byte {
			b := rawMessage(rawPayload{typ: PayloadNonce, body: nonce})
			b[HeaderLen] = byte(PayloadVendorID)
			return b
		}(), ErrTruncated},
		{"trailing bytes after the last payload", func() []byte {
			b := append(rawMessage(rawPayload{typ: PayloadNonce, body: nonce}), 0, 0, 0, 0)
			HeaderView(b).SetLength(uint32(len(b)))
			return b
		}(), ErrMalformed},
		{"SK not last", rawMessage(rawPayload{typ: PayloadSK, body: seq(0, 40)}, rawPayload{typ: PayloadNonce, body: nonce}), ErrMalformed},
		{"bad nonce inside a good chain", rawMessage(rawPayload{typ: PayloadVendorID, body: seq(0, 4)}, rawPayload{typ: PayloadNonce, body: seq(0, 15)}), ErrMalformed},
		{"unknown critical payload", rawMessage(rawPayload{typ: PayloadNonce, body: nonce}, rawPayload{typ: 200, flags: criticalBit, body: seq(0, 5)}), ErrUnsupportedCriticalPayload},
		{"IKEv1 payload with critical bit", rawMessage(rawPayload{typ: 8, flags: criticalBit, body: seq(0, 20)}), ErrUnsupportedCriticalPayload},
		{"unassigned IKEv2 type with critical bit", rawMessage(rawPayload{typ: PayloadGSPM, flags: criticalBit}), ErrUnsupportedCriticalPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.raw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestUnsupportedCriticalPayloadCarriesType(t *testing.T) {
	raw := rawMessage(rawPayload{typ: PayloadNonce, body: seq(0, 16)}, rawPayload{typ: 201, flags: criticalBit | 0x01})
	_, err := Parse(raw)
	var uc *UnsupportedCriticalPayloadError
	if !errors.As(err, &uc) || uc.Type != 201 {
		t.Fatalf("error %v, want UnsupportedCriticalPayloadError{201}", err)
	}
	if errors.Is(err, ErrMalformed) {
		t.Fatal("an unsupported critical payload is not malformed")
	}
}

// TestUnknownNonCriticalSkipped checks that unknown payloads without the
// critical bit, IKEv1 types among them, are kept as Unknown and that the
// payloads around them still decode (RFC 7296 §2.5, §3.2).
func TestUnknownNonCriticalSkipped(t *testing.T) {
	for _, typ := range []PayloadType{1, 5, 8, 13, 32, PayloadGSPM, PayloadPS, 128, 255} {
		raw := rawMessage(
			rawPayload{typ: PayloadNonce, body: seq(0, 16)},
			rawPayload{typ: typ, flags: 0x7f, body: seq(9, 6)}, // reserved bits ignored
			rawPayload{typ: PayloadVendorID, body: seq(0, 4)},
		)
		m, err := Parse(raw)
		if err != nil {
			t.Fatalf("type %d: %v", typ, err)
		}
		u, ok := m.Payloads[1].(*Unknown)
		if !ok || u.PayloadType != typ || u.Critical || !bytes.Equal(u.Body, seq(9, 6)) {
			t.Fatalf("type %d: payload 1 is %#v", typ, m.Payloads[1])
		}
		if _, ok := m.Payloads[2].(*VendorID); !ok {
			t.Fatalf("type %d: payload after the unknown one is %#v", typ, m.Payloads[2])
		}
	}
}

// TestCriticalBitIgnoredOnKnownPayload: RFC 7296 §3.2 says the bit MUST be
// ignored when the type is understood.
func TestCriticalBitIgnoredOnKnownPayload(t *testing.T) {
	raw := rawMessage(rawPayload{typ: PayloadNonce, flags: criticalBit, body: seq(0, 16)})
	if _, err := Parse(raw); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownCriticalRoundTrip(t *testing.T) {
	m := &Message{Header: Header{SPIi: 1, Exchange: ExchangeInformational}, Payloads: []Payload{&Unknown{PayloadType: 77, Critical: true, Body: seq(0, 3)}}}
	raw := mustEncode(t, m)
	if raw[HeaderLen+1] != criticalBit {
		t.Fatalf("critical bit not encoded: %x", raw[HeaderLen:])
	}
	var uc *UnsupportedCriticalPayloadError
	if _, err := Parse(raw); !errors.As(err, &uc) || uc.Type != 77 {
		t.Fatalf("Parse error %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Payload
	}{
		{"short nonce", &Nonce{Data: seq(0, 15)}},
		{"long nonce", &Nonce{Data: seq(0, 257)}},
		{"SA without proposals", &SA{}},
		{"ESP proposal with an 8-byte SPI", &SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolESP, SPI: seq(0, 8)}}}},
		{"IPv4 ID of 5 bytes", &ID{IDType: IDIPv4Addr, Data: seq(0, 5)}},
		{"IKE delete with SPIs", &Delete{Protocol: ProtocolIKE, SPIs: []uint32{1}}},
		{"delete for protocol 9", &Delete{Protocol: 9}},
		{"TS start after end", &TS{Selectors: []TrafficSelector{{TSType: TSIPv4AddrRange, StartAddr: netipAddr("192.0.2.9"), EndAddr: netipAddr("192.0.2.1"), EndPort: 0xffff}}}},
		{"TS family mismatch", &TS{Selectors: []TrafficSelector{{TSType: TSIPv6AddrRange, StartAddr: netipAddr("192.0.2.1"), EndAddr: netipAddr("192.0.2.1"), EndPort: 0xffff}}}},
		{"CERTREQ of 21 bytes", &CertReq{Encoding: CertX509Signature, Data: seq(0, 21)}},
		{"EAP with a wrong length", &EAP{Message: []byte{1, 1, 0, 9}}},
		{"CP address of 3 bytes", &CP{CFGType: CFGReply, Attributes: []CPAttribute{{Type: InternalIP4Address, Value: seq(0, 3)}}}},
		{"SKF fragment 0", &EncryptedFragment{Number: 0, Total: 1}},
		{"notify SPI of 256 bytes", &Notify{SPI: seq(0, 256)}},
		{"transform attribute type over 15 bits", &SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{{Type: TransformEncr, Attributes: []Attribute{{Type: 0x8000, TV: true}}}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.p.Encode(nil); !errors.Is(err, ErrEncoding) {
				t.Fatalf("Encode error %v, want ErrEncoding", err)
			}
			m := &Message{Header: Header{SPIi: 1}, Payloads: []Payload{tt.p}}
			if _, err := m.Encode(); !errors.Is(err, ErrEncoding) {
				t.Fatalf("Message.Encode error %v, want ErrEncoding", err)
			}
		})
	}
}

func TestEncodeRejectsOversizedPayload(t *testing.T) {
	m := &Message{Header: Header{SPIi: 1}, Payloads: []Payload{&VendorID{Data: make([]byte, 0x10000)}}}
	if _, err := m.Encode(); !errors.Is(err, ErrEncoding) {
		t.Fatalf("error %v, want ErrEncoding", err)
	}
}
