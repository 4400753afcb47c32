package swanctl

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Limits that keep a hostile or broken file from exhausting the stack or
// looping; real configurations nest about five sections deep and include
// one or two levels.
const (
	maxNesting      = 100
	maxIncludeDepth = 16
)

// ParseFile reads the configuration in the file at path, with its includes.
func ParseFile(path string) (*Section, error) {
	data, err := osSource{}.read(path)
	if err != nil {
		return nil, fmt.Errorf("swanctl: %w", err)
	}
	return parse(osSource{}, path, data)
}

// Parse reads data as the contents of the file called name. Include
// patterns are resolved on the operating system's file system, relative to
// the directory of name.
func Parse(name string, data []byte) (*Section, error) {
	return parse(osSource{}, name, data)
}

// ParseFS reads the file called name from fsys, with its includes, which
// are read from fsys too; an absolute include pattern is taken relative to
// the root of fsys.
func ParseFS(fsys fs.FS, name string) (*Section, error) {
	src := fsSource{fsys}
	data, err := src.read(name)
	if err != nil {
		return nil, fmt.Errorf("swanctl: %w", err)
	}
	return parse(src, name, data)
}

func parse(src source, name string, data []byte) (*Section, error) {
	root := &Section{Pos: Pos{File: name}}
	p := &parser{src: src, index: map[*Section]*sectionIndex{}}
	if err := p.parseFile(name, data, root); err != nil {
		return nil, err
	}
	return root, nil
}

// parser holds what outlives one file: where includes come from, the
// chain of files being read (for cycle detection) and name indexes that
// make merging repeated sections and keys linear.
type parser struct {
	src     source
	reading []string
	index   map[*Section]*sectionIndex
}

type sectionIndex struct {
	keys     map[string]*KeyValue
	sections map[string]*Section
}

func (p *parser) indexOf(s *Section) *sectionIndex {
	idx, ok := p.index[s]
	if !ok {
		idx = &sectionIndex{keys: map[string]*KeyValue{}, sections: map[string]*Section{}}
		p.index[s] = idx
	}
	return idx
}

// setKey assigns a value the way strongSwan's settings_kv_add does: a key
// seen before keeps its place and takes the new value.
func (p *parser) setKey(s *Section, key, value string, pos Pos) {
	idx := p.indexOf(s)
	if kv, ok := idx.keys[key]; ok {
		kv.Value, kv.Pos = value, pos
		return
	}
	kv := &KeyValue{Key: key, Value: value, Pos: pos}
	idx.keys[key] = kv
	s.Keys = append(s.Keys, kv)
}

