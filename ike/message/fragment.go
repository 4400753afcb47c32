package message

import (
	"encoding/binary"
	"fmt"

	"github.com/espd/espd/crypto"
)

// IKE fragmentation (RFC 7383) splits a protected message's inner payloads
// into pieces, each protected on its own in an SKF payload, so that large
// IKE_AUTH messages (certificate chains) cross paths that drop IP
// fragments. Only messages that would carry an SK payload are
// fragmented, never IKE_SA_INIT (RFC 7383 §2.5), and only once both peers
// have sent IKEV2_FRAGMENTATION_SUPPORTED (§2.3).

// EncryptedFragment is the Encrypted and Authenticated Fragment payload,
// SKF (RFC 7383 §2.5):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Payload  |C|  RESERVED   |         Payload Length        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Fragment Number        |        Total Fragments        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                   Initialization Vector                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                      Encrypted content                        ~
//	+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               |             Padding (0-255 octets)            |
//	+-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
//	|                                               |  Pad Length   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                    Integrity Checksum Data                    ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Next Payload is the type of the first inner payload in fragment 1 and
// zero in the others. Fragment numbers run from 1 to Total Fragments;
// Decode rejects a zero in either and a number above the total (RFC 7383
// §2.5). The integrity check, or the AEAD's associated data, covers the
// IKE header and the SKF header including both numbers (§2.5).
type EncryptedFragment struct {
	FirstPayload PayloadType
	Number       uint16
	Total        uint16
	Data         []byte
}

func (*EncryptedFragment) Type() PayloadType { return PayloadSKF }

func (f *EncryptedFragment) Encode(b []byte) ([]byte, error) {
	if err := checkFragmentNumbers(f.Number, f.Total); err != nil {
		return nil, cannotEncode("%v", err)
	}
	b = binary.BigEndian.AppendUint16(b, f.Number)
	b = binary.BigEndian.AppendUint16(b, f.Total)
	return append(b, f.Data...), nil
}

func (f *EncryptedFragment) Decode(body []byte) error {
	if len(body) < fragmentFieldsLen {
		return truncated("SKF payload of %d bytes", len(body))
	}
	f.Number = binary.BigEndian.Uint16(body)
	f.Total = binary.BigEndian.Uint16(body[2:])
	f.Data = body[fragmentFieldsLen:]
	return checkFragmentNumbers(f.Number, f.Total)
}

func checkFragmentNumbers(number, total uint16) error {
	if number == 0 || total == 0 || number > total {
		return malformed("fragment %d of %d", number, total)
	}
	return nil
}

// Limits of reassembly. RFC 7383 sets none; strongSwan accepts at most 255
// fragments (and 10000 bytes by default), and 255 fragments of the
// smallest useful size (576-byte IPv4 datagrams) already carry over 100
// KiB, far beyond any real IKE_AUTH.
const (
	DefaultMaxFragments       = 255
	DefaultMaxReassembledSize = 64 << 10
)

// SealFragments splits msg.Payloads into SKF messages of at most
// maxDatagram bytes each (the IKE message, without IP and UDP headers or
// the non-ESP marker), protects each with t and returns them in order.
// msg.Cleartext, normally empty, travels in the first fragment (as
// strongSwan puts it). Fragment i (from 0) uses IV counter counter+i: the
// caller advances its counter by len(result). More than
// DefaultMaxFragments fragments is ErrEncoding, since no receiver would
// accept them.
//
// Whether to fragment at all is the caller's choice, typically only when
// the sealed message would exceed what the path carries.
func SealFragments(msg *Message, t crypto.Transform, counter uint64, maxDatagram int) ([][]byte, error) {
	if msg.Header.Exchange == ExchangeIKESAInit {
		return nil, cannotEncode("IKE_SA_INIT is never fragmented (RFC 7383 §2.5)")
	}
	inner, err := encodeInner(msg.Payloads)
	if err != nil {
		return nil, err
	}
	cleartextChain, err := appendChain(nil, msg.Cleartext, PayloadSKF)
	if err != nil {
		return nil, err
	}
	overhead := HeaderLen + GenericHeaderLen + fragmentFieldsLen + t.IVLen() + t.ICVLen()
	firstCapacity := contentCapacity(maxDatagram-overhead-len(cleartextChain), t)
	capacity := contentCapacity(maxDatagram-overhead, t)
	if capacity < 1 || firstCapacity < min(1, len(inner)) {
		return nil, cannotEncode("%d-byte datagrams leave no room for %s fragment content", maxDatagram, t.Name())
	}
	first := min(firstCapacity, len(inner))
	count := 1 + (len(inner)-first+capacity-1)/capacity
	if count > DefaultMaxFragments {
		return nil, cannotEncode("%d bytes of payloads need %d fragments of %d bytes, more than %d", len(inner), count, maxDatagram, DefaultMaxFragments)
	}

	fragments := make([][]byte, 0, count)
	rest := inner
	for i := range count {
		n := capacity
		cleartext := []Payload(nil)
		firstPayload := PayloadNone
		if i == 0 {
			n, cleartext, firstPayload = first, msg.Cleartext, firstType(msg.Payloads, PayloadNone)
		}
		n = min(n, len(rest))
		fields := &fragmentFields{number: uint16(i + 1), total: uint16(count)}
		datagram, err := seal(msg.Header, cleartext, fields, firstPayload, rest[:n], t, counter+uint64(i))
		if err != nil {
			return nil, err
		}
		fragments = append(fragments, datagram)
		rest = rest[n:]
	}
	return fragments, nil
}

