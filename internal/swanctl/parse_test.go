package swanctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// dump renders a tree with the line of every key and section, one per
// line, so that expected trees read like the input.
func dump(s *Section) string {
	var b strings.Builder
	var walk func(s *Section, indent string)
	walk = func(s *Section, indent string) {
		for _, kv := range s.Keys {
			fmt.Fprintf(&b, "%s%s=%q @%d\n", indent, kv.Key, kv.Value, kv.Pos.Line)
		}
		for _, sub := range s.Sections {
			fmt.Fprintf(&b, "%s%s", indent, sub.Name)
			if len(sub.References) > 0 {
				fmt.Fprintf(&b, " : %s", strings.Join(sub.References, ","))
			}
			fmt.Fprintf(&b, " @%d\n", sub.Pos.Line)
			walk(sub, indent+"  ")
		}
	}
	walk(s, "")
	return b.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "man page example",
			in: `a = b
section-one {
	somevalue = asdf
	subsection {
		othervalue = xxx
	}
	# yei, a comment
	yetanother = zz
}
section-two {
	x = 12
}
`,
			want: `a="b" @1
section-one @2
  somevalue="asdf" @3
  yetanother="zz" @8
  subsection @4
    othervalue="xxx" @5
section-two @10
  x="12" @11
`,
		},
		{
			name: "unquoted words are joined by one space",
			in:   "a = b   c\t d \n",
			want: `a="b c d" @1` + "\n",
		},
		{
			name: "quoted strings keep their blanks",
			in:   `a = "  b   c "` + "\n",
			want: `a="  b   c " @1` + "\n",
		},
		{
			// From strongSwan's ikev2/net2net-psk: single quotes are
			// ordinary bytes and the double-quoted words are strings.
			name: "mixed words and strings",
			in:   `secret = 'My "home" is my "castle"!'` + "\n",
			want: `secret="'My home is my castle !'" @1` + "\n",
		},
		{
			name: "comments",
			in:   "# leading\na = b # trailing\nc = \"d # not a comment\"\n  # indented\n",
			want: "a=\"b\" @2\nc=\"d # not a comment\" @3\n",
		},
		{
			name: "a closing brace ends a value",
			in:   "s { a = b }\nt{c=d}",
			want: "s @1\n  a=\"b\" @1\nt @2\n  c=\"d\" @2\n",
		},
		{
			name: "empty values",
			in:   "a =\nb = # comment\nc = \"\"\nd =",
			want: "a=\"\" @1\nb=\"\" @2\nc=\"\" @3\nd=\"\" @4\n",
		},
		{
			name: "equals signs in a value",
			in:   "a = b=c = d\n",
			want: `a="b=c = d" @1` + "\n",
		},
		{
			name: "escapes",
			in:   `a = "t\tn\nr\rq\"b\\x\y"` + "\n",
			want: `a="t\tn\nr\rq\"b\\xy" @1` + "\n",
		},
		{
			name: "escaped newline continues a string",
			in:   "a = \"one \\\ntwo\"\nb = c\n",
			want: "a=\"one two\" @1\nb=\"c\" @3\n",
		},
		{
			name: "raw newlines inside a string",
			in:   "a = \"one\ntwo\"\nb = c\n",
			want: "a=\"one\\ntwo\" @1\nb=\"c\" @3\n",
		},
		{
			name: "CRLF line ends",
			in:   "s {\r\n\ta = b\r\n\tc = \"d\r\ne\"\r\n}\r\n",
			want: "s @1\n  a=\"b\" @2\n  c=\"d\\ne\" @3\n",
		},
		{
			name: "brace on the next line",
			in:   "s\n# comment\n{\n a = b\n}\n",
			want: "s @1\n  a=\"b\" @4\n",
		},
		{
			name: "repeated sections merge and later keys win in place",
			in: `s {
	a = 1
	b = 2
	sub { x = 1 }
}
t { }
s {
	a = 3
	c = 4
	sub { y = 2 }
	other { }
}
`,
			want: `s @1
  a="3" @8
  b="2" @3
  c="4" @9
  sub @4
    x="1" @4
    y="2" @10
  other @11
t @6
`,
		},
		{
			name: "references",
			in: `defaults { a = 1 }
connections {
	conn-a : defaults, connections.base {
	}
	conn-b : # a comment
		defaults ,
		other.x.y
	{
	}
}
`,
			want: `defaults @1
  a="1" @1
connections @2
  conn-a : defaults,connections.base @3
  conn-b : defaults,other.x.y @5
`,
		},
		{
			name: "double colon in a section name",
			in:   "C::\\log::x {\n}\n",
			want: "C:\\log:x @1\n",
		},
		{
			name: "include as a key and as a section",
			in:   "include = x\ninclude{ a = b }\n",
			want: "include=\"x\" @1\ninclude @2\n  a=\"b\" @2\n",
		},
		{
			name: "any other bytes in names",
			in:   "k;/é\x01 = v\n",
			want: "k;/é\x01=\"v\" @1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := Parse("test.conf", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(root); got != tt.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tt.want)
			}
			checkPositions(t, root, "test.conf")
			checkRoundTrip(t, root)
		})
	}
}