// openSection returns the subsection of parent called name, creating it
// unless a section of that name was opened before, which the new block
// then extends (strongSwan's settings_section_extend).
func (p *parser) openSection(parent *Section, name string, refs []string, pos Pos) *Section {
	idx := p.indexOf(parent)
	s, ok := idx.sections[name]
	if !ok {
		s = &Section{Name: name, Pos: pos}
		idx.sections[name] = s
		parent.Sections = append(parent.Sections, s)
	}
	for _, ref := range refs {
		if !containsString(s.References, ref) {
			s.References = append(s.References, ref)
		}
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseFile reads the statements of one file into the section the file
// (or the include statement that named it) is in.
func (p *parser) parseFile(name string, data []byte, into *Section) error {
	p.reading = append(p.reading, p.src.canonical(name))
	defer func() { p.reading = p.reading[:len(p.reading)-1] }()

	sc := &scanner{file: name, data: data, line: 1}
	open := []*Section{into}
	for {
		c, ok := sc.skipBlanks()
		if !ok {
			break
		}
		current := open[len(open)-1]
		switch {
		case c == '}':
			if len(open) == 1 {
				return sc.errorf("unexpected '}' with no section open")
			}
			sc.off++
			open = open[:len(open)-1]
		case isNameByte(c) || c == ':' && sc.peek(1) == ':':
			pos := sc.pos()
			name := sc.name()
			if name == "include" && sc.atIncludePattern() {
				pattern, err := sc.includePattern()
				if err != nil {
					return err
				}
				if err := p.include(pos, pattern, current); err != nil {
					return err
				}
				continue
			}
			section, err := p.statement(sc, current, name, pos)
			if err != nil {
				return err
			}
			if section != nil {
				if len(open) > maxNesting {
					return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("sections nested deeper than %d", maxNesting)}
				}
				open = append(open, section)
			}
		default:
			return sc.errorf("unexpected %s; expected a key, a section name or '}'", describe(c))
		}
	}
	if len(open) > 1 {
		s := open[len(open)-1]
		return sc.errorf("section %q (opened at line %d) is not closed", s.Name, s.Pos.Line)
	}
	return nil
}

// statement finishes a statement that began with name: an assignment, or
// the start of a section, which it returns.
func (p *parser) statement(sc *scanner, current *Section, name string, pos Pos) (*Section, error) {
	c, ok := sc.skipBlanks()
	if !ok {
		return nil, sc.errorf("unexpected end of file after %q; expected '=', '{' or ':'", name)
	}
	switch c {
	case '=':
		sc.off++
		value, err := sc.value()
		if err != nil {
			return nil, err
		}
		p.setKey(current, name, value, pos)
		return nil, nil
	case '{':
		sc.off++
		return p.openSection(current, name, nil, pos), nil
	case ':':
		sc.off++
		refs, err := sc.references()
		if err != nil {
			return nil, err
		}
		if c, ok := sc.skipBlanks(); !ok || c != '{' {
			return nil, sc.errorf("expected '{' after the references of section %q", name)
		}
		sc.off++
		return p.openSection(current, name, refs, pos), nil
	}
	return nil, sc.errorf("unexpected %s after %q; expected '=', '{' or ':'", describe(c), name)
}

// include reads every file that pattern matches into the section the
// include statement is in.
func (p *parser) include(pos Pos, pattern string, into *Section) error {
	if pattern == "" {
		return &SyntaxError{Pos: pos, Msg: "include needs a file name or pattern"}
	}
	if len(p.reading) > maxIncludeDepth {
		return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("includes nested deeper than %d", maxIncludeDepth)}
	}
	full := p.src.resolve(pos.File, pattern)
	literal := !hasGlobMeta(pattern)
	matches := []string{full}
	if !literal {
		var err error
		if matches, err = p.src.glob(full); err != nil {
			return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("include %q: %v", pattern, err), Err: err}
		}
	}
	for _, name := range matches {
		data, err := p.src.read(name)
		if errors.Is(err, errNotRegular) && !literal {
			continue
		}
		if err != nil {
			return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("include %q: %v", pattern, err), Err: err}
		}
		if containsString(p.reading, p.src.canonical(name)) {
			return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("include %q: include cycle, %s is already being read", pattern, name)}
		}
		if err := p.parseFile(name, data, into); err != nil {
			return err
		}
	}
	return nil
}

// scanner walks one file's bytes. Its methods mirror the start conditions
// of strongSwan's flex lexer: the initial one (names, braces), val (a value
// after "="), ref (references after ":"), inc (an include pattern) and str
// (a quoted string).
type scanner struct {
	file string
	data []byte
	off  int
	line int
}

func (sc *scanner) pos() Pos { return Pos{File: sc.file, Line: sc.line} }

func (sc *scanner) errorf(format string, args ...any) error {
	return &SyntaxError{Pos: sc.pos(), Msg: fmt.Sprintf(format, args...)}
}

func (sc *scanner) peek(ahead int) byte {
	if sc.off+ahead < len(sc.data) {
		return sc.data[sc.off+ahead]
	}
	return 0
}

// skipBlanks skips blanks, newlines and comments, and returns the next
// byte without consuming it; ok is false at the end of the file.
func (sc *scanner) skipBlanks() (c byte, ok bool) {
	for sc.off < len(sc.data) {
		switch c := sc.data[sc.off]; c {
		case ' ', '\t', '\r':
			sc.off++
		case '\n':
			sc.off++
			sc.line++
		case '#':
			sc.skipComment()
		default:
			return c, true
		}
	}
	return 0, false
}

// skipComment stops before the newline so that the caller counts it.
func (sc *scanner) skipComment() {
	for sc.off < len(sc.data) && sc.data[sc.off] != '\n' {
		sc.off++
	}
}

// isNameByte is the lexer's NAME class: [^#{}:.,="\r\n\t ].
func isNameByte(c byte) bool {
	switch c {
	case '#', '{', '}', ':', '.', ',', '=', '"', '\r', '\n', '\t', ' ':
		return false
	}
	return true
}

// name reads a section name or key; "::" stands for ':'.
func (sc *scanner) name() string {
	var b strings.Builder
	for sc.off < len(sc.data) {
		c := sc.data[sc.off]
		if c == ':' && sc.peek(1) == ':' {
			b.WriteByte(':')
			sc.off += 2
			continue
		}
		if !isNameByte(c) {
			break
		}
		b.WriteByte(c)
		sc.off++
	}
	return b.String()
}