// contentCapacity is the most payload bytes that fit, padded and with the
// Pad Length octet, in room bytes of ciphertext.
func contentCapacity(room int, t crypto.Transform) int {
	align := padAlignment(t)
	return room/align*align - 1
}

// Fragment is one verified and decrypted SKF message.
type Fragment struct {
	Header       Header
	Number       uint16
	Total        uint16
	FirstPayload PayloadType // fragment 1 only
	// Cleartext holds payloads that preceded SKF (normally none).
	Cleartext []Payload
	// Content is this fragment's piece of the encoded inner payloads.
	Content []byte
}

// OpenFragment parses a datagram that ends with an SKF payload, verifies
// it with t and decrypts it. An ICV failure is ErrIntegrity; the
// fragment must then be dropped without affecting others (RFC 7383 §2.6).
// datagram is not modified.
func OpenFragment(datagram []byte, t crypto.Transform) (*Fragment, error) {
	h, owned, payloads, err := parseProtected(datagram)
	if err != nil {
		return nil, err
	}
	skf, ok := payloads[len(payloads)-1].(*EncryptedFragment)
	if !ok {
		return nil, fmt.Errorf("%w: %v does not end with an SKF payload", ErrNotProtected, h)
	}
	authEnd := len(owned) - len(skf.Data)
	content, err := decrypt(owned[:authEnd], skf.Data, t)
	if err != nil {
		return nil, err
	}
	f := &Fragment{
		Header:    h,
		Number:    skf.Number,
		Total:     skf.Total,
		Cleartext: payloads[:len(payloads)-1],
		Content:   content,
	}
	if f.Number == 1 {
		f.FirstPayload = skf.FirstPayload
	}
	return f, nil
}

// Reassembler collects the fragments of one fragmented message (RFC 7383
// §2.6). The exchange code keeps one per message it expects (for example
// in its request slot and its response slot) and feeds it the SKF
// datagrams with that message ID. The zero value is ready to use, with
// DefaultMaxFragments and DefaultMaxReassembledSize. It is not safe for
// concurrent use.
//
// A fragment is verified before anything is stored, so a forged or
// corrupted fragment (ErrIntegrity) leaves the collected ones untouched.
// Memory is bounded by MaxSize bytes of content, fragment 1's cleartext
// payloads and per-fragment bookkeeping, whatever the peer sends.
type Reassembler struct {
	// MaxFragments caps Total Fragments; 0 means DefaultMaxFragments.
	MaxFragments int
	// MaxSize caps the reassembled payload bytes; 0 means
	// DefaultMaxReassembledSize.
	MaxSize int

	collecting   bool
	header       Header
	total        uint16
	firstPayload PayloadType
	cleartext    []Payload
	contents     [][]byte // by Fragment Number - 1; nil until received
	received     int
	size         int
}

// Reset discards every collected fragment.
func (r *Reassembler) Reset() {
	*r = Reassembler{MaxFragments: r.MaxFragments, MaxSize: r.MaxSize}
}

// Collecting reports the message ID being reassembled, if any.
func (r *Reassembler) Collecting() (messageID uint32, ok bool) {
	return r.header.MessageID, r.collecting
}

