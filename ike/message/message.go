package message

import (
	"strconv"
	"strings"
)

// Message is a decoded IKEv2 message.
//
// For a message that Open or a Reassembler decrypted, Payloads are the
// payloads that were inside the SK (or SKF) payload, and Cleartext those,
// normally none, that preceded it: authenticated but not encrypted. For a
// message from Parse, Cleartext is empty and Payloads are the payloads as
// they travel, with an SK payload still encrypted as *Encrypted.
type Message struct {
	Header    Header
	Cleartext []Payload
	Payloads  []Payload
}

// Parse decodes a datagram that holds one IKE message (RFC 7296 §3): the
// header checked by ParseHeader, then the chain of payloads. An unknown
// payload type with the critical bit set is an
// *UnsupportedCriticalPayloadError; without it, an *Unknown payload.
//
// Parse copies the datagram once; the Message never points into it.
func Parse(datagram []byte) (*Message, error) {
	h, err := ParseHeader(datagram)
	if err != nil {
		return nil, err
	}
	owned := append([]byte(nil), datagram...)
	payloads, err := decodeChain(owned[HeaderLen:], h.NextPayload, true)
	if err != nil {
		return nil, err
	}
	return &Message{Header: h, Payloads: payloads}, nil
}

// Encode encodes the message without protection, as IKE_SA_INIT travels:
// the header (version 2.0, Next Payload and Length computed), the
// Cleartext payloads, then Payloads. A Payloads that ends with an
// *Encrypted payload re-encodes a parsed protected message unchanged.
func (m *Message) Encode() ([]byte, error) {
	all := make([]Payload, 0, len(m.Cleartext)+len(m.Payloads))
	all = append(append(all, m.Cleartext...), m.Payloads...)
	b := appendHeader(make([]byte, 0, 512), m.Header, firstType(all, PayloadNone))
	b, err := appendChain(b, all, PayloadNone)
	if err != nil {
		return nil, err
	}
	return finishLength(b)
}

// finishLength writes the Length field of the message in b.
func finishLength(b []byte) ([]byte, error) {
	if uint64(len(b)) > 0xffffffff {
		return nil, cannotEncode("message of %d bytes", len(b))
	}
	HeaderView(b).SetLength(uint32(len(b)))
	return b, nil
}

// Find returns the first payload of type t among Cleartext and Payloads,
// or nil.
func (m *Message) Find(t PayloadType) Payload {
	for _, list := range [][]Payload{m.Payloads, m.Cleartext} {
		for _, p := range list {
			if p.Type() == t {
				return p
			}
		}
	}
	return nil
}

// FindAll returns every payload of type t in Payloads, in order.
func (m *Message) FindAll(t PayloadType) []Payload {
	var found []Payload
	for _, p := range m.Payloads {
		if p.Type() == t {
			found = append(found, p)
		}
	}
	return found
}

// Notifies returns the Notify payloads in Payloads, in order.
func (m *Message) Notifies() []*Notify {
	var found []*Notify
	for _, p := range m.Payloads {
		if n, ok := p.(*Notify); ok {
			found = append(found, n)
		}
	}
	return found
}

// Notify returns the first Notify payload of type t in Payloads, or nil.
func (m *Message) Notify(t NotifyType) *Notify {
	for _, p := range m.Payloads {
		if n, ok := p.(*Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// String summarises the message as strongSwan logs it, for example
// "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]".
func (m *Message) String() string {
	var b strings.Builder
	b.WriteString(m.Header.Exchange.String())
	if m.Header.Flags.Response() {
		b.WriteString(" response ")
	} else {
		b.WriteString(" request ")
	}
	b.WriteString(strconv.FormatUint(uint64(m.Header.MessageID), 10))
	b.WriteString(" [")
	for _, list := range [][]Payload{m.Cleartext, m.Payloads} {
		for _, p := range list {
			b.WriteByte(' ')
			b.WriteString(summary(p))
		}
	}
	b.WriteString(" ]")
	return b.String()
}

func summary(p Payload) string {
	switch p := p.(type) {
	case *Notify:
		return "N(" + p.NotifyType.String() + ")"
	case *EncryptedFragment:
		return "SKF(" + strconv.Itoa(int(p.Number)) + "/" + strconv.Itoa(int(p.Total)) + ")"
	}
	return p.Type().String()
}
