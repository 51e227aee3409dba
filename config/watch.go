package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// Files lists every file whose content the configuration holds: the secret
// files and Huawei profiles it read. (Prometheus's TLS code re-reads CA,
// certificate and key files by itself when they change.)
func (c *Config) Files() []string {
	var files []string
	for _, cred := range c.Credentials {
		for _, f := range []string{cred.AccessKeyFile, cred.SecretKeyFile, cred.SecurityTokenFile, cred.LibrarySecretFile, cred.ProfileFile} {
			if f != "" {
				files = append(files, f)
			}
		}
	}
	return files
}

// ContentDigest digests the configuration file at path and every file that
// cfg (loaded from it) names, so that a change to any of them, a rotated
// Kubernetes Secret among them, can be noticed without reloading. A file
// that cannot be read digests as its error, so that it appearing or
// disappearing counts as a change too. Secret files are read the safe way
// Load reads them: a FIFO or device is never opened for reading.
func ContentDigest(path string, cfg *Config) string {
	h := sha256.New()
	write := func(name string, data []byte, err error) {
		fmt.Fprintf(h, "%d:%s\n", len(name), name)
		if err != nil {
			fmt.Fprintf(h, "error:%v\n", err)
			return
		}
		fmt.Fprintf(h, "%d:%s\n", len(data), data)
	}
	data, err := os.ReadFile(path)
	write(path, data, err)
	if cfg != nil {
		for _, f := range cfg.Files() {
			data, err := readLimited(f)
			write(f, data, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
