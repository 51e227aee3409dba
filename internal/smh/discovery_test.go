package smh

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// libraryIDs are the ids newTestCloud's library holds, in its order.
func libraryIDs(f *testCloud) []string {
	var ids []string
	f.Update(func(c *simcloud.Cloud) {
		for _, s := range c.Libraries[testLibrary].Spaces {
			ids = append(ids, s.ID)
		}
	})
	return ids
}

// tune sets the listing and totals knobs of the test library.
func (f *testCloud) tune(l *simcloud.SMHLibrary) {
	f.Update(func(c *simcloud.Cloud) {
		c.SMH.Libraries = map[string]*simcloud.SMHLibrary{testLibrary: l}
	})
}

func (f *testCloud) listQueries() []string {
	var out []string
	for _, r := range f.Requests(simcloud.OpSMHSpaceList) {
		out = append(out, r.URL.RawQuery)
	}
	return out
}

func TestSpacesPaging(t *testing.T) {
	// 323 spaces: in pages of 6 the last page is odd (it sends no
	// marker), in pages of 7 even (it echoes the marker it was sent); the
	// pages before alternate between both fields and marker only.
	for _, size := range []int{0, 6, 7} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			f := newTestCloud(t)
			f.tune(&simcloud.SMHLibrary{PageSize: size})
			c, _ := newTestClient(t, f, testCreds())
			list, err := c.Spaces(context.Background(), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if want := libraryIDs(f); !slices.Equal(list.IDs, want) {
				t.Fatalf("listed %d spaces, want the library's %d in order", len(list.IDs), len(want))
			}
			pages := 1
			if size > 0 {
				pages = (len(list.IDs) + size - 1) / size
			}
			queries := f.listQueries()
			if len(queries) != pages {
				t.Fatalf("%d list requests, want %d", len(queries), pages)
			}
			for i, r := range f.Requests(simcloud.OpSMHSpaceList) {
				q := r.URL.Query()
				if q.Get("limit") != "1000" || q.Get("access_token") == "" {
					t.Errorf("request %d: query %s, want limit=1000 and an access token", i, queries[i])
				}
				if _, sent := q["marker"]; sent != (i > 0) {
					t.Errorf("request %d: marker sent %v", i, sent)
				}
			}
		})
	}
}

// pagesHook answers the listing from pages, by the marker asked with.
func (f *testCloud) pagesHook(t *testing.T, pages map[string]string) {
	f.hookOn(simcloud.OpSMHSpaceList, func(w http.ResponseWriter, r *http.Request) bool {
		body, ok := pages[r.URL.Query().Get("marker")]
		if !ok {
			t.Errorf("asked for the page of marker %q", r.URL.Query().Get("marker"))
			body = `{"list":[]}`
		}
		fmt.Fprint(w, body)
		return true
	})
}

func TestSpacesMarkerRules(t *testing.T) {
	page := func(id, fields string) string {
		return `{"list":[{"spaceId":"` + id + `","userId":"","creationTime":"2020-10-16T02:31:50.000Z"}]` + fields + `}`
	}
	for _, tc := range []struct {
		name  string
		pages map[string]string
		want  []string // nil: ErrEndlessListing
	}{
		{"nextMarker wins over marker", map[string]string{
			"":   page("a", `,"marker":"x","nextMarker":"m1"`),
			"m1": page("b", `,"marker":"m1"`),
		}, []string{"a", "b"}},
		{"marker where nextMarker is absent or null", map[string]string{
			"":   page("a", `,"marker":"m1"`),
			"m1": page("b", `,"marker":"m2","nextMarker":null`),
			"m2": page("c", ``),
		}, []string{"a", "b", "c"}},
		{"empty nextMarker ends", map[string]string{
			"": page("a", `,"marker":"m1","nextMarker":""`),
		}, []string{"a"}},
		{"marker echoed ends", map[string]string{
			"":   page("a", `,"nextMarker":"m1"`),
			"m1": page("b", `,"marker":"m1"`),
		}, []string{"a", "b"}},
		{"numeric marker", map[string]string{
			"":   page("a", `,"nextMarker":17`),
			"17": page("b", `,"nextMarker":""`),
		}, []string{"a", "b"}},
		{"a space listed twice is asked for once", map[string]string{
			"":   page("a", `,"nextMarker":"m1"`),
			"m1": page("a", ``),
		}, []string{"a"}},
		{"nextMarker repeated", map[string]string{
			"":   page("a", `,"nextMarker":"m1"`),
			"m1": page("b", `,"nextMarker":"m1"`),
		}, nil},
		{"markers in a circle", map[string]string{
			"":   page("a", `,"nextMarker":"m1"`),
			"m1": page("b", `,"marker":"m2"`),
			"m2": page("c", `,"marker":"m1"`),
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestCloud(t)
			f.pagesHook(t, tc.pages)
			c, _ := newTestClient(t, f, testCreds())
			list, err := c.Spaces(context.Background(), time.Minute)
			if tc.want == nil {
				if !errors.Is(err, ErrEndlessListing) || !strings.Contains(err.Error(), "list space_ids instead") {
					t.Fatalf("got %v, %v; want ErrEndlessListing saying what to do", list, err)
				}
				return
			}
			if err != nil || !slices.Equal(list.IDs, tc.want) {
				t.Fatalf("got %v, %v; want %q", list, err, tc.want)
			}
		})
	}
}

