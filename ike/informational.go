package ike

import (
	"fmt"

	"github.com/espd/espd/ike/message"
)

// INFORMATIONAL exchanges (RFC 7296 §1.4):
//
//	HDR, SK {[N,] [D,] [CP,] ...}  -->
//	                           <--  HDR, SK {[N,] [D,] [CP], ...}
//
// An empty request is a liveness check (§2.4, dpd.go); Delete payloads
// close CHILD_SAs or the IKE SA (delete.go). The task manager picks the
// responder task from the request's payloads (responderTasks).

// informational answers an INFORMATIONAL request without Delete payloads
// with an empty response: a liveness check, or the initiator's
// AUTHENTICATION_FAILED after IKE_AUTH (§2.21.2), after which the SA goes.
type informational struct {
	authFailed bool
}

func (*informational) exchange() message.ExchangeType { return message.ExchangeInformational }
func (*informational) build(*message.Message) error   { return nil }

func (t *informational) process(msg *message.Message) (taskStatus, error) {
	t.authFailed = msg.Notify(message.NotifyAuthenticationFailed) != nil
	return taskDone, nil
}

func (t *informational) destroyAfterResponse() error {
	if t.authFailed {
		return fmt.Errorf("%w: the peer could not authenticate us (AUTHENTICATION_FAILED)", ErrAuthenticationFailed)
	}
	return nil
}

// livenessCheck sends an empty INFORMATIONAL request, which the peer must answer
// (RFC 7296 §2.4). The answer itself is the result: the task manager marks
// the peer alive, and if no answer comes after every retransmission the
// IKE SA is destroyed with ErrTimeout.
type livenessCheck struct{}

func (livenessCheck) exchange() message.ExchangeType               { return message.ExchangeInformational }
func (livenessCheck) build(*message.Message) error                 { return nil }
func (livenessCheck) process(*message.Message) (taskStatus, error) { return taskDone, nil }