// atIncludePattern decides, after the word "include", whether an include
// pattern follows, as the lexer's rule "include"[\t ]+/[^=] does: at least
// one blank and then anything but '=' (so "include = x" is a key). It
// consumes the blanks only if so.
func (sc *scanner) atIncludePattern() bool {
	i := sc.off
	for i < len(sc.data) && (sc.data[i] == ' ' || sc.data[i] == '\t') {
		i++
	}
	if i == sc.off || i == len(sc.data) || sc.data[i] == '=' {
		return false
	}
	sc.off = i
	return true
}

// includePattern reads the pattern of an include statement: up to a blank,
// '#', '}' or the end of the line, with backslash escapes for those; a
// quoted string ends the pattern.
func (sc *scanner) includePattern() (string, error) {
	var b strings.Builder
	for sc.off < len(sc.data) {
		c := sc.data[sc.off]
		switch c {
		case ' ', '\t', '\n', '#', '}':
			return b.String(), nil
		case '\r':
			sc.off++
		case '"':
			s, err := sc.quoted()
			b.WriteString(s)
			return b.String(), err
		case '\\':
			switch next := sc.peek(1); next {
			case '"', '#', '}', ' ':
				b.WriteByte(next)
				sc.off += 2
			default:
				b.WriteByte('\\')
				sc.off++
			}
		default:
			b.WriteByte(c)
			sc.off++
		}
	}
	return b.String(), nil
}

// value reads what follows "=": words and quoted strings up to the end of
// the line, a '#' or a '}', joined by single spaces. It leaves the
// terminator for the caller, as the lexer puts it back.
func (sc *scanner) value() (string, error) {
	var parts []string
	for sc.off < len(sc.data) {
		switch c := sc.data[sc.off]; c {
		case ' ', '\t', '\r':
			sc.off++
		case '\n', '#', '}':
			return strings.Join(parts, " "), nil
		case '"':
			s, err := sc.quoted()
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		default:
			start := sc.off
			for sc.off < len(sc.data) && isValueByte(sc.data[sc.off]) {
				sc.off++
			}
			parts = append(parts, string(sc.data[start:sc.off]))
		}
	}
	return strings.Join(parts, " "), nil
}

// isValueByte is the lexer's unquoted value class: [^#}"\r\n\t ].
func isValueByte(c byte) bool {
	switch c {
	case '#', '}', '"', '\r', '\n', '\t', ' ':
		return false
	}
	return true
}

// quoted reads a quoted string starting at its opening '"'.
func (sc *scanner) quoted() (string, error) {
	startLine := sc.line
	unterminated := func() error {
		return &SyntaxError{Pos: Pos{File: sc.file, Line: startLine}, Msg: "unterminated string"}
	}
	sc.off++
	var b strings.Builder
	for sc.off < len(sc.data) {
		c := sc.data[sc.off]
		switch c {
		case '"':
			sc.off++
			return b.String(), nil
		case '\r':
			// Dropped, so that files with CRLF line ends read the same.
			sc.off++
		case '\n':
			b.WriteByte('\n')
			sc.off++
			sc.line++
		case '\\':
			if sc.off+1 == len(sc.data) {
				return "", unterminated()
			}
			next := sc.data[sc.off+1]
			sc.off += 2
			switch next {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\n':
				// An escaped end of line joins the lines.
				sc.line++
			case '\r':
				if sc.off < len(sc.data) && sc.data[sc.off] == '\n' {
					sc.off++
					sc.line++
				} else {
					b.WriteByte('\r')
				}
			default:
				b.WriteByte(next)
			}
		default:
			b.WriteByte(c)
			sc.off++
		}
	}
	return "", unterminated()
}

// references reads "absname (, absname)*" after a section name and ':'.
// Blanks, newlines and comments may come between the names.
func (sc *scanner) references() ([]string, error) {
	var refs []string
	for {
		c, ok := sc.skipBlanks()
		if !ok || !isNameByte(c) {
			found := "end of file"
			if ok {
				found = describe(c)
			}
			return nil, sc.errorf("expected the name of a section to reference, found %s", found)
		}
		start := sc.off
		for {
			for sc.off < len(sc.data) && isNameByte(sc.data[sc.off]) {
				sc.off++
			}
			if sc.peek(0) != '.' || sc.off+1 >= len(sc.data) || !isNameByte(sc.data[sc.off+1]) {
				break
			}
			sc.off++
		}
		refs = append(refs, string(sc.data[start:sc.off]))
		if c, ok := sc.skipBlanks(); !ok || c != ',' {
			return refs, nil
		}
		sc.off++
	}
}

// describe names a byte for an error message.
func describe(c byte) string {
	switch {
	case c == '\n':
		return "end of line"
	case c == '"':
		return "'\"' (quoted strings are allowed only in values and include patterns)"
	case c > ' ' && c < 0x7f:
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
