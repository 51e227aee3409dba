package upstream

import (
	"context"
	"time"
)

type parkKey struct{}

// WithPark returns a context under which Park gives the caller's turn back
// with park. A scrape bounds how many of its targets are under way at
// once; a target that waits for what another caller is already fetching
// lets the next target start meanwhile. park must be safe to call more
// than once and from any goroutine.
func WithPark(ctx context.Context, park func()) context.Context {
	return context.WithValue(ctx, parkKey{}, park)
}

// parkDelay is how long a wait for what another caller fetches may last
// before the caller's turn goes: most such waits (an access token, a
// lookup, the key's first answers at start-up) end within a round trip,
// and a turn given back at once would start every target of a scrape
// that begins with them.
const parkDelay = time.Second

// Park is called by whoever is about to wait for something shared that
// another caller is fetching (an access token, keys, a lookup, a listing,
// room in a key's failure budget), not for a request slot of its own: a
// wait that can last as long as that other request, and that must not
// keep the rest of the scrape from starting. If the wait lasts parkDelay,
// the caller's turn is given back; call the returned unpark when it ends.
func Park(ctx context.Context) (unpark func()) {
	park, _ := ctx.Value(parkKey{}).(func())
	if park == nil {
		return func() {}
	}
	timer := time.AfterFunc(parkDelay, park)
	return func() { timer.Stop() }
}
