// Package message encodes and decodes IKEv2 messages (RFC 7296 §3) and
// their payloads, protects them with the SK payload (RFC 7296 §3.14,
// RFC 5282 for AEADs) and splits and reassembles them with the SKF payload
// (RFC 7383).
//
// Decoding never panics and never trusts a length: every length field is
// checked against the bytes that are really there, and a payload that does
// not fit its own rules is an error wrapping ErrMalformed. Decoders check
// structure (lengths, counts, values the RFC forbids); what a value means
// for an exchange (is this proposal acceptable, is this REKEY_SA about an
// SA we have) is the caller's business, with a few Validate helpers where
// the RFC gives a payload's fields rules that depend on its type.
//
// A parsed Message owns its bytes: Parse and Open copy the datagram once
// and the payloads point into that copy, never into the caller's buffer, so
// a socket buffer can be reused as soon as they return.
package message
