package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/cloudquota/cloudquota_exporter/config"
)

// carryOver keeps long-lived objects (SMH clients with their tokens,
// credential gates with their back-off) across configuration reloads: an
// object whose key the new configuration still uses is kept, the others are
// dropped with the old configuration.
type carryOver[T any] struct {
	cur, prev map[string]T
}

// begin starts a new configuration; objects not asked for again are gone
// at the next begin.
func (p *carryOver[T]) begin() {
	p.prev, p.cur = p.cur, make(map[string]T)
}

// get returns the object of key, from this configuration, the previous one,
// or create.
func (p *carryOver[T]) get(key string, create func() T) T {
	if v, ok := p.cur[key]; ok {
		return v
	}
	v, ok := p.prev[key]
	if !ok {
		v = create()
	}
	if p.cur == nil {
		p.cur = make(map[string]T)
	}
	p.cur[key] = v
	return v
}

// fingerprint identifies a target's configuration, credential included, so
// that a reload keeps the state of targets it did not change, and only
// those: a rotated secret must reach the clients.
func fingerprint(tc config.Target, cred *config.Credential) string {
	// The TLS and proxy settings hold pointers, which %#v would print as
	// addresses that differ at every load.
	http := tc.HTTP.Key()
	tc.HTTP = config.HTTPSettings{}
	return hashOf(append(credentialFields(cred), fmt.Sprintf("%#v", tc), http)...)
}

// credentialFields lists every field of a credential with its secrets in
// clear: config.Secret prints as "<secret>", which would hide a rotation.
func credentialFields(c *config.Credential) []string {
	if c == nil {
		return nil
	}
	return []string{
		c.Name, c.Type, c.AccessKey.Value(), c.SecretKey.Value(), c.SecurityToken.Value(),
		c.LibraryID, c.LibrarySecret.Value(), c.Grant, c.TokenPeriod.String(), c.UserID,
		c.Source, c.ProfileFile, c.MetadataEndpoint,
	}
}

// hashOf digests the fields; secrets are among them, so only the digest
// is kept.
func hashOf(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}
