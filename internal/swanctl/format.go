package swanctl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Format writes the tree under root back in the same syntax, one key or
// section per line with tab indentation, keys before subsections; root's
// own name and references are not written. Parsing the result gives the
// same tree, positions aside. It fails on a name that the syntax cannot
// express (empty, or with a blank, '.', ',', '{', '}', '=', '"' or '#').
func Format(root *Section) ([]byte, error) {
	var buf bytes.Buffer
	if err := formatBody(&buf, root, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func formatBody(buf *bytes.Buffer, s *Section, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("swanctl: sections nested deeper than %d", maxNesting)
	}
	indent := strings.Repeat("\t", depth)
	for _, kv := range s.Keys {
		key, err := formatName(kv.Key)
		if err != nil {
			return err
		}
		buf.WriteString(indent + key + " =")
		if kv.Value != "" {
			buf.WriteString(" " + formatValue(kv.Value))
		}
		buf.WriteByte('\n')
	}
	for _, sub := range s.Sections {
		name, err := formatName(sub.Name)
		if err != nil {
			return err
		}
		for _, ref := range sub.References {
			if err := checkReference(ref); err != nil {
				return err
			}
		}
		switch {
		case len(sub.References) > 0:
			// No blank before ':', so that a section called "include"
			// is not read back as an include statement.
			buf.WriteString(indent + name + ": " + strings.Join(sub.References, ", ") + " {\n")
		case sub.Name == "include":
			buf.WriteString(indent + name + "{\n")
		default:
			buf.WriteString(indent + name + " {\n")
		}
		if err := formatBody(buf, sub, depth+1); err != nil {
			return err
		}
		buf.WriteString(indent + "}\n")
	}
	return nil
}

func formatName(name string) (string, error) {
	if name == "" {
		return "", errors.New("swanctl: empty key or section name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != ':' && !isNameByte(c) {
			return "", fmt.Errorf("swanctl: name %q contains %s", name, describe(c))
		}
	}
	return strings.ReplaceAll(name, ":", "::"), nil
}

func checkReference(ref string) error {
	for _, part := range strings.Split(ref, ".") {
		if part == "" {
			return fmt.Errorf("swanctl: reference %q has an empty name", ref)
		}
		for i := 0; i < len(part); i++ {
			if !isNameByte(part[i]) {
				return fmt.Errorf("swanctl: reference %q contains %s", ref, describe(part[i]))
			}
		}
	}
	return nil
}

// formatValue writes a value bare when the lexer reads it back unchanged
// (words of value bytes separated by single spaces), quoted otherwise.
func formatValue(v string) string {
	bare := true
	for _, word := range strings.Split(v, " ") {
		if word == "" {
			bare = false
			break
		}
		for i := 0; i < len(word); i++ {
			if !isValueByte(word[i]) {
				bare = false
				break
			}
		}
	}
	if bare {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
