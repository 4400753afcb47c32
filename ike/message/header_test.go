package message

import (
	"errors"
	"testing"
)

func TestParseHeader(t *testing.T) {
	valid := mustEncode(t, &Message{Header: Header{SPIi: 0x1122334455667788, SPIr: 0x99aabbccddeeff00, Exchange: ExchangeCreateChildSA, Flags: FlagResponse | FlagInitiator, MessageID: 0x01020304}})
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"valid", func(b []byte) []byte { return b }, nil},
		{"empty", func(b []byte) []byte { return nil }, ErrTruncated},
		{"27 bytes", func(b []byte) []byte { return b[:27] }, ErrTruncated},
		{"length field above the datagram", func(b []byte) []byte { HeaderView(b).SetLength(29); return b }, ErrLengthMismatch},
		{"length field below the datagram", func(b []byte) []byte {
			b = append(b, 0, 0, 0, 0)
			HeaderView(b).SetLength(28)
			return b
		}, ErrLengthMismatch},
		{"length field zero", func(b []byte) []byte { HeaderView(b).SetLength(0); return b }, ErrLengthMismatch},
		{"zero initiator SPI", func(b []byte) []byte { HeaderView(b).SetSPIi(0); return b }, ErrZeroSPI},
		{"IKEv1", func(b []byte) []byte { b[hdrVersion] = 0x10; return b }, ErrInvalidMajorVersion},
		{"IKEv3", func(b []byte) []byte { b[hdrVersion] = 0x30; return b }, ErrInvalidMajorVersion},
		{"version 0 with a short datagram", func(b []byte) []byte { b[hdrVersion] = 0; HeaderView(b).SetLength(1000); return b }, ErrInvalidMajorVersion},
		{"minor version ignored", func(b []byte) []byte { b[hdrVersion] = 0x2f; return b }, nil},
		{"reserved flags ignored", func(b []byte) []byte { b[hdrFlags] |= 0xc7; return b }, nil},
		{"zero responder SPI allowed", func(b []byte) []byte { HeaderView(b).SetSPIr(0); return b }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.mutate(append([]byte(nil), valid...))
			h, err := ParseHeader(raw)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ParseHeader error %v, want %v", err, tt.want)
			}
			if _, perr := Parse(raw); (perr == nil) != (err == nil) {
				t.Fatalf("Parse error %v disagrees with ParseHeader's %v", perr, err)
			}
			if err != nil {
				return
			}
			if h.SPIi != 0x1122334455667788 || h.Exchange != ExchangeCreateChildSA || h.MessageID != 0x01020304 || !h.Flags.Response() || !h.Flags.Initiator() {
				t.Fatalf("header %+v", h)
			}
		})
	}
	if errors.Is(ErrInvalidMajorVersion, ErrMalformed) {
		t.Fatal("another major version is not malformed")
	}
	if !errors.Is(ErrLengthMismatch, ErrMalformed) || !errors.Is(ErrZeroSPI, ErrMalformed) || !errors.Is(ErrTruncated, ErrMalformed) {
		t.Fatal("header errors must wrap ErrMalformed")
	}
}

func TestHeaderEncoding(t *testing.T) {
	m := &Message{Header: Header{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, Exchange: ExchangeIKEAuth, Flags: FlagInitiator | 0x81, MessageID: 1}}
	raw := mustEncode(t, m)
	want := unhex(t, "0102030405060708 1112131415161718 00 20 23 08 00000001 0000001c")
	if string(raw) != string(want) {
		t.Fatalf("header\n got %x\nwant %x", raw, want)
	}
	v := HeaderView(raw)
	if v.MajorVersion() != 2 || v.MinorVersion() != 0 || v.NextPayload() != PayloadNone || v.Length() != 28 {
		t.Fatalf("view: %d.%d next %v length %d", v.MajorVersion(), v.MinorVersion(), v.NextPayload(), v.Length())
	}
}

func TestHeaderStrings(t *testing.T) {
	if got := (FlagInitiator | FlagResponse | 0x01).String(); got != "[I R 0x01]" {
		t.Fatalf("Flags.String() = %q", got)
	}
	if ExchangeIKESAInit.String() != "IKE_SA_INIT" || ExchangeIKEFollowupKE.String() != "IKE_FOLLOWUP_KE" || ExchangeType(99).String() != "EXCHANGE(99)" {
		t.Fatal("ExchangeType.String")
	}
	if PayloadSKF.String() != "SKF" || PayloadType(5).String() != "PAYLOAD(5)" {
		t.Fatal("PayloadType.String")
	}
	h := Header{SPIi: 1, SPIr: 2, Exchange: ExchangeInformational, Flags: FlagResponse, MessageID: 3}
	if got := h.String(); got != "INFORMATIONAL response 3 (SPIs 0000000000000001_i 0000000000000002_r, flags [R])" {
		t.Fatalf("Header.String() = %q", got)
	}
}
