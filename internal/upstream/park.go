package upstream

import "context"

type parkKey struct{}

// WithPark returns a context under which Park calls park. A scrape bounds
// how many of its targets are under way at once; park gives the caller's
// turn back, so that a target waiting for what another caller is already
// fetching lets the next target start meanwhile. park must be safe to call
// more than once and from any goroutine.
func WithPark(ctx context.Context, park func()) context.Context {
	return context.WithValue(ctx, parkKey{}, park)
}

// Park is called by whoever is about to wait for something shared that
// another caller is fetching (an access token, a key, a lookup, a listing,
// a failure budget), not for a request slot of its own: a wait that can
// last as long as that other request, and that must not keep the rest of
// the scrape from starting.
func Park(ctx context.Context) {
	if park, _ := ctx.Value(parkKey{}).(func()); park != nil {
		park()
	}
}
