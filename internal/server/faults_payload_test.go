package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Fault cases: upstream answers 200 with a body that is broken, odd or
// huge, for the data requests and the SMH token request.
// Healthy answers, with one element each case can break.
const (
	smhGoodFirst = `{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"66571993088"}`
	smhRest      = `{"spaceId":"space-archive","capacity":"53687091200","availableSpace":"3758096384","size":"49929650176"},` +
		`{"spaceId":"space-scratch","capacity":null,"availableSpace":null,"size":"12884901888"}`
	hwGoodFirst = `{"type":"cores","unit":"count","quota":400,"used":80}`
	hwRest      = `{"type":"users","unit":"count","quota":500,"used":100}`
)

func smhBody(first string) string { return "[" + first + "," + smhRest + "]" }

func hwBody(svc, first string) string {
	b := `{"resources":[` + first + "," + hwRest + "]"
	if svc == "workspace" {
		b += `,"site_id":"site-dev"`
	}
	return b + "}"
}

func goodBody(svc string) string {
	if svc == "smh" {
		return smhBody(smhGoodFirst)
	}
	return hwBody(svc, hwGoodFirst)
}

// answer200 answers 200 with a JSON body made for the service.
func answer200(body func(c *caseRun, r *http.Request) string) responder {
	return func(c *caseRun, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, body(c, r))
	}
}

// firstBroken answers the healthy body with its first element replaced.
func firstBroken(smhFirst, hwFirst string) responder {
	return answer200(func(c *caseRun, _ *http.Request) string {
		if c.svc == "smh" {
			return smhBody(smhFirst)
		}
		return hwBody(c.svc, hwFirst)
	})
}

// whole answers a whole body per provider.
func whole(smh, hw string) responder {
	return answer200(func(c *caseRun, _ *http.Request) string {
		if c.svc == "smh" {
			return smh
		}
		return hw
	})
}

// shortBody declares more bytes than it sends.
func shortBody(c *caseRun, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "4096")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, goodBody(c.svc)[:30])
}

const hugeBody = 100 << 20

// streamHuge streams a 100 MiB answer of well-formed elements without
// holding it in memory, stopping when the client hangs up.
func streamHuge(status int) responder {
	return func(c *caseRun, w http.ResponseWriter, r *http.Request) {
		defer c.doneOnce.Do(func() { close(c.hookDone) })
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		elem := hwGoodFirst + ","
		head := `{"resources":[`
		if c.svc == "smh" {
			elem, head = smhGoodFirst+",", "["
		}
		chunk := []byte(strings.Repeat(elem, 64<<10/len(elem)))
		n, _ := io.WriteString(w, head)
		written := int64(n)
		for written < hugeBody {
			n, err := w.Write(chunk)
			written += int64(n)
			if err != nil {
				break
			}
		}
		c.written.CompareAndSwap(0, written)
	}
}

