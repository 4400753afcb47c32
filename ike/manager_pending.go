package ike

import "fmt"

// StartChild is a placeholder until CREATE_CHILD_SA lands (branch rekey).
func (sa *IKESA) StartChild(name string) error {
	return fmt.Errorf("%w: CREATE_CHILD_SA for %s is not implemented yet", ErrInvalidState, name)
}

// Close is a placeholder until INFORMATIONAL Delete lands (branch rekey):
// it removes the SA locally without telling the peer.
func (sa *IKESA) Close() error {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	sa.fail(fmt.Errorf("%w: closed locally", ErrInvalidState))
	return nil
}

// CloseChild is a placeholder until INFORMATIONAL Delete lands.
func (sa *IKESA) CloseChild(name string) error {
	return fmt.Errorf("%w: deleting CHILD_SA %s is not implemented yet", ErrInvalidState, name)
}
