package ike

import (
	"errors"
	"fmt"

	"github.com/espd/espd/ike/message"
)

var (
	// ErrInvalidState is a transition or an operation the SA's state does
	// not allow.
	ErrInvalidState = errors.New("ike: invalid state")
	// ErrConfig is a configuration the engine cannot run.
	ErrConfig = errors.New("ike: invalid configuration")
	// ErrNoProposalChosen: the peers share no proposal (NO_PROPOSAL_CHOSEN).
	ErrNoProposalChosen = errors.New("ike: no proposal chosen")
	// ErrInvalidKE: the peer's KE payload is unusable or names a group we
	// cannot agree on.
	ErrInvalidKE = errors.New("ike: invalid KE payload")
	// ErrAuthenticationFailed: an AUTH payload did not verify, or the peer
	// said so (AUTHENTICATION_FAILED).
	ErrAuthenticationFailed = errors.New("ike: authentication failed")
	// ErrTSUnacceptable: the traffic selectors do not intersect
	// (TS_UNACCEPTABLE).
	ErrTSUnacceptable = errors.New("ike: traffic selectors unacceptable")
	// ErrTimeout: a request went unanswered after every retransmission.
	ErrTimeout = errors.New("ike: peer did not respond")
	// ErrUnexpected: a message that does not fit the exchange, dropped.
	ErrUnexpected = errors.New("ike: unexpected message")
	// ErrPeerError: the peer answered with an error notification.
	ErrPeerError = errors.New("ike: peer reported an error")
	// ErrTemporaryFailure: the peer cannot do it now (TEMPORARY_FAILURE,
	// RFC 7296 §2.25); it is retried later.
	ErrTemporaryFailure = errors.New("ike: temporary failure")
	// ErrChildSANotFound: the peer has no CHILD_SA with that SPI
	// (CHILD_SA_NOT_FOUND, RFC 7296 §2.25).
	ErrChildSANotFound = errors.New("ike: CHILD_SA not found")
	// ErrNoSuchChild: no configured or installed child has that name.
	ErrNoSuchChild = errors.New("ike: no such child")
)

// notifyError is a failure that the responder reports to the peer with an
// error notification.
type notifyError struct {
	notify *message.Notify
	err    error
}

func (e *notifyError) Error() string { return e.err.Error() }
func (e *notifyError) Unwrap() error { return e.err }

func withNotify(t message.NotifyType, data []byte, err error) error {
	return &notifyError{notify: message.NewNotify(t, data), err: err}
}

func peerError(n *message.Notify) error {
	switch n.NotifyType {
	case message.NotifyNoProposalChosen:
		return fmt.Errorf("%w: peer sent %v", ErrNoProposalChosen, n.NotifyType)
	case message.NotifyAuthenticationFailed:
		return fmt.Errorf("%w: peer sent %v", ErrAuthenticationFailed, n.NotifyType)
	case message.NotifyTSUnacceptable:
		return fmt.Errorf("%w: peer sent %v", ErrTSUnacceptable, n.NotifyType)
	case message.NotifyInvalidKEPayload:
		return fmt.Errorf("%w: peer sent %v", ErrInvalidKE, n.NotifyType)
	case message.NotifyTemporaryFailure:
		return fmt.Errorf("%w: peer sent %v", ErrTemporaryFailure, n.NotifyType)
	case message.NotifyChildSANotFound:
		return fmt.Errorf("%w: peer sent %v", ErrChildSANotFound, n.NotifyType)
	}
	return fmt.Errorf("%w: %v", ErrPeerError, n.NotifyType)
}
