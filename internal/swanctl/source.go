package swanctl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// source is where the configuration files and their includes are read from:
// the operating system's file system or an fs.FS.
type source interface {
	// resolve makes an include pattern relative to the directory of the
	// file that contains it, unless it is absolute.
	resolve(includer, pattern string) string
	glob(pattern string) ([]string, error)
	// read returns errNotRegular for directories, devices and the like.
	read(name string) ([]byte, error)
	// canonical names a file so that two names for it compare equal, as
	// far as that is cheap; include cycle detection uses it.
	canonical(name string) string
}

// errNotRegular keeps a glob such as "conf.d/*" from reading directories,
// FIFOs or devices, as strongSwan's parser_helper does.
var errNotRegular = errors.New("not a regular file")

// hasGlobMeta reports whether pattern has a wildcard, so that a literal
// path that names no file can be reported instead of silently matching
// nothing.
func hasGlobMeta(pattern string) bool {
	return strings.ContainsAny(pattern, `*?[\`)
}

type osSource struct{}

func (osSource) resolve(includer, pattern string) string {
	if filepath.IsAbs(pattern) {
		return pattern
	}
	return filepath.Join(filepath.Dir(includer), pattern)
}

func (osSource) glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

func (osSource) read(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", name, errNotRegular)
	}
	return io.ReadAll(f)
}

func (osSource) canonical(name string) string {
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return filepath.Clean(name)
}

// fsSource reads from an fs.FS, whose names are slash-separated and
// unrooted: an absolute include pattern is taken relative to the FS root.
type fsSource struct{ fsys fs.FS }

func (fsSource) resolve(includer, pattern string) string {
	if strings.HasPrefix(pattern, "/") {
		return strings.TrimLeft(pattern, "/")
	}
	return path.Join(path.Dir(includer), pattern)
}

func (s fsSource) glob(pattern string) ([]string, error) { return fs.Glob(s.fsys, pattern) }

func (s fsSource) read(name string) ([]byte, error) {
	info, err := fs.Stat(s.fsys, name)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", name, errNotRegular)
	}
	return fs.ReadFile(s.fsys, name)
}

func (fsSource) canonical(name string) string { return path.Clean(name) }
