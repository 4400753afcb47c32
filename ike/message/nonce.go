package message

// Nonce sizes allowed by RFC 7296 §3.9: "between 16 and 256 octets,
// inclusive".
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// Nonce is the Nonce payload (RFC 7296 §3.9): nothing but the nonce data.
type Nonce struct {
	Data []byte
}

func (*Nonce) Type() PayloadType { return PayloadNonce }

func (n *Nonce) Encode(b []byte) ([]byte, error) {
	if len(n.Data) < MinNonceLen || len(n.Data) > MaxNonceLen {
		return nil, cannotEncode("nonce of %d bytes, want %d..%d", len(n.Data), MinNonceLen, MaxNonceLen)
	}
	return append(b, n.Data...), nil
}

func (n *Nonce) Decode(body []byte) error {
	if len(body) < MinNonceLen || len(body) > MaxNonceLen {
		return malformed("nonce of %d bytes, want %d..%d", len(body), MinNonceLen, MaxNonceLen)
	}
	n.Data = body
	return nil
}
