package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSecretFile caps what is read from a *_file key, so that a path to a
// log file by mistake fails clearly instead of sending megabytes as a
// header.
const maxSecretFile = 64 << 10

// secret resolves one secret given inline or in a file. It returns the
// secret and the resolved file path (empty for an inline secret). Messages
// name the key and the path, never the content.
func (b *builder) secret(label, typ, key, inline, file string, required bool) (Secret, string) {
	fileKey := key + "_file"
	switch {
	case inline != "" && file != "":
		b.p.add("%s: %s: set both %s and %s; use only one", label, key, key, fileKey)
		return "", ""
	case file != "":
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(b.baseDir, path)
		}
		s, err := readSecretFile(path)
		if err != nil {
			b.p.add("%s: %s: %v", label, fileKey, err)
		}
		return s, path
	case inline == "" && required:
		b.p.add("%s: %s: required for type %s (set %s or %s)", label, key, typ, key, fileKey)
	}
	return Secret(inline), ""
}

// readSecretFile reads a secret, dropping the line ending editors add.
func readSecretFile(path string) (Secret, error) {
	data, err := readLimited(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// PathError repeats the path, and the op ("open", "read") says
			// nothing a user needs.
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read %q: %v", path, err)
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("%q is larger than %d KiB, which is too large for a secret", path, maxSecretFile>>10)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%q is empty", path)
	}
	return Secret(s), nil
}

// readLimited reads a secret file, which must be a regular file: a FIFO
// would block the open or the read (and with them --config.check or a
// reload) until something writes to it, and a device or a directory is
// never a secret. The type is checked before the open, so that nothing
// else is ever opened, and again on the opened file (the open does not
// block: O_NONBLOCK), in case the path changed in between.
func readLimited(path string) ([]byte, error) {
	before, err := os.Stat(path) // follows links: Kubernetes mounts secrets as links
	if err != nil {
		return nil, err
	}
	if err := mustBeRegular(before); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := mustBeRegular(opened); err != nil {
		return nil, err
	}
	if !os.SameFile(before, opened) {
		return nil, errors.New("changed while it was being opened")
	}
	return io.ReadAll(io.LimitReader(f, maxSecretFile+1))
}

func mustBeRegular(fi fs.FileInfo) error {
	var what string
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = "a special file"
	}
	return &fileTypeError{what: what}
}

// fileTypeError says what a secret file is instead of a regular file.
type fileTypeError struct{ what string }

func (e *fileTypeError) Error() string { return "is " + e.what }
