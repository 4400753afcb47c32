package message

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed is wrapped by every decoding error that means "no
	// correct IKEv2 implementation sends this": a length that does not fit,
	// a count that does not match, a value the RFC forbids. A responder
	// drops such a request, or answers INVALID_SYNTAX inside a protected
	// response (RFC 7296 §3.10.1).
	ErrMalformed = errors.New("message: malformed")
	// ErrTruncated is the ErrMalformed of data that ends before a length
	// field says it should.
	ErrTruncated = fmt.Errorf("%w: truncated", ErrMalformed)
	// ErrLengthMismatch is the ErrMalformed of an IKE header whose Length
	// is not the datagram's length (RFC 7296 §3.1).
	ErrLengthMismatch = fmt.Errorf("%w: IKE header length does not match the datagram", ErrMalformed)
	// ErrZeroSPI is the ErrMalformed of a header with a zero initiator SPI
	// (RFC 7296 §3.1: "This value MUST NOT be zero").
	ErrZeroSPI = fmt.Errorf("%w: initiator SPI is zero", ErrMalformed)

	// ErrInvalidMajorVersion is a header whose major version is not 2.
	// The receiver drops the message and may answer INVALID_MAJOR_VERSION
	// (RFC 7296 §2.5). It does not wrap ErrMalformed: the message may be
	// perfectly good IKEv1 or IKEv3.
	ErrInvalidMajorVersion = errors.New("message: unsupported IKE major version")
	// ErrUnsupportedCriticalPayload is wrapped by
	// *UnsupportedCriticalPayloadError, which carries the payload type.
	ErrUnsupportedCriticalPayload = errors.New("message: unsupported critical payload")
	// ErrIntegrity is an SK or SKF payload whose ICV does not verify. The
	// message must be dropped as if it never arrived (RFC 7296 §2.21); it
	// also wraps crypto.ErrAuth.
	ErrIntegrity = errors.New("message: integrity check failed")
	// ErrNotProtected is Open given a message without an SK payload, or
	// the reassembler given one without an SKF payload.
	ErrNotProtected = errors.New("message: no encrypted payload")
	// ErrFragment is an SKF fragment that reassembly rejects: fields out
	// of range, a different message, an obsolete fragmentation.
	ErrFragment = errors.New("message: fragment rejected")
	// ErrReassemblyLimit is a fragmented message that would exceed the
	// Reassembler's limits; what was collected is discarded.
	ErrReassemblyLimit = errors.New("message: fragment reassembly limit exceeded")
	// ErrEncoding is a value that cannot be put on the wire: a field too
	// long for its length field, a nonce of a forbidden size, a message
	// too large for one datagram.
	ErrEncoding = errors.New("message: cannot encode")
)

// UnsupportedCriticalPayloadError is a payload with the critical bit set
// whose type this package does not know. RFC 7296 §2.5 requires rejecting
// the whole message with an UNSUPPORTED_CRITICAL_PAYLOAD notification
// whose data is the one-octet payload type (§3.10.1); Type is that octet.
type UnsupportedCriticalPayloadError struct {
	Type PayloadType
}

func (e *UnsupportedCriticalPayloadError) Error() string {
	return fmt.Sprintf("message: unsupported critical payload type %d", uint8(e.Type))
}

// Is makes errors.Is(err, ErrUnsupportedCriticalPayload) true.
func (e *UnsupportedCriticalPayloadError) Is(target error) bool {
	return target == ErrUnsupportedCriticalPayload
}

// malformed returns an error wrapping ErrMalformed with a reason.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// truncated returns an error wrapping ErrTruncated with what was cut.
func truncated(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTruncated, fmt.Sprintf(format, args...))
}

// cannotEncode returns an error wrapping ErrEncoding with a reason.
func cannotEncode(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrEncoding, fmt.Sprintf(format, args...))
}
