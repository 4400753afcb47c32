// Package swanctl reads the configuration syntax that strongSwan shares
// between swanctl.conf(5) and strongswan.conf(5), and nothing more: it
// builds a tree of sections and key/value pairs and leaves their meaning to
// its callers (internal/config).
//
// The syntax, as strongSwan's settings lexer and parser
// (src/libstrongswan/settings/settings_lexer.l, settings_parser.y) accept it:
//
//	settings   := (section | keyvalue | include)*
//	section    := name [":" references] "{" settings "}"
//	references := absname ("," absname)*        absname := name ("." name)*
//	keyvalue   := key "=" [value] (newline | "#" | "}" | end of file)
//	include    := "include" blank pattern
//
// In detail:
//
//   - Names and keys are runs of any bytes except . , : { } = " # and
//     blanks. A ":" inside a section name is written "::" (newer strongSwan
//     releases accept this too).
//   - A value runs to the end of the line, a "#" or a "}". Its unquoted
//     words are joined by single spaces. Quoted strings keep their spaces and
//     understand \n, \r, \t, \" and \\ (a backslash before any other byte
//     stands for that byte); a backslash at the end of a line continues the
//     string on the next one, and a string may also span raw newlines. A
//     key with nothing after "=" has the empty value, which in strongSwan
//     means "use the default".
//   - "#" starts a comment that runs to the end of the line, except inside
//     a quoted string.
//   - A section that appears twice is one section: the later one extends the
//     earlier, and a key assigned twice keeps its first position in the
//     order but takes the later value (and the later Pos).
//   - "include PATTERN" reads the files matching a shell glob, in sorted
//     order, into the section the statement is in. A relative pattern is
//     relative to the directory of the file that contains it. Backslash
//     escapes a blank, '"', '#' or '}' in an unquoted pattern; a quoted
//     pattern may contain anything. As in strongSwan, "include" followed by
//     a blank and anything but "=" is an include statement, so a section
//     called include must be opened as "include{".
//   - References ("conn-b : conn-a {") are parsed and kept on the Section;
//     resolving them is the caller's business.
//
// Where espd is stricter than strongSwan (which logs and carries on):
// a pattern without wildcards that names no file is an error, as is an
// include without a pattern and an include cycle; every included file must
// close the sections it opens (strongSwan splices tokens, so a file could
// open a section that the includer closes); and parsing stops at the first
// error, which is a *SyntaxError that names the file and line.
package swanctl
