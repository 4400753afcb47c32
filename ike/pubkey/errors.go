package pubkey

import (
	"errors"
	"fmt"
)

var (
	// ErrVerify is a signature that does not verify, or AUTH data too
	// broken to try: an authentication failure (AUTHENTICATION_FAILED,
	// RFC 7296 §2.21.2).
	ErrVerify = errors.New("pubkey: signature verification failed")
	// ErrUnsupported is a well-formed algorithm, key or method this
	// package does not implement or refuses (SHA-1 in RFC 7427
	// signatures, RFC 8247 §3.2), and a hash negotiation with nothing in
	// common.
	ErrUnsupported = errors.New("pubkey: unsupported")
	// ErrEncryptedKey is a password-protected private key; it also wraps
	// ErrUnsupported.
	ErrEncryptedKey = fmt.Errorf("%w: encrypted private key (store it unencrypted, e.g. openssl pkey -in KEY -out PLAIN)", ErrUnsupported)
	// ErrMalformed is certificate, key or notification data that does not
	// parse.
	ErrMalformed = errors.New("pubkey: malformed")
	// ErrKeyMismatch is a private key that does not belong to the
	// certificate it is loaded with.
	ErrKeyMismatch = errors.New("pubkey: private key does not match the certificate")
	// ErrUntrusted is a certificate chain that does not verify against
	// the trust anchors.
	ErrUntrusted = errors.New("pubkey: certificate not trusted")
	// ErrConstraint is a key or signature scheme that the configured auth
	// constraints (swanctl.conf auth = rsa-2048-sha256 and the like) do not
	// allow.
	ErrConstraint = errors.New("pubkey: auth constraint not met")
)

func verifyFailed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, args...))
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
