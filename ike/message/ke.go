package message

import "encoding/binary"

// KE is the Key Exchange payload (RFC 7296 §3.4):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Diffie-Hellman Group Num    |           RESERVED            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       Key Exchange Data                       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Whether Data has the length and value its group requires is checked by
// the DH code, which knows the group (RFC 7296 §3.4: a mismatch is
// INVALID_SYNTAX).
type KE struct {
	Group uint16
	Data  []byte
}

const keHeaderLen = 4

func (*KE) Type() PayloadType { return PayloadKE }

func (ke *KE) Encode(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, ke.Group)
	b = append(b, 0, 0)
	return append(b, ke.Data...), nil
}

func (ke *KE) Decode(body []byte) error {
	if len(body) < keHeaderLen {
		return truncated("KE payload of %d bytes", len(body))
	}
	ke.Group = binary.BigEndian.Uint16(body)
	ke.Data = body[keHeaderLen:]
	return nil
}