// Add verifies one SKF datagram with t and stores its content. It returns
// the reassembled message once the last missing fragment arrives (and
// then starts over empty), nil and no error while fragments are missing
// or when the fragment is a duplicate, and an error for a fragment it
// rejects:
//   - ErrMalformed, ErrNotProtected, ErrIntegrity: not a valid fragment;
//     nothing collected is touched;
//   - ErrReassemblyLimit: Total Fragments above MaxFragments (nothing is
//     touched), or a message growing beyond MaxSize (what was collected is
//     discarded, since that message can never be completed);
//   - ErrFragment: a fragment of another message (different message ID,
//     exchange, SPIs or response flag; the caller routes by message ID),
//     or one with a smaller Total Fragments than those collected, which
//     RFC 7383 §2.6 says to drop: it belongs to an older fragmentation of
//     the message.
//
// The reassembled message's Header is that of the fragment that completed
// it (its Length and NextPayload describe that datagram).
//
// A verified fragment with a larger Total Fragments than those collected
// means the sender fragmented the message again, smaller (after a PMTU
// problem): the collected fragments are discarded and collection starts
// over with it (RFC 7383 §2.6).
func (r *Reassembler) Add(datagram []byte, t crypto.Transform) (*Message, error) {
	h, err := ParseHeader(datagram)
	if err != nil {
		return nil, err
	}
	// Checks that need no decryption come first, so that a fragment that
	// cannot be used costs no crypto; none of them changes state.
	if r.collecting && !sameMessage(r.header, h) {
		return nil, fmt.Errorf("%w: %v while collecting %v", ErrFragment, h, r.header)
	}
	f, err := OpenFragment(datagram, t)
	if err != nil {
		return nil, err
	}
	return r.AddOpened(f)
}

// AddOpened stores a fragment that OpenFragment verified; Add is
// OpenFragment followed by AddOpened, for callers that look at a
// fragment first, for example to recognise a retransmitted request
// (RFC 7383 §2.6.1) before collecting it again.
func (r *Reassembler) AddOpened(f *Fragment) (*Message, error) {
	maxFragments, maxSize := r.MaxFragments, r.MaxSize
	if maxFragments <= 0 {
		maxFragments = DefaultMaxFragments
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxReassembledSize
	}
	if err := checkFragmentNumbers(f.Number, f.Total); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFragment, err)
	}
	if int(f.Total) > maxFragments {
		return nil, fmt.Errorf("%w: %d fragments, at most %d", ErrReassemblyLimit, f.Total, maxFragments)
	}
	if r.collecting {
		switch {
		case !sameMessage(r.header, f.Header):
			return nil, fmt.Errorf("%w: %v while collecting %v", ErrFragment, f.Header, r.header)
		case f.Total < r.total:
			return nil, fmt.Errorf("%w: fragment %d of %d, an older fragmentation than the %d collected", ErrFragment, f.Number, f.Total, r.total)
		case f.Total > r.total:
			r.Reset()
		case r.contents[f.Number-1] != nil:
			return nil, nil // a duplicate, as retransmissions bring
		}
	}
	if !r.collecting {
		r.collecting, r.header, r.total = true, f.Header, f.Total
		r.contents = make([][]byte, f.Total)
	}
	if r.size+len(f.Content) > maxSize {
		size := r.size + len(f.Content)
		r.Reset()
		return nil, fmt.Errorf("%w: %d bytes reassembled, at most %d", ErrReassemblyLimit, size, maxSize)
	}
	// Copy only the content: the fragment's datagram may be mostly
	// cleartext payloads, and keeping it would escape MaxSize.
	r.contents[f.Number-1] = append(make([]byte, 0, len(f.Content)), f.Content...)
	r.size += len(f.Content)
	r.received++
	if f.Number == 1 {
		r.firstPayload, r.cleartext = f.FirstPayload, f.Cleartext
	}
	r.header = f.Header
	if r.received < int(r.total) {
		return nil, nil
	}

	inner := make([]byte, 0, r.size)
	for _, c := range r.contents {
		inner = append(inner, c...)
	}
	m := &Message{Header: r.header, Cleartext: r.cleartext}
	first := r.firstPayload
	r.Reset()
	payloads, err := decodeChain(inner, first, false)
	if err != nil {
		return nil, err
	}
	m.Payloads = payloads
	return m, nil
}

// sameMessage reports whether two headers belong to one message.
func sameMessage(a, b Header) bool {
	return a.SPIi == b.SPIi && a.SPIr == b.SPIr && a.MessageID == b.MessageID &&
		a.Exchange == b.Exchange && a.Flags.Response() == b.Flags.Response()
}
