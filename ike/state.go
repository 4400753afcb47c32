package ike

import "fmt"

// State is where an IKE SA is in its life. Every change goes through
// IKESA.transition, which checks the state it starts from.
type State uint8

const (
	// StateCreated: no message sent or accepted yet.
	StateCreated State = iota
	// StateConnecting: IKE_SA_INIT or IKE_AUTH under way.
	StateConnecting
	// StateEstablished: IKE_AUTH succeeded; the SA carries exchanges.
	StateEstablished
	// StateRekeying: our IKE SA rekey (CREATE_CHILD_SA) is under way.
	StateRekeying
	// StateDeleting: a Delete was sent and its response is awaited.
	StateDeleting
	// StateDestroyed: the SA is gone; it ignores every message.
	StateDestroyed
	// StateRekeyed: a new IKE SA has replaced this one (RFC 7296 §2.18),
	// or it is the redundant SA of a rekey collision (§2.8.2); it only
	// waits for the peer's Delete.
	StateRekeyed
)

func (s State) String() string {
	switch s {
	case StateCreated:
		return "CREATED"
	case StateConnecting:
		return "CONNECTING"
	case StateEstablished:
		return "ESTABLISHED"
	case StateRekeying:
		return "REKEYING"
	case StateDeleting:
		return "DELETING"
	case StateDestroyed:
		return "DESTROYED"
	case StateRekeyed:
		return "REKEYED"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// allowedTransitions lists, for each state, the states it may move to.
var allowedTransitions = map[State][]State{
	StateCreated:     {StateConnecting, StateDestroyed},
	StateConnecting:  {StateEstablished, StateDestroyed},
	StateEstablished: {StateRekeying, StateRekeyed, StateDeleting, StateDestroyed},
	StateRekeying:    {StateEstablished, StateRekeyed, StateDeleting, StateDestroyed},
	StateRekeyed:     {StateDeleting, StateDestroyed},
	StateDeleting:    {StateDestroyed},
}

func checkTransition(from, to State) error {
	for _, s := range allowedTransitions[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("%w: %v to %v", ErrInvalidState, from, to)
}
