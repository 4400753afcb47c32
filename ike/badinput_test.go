package ike

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/espd/espd/ike/message"
)

// The bad-input list, at the responder, each with what RFC 7296
// asks for: an error notification, or silence. The codecs' own checks
// (lengths, fragments, selectors) are tested in ike/message; these tests
// check what the engine does with what the codecs let through or refuse.

// mangledInit takes the initiator's IKE_SA_INIT request, lets mutate
// change it, and hands it to the responder; it returns the responder's
// error and its answer (nil when it stayed silent).
func mangledInit(t *testing.T, mutate func(m *message.Message)) (*peer, error, *message.Message) {
	t.Helper()
	i, r, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	m, err := message.Parse(i.take(t))
	if err != nil {
		t.Fatal(err)
	}
	mutate(m)
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	herr := r.sa.HandleDatagram(b, addrI, addrR)
	if r.pending() == 0 {
		return r, herr, nil
	}
	resp, err := message.Parse(r.take(t))
	if err != nil {
		t.Fatal(err)
	}
	return r, herr, resp
}

func TestBadIKESAInit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(m *message.Message)
		notify message.NotifyType // 0: a normal answer
		check  func(t *testing.T, resp *message.Message)
	}{
		{"unknown DH group in KE", func(m *message.Message) {
			m.Find(message.PayloadKE).(*message.KE).Group = 9999
		}, message.NotifyInvalidKEPayload, func(t *testing.T, resp *message.Message) {
			// The answer names the group we want (RFC 7296 §1.2).
			if g, err := resp.Notify(message.NotifyInvalidKEPayload).InvalidKEGroup(); err != nil || g != 31 {
				t.Errorf("INVALID_KE_PAYLOAD asks for group %d (%v), want 31", g, err)
			}
		}},
		{"proposal without a DH group", func(m *message.Message) {
			sa := m.Find(message.PayloadSA).(*message.SA)
			sa.Proposals[0].Transforms = dropTransforms(sa.Proposals[0].Transforms, message.TransformDH)
		}, message.NotifyNoProposalChosen, nil},
		{"non-AEAD cipher without integrity", func(m *message.Message) {
			sa := m.Find(message.PayloadSA).(*message.SA)
			p := &sa.Proposals[0]
			for k := range p.Transforms {
				if p.Transforms[k].Type == message.TransformEncr {
					// AES-CBC-128, which needs an integrity transform.
					p.Transforms[k] = message.Transform{Type: message.TransformEncr, ID: 12, Attributes: []message.Attribute{message.KeyLength(128)}}
				}
			}
		}, message.NotifyNoProposalChosen, nil},
		{"unknown critical payload", func(m *message.Message) {
			m.Payloads = append(m.Payloads, &message.Unknown{PayloadType: 200, Critical: true, Body: []byte{1, 2, 3}})
		}, message.NotifyUnsupportedCriticalPayload, func(t *testing.T, resp *message.Message) {
			if n := resp.Notify(message.NotifyUnsupportedCriticalPayload); len(n.Data) != 1 || n.Data[0] != 200 {
				t.Errorf("UNSUPPORTED_CRITICAL_PAYLOAD data %x, want the payload type 200", n.Data)
			}
		}},
		{"unknown non-critical payload is skipped", func(m *message.Message) {
			m.Payloads = append(m.Payloads, &message.Unknown{PayloadType: 200, Body: []byte{1, 2, 3}})
		}, 0, nil},
		{"an IKEv1 payload type (non-critical, reserved in IKEv2) is skipped", func(m *message.Message) {
			m.Payloads = append(m.Payloads, &message.Unknown{PayloadType: 1, Body: make([]byte, 8)})
		}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, herr, resp := mangledInit(t, tc.mutate)
			if resp == nil {
				t.Fatalf("no answer (%v)", herr)
			}
			if tc.notify == 0 {
				if herr != nil || resp.Find(message.PayloadSA) == nil || r.sa.State() != StateConnecting {
					t.Errorf("want a normal answer: %v, %v, state %v", herr, resp, r.sa.State())
				}
				return
			}
			if resp.Notify(tc.notify) == nil || len(resp.Payloads) != 1 {
				t.Errorf("answer %v, want only %v", resp, tc.notify)
			}
			if resp.Header.SPIr != 0 || r.sa.State() != StateCreated {
				t.Errorf("a refused IKE_SA_INIT kept state: SPIr %#x, state %v", resp.Header.SPIr, r.sa.State())
			}
			if tc.check != nil {
				tc.check(t, resp)
			}
		})
	}
}

func TestIKESAInitDroppedSilently(t *testing.T) {
	i, r, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	good := i.take(t)
	for name, b := range map[string][]byte{
		"header length beyond the datagram":   append([]byte(nil), good[:len(good)-1]...),
		"header length short of the datagram": append(append([]byte(nil), good...), 0),
		"SPIi of 0": func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint64(b[:8], 0)
			return b
		}(),
		"payload length below 4": func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint16(b[message.HeaderLen+2:], 3)
			return b
		}(),
		"payload length beyond the message": func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint16(b[message.HeaderLen+2:], uint16(len(b)))
			return b
		}(),
	} {
		if err := r.sa.HandleDatagram(b, addrI, addrR); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if r.pending() != 0 || r.sa.State() != StateCreated {
			t.Errorf("%s: answered or changed state (%v); want silence", name, r.sa.State())
		}
	}
	// The good one still works afterwards.
	if err := r.sa.HandleDatagram(good, addrI, addrR); err != nil || r.sa.State() != StateConnecting {
		t.Fatalf("the intact IKE_SA_INIT after the bad ones: %v, %v", err, r.sa.State())
	}
}

// An authenticated request with an unknown critical payload is refused
// with UNSUPPORTED_CRITICAL_PAYLOAD, and the IKE SA carries on.
func TestUnsupportedCriticalPayloadInInformational(t *testing.T) {
	i, r, _ := established(t, nil)
	msg := &message.Message{
		Header: message.Header{Exchange: message.ExchangeInformational, Flags: message.FlagInitiator},
		Payloads: []message.Payload{
			&message.Unknown{PayloadType: 201, Critical: true, Body: []byte{9}},
		},
	}
	i.sa.mu.Lock()
	msg.Header.SPIi, msg.Header.SPIr, msg.Header.MessageID = i.sa.spiI, i.sa.spiR, i.sa.tm.initiating.messageID
	b, err := i.sa.encode(msg)
	i.sa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sa.HandleDatagram(b, addrI, addrR); !errors.Is(err, message.ErrUnsupportedCriticalPayload) {
		t.Fatalf("responder: %v", err)
	}
	resp := open(t, i, r.take(t))
	if n := resp.Notify(message.NotifyUnsupportedCriticalPayload); n == nil || n.Data[0] != 201 {
		t.Fatalf("answer %v, want UNSUPPORTED_CRITICAL_PAYLOAD(201)", resp)
	}
	if r.sa.State() != StateEstablished {
		t.Errorf("responder %v after the refused request", r.sa.State())
	}
}

func dropTransforms(ts []message.Transform, typ message.TransformType) []message.Transform {
	var out []message.Transform
	for _, t := range ts {
		if t.Type != typ {
			out = append(out, t)
		}
	}
	return out
}