// bodyCases answer 200 with a body of the wrong kind or shape.
func bodyCases() []faultCase {
	failed := func(extra ...string) map[string][]string {
		return map[string][]string{"": append([]string{`msg="Target poll failed"`, "unusable answer"}, extra...)}
	}
	skipped := `msg="Skipped an unusable upstream value"`
	up1 := all(1.0)
	absent := func(smh, hw string) func(t *testing.T, c *caseRun, series map[string]float64) {
		return func(t *testing.T, c *caseRun, series map[string]float64) {
			t.Helper()
			missing, kept := smhKey(smh, "space-media"), smhKey("capacity", "space-archive")
			if c.svc != "smh" {
				missing, kept = hwKey(c.svc, hw, "cores"), hwKey(c.svc, "used", "users")
			}
			if _, ok := series[missing]; ok {
				t.Errorf("series %s present; its value was unusable or absent", missing)
			}
			if _, ok := series[kept]; !ok {
				t.Errorf("series %s missing; only the bad value should be", kept)
			}
		}
	}
	return []faultCase{
		{name: "malformed JSON", respond: whole(`[{"spaceId":"space-media" "size":"1"}]`, `{"resources":[{"type":"cores" "quota":1}]}`),
			logs: failed("invalid character")},
		{name: "empty body", respond: whole("", ""),
			logs: map[string][]string{"smh": failed("an empty body")[""], "hw": failed("is empty, want a JSON object")[""]}},
		{name: "truncated JSON", respond: answer200(func(c *caseRun, _ *http.Request) string { return goodBody(c.svc)[:60] }),
			logs: failed("unexpected end of JSON input")},
		{name: "object for array", respond: whole(smhGoodFirst, `{"resources":`+hwGoodFirst+`}`),
			logs: map[string][]string{"smh": failed("want a JSON array of spaces, got an object")[""], "hw": failed(`\"resources\" is an object, want an array`)[""]}},
		{name: "array for object", respond: whole(`[["space-media","1"]]`, "["+hwGoodFirst+"]"),
			logs: map[string][]string{"smh": failed("element 0: want an object, got an array")[""], "hw": failed("body: is an array, want a JSON object")[""]}},
		{name: "null body", respond: whole("null", "null"),
			logs: map[string][]string{"smh": failed("got null")[""], "hw": failed("body: is null")[""]}},
		{name: "null element", respond: whole("[null]", `{"resources":[null]}`),
			logs: map[string][]string{"smh": failed("element 0: want an object, got null")[""], "hw": failed("resources[0]: is null")[""]}},
		{name: "null list", only: "workspace", respond: whole("", `{"resources":null,"site_id":null}`),
			logs: failed(`\"resources\" is null, want an array`)},
		{name: "missing top-level field", respond: whole(`[{"capacity":"1","availableSpace":"1","size":"0"}]`, `{"site_id":"site-dev"}`),
			logs: map[string][]string{"smh": failed("element 0: no spaceId")[""], "hw": failed(`body has no \"resources\" field`)[""]}},
		{name: "null values", up: up1, lines: all(0),
			respond: firstBroken(`{"spaceId":"space-media","capacity":null,"availableSpace":null,"size":null}`, `{"type":"cores","unit":null,"quota":null,"used":null}`),
			check: func(t *testing.T, c *caseRun, series map[string]float64) {
				for k := range series {
					if !strings.Contains(k, `target="`+c.target.name+`"`) {
						continue
					}
					if strings.Contains(k, `space_id="space-media"`) || (c.svc != "smh" && strings.Contains(k, `resource="cores"`)) {
						t.Errorf("a null value got a sample: %s", k)
					}
				}
			}},
		{name: "missing value field", up: up1, lines: all(0),
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312"}`, `{"type":"cores","unit":"count","quota":400}`),
			check:   absent("used", "used")},
		{name: "null id", up: map[string]float64{"smh": 0, "hw": 1},
			respond: firstBroken(`{"spaceId":null,"capacity":"1","availableSpace":"1","size":"1"}`, `{"type":null,"unit":"count","quota":400,"used":80}`),
			logs:    map[string][]string{"smh": failed("element 0: no spaceId")[""], "hw": {skipped, "resources[0]: empty type; entry skipped"}}},
		{name: "string for number", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"lots"}`, `{"type":"cores","unit":"count","quota":400,"used":"80"}`),
			logs: map[string][]string{
				"smh": {skipped, `space \"space-media\" size: \"lots\": not a non-negative integer`},
				"hw":  {skipped, `resource \"cores\" used: want an integer, got a string \"80\"`}},
			check: absent("used", "used")},
		{name: "number for string", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":66571993088}`, `{"type":7,"unit":"count","quota":400,"used":80}`),
			logs: map[string][]string{
				"smh": {skipped, `space \"space-media\" size: want a decimal string, got a number 66571993088`},
				"hw":  {skipped, "resources[0] type: is a number, want a string; entry skipped"}},
			check: absent("used", "used")},
		{name: "number for id string", up: map[string]float64{"smh": 0, "hw": 1},
			respond: firstBroken(`{"spaceId":7,"capacity":"1","availableSpace":"1","size":"1"}`, `{"type":"cores","unit":7,"quota":400,"used":80}`),
			logs: map[string][]string{
				"smh": failed("element 0: json: cannot unmarshal number")[""],
				"hw":  {skipped, `resource \"cores\" unit: is a number, want a string`}}},
		{name: "object for number", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":{"bytes":"1"}}`, `{"type":"cores","unit":"count","quota":400,"used":[80]}`),
			logs: map[string][]string{
				"smh": {skipped, "want a decimal string, got an object"},
				"hw":  {skipped, "want an integer, got an array"}},
			check: absent("used", "used")},
		{name: "negative number", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"-5"}`, `{"type":"cores","unit":"count","quota":400,"used":-1}`),
			logs:    all([]string{skipped, "negative value"}),
			check:   absent("used", "used")},
		{name: "fraction", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"1.5"}`, `{"type":"cores","unit":"count","quota":400,"used":1.5}`),
			logs:    all([]string{skipped, "not a non-negative integer"}),
			check:   absent("used", "used")},
		{name: "number beyond 2^53", up: up1, lines: all(0),
			respond: firstBroken(`{"spaceId":"space-media","capacity":"9007199254740993","availableSpace":"40802189312","size":"66571993088"}`, `{"type":"cores","unit":"count","quota":9007199254740993,"used":80}`),
			check: func(t *testing.T, c *caseRun, series map[string]float64) {
				key := smhKey("capacity", "space-media")
				if c.svc != "smh" {
					key = hwKey(c.svc, "limit", "cores")
				}
				if got, ok := series[key]; !ok || got != float64(9007199254740993) {
					t.Errorf("%s = %v (present %v), want 2^53+1 as the nearest float", key, got, ok)
				}
			}},
		{name: "number beyond 2^64", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"99999999999999999999","availableSpace":"40802189312","size":"66571993088"}`, `{"type":"cores","unit":"count","quota":99999999999999999999,"used":80}`),
			logs:    all([]string{skipped, "too large"}),
			check:   absent("capacity", "limit")},
		{name: "extra unknown fields", up: up1, lines: all(0),
			respond: answer200(func(c *caseRun, _ *http.Request) string {
				if c.svc == "smh" {
					return `[{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"66571993088","tier":{"hot":[1,2]},"owner":null},` + smhRest + `]`
				}
				return `{"resources":[{"type":"cores","unit":"count","quota":400,"used":80,"region":"cn-north-4","details":{"a":[1]}},` + hwRest + `],"site_id":"site-dev","page":{"next":null},"count":2}`
			}),
			check: func(t *testing.T, c *caseRun, series map[string]float64) {
				key := smhKey("used", "space-media")
				if c.svc != "smh" {
					key = hwKey(c.svc, "used", "cores")
				}
				if _, ok := series[key]; !ok {
					t.Errorf("%s missing: unknown fields must be ignored", key)
				}
			}},
		// SMH knows which spaces it was asked for and notes each one left
		// out (media-prod has three); Huawei cannot tell what is missing.
		{name: "empty list", up: up1, lines: map[string]int{"smh": 3, "hw": 0}, logs: map[string][]string{"smh": {"not in the answer"}},
			respond: whole("[]", `{"resources":[],"site_id":"site-dev"}`)},
		{name: "secret echoed in a value", up: up1,
			respond: answer200(func(c *caseRun, r *http.Request) string {
				if c.svc == "smh" {
					return smhBody(fmt.Sprintf(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":%q}`, r.URL.Query().Get("access_token")))
				}
				secret := "demo-secret-key-0000000000000001"
				if tok := r.Header.Get("X-Security-Token"); tok != "" {
					secret = tok
				}
				return hwBody(c.svc, fmt.Sprintf(`{"type":"cores","unit":"count","quota":400,"used":%q}`, secret))
			}),
			logs:  all([]string{skipped, "<secret>"}),
			check: absent("used", "used")},
		{name: "secrets echoed in an error body", respond: echoSecrets,
			logs: all([]string{`msg="Target poll failed"`, "status=400", "<secret>"})},
	}
}

