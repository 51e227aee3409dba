package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxSecretFile caps what is read from a *_file key, so that a path to a
// device or a log file by mistake fails clearly instead of hanging or
// sending megabytes as a header.
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

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSecretFile+1))
}
