package ike

import "fmt"

// StartChild is a placeholder until CREATE_CHILD_SA lands (branch rekey).
func (sa *IKESA) StartChild(name string) error {
	return fmt.Errorf("%w: CREATE_CHILD_SA for %s is not implemented yet", ErrInvalidState, name)
}
