package message

import "encoding/binary"

// EAP is the EAP payload (RFC 7296 §3.16): one EAP message (RFC 3748 §4),
// carried as bytes for the EAP method to interpret. Decode checks only
// the EAP header that every message has:
//
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Code      |  Identifier   |            Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// whose Length must be the payload's.
type EAP struct {
	Message []byte
}

const eapHeaderLen = 4

func (*EAP) Type() PayloadType { return PayloadEAP }

func (e *EAP) Encode(b []byte) ([]byte, error) {
	if err := checkEAP(e.Message); err != nil {
		return nil, cannotEncode("%v", err)
	}
	return append(b, e.Message...), nil
}

func (e *EAP) Decode(body []byte) error {
	if err := checkEAP(body); err != nil {
		return err
	}
	e.Message = body
	return nil
}

func checkEAP(m []byte) error {
	if len(m) < eapHeaderLen {
		return truncated("EAP message of %d bytes", len(m))
	}
	if n := int(binary.BigEndian.Uint16(m[2:])); n != len(m) {
		return malformed("EAP message says %d bytes, payload holds %d", n, len(m))
	}
	return nil
}