// tokenBodyCases break the SMH token answer.
func tokenBodyCases() []faultCase {
	failed := func(extra ...string) map[string][]string {
		return all(append([]string{`msg="Target poll failed"`, "smh token: unusable answer"}, extra...))
	}
	cases := []faultCase{
		{name: "malformed JSON", respond: whole(`{"accessToken" "x"}`, ""), logs: failed("invalid character")},
		{name: "empty body", respond: whole("", ""), logs: failed("unexpected end of JSON input")},
		{name: "truncated JSON", respond: whole(`{"accessToken":"acctk00`, ""), logs: failed("unexpected end of JSON input")},
		{name: "array for object", respond: whole(`[{"accessToken":"acctk0000","expiresIn":7200}]`, ""), logs: failed("cannot unmarshal array")},
		{name: "number for string", respond: whole(`{"accessToken":12345,"expiresIn":7200}`, ""), logs: failed("cannot unmarshal number")},
		{name: "string for number", respond: whole(`{"accessToken":"acctk0000","expiresIn":"7200"}`, ""), logs: failed(`expiresIn: want an integer, got a string`)},
		{name: "negative number", respond: whole(`{"accessToken":"acctk0000","expiresIn":-1}`, ""), logs: failed("expiresIn is -1")},
		{name: "missing field", respond: whole(`{"expiresIn":7200}`, ""), logs: failed("no accessToken")},
		{name: "null body", respond: whole(`null`, ""), logs: failed("no accessToken")},
		{name: "null values", respond: whole(`{"accessToken":null,"expiresIn":null}`, ""), logs: failed("no accessToken")},
		{name: "secrets echoed in an error body", respond: echoSecrets,
			logs: all([]string{`msg="Target poll failed"`, "status=400", "<secret>"})},
	}
	for i := range cases {
		cases[i].token = true
	}
	return cases
}
