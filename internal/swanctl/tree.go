package swanctl

import (
	"errors"
	"strconv"
)

// Pos is where a key, a section or an error is in the configuration.
type Pos struct {
	File string
	// Line counts from 1; 0 means the file as a whole.
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// KeyValue is one "key = value" assignment.
type KeyValue struct {
	Key   string
	Value string
	// Pos is where the value in effect was assigned: the last assignment
	// when a key is assigned more than once.
	Pos Pos
}

// Section is one "name { ... }" block. The root section that Parse returns
// stands for the file itself and has no name.
type Section struct {
	Name string
	// References are the absolute, dot-separated names of the sections this
	// one inherits from ("child-a : child-defaults {"), unresolved.
	References []string
	// Pos is where the section was first opened.
	Pos Pos
	// Keys and Sections are in the order of their first appearance.
	Keys     []*KeyValue
	Sections []*Section
}

// Key returns the assignment of key in s, or nil if there is none.
func (s *Section) Key(key string) *KeyValue {
	for _, kv := range s.Keys {
		if kv.Key == key {
			return kv
		}
	}
	return nil
}

// Sub returns the subsection called name, or nil if there is none.
func (s *Section) Sub(name string) *Section {
	for _, sub := range s.Sections {
		if sub.Name == name {
			return sub
		}
	}
	return nil
}

// ErrSyntax matches every *SyntaxError with errors.Is.
var ErrSyntax = errors.New("swanctl: syntax error")

// SyntaxError is a configuration that cannot be read: a syntax error or an
// include that fails.
type SyntaxError struct {
	Pos Pos
	Msg string
	// Err is the I/O error behind a failed include, if that is the cause.
	Err error
}

func (e *SyntaxError) Error() string { return e.Pos.String() + ": " + e.Msg }

func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

func (e *SyntaxError) Unwrap() error { return e.Err }
