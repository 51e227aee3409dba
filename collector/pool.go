package collector

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