func TestSpacesEndlessListing(t *testing.T) {
	t.Run("more than 100 pages", func(t *testing.T) {
		f := newTestCloud(t)
		f.tune(&simcloud.SMHLibrary{PageSize: 1})
		c, _ := newTestClient(t, f, testCreds())
		_, err := c.Spaces(context.Background(), time.Minute)
		if !errors.Is(err, ErrEndlessListing) || !strings.Contains(err.Error(), "after 100") {
			t.Fatalf("got %v, want ErrEndlessListing after 100 pages", err)
		}
		if n := len(f.listQueries()); n != maxListPages {
			t.Errorf("%d list requests, want %d", n, maxListPages)
		}
	})
	t.Run("the same marker again", func(t *testing.T) {
		f := newTestCloud(t)
		f.tune(&simcloud.SMHLibrary{PageSize: 5, RepeatMarker: true})
		c, _ := newTestClient(t, f, testCreds())
		_, err := c.Spaces(context.Background(), time.Minute)
		if !errors.Is(err, ErrEndlessListing) {
			t.Fatalf("got %v, want ErrEndlessListing", err)
		}
		if n := len(f.listQueries()); n != 2 {
			t.Errorf("%d list requests, want 2", n)
		}
	})
}

func TestSpacesNeedGrant(t *testing.T) {
	for _, grant := range []string{"", "read", "admin", "space_admin", "read,space_admin"} {
		t.Run("grant "+grant, func(t *testing.T) {
			f := newTestCloud(t)
			creds := testCreds()
			creds.Grant = grant
			c, _ := newTestClient(t, f, creds)
			_, err := c.Spaces(context.Background(), time.Minute)
			if grant == "admin" || strings.Contains(grant, "space_admin") {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var apiErr *upstream.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Code != "NoPermission" || !strings.Contains(err.Error(), listGrantHint) {
				t.Fatalf("got %v, want 403 NoPermission saying which grant is needed", err)
			}
			// The cloud echoes the token it refuses.
			assertNoSecrets(t, err, f.SMHTokens())
			testutil.CheckNoSecret(t, "error", err.Error(), "", append(f.SMHTokens(), testSecret))
		})
	}
}

func TestSpacesReusedAndKeptOnFailure(t *testing.T) {
	f := newTestCloud(t)
	c, clock := newTestClient(t, f, testCreds())
	ctx := context.Background()
	first, err := c.Spaces(ctx, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Minute)
	again, err := c.Spaces(ctx, 10*time.Minute)
	if err != nil || len(f.listQueries()) != 1 || !again.ListedAt.Equal(first.ListedAt) || again.Stale != nil {
		t.Fatalf("within the interval: %d listings, %+v, %v; want the first list reused", len(f.listQueries()), again, err)
	}

	var fail sync.Map
	fail.Store("on", true)
	f.hookOn(simcloud.OpSMHSpaceList, func(w http.ResponseWriter, r *http.Request) bool {
		if on, _ := fail.Load("on"); on == true {
			simcloud.SMHError(w, http.StatusServiceUnavailable, "ServerOverloaded", "try later")
			return true
		}
		return false
	})
	clock.Advance(2 * time.Minute)
	stale, err := c.Spaces(ctx, 10*time.Minute)
	if err != nil || stale.Stale == nil || !strings.Contains(stale.Stale.Error(), "ServerOverloaded") || len(stale.IDs) != len(first.IDs) || !stale.ListedAt.Equal(first.ListedAt) {
		t.Fatalf("failed listing: %+v, %v; want the last good list, saying why", stale, err)
	}
	// The failure is reported once; the old list stands in silently
	// until the retry.
	quiet, err := c.Spaces(ctx, 10*time.Minute)
	if err != nil || quiet.Stale != nil || len(f.listQueries()) != 2 {
		t.Fatalf("right after a failure: %d listings, %v, %v; want no new listing and no report", len(f.listQueries()), quiet.Stale, err)
	}
	clock.Advance(listRetry)
	if retried, _ := c.Spaces(ctx, 10*time.Minute); retried.Stale == nil || len(f.listQueries()) != 3 {
		t.Fatalf("a minute after the failure: %d listings, %v; want a new try, failing", len(f.listQueries()), retried.Stale)
	}
	fail.Store("on", false)
	clock.Advance(listRetry)
	fresh, err := c.Spaces(ctx, 10*time.Minute)
	if err != nil || fresh.Stale != nil || !fresh.ListedAt.After(first.ListedAt) {
		t.Fatalf("after recovery: %+v, %v; want a fresh list", fresh, err)
	}
}

func TestSpacesNoListYet(t *testing.T) {
	f := newTestCloud(t)
	f.hookOn(simcloud.OpSMHSpaceList, func(w http.ResponseWriter, r *http.Request) bool {
		simcloud.SMHError(w, http.StatusInternalServerError, "InternalServerError", "boom")
		return true
	})
	c, _ := newTestClient(t, f, testCreds())
	for range 2 {
		if list, err := c.Spaces(context.Background(), time.Minute); err == nil {
			t.Fatalf("got %+v, want the listing's error", list)
		}
	}
	if n := len(f.listQueries()); n != 2 {
		t.Errorf("%d listings, want one per call while there is no list", n)
	}
}

func TestSpacesSharedByConcurrentCallers(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.Spaces(context.Background(), time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(f.listQueries()); n != 1 {
		t.Errorf("%d listings for 10 concurrent callers, want 1", n)
	}
}

func TestSpacesRetryOnInvalidAccessToken(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	if _, err := c.Usage(context.Background(), []string{"s1"}, 0); err != nil {
		t.Fatal(err)
	}
	f.RevokeTokens()
	if _, err := c.Spaces(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if tokens, _ := f.counts(); tokens != 2 || len(f.listQueries()) != 2 {
		t.Errorf("%d token and %d list requests, want 2 and 2 (one retry with a new token)", tokens, len(f.listQueries()))
	}
}

func TestSpacesListedIDWithComma(t *testing.T) {
	f := newTestCloud(t)
	f.pagesHook(t, map[string]string{"": `{"list":[{"spaceId":"a,b"},{"spaceId":"c"}]}`})
	c, _ := newTestClient(t, f, testCreds())
	list, err := c.Spaces(context.Background(), time.Minute)
	if err != nil || !slices.Equal(list.IDs, []string{"c"}) || len(list.Skipped) != 1 || !strings.Contains(list.Skipped[0], `"a,b"`) {
		t.Fatalf("got %+v, %v; want c, and a note on a,b", list, err)
	}
}

func TestUsageFindsMissingSpace(t *testing.T) {
	f := newTestCloud(t)
	c, clock := newTestClient(t, f, testCreds())
	var ids []string
	for i := range 100 {
		ids = append(ids, "s"+strconv.Itoa(i))
	}
	ids = slices.Insert(ids, 37, "gone")
	u, err := c.Usage(context.Background(), ids, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Spaces) != 100 || !slices.Equal(u.Skipped, []string{`space "gone": not found`}) {
		t.Fatalf("got %d spaces, notes %q; want 100 and one note on gone", len(u.Spaces), u.Skipped)
	}
	var got []string
	for _, s := range u.Spaces {
		got = append(got, s.SpaceID)
	}
	if want := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "gone" }); !slices.Equal(got, want) {
		t.Errorf("space order not kept:\n got %v\nwant %v", got, want)
	}
	// Two batches, of which one is split down to the missing id: about
	// 2·log2(50) requests more, not one per id.
	_, searched := f.counts()
	if searched > 2+2*6 {
		t.Errorf("%d usage requests to find one missing space", searched)
	}

	// The next polls within the interval leave it out, silently.
	u, err = c.Usage(context.Background(), ids, 10*time.Minute)
	if _, n := f.counts(); err != nil || n != searched+2 || len(u.Skipped) != 0 || len(u.Spaces) != 100 {
		t.Fatalf("second poll: %d more requests, notes %q, %v; want 2 batches without the missing space", n-searched, u.Skipped, err)
	}
	for _, b := range f.batches()[searched:] {
		if slices.Contains(b, "gone") {
			t.Errorf("the missing space was asked for again: %v", b)
		}
	}

	// After the interval it is looked for again, and reported again.
	clock.Advance(10 * time.Minute)
	u, err = c.Usage(context.Background(), ids, 10*time.Minute)
	if err != nil || !slices.Equal(u.Skipped, []string{`space "gone": not found`}) {
		t.Fatalf("after the interval: notes %q, %v; want the missing space found again", u.Skipped, err)
	}
}

func TestUsageMissingSpaceRecheckedAfterListing(t *testing.T) {
	f := newTestCloud(t)
	c, clock := newTestClient(t, f, testCreds())
	ctx := context.Background()
	if u, err := c.Usage(ctx, []string{"s1", "later"}, time.Hour); err != nil || len(u.Skipped) != 1 {
		t.Fatalf("got %+v, %v; want later not found", u, err)
	}
	// The space is created, and a new listing sees it.
	f.Update(func(cl *simcloud.Cloud) {
		lib := cl.Libraries[testLibrary]
		lib.Spaces = append(lib.Spaces, &simcloud.Space{ID: "later", Used: 1})
	})
	clock.Advance(time.Second)
	if _, err := c.Spaces(ctx, 0); err != nil {
		t.Fatal(err)
	}
	u, err := c.Usage(ctx, []string{"s1", "later"}, time.Hour)
	if err != nil || len(u.Spaces) != 2 || len(u.Skipped) != 0 {
		t.Fatalf("after a listing: %+v, %v; want both spaces", u, err)
	}
}

func TestUsageEverySpaceMissing(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	for range 2 {
		_, err := c.Usage(context.Background(), []string{"x1", "x2", "x3"}, time.Hour)
		var apiErr *upstream.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "SpaceNotFound" {
			t.Fatalf("got %v, want SMH's 404 SpaceNotFound", err)
		}
	}
}

func TestUsageMissingSpaceNoteHasNoSecret(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	u, err := c.Usage(context.Background(), []string{"s1", "s2", "x"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range u.Skipped {
		testutil.CheckNoSecret(t, "note", n, "", append(f.SMHTokens(), testSecret))
	}
}

func TestLibraryUsage(t *testing.T) {
	var used uint64 = 1000 * 323 // newTestCloud's spaces
	for _, tc := range []struct {
		name   string
		totals *simcloud.LibraryTotals
		want   LibraryUsage
		notes  int
	}{
		{"totalFileSize only, as documented", nil, LibraryUsage{Used: upstream.Some(used)}, 0},
		{"capacity null", &simcloud.LibraryTotals{Allocated: simcloud.Ptr(7)}, LibraryUsage{Used: upstream.Some(used), Allocated: upstream.Some(7)}, 0},
		{"every field", &simcloud.LibraryTotals{Capacity: simcloud.Ptr(1 << 40), Allocated: simcloud.Ptr(1 << 30)},
			LibraryUsage{Used: upstream.Some(used), Capacity: upstream.Some(1 << 40), Available: upstream.Some(1<<40 - used), Allocated: upstream.Some(1 << 30)}, 0},
		{"unusable values", &simcloud.LibraryTotals{Raw: `{"totalFileSize":"-1","capacity":12,"availableSpace":null}`}, LibraryUsage{}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestCloud(t)
			f.tune(&simcloud.SMHLibrary{Totals: tc.totals})
			c, _ := newTestClient(t, f, testCreds())
			u, err := c.LibraryUsage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(u.Skipped) != tc.notes {
				t.Errorf("notes %q, want %d", u.Skipped, tc.notes)
			}
			u.Skipped = nil
			if !reflect.DeepEqual(*u, tc.want) {
				t.Errorf("got %+v, want %+v", *u, tc.want)
			}
			if r := f.Requests(simcloud.OpSMHLibraryUsage); len(r) != 1 || r[0].URL.Path != "/api/v1/usage/"+testLibrary {
				t.Errorf("requests %v", r)
			}
		})
	}
}

func TestLibraryUsageNeedsAdmin(t *testing.T) {
	f := newTestCloud(t)
	creds := testCreds()
	creds.Grant = "space_admin"
	c, _ := newTestClient(t, f, creds)
	_, err := c.LibraryUsage(context.Background())
	if !isPermissionRefusal(err) || !strings.Contains(err.Error(), libraryGrantHint) {
		t.Fatalf("got %v, want 403 NoPermission saying which grant is needed", err)
	}
	testutil.CheckNoSecret(t, "error", err.Error(), "", append(f.SMHTokens(), testSecret))
}

func TestLibraryUsageMalformed(t *testing.T) {
	for _, body := range []string{``, `[]`, `"x"`, `{"totalFileSize":`} {
		f := newTestCloud(t)
		f.answerRaw(simcloud.OpSMHLibraryUsage, body)
		c, _ := newTestClient(t, f, testCreds())
		_, err := c.LibraryUsage(context.Background())
		var decodeErr *upstream.DecodeError
		if !errors.As(err, &decodeErr) || decodeErr.Operation != "library_usage" {
			t.Errorf("body %q: got %v, want a DecodeError of library_usage", body, err)
		}
	}
}

// A target whose every space another target of the client already found
// missing fails with the reason, rather than being up with no samples.
func TestUsageEveryIDKnownMissing(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	ctx := context.Background()
	if u, err := c.Usage(ctx, []string{"s1", "gone"}, time.Hour); err != nil || len(u.Skipped) != 1 {
		t.Fatalf("got %+v, %v; want gone not found", u, err)
	}
	_, err := c.Usage(ctx, []string{"gone"}, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "none of the 1 spaces asked for exists in the library") {
		t.Errorf("a target of known missing spaces only: %v, want the reason", err)
	}
}
