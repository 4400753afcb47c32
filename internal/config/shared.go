package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/espd/espd/internal/swanctl"
)

// sharedDecoder reads the sections espd shares with swanctl (connections,
// secrets, authorities). Its errors and warnings join those of the espd
// section in the embedded decoder.
//
// These sections are read as swanctl and charon read them (swanctl's
// load_conns.c, load_creds.c, load_authorities.c; charon's vici_config.c,
// vici_authority.c), with one rule throughout: what espd accepts, swanctl
// loads unchanged, and means the same there. Where strongSwan would guess
// (a mistyped address becomes a DNS name) or read a value differently from
// espd's value syntax (010 is octal there), espd reports an error instead.
// As in strongSwan, a key with nothing after "=" is not set: it takes its
// default (swanctl leaves it out of what it sends to charon).
type sharedDecoder struct {
	*decoder
	root *swanctl.Section
	// resolved holds each section's resolution, so that sections that
	// reference each other in a diamond cost one resolution each rather
	// than one per path; resolving marks those under way, to find cycles.
	resolved  map[*swanctl.Section]*swanctl.Section
	resolving []*swanctl.Section
	// reported keeps a broken reference that several sections inherit
	// from being reported once for each.
	reported map[string]bool
}

func newSharedDecoder(d *decoder, root *swanctl.Section) *sharedDecoder {
	return &sharedDecoder{decoder: d, root: root, resolved: map[*swanctl.Section]*swanctl.Section{}, reported: map[string]bool{}}
}

// reader is decoder.reader for a section that may inherit from others.
func (sd *sharedDecoder) reader(s *swanctl.Section, path string) *reader {
	return sd.decoder.reader(sd.resolve(s, path), path)
}

// maxReferenceDepth bounds chains of references; real ones are one or two
// long.
const maxReferenceDepth = 16

// resolve returns s with what it inherits through references
// ("conn-b : conn-a {", strongSwan 5.7 and later; strongswan.conf(5),
// REFERENCING OTHER SECTIONS): its own keys and subsections first, then
// those of each referenced section in the order written, recursively. A
// subsection that both have is merged the same way. Inherited keys keep
// their own positions, so an error in one points at the line that set it.
func (sd *sharedDecoder) resolve(s *swanctl.Section, path string) *swanctl.Section {
	if len(s.References) == 0 {
		return s
	}
	if r, ok := sd.resolved[s]; ok {
		return r
	}
	merged := &swanctl.Section{Name: s.Name, Pos: s.Pos, Keys: s.Keys, Sections: s.Sections}
	if slices.Contains(sd.resolving, s) || len(sd.resolving) >= maxReferenceDepth {
		sd.failOnce(s.Pos, path, "section references form a cycle (or a chain deeper than 16)")
		return merged
	}
	sd.resolving = append(sd.resolving, s)
	for _, ref := range s.References {
		target := lookupSection(sd.root, ref)
		if target == nil {
			sd.failOnce(s.Pos, path, fmt.Sprintf("references %q, which is not a section of this file", ref))
			continue
		}
		merged = mergeSections(merged, sd.resolve(target, ref))
	}
	sd.resolving = sd.resolving[:len(sd.resolving)-1]
	sd.resolved[s] = merged
	return merged
}

func (sd *sharedDecoder) failOnce(pos swanctl.Pos, key, reason string) {
	id := pos.String() + "\x00" + reason
	if !sd.reported[id] {
		sd.reported[id] = true
		sd.fail(pos, key, reason)
	}
}

// lookupSection finds an absolute dotted section name.
func lookupSection(root *swanctl.Section, dotted string) *swanctl.Section {
	s := root
	for _, name := range strings.Split(dotted, ".") {
		if s = s.Sub(name); s == nil {
			return nil
		}
	}
	return s
}