// TestParseDoubleColonRefs pins how "::" and ':' interleave: pairs are
// read greedily, so "a:::" is the name "a:" followed by a reference colon.
func TestParseDoubleColonRefs(t *testing.T) {
	root, err := Parse("x", []byte("a::: b {\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dump(root), "a: : b @1\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		line int
		msg  string
	}{
		{"a b = c\n", 1, `unexpected 'b' after "a"`},
		{"\n}\n", 2, "unexpected '}' with no section open"},
		{"{\n", 1, "unexpected '{'"},
		{"s {\n a = b\n", 3, `section "s" (opened at line 1) is not closed`},
		{"a = \"abc\n\ndef\n", 1, "unterminated string"},
		{"a = \"abc\\", 1, "unterminated string"},
		{"\"a\" = b\n", 1, `unexpected '"'`},
		{"a.b = c\n", 1, `unexpected '.' after "a"`},
		{"a,b = c\n", 1, `unexpected ',' after "a"`},
		{"= c\n", 1, "unexpected '='"},
		{"a\n", 2, `unexpected end of file after "a"`},
		{"a : {\n}\n", 1, "expected the name of a section to reference, found '{'"},
		{"a : b c {\n}\n", 1, `expected '{' after the references of section "a"`},
		{"a : b. {\n}\n", 1, `expected '{' after the references`},
		{"a :\n", 2, "found end of file"},
		{"s {\n include \n}\n", 2, "include needs a file name or pattern"},
		{"include /nonexistent/espd-test.conf\n", 1, `include "/nonexistent/espd-test.conf"`},
		{strings.Repeat("s{", maxNesting+2), 1, "sections nested deeper than"},
		{"a = b\n\x00\x01 c", 2, `unexpected 'c' after "\x00\x01"`},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			_, err := Parse("bad.conf", []byte(tt.in))
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("error %v (%T), want a *SyntaxError", err, err)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("errors.Is(%v, ErrSyntax) = false", err)
			}
			if syntaxErr.Pos != (Pos{File: "bad.conf", Line: tt.line}) {
				t.Errorf("pos = %v, want bad.conf:%d", syntaxErr.Pos, tt.line)
			}
			if !strings.Contains(syntaxErr.Msg, tt.msg) {
				t.Errorf("msg = %q, want it to contain %q", syntaxErr.Msg, tt.msg)
			}
			if want := fmt.Sprintf("bad.conf:%d: %s", tt.line, syntaxErr.Msg); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.conf": `a = main
connections {
	include conf.d/*.conf
	after = 1
}
include "with space/x.conf"
include with\ space/y.conf # comment
include nothing-matches-*.conf
`,
		"conf.d/20-b.conf":           "b { from = b\n include ../nested/n.conf }\n",
		"conf.d/10-a.conf":           "a {\n\tfrom = a\n}\nafter = 0\n",
		"conf.d/30.conf/placeholder": "a directory matched by the glob is skipped",
		"nested/n.conf":              "nested = yes\n",
		"with space/x.conf":          "x = 1\n",
		"with space/y.conf":          "y = 2\na = y\n",
	})
	main := filepath.Join(dir, "main.conf")
	root, err := ParseFile(main)
	if err != nil {
		t.Fatal(err)
	}
	want := `a="y" @2
x="1" @1
y="2" @1
connections @2
  after="1" @4
  a @1
    from="a" @2
  b @1
    from="b" @1
    nested="yes" @1
`
	if got := dump(root); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	files := map[string]string{
		"a":                    filepath.Join(dir, "with space", "y.conf"),
		"x":                    filepath.Join(dir, "with space", "x.conf"),
		"connections":          main,
		"connections.a":        filepath.Join(dir, "conf.d", "10-a.conf"),
		"connections.b.nested": filepath.Join(dir, "nested", "n.conf"),
		"connections.after":    main,
		"connections.b":        filepath.Join(dir, "conf.d", "20-b.conf"),
		"connections.a.from":   filepath.Join(dir, "conf.d", "10-a.conf"),
		"connections.b.from":   filepath.Join(dir, "conf.d", "20-b.conf"),
	}
	for path, wantFile := range files {
		if pos, ok := lookupPos(root, path); ok && pos.File != wantFile {
			t.Errorf("%s is in %s, want %s", path, pos.File, wantFile)
		} else if !ok && wantFile != "" {
			t.Errorf("%s not found", path)
		}
	}
}

// lookupPos finds the position of a dotted key or section path.
func lookupPos(root *Section, dotted string) (Pos, bool) {
	parts := strings.Split(dotted, ".")
	s := root
	for i, part := range parts {
		if i == len(parts)-1 {
			if kv := s.Key(part); kv != nil {
				return kv.Pos, true
			}
		}
		if s = s.Sub(part); s == nil {
			return Pos{}, false
		}
	}
	return s.Pos, true
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		file  string // where the error is, relative to the temp dir
		line  int
		msg   string
	}{
		{
			name:  "missing literal file",
			files: map[string]string{"main.conf": "a = 1\ninclude missing.conf\n"},
			file:  "main.conf", line: 2, msg: `include "missing.conf": open `,
		},
		{
			name:  "literal directory",
			files: map[string]string{"main.conf": "include d\n", "d/x": ""},
			file:  "main.conf", line: 1, msg: "not a regular file",
		},
		{
			name:  "bad pattern",
			files: map[string]string{"main.conf": "include [\n"},
			file:  "main.conf", line: 1, msg: "syntax error in pattern",
		},
		{
			name: "error inside an included file",
			files: map[string]string{
				"main.conf":  "include inc/*.conf\n",
				"inc/a.conf": "x = 1\ny z\n",
			},
			file: "inc/a.conf", line: 2, msg: `unexpected 'z' after "y"`,
		},
		{
			name: "included file leaves a section open",
			files: map[string]string{
				"main.conf": "s {\ninclude open.conf\n}\n",
				"open.conf": "t {\n",
			},
			file: "open.conf", line: 2, msg: `section "t" (opened at line 1) is not closed`,
		},
		{
			name: "included file closes the includer's section",
			files: map[string]string{
				"main.conf":  "s {\ninclude close.conf\n",
				"close.conf": "}\n",
			},
			file: "close.conf", line: 1, msg: "unexpected '}' with no section open",
		},
		{
			name: "cycle",
			files: map[string]string{
				"main.conf":  "include a.conf\n",
				"a.conf":     "include sub/b.conf\n",
				"sub/b.conf": "include ../a.conf\n",
			},
			file: "sub/b.conf", line: 1, msg: "include cycle",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := ParseFile(filepath.Join(dir, "main.conf"))
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("error %v (%T), want a *SyntaxError", err, err)
			}
			wantFile := filepath.Join(dir, filepath.FromSlash(tt.file))
			if got := filepath.Clean(syntaxErr.Pos.File); got != wantFile || syntaxErr.Pos.Line != tt.line {
				t.Errorf("pos = %v, want %s:%d", syntaxErr.Pos, wantFile, tt.line)
			}
			if !strings.Contains(syntaxErr.Msg, tt.msg) {
				t.Errorf("msg = %q, want it to contain %q", syntaxErr.Msg, tt.msg)
			}
		})
	}
}

func TestIncludeMissingFileUnwraps(t *testing.T) {
	_, err := Parse("main.conf", []byte("include /nonexistent/espd-test.conf\n"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false", err)
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "none.conf"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "swanctl: ") {
		t.Errorf("err = %v, want a swanctl: error wrapping os.ErrNotExist", err)
	}
}

func TestParseFS(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/main.conf":     {Data: []byte("include conf.d/*.conf\ninclude /etc/abs.conf\n")},
		"etc/conf.d/a.conf": {Data: []byte("a = 1\n")},
		"etc/abs.conf":      {Data: []byte("b = 2\n")},
	}
	root, err := ParseFS(fsys, "etc/main.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dump(root), "a=\"1\" @1\nb=\"2\" @1\n"; got != want {
		t.Errorf("tree %q, want %q", got, want)
	}
	if got := root.Key("a").Pos.File; got != "etc/conf.d/a.conf" {
		t.Errorf("a is in %q", got)
	}
}

// TestStrongSwanExamples reads configurations from strongSwan's own test
// scenarios (see testdata/strongswan/README.md).
func TestStrongSwanExamples(t *testing.T) {
	tests := []struct {
		file   string
		values map[string]string
	}{
		{"net2net-psk-moon.conf", map[string]string{
			"connections.gw-gw.remote_addrs":                   "192.168.0.2",
			"connections.gw-gw.children.net-net.updown":        "/usr/local/libexec/ipsec/_updown iptables",
			"connections.gw-gw.children.net-net.esp_proposals": "aes128gcm128-x25519",
			"connections.gw-gw.proposals":                      "aes128-sha256-x25519",
			"secrets.ike-2.secret":                             "This is a strong password",
			"secrets.ike-3.id-3b":                              "sun.strongswan.org",
			"secrets.ike-4.secret":                             "'My home is my castle !'",
			"secrets.ike-5.secret":                             "Andi's home",
		}},
		{"rw-cert-moon.conf", map[string]string{
			"connections.rw.local.certs":           "moonCert.pem",
			"connections.rw.children.net.local_ts": "10.1.0.0/16",
		}},
		{"rw-cert-carol.conf", map[string]string{
			"connections.home.remote.id":               "moon.strongswan.org",
			"connections.home.children.home.remote_ts": "10.1.0.0/16",
			"secrets.rsa-carol.secret":                 "nH5ZQEWtku0RJEZ6",
		}},
		{"net2net-psk-dscp-moon.conf", map[string]string{
			"connections.dscp-ef.children.net-net.mark_in": "20",
			"connections.dscp-be.children.net-net.mark_in": "10",
		}},
		{"config-payload-moon/swanctl.conf", map[string]string{
			"connections.rw-carol.local_addrs":               "192.168.0.1",
			"connections.rw-carol.pools":                     "carol_vip",
			"connections.rw-dave.children.net.esp_proposals": "aes128gcm128-curve25519",
			"connections.rw-dave.remote.id":                  "dave@strongswan.org",
			"pools.dave_vip.addrs":                           "10.3.0.2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "strongswan", filepath.FromSlash(tt.file))
			root, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for dotted, want := range tt.values {
				if got, ok := lookupValue(root, dotted); !ok || got != want {
					t.Errorf("%s = %q (found %v), want %q", dotted, got, ok, want)
				}
			}
			checkRoundTrip(t, root)
		})
	}

	t.Run("reference", func(t *testing.T) {
		root, err := ParseFile(filepath.Join("testdata", "strongswan", "net2net-psk-dscp-moon.conf"))
		if err != nil {
			t.Fatal(err)
		}
		ef := root.Sub("connections").Sub("dscp-ef")
		if !reflect.DeepEqual(ef.References, []string{"connections.dscp-be"}) || ef.Pos.Line != 32 {
			t.Errorf("dscp-ef references %q at line %d", ef.References, ef.Pos.Line)
		}
	})
	t.Run("include positions", func(t *testing.T) {
		root, err := ParseFile(filepath.Join("testdata", "strongswan", "config-payload-moon", "swanctl.conf"))
		if err != nil {
			t.Fatal(err)
		}
		kv := root.Sub("connections").Sub("rw-dave").Key("version")
		if want := (Pos{File: filepath.Join("testdata", "strongswan", "config-payload-moon", "swanctl_base.conf"), Line: 16}); kv.Pos != want {
			t.Errorf("version at %v, want %v", kv.Pos, want)
		}
	})
}

func lookupValue(root *Section, dotted string) (string, bool) {
	parts := strings.Split(dotted, ".")
	s := root
	for _, part := range parts[:len(parts)-1] {
		if s = s.Sub(part); s == nil {
			return "", false
		}
	}
	kv := s.Key(parts[len(parts)-1])
	if kv == nil {
		return "", false
	}
	return kv.Value, true
}

// checkPositions asserts that every key and section has a line in file.
func checkPositions(t *testing.T, s *Section, file string) {
	t.Helper()
	for _, kv := range s.Keys {
		if kv.Pos.File != file || kv.Pos.Line < 1 {
			t.Errorf("key %s at %v", kv.Key, kv.Pos)
		}
	}
	for _, sub := range s.Sections {
		if sub.Pos.File != file || sub.Pos.Line < 1 {
			t.Errorf("section %s at %v", sub.Name, sub.Pos)
		}
		checkPositions(t, sub, file)
	}
}

// checkRoundTrip formats the tree and parses it back.
func checkRoundTrip(t testing.TB, root *Section) {
	t.Helper()
	text, err := Format(root)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	again, err := Parse("formatted.conf", text)
	if err != nil {
		t.Fatalf("parsing the formatted tree: %v\n%s", err, text)
	}
	if !reflect.DeepEqual(withoutPos(root), withoutPos(again)) {
		t.Fatalf("round trip changed the tree:\n%s\nformatted:\n%s\nback:\n%s", dump(root), text, dump(again))
	}
}

func withoutPos(s *Section) *Section {
	c := &Section{Name: s.Name, References: s.References}
	for _, kv := range s.Keys {
		c.Keys = append(c.Keys, &KeyValue{Key: kv.Key, Value: kv.Value})
	}
	for _, sub := range s.Sections {
		c.Sections = append(c.Sections, withoutPos(sub))
	}
	return c
}

func TestFormat(t *testing.T) {
	root := &Section{Sections: []*Section{{
		Name: "s",
		Keys: []*KeyValue{
			{Key: "plain", Value: "a b"},
			{Key: "spaced", Value: "a  b"},
			{Key: "quote", Value: `say "hi" # not a comment`},
			{Key: "empty"},
		},
		Sections: []*Section{{Name: "t", References: []string{"x.y", "z"}}, {Name: "include"}},
	}}}
	got, err := Format(root)
	if err != nil {
		t.Fatal(err)
	}
	want := `s {
	plain = a b
	spaced = "a  b"
	quote = "say \"hi\" # not a comment"
	empty =
	t: x.y, z {
	}
	include{
	}
}
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	checkRoundTrip(t, root)

	for _, bad := range []*Section{
		{Keys: []*KeyValue{{Key: "a b"}}},
		{Keys: []*KeyValue{{Key: ""}}},
		{Sections: []*Section{{Name: "a.b"}}},
		{Sections: []*Section{{Name: "a", References: []string{"x..y"}}}},
		{Sections: []*Section{{Name: "a", References: []string{"x{"}}}},
	} {
		if _, err := Format(bad); err == nil {
			t.Errorf("Format(%s) succeeded", dump(bad))
		}
	}
}

// TestTruncatedPrefixes parses every prefix of real files: each one must
// parse or fail with a *SyntaxError, never panic.
func TestTruncatedPrefixes(t *testing.T) {
	inputs := map[string][]byte{"synthetic": []byte(`a = "quoted \" string\
continued" words # comment
s : ref.x, other {
	t {
		k = v }
	include{ x = "y" }
	C:::: { }
}
`)}
	paths, _ := filepath.Glob(filepath.Join("testdata", "strongswan", "*.conf"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		inputs[path] = data
	}
	for name, data := range inputs {
		if _, err := Parse(name, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lines := strings.Count(string(data), "\n") + 1
		for n := 0; n < len(data); n++ {
			root, err := Parse(name, data[:n])
			if err == nil {
				checkRoundTrip(t, root)
				continue
			}
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("%s[:%d]: error %v (%T) is not a *SyntaxError", name, n, err, err)
			}
			if syntaxErr.Pos.File != name || syntaxErr.Pos.Line < 1 || syntaxErr.Pos.Line > lines {
				t.Fatalf("%s[:%d]: error at %v", name, n, syntaxErr.Pos)
			}
		}
	}
}

// FuzzParse checks that no input panics, that every failure is a
// *SyntaxError, and that whatever parses survives Format and Parse again.
// The input is also available as inc.conf, so include statements (and
// include cycles) get exercised without touching the real file system.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "strongswan", "*.conf"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"main.conf":     {Data: data},
			"inc.conf":      {Data: data},
			"conf.d/a.conf": {Data: []byte("a = 1\ns { b = \"2\" }\n")},
		}
		root, err := ParseFS(fsys, "main.conf")
		if err != nil {
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if syntaxErr.Pos.File == "" || syntaxErr.Pos.Line < 0 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		checkRoundTrip(t, root)
	})
}
