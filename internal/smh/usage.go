package smh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// maxSpacesPerRequest bounds the space ids in one usage request, keeping
// the URL short enough for any proxy on the way.
const maxSpacesPerRequest = 50

// ErrNoSpaceIDs is returned by Usage when asked for no spaces: the usage
// route without space ids is a different API with a different answer.
var ErrNoSpaceIDs = errors.New("smh usage: no space ids given")

// Usage is the answer to a usage query.
type Usage struct {
	// Spaces holds one entry per space in the answers, in the order of the
	// requested ids' batches and, within a batch, as SMH listed them.
	Spaces []SpaceUsage
	// Skipped describes values that were present but unusable, and spaces
	// that SMH does not know; a space with an unusable value is still in
	// Spaces with that value not valid.
	Skipped []string
}

// SpaceUsage is the capacity of one tenant space, in bytes. An amount is
// not valid when SMH reported none, which for Capacity and Available means
// the space has no quota.
type SpaceUsage struct {
	SpaceID   string
	Capacity  upstream.Amount
	Available upstream.Amount
	Used      upstream.Amount
}

// Usage returns the capacity of the given tenant spaces. The ids are sent
// in batches of at most 50, concurrently; if any batch fails the whole call
// fails with that batch's error.
//
// SMH refuses a whole batch with 404 SpaceNotFound when one of its ids does
// not exist, without saying which. The batch is then split until the
// missing ids are found; they are noted as skipped once and left out of
// the calls of the next recheck (0: none), so that the search is not made
// on every poll. When none of the ids asked for exists, the call fails
// with SMH's answer instead: that is a configuration to fix, not a space
// to skip.
func (c *Client) Usage(ctx context.Context, spaceIDs []string, recheck time.Duration) (*Usage, error) {
	if len(spaceIDs) == 0 {
		return nil, ErrNoSpaceIDs
	}
	for _, id := range spaceIDs {
		// A comma would silently turn one id into two, and an empty id
		// would make SMH see a list with a hole in it.
		if id == "" || strings.Contains(id, ",") {
			return nil, fmt.Errorf("smh usage: invalid space id %q", id)
		}
	}

	ask := c.notKnownMissing(spaceIDs, recheck)
	if len(ask) == 0 {
		// Every id is known missing (found so for this or another target
		// of the client): the same configuration to fix as when SMH says
		// so, not an empty answer.
		return nil, fmt.Errorf("smh usage: none of the %d spaces asked for exists in the library (SpaceNotFound within the last %s)", len(spaceIDs), recheck)
	}
	var batches [][]string
	for ids := ask; len(ids) > 0; {
		n := min(len(ids), maxSpacesPerRequest)
		batches = append(batches, ids[:n])
		ids = ids[n:]
	}
	// One failed batch fails the call; errgroup then cancels the others
	// and keeps the first error, not the cancellations it caused.
	results := make([]*batchResult, len(batches))
	if len(batches) == 1 {
		// The usual case: no goroutine, no context to start for it.
		var err error
		if results[0], err = c.batchUsage(ctx, batches[0]); err != nil {
			return nil, err
		}
	} else {
		g, gctx := errgroup.WithContext(ctx)
		for i, batch := range batches {
			g.Go(func() (err error) {
				results[i], err = c.batchUsage(gctx, batch)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}

	all := &Usage{}
	var missing []string
	var notFound error
	for _, r := range results {
		all.Spaces = append(all.Spaces, r.usage.Spaces...)
		all.Skipped = append(all.Skipped, r.usage.Skipped...)
		missing = append(missing, r.missing...)
		if notFound == nil {
			notFound = r.notFound
		}
	}
	if len(missing) > 0 && len(missing) == len(ask) {
		return nil, fmt.Errorf("%w; none of the %d spaces asked for exists in the library", notFound, len(ask))
	}
	c.rememberMissing(missing)
	for _, id := range missing {
		all.Skipped = append(all.Skipped, fmt.Sprintf("space %q: not found", id))
	}
	noteUnanswered(all, ask, missing)
	all.Skipped = append(all.Skipped, c.takeNotes()...)
	return all, nil
}

// notKnownMissing returns the ids that were not found missing within the
// last recheck.
func (c *Client) notKnownMissing(ids []string, recheck time.Duration) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var ask []string
	for _, id := range ids {
		if at, ok := c.missing[id]; ok && now.Sub(at) < recheck {
			continue
		}
		ask = append(ask, id)
	}
	return ask
}

func (c *Client) rememberMissing(ids []string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.missing == nil {
		c.missing = map[string]time.Time{}
	}
	now := c.now()
	for _, id := range ids {
		c.missing[id] = now
	}
}

// forgetMissing drops what was found missing before t: a listing made since
// has the newer word on which spaces exist.
func (c *Client) forgetMissing(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, at := range c.missing {
		if at.Before(t) {
			delete(c.missing, id)
		}
	}
}

// noteUnanswered notes each requested space that the answer left out, so
// that its series do not vanish without a word (for example when the
// token's user may not see the space).
func noteUnanswered(u *Usage, requested, missing []string) {
	answered := make(map[string]bool, len(u.Spaces)+len(missing))
	for _, s := range u.Spaces {
		answered[s.SpaceID] = true
	}
	for _, id := range missing {
		answered[id] = true
	}
	for _, id := range requested {
		if !answered[id] {
			u.Skipped = append(u.Skipped, fmt.Sprintf("space %q: not in the answer", id))
		}
	}
}

// batchResult is the answer for one batch of ids, with those SMH does not
// know and its first answer saying so.
type batchResult struct {
	usage    *Usage
	missing  []string
	notFound error
}

// batchUsage queries one batch, splitting it in halves while SMH answers
// 404 SpaceNotFound, so that k missing ids among n cost about 2k·log2(n)
// requests, once.
func (c *Client) batchUsage(ctx context.Context, ids []string) (*batchResult, error) {
	u, err := c.usage(ctx, ids)
	if !isAPIError(err, http.StatusNotFound, "SpaceNotFound") {
		if err != nil {
			return nil, err
		}
		return &batchResult{usage: u}, nil
	}
	if len(ids) == 1 {
		return &batchResult{usage: &Usage{}, missing: ids, notFound: err}, nil
	}
	half := len(ids) / 2
	halves := [][]string{ids[:half], ids[half:]}
	parts := make([]*batchResult, len(halves))
	g, gctx := errgroup.WithContext(ctx)
	for i, h := range halves {
		g.Go(func() (err error) {
			parts[i], err = c.batchUsage(gctx, h)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r := &batchResult{usage: &Usage{}, notFound: err}
	for _, p := range parts {
		r.usage.Spaces = append(r.usage.Spaces, p.usage.Spaces...)
		r.usage.Skipped = append(r.usage.Skipped, p.usage.Skipped...)
		r.missing = append(r.missing, p.missing...)
	}
	return r, nil
}

// usage sends one usage request.
func (c *Client) usage(ctx context.Context, spaceIDs []string) (*Usage, error) {
	escaped := make([]string, len(spaceIDs))
	for i, id := range spaceIDs {
		escaped[i] = url.PathEscape(id)
	}
	return call(ctx, c, "usage", nil, decodeUsage, "api", "v1", "usage", url.PathEscape(c.creds.LibraryID), strings.Join(escaped, ","))
}

type spaceAnswer struct {
	SpaceID        *string         `json:"spaceId"`
	Capacity       json.RawMessage `json:"capacity"`
	AvailableSpace json.RawMessage `json:"availableSpace"`
	Size           json.RawMessage `json:"size"`
}

// decodeUsage reads a usage answer. Every string is redacted as decoded
// (r.JSON), so a space id, which becomes a label, holds no secret in any
// form, whatever escapes upstream used; notes are redacted once written,
// since quoting could spell one. Errors describe the shape of what was
// wrong, never a value.
func decodeUsage(body []byte, r *upstream.Redactor) (*Usage, error) {
	body = r.JSON(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("want a JSON array of spaces, got an empty body")
	}
	if kind := upstream.JSONKind(body); kind != "an array" {
		return nil, fmt.Errorf("want a JSON array of spaces, got %s", kind)
	}
	answers, err := decodeSpaceAnswers(body)
	if err != nil {
		return nil, err
	}
	u := &Usage{Spaces: make([]SpaceUsage, 0, len(answers))}
	for i, a := range answers {
		if a.SpaceID == nil || *a.SpaceID == "" {
			return nil, fmt.Errorf("element %d: no spaceId", i)
		}
		s := SpaceUsage{SpaceID: r.Value(*a.SpaceID)}
		u.Skipped = append(u.Skipped, parseAmounts(r, fmt.Sprintf("space %q", s.SpaceID), []amountField{
			{"capacity", a.Capacity, &s.Capacity},
			{"availableSpace", a.AvailableSpace, &s.Available},
			{"size", a.Size, &s.Used},
		})...)
		u.Spaces = append(u.Spaces, s)
	}
	return u, nil
}

// decodeSpaceAnswers decodes the array of space answers: a well-formed one
// in one pass, anything else element by element, to say which is wrong.
func decodeSpaceAnswers(body []byte) ([]*spaceAnswer, error) {
	if answers, ok := decodeSpaceAnswersFast(body); ok {
		return answers, nil
	}
	return decodeSpaceAnswersSteps(body)
}

// spaceAnswerKeys are the keys of spaceAnswer.
var spaceAnswerKeys = []string{"spaceId", "capacity", "availableSpace", "size"}

// decodeSpaceAnswersFast reads a clean array of space answers in one pass,
// as json.Unmarshal would decode it into spaceAnswers: unknown keys
// skipped, a null spaceId left nil, raw amounts kept as sent. It leaves
// to decodeSpaceAnswersSteps (ok false) what it cannot read exactly so:
// a key that json.Unmarshal would fold onto one of the struct's, a
// repeated key, a spaceId that is not a plain string, an element that is
// not an object.
func decodeSpaceAnswersFast(body []byte) ([]*spaceAnswer, bool) {
	answers := []*spaceAnswer{}
	c := upstream.NewJSONCursor(body)
	for range c.Array() {
		a := &spaceAnswer{}
		for i := range c.Fields(spaceAnswerKeys) {
			switch i {
			case 0:
				if !c.Null() {
					id := c.Text()
					a.SpaceID = &id
				}
			case 1:
				a.Capacity = c.Raw()
			case 2:
				a.AvailableSpace = c.Raw()
			case 3:
				a.Size = c.Raw()
			}
		}
		answers = append(answers, a)
	}
	return answers, c.End()
}

// decodeSpaceAnswersSteps decodes the array of space answers with
// encoding/json, element by element when the whole does not decode.
func decodeSpaceAnswersSteps(body []byte) ([]*spaceAnswer, error) {
	var answers []*spaceAnswer
	if json.Unmarshal(body, &answers) == nil && !slices.Contains(answers, nil) {
		return answers, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		return nil, err
	}
	answers = make([]*spaceAnswer, len(elems))
	for i, raw := range elems {
		if kind := upstream.JSONKind(raw); kind != "an object" {
			return nil, fmt.Errorf("element %d: want an object, got %s", i, kind)
		}
		answers[i] = &spaceAnswer{}
		if err := json.Unmarshal(raw, answers[i]); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return answers, nil
}

// amountField is one decimal-string amount of an answer: its JSON name,
// what was sent, and where it goes.
type amountField struct {
	name string
	raw  json.RawMessage
	dst  *upstream.Amount
}

// parseAmounts fills each field's amount and returns a note, redacted, for
// each one that was sent but is unusable (its amount stays not valid); of
// names the element in the note.
func parseAmounts(r *upstream.Redactor, of string, fields []amountField) []string {
	var notes []string
	for _, f := range fields {
		v, err := upstream.ParseDecimalString(f.raw)
		if err != nil {
			notes = append(notes, r.Text(fmt.Sprintf("%s %s: %v", of, f.name, err)))
			continue
		}
		*f.dst = v
	}
	return notes
}