// mergeSections returns own with what it does not have itself taken from
// inherited. Neither is changed.
func mergeSections(own, inherited *swanctl.Section) *swanctl.Section {
	m := &swanctl.Section{Name: own.Name, Pos: own.Pos, References: slices.Clone(own.References)}
	for _, ref := range inherited.References {
		if !slices.Contains(m.References, ref) {
			m.References = append(m.References, ref)
		}
	}
	m.Keys = slices.Clone(own.Keys)
	for _, kv := range inherited.Keys {
		if own.Key(kv.Key) == nil {
			m.Keys = append(m.Keys, kv)
		}
	}
	for _, sub := range own.Sections {
		if other := inherited.Sub(sub.Name); other != nil {
			sub = mergeSections(sub, other)
		}
		m.Sections = append(m.Sections, sub)
	}
	for _, sub := range inherited.Sections {
		if own.Sub(sub.Name) == nil {
			m.Sections = append(m.Sections, sub)
		}
	}
	return m
}

// required is reader.key for a key that must be set.
func (r *reader) required(name, reason string) *swanctl.KeyValue {
	kv := r.key(name)
	if kv == nil {
		r.failMissing(name, reason)
	}
	return kv
}

// list reads a comma-separated list; empty or absent, it is nil (the
// default).
func (r *reader) list(name string) (*swanctl.KeyValue, []string) {
	kv := r.key(name)
	if kv == nil {
		return nil, nil
	}
	items, err := splitList(kv.Value)
	if err != nil {
		r.fail(kv, err.Error())
		return kv, nil
	}
	return kv, items
}

// checkStrongSwanNumber refuses what espd and charon would read
// differently. charon reads numbers, times and byte counts with
// strtoul(..., 0) into a 16-byte buffer (vici_config.c, parse_uint32,
// parse_time, parse_bytes): a leading 0 means octal there, and a value of
// more than 15 characters is invalid.
func checkStrongSwanNumber(v string) string {
	if len(v) > 15 {
		return fmt.Sprintf("%q is longer than the 15 characters strongSwan reads", v)
	}
	if len(v) > 1 && v[0] == '0' && v[1] >= '0' && v[1] <= '9' {
		return fmt.Sprintf("%q has a leading 0, which strongSwan reads as octal; write it without", v)
	}
	return ""
}

// readValue reads a number-like key with parse (parseNumber,
// parseDuration, parseBytes); ok is false if it is absent or invalid.
func readValue[T any](r *reader, name string, parse func(string) (T, error)) (value T, kv *swanctl.KeyValue, ok bool) {
	if kv = r.key(name); kv == nil {
		return value, nil, false
	}
	if reason := checkStrongSwanNumber(kv.Value); reason != "" {
		r.fail(kv, reason)
		return value, kv, false
	}
	value, err := parse(kv.Value)
	if err != nil {
		r.fail(kv, err.Error())
		return value, kv, false
	}
	return value, kv, true
}

// uint reads an integer key within [min, max].
func (r *reader) uint(name string, min, max uint64) (uint64, bool) {
	n, kv, ok := readValue(r, name, parseNumber)
	if ok && (n < min || n > max) {
		r.fail(kv, rangeReason(n, min, max))
		return 0, false
	}
	return n, ok
}

// boolean reads a yes/no key, def if absent.
func (r *reader) boolean(name string, def bool) bool {
	kv := r.key(name)
	if kv == nil {
		return def
	}
	b, err := parseBool(kv.Value)
	if err != nil {
		r.fail(kv, err.Error())
		return def
	}
	return b
}

// keyword reads a key whose value is one of choices, compared without
// regard to case as charon's parse_map does; ok is false if it is absent
// or invalid.
func (r *reader) keyword(name string, choices map[string]string, want string) (string, *swanctl.KeyValue, bool) {
	kv := r.key(name)
	if kv == nil {
		return "", nil, false
	}
	v, found := choices[strings.ToLower(kv.Value)]
	if !found {
		r.fail(kv, fmt.Sprintf("unknown value %q (want %s)", kv.Value, want))
		return "", kv, false
	}
	return v, kv, true
}

// unsupported marks strongSwan keys that espd knows but does not
// implement, so that done warns about them in those words rather than as
// unknown keys.
func (r *reader) unsupported(names ...string) {
	for _, name := range names {
		if r.used["key "+name] {
			continue
		}
		if kv := r.s.Key(name); kv != nil {
			r.used["key "+name] = true
			r.d.warn(kv.Pos, r.keyPath(name), r.keyPath(name)+" is a strongSwan setting espd does not support yet (ignored)")
		}
	}
}
