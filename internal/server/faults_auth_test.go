package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Fault cases: upstream refuses with an error status, the documented
// error bodies and others, authentication failures and throttling among
// them.
// errorCode is the documented error code the upstream sends with status.
func errorCode(svc string, token bool, status int) string {
	if svc == "smh" {
		switch status {
		case 400:
			return "ParamInvalid"
		case 401:
			return "Unauthenticated"
		case 403:
			if token {
				return "NoPermission"
			}
			return "InvalidAccessToken" // a new token is fetched and the request retried once
		case 404:
			if token {
				return "WrongLibraryIdOrSecret" // the credential backs off
			}
			return "SpaceNotFound"
		case 429:
			return "RateLimitExceeded"
		}
		return "InternalError"
	}
	switch status {
	case 401:
		return "APIGW.0301" // the credential backs off
	case 403:
		return "APIGW.0302"
	case 404:
		return "APIGW.0101"
	case 429:
		return "APIGW.0308"
	}
	if svc == "workspace" {
		return fmt.Sprintf("WKS.00000%d", status)
	}
	return fmt.Sprintf("CTS.%04d", status)
}

const htmlErrorPage = `<html>
<head><title>%[1]d %[2]s</title></head>
<body><center><h1>%[1]d %[2]s</h1></center><hr><center>nginx</center></body>
</html>`

// errorAnswer answers status with the documented error body, none, or an
// HTML error page.
func errorAnswer(status int, variant, retryAfter string, token bool) responder {
	return func(c *caseRun, w http.ResponseWriter, r *http.Request) {
		id := w.Header().Get("X-Request-Id")
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		switch variant {
		case "documented body":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			code, msg := errorCode(c.svc, token, status), fmt.Sprintf("simulated %d fault", status)
			if c.svc == "smh" {
				fmt.Fprintf(w, `{"code":%q,"message":%q,"requestId":%q}`, code, msg, id)
			} else {
				fmt.Fprintf(w, `{"error_code":%q,"error_msg":%q,"request_id":%q}`, code, msg, id)
			}
		case "no body":
			w.WriteHeader(status)
		case "HTML page":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, htmlErrorPage, status, http.StatusText(status))
		}
	}
}

func statusCases(token bool) []faultCase {
	var cases []faultCase
	add := func(status int, variant, retryAfter string) {
		name := fmt.Sprintf("HTTP %d %s", status, variant)
		if retryAfter != "" {
			name += " Retry-After " + retryAfter
		}
		fc := faultCase{
			name:    name,
			token:   token,
			respond: errorAnswer(status, variant, retryAfter, token),
			logs:    all([]string{`msg="Target poll failed"`, "status=" + strconv.Itoa(status), fmt.Sprintf("HTTP %d", status)}),
			// Huawei's gateway: any 401 is the credential refused.
			authFailure: func(svc string) bool { return svc != "smh" && status == 401 },
			backoff: func(svc string) bool {
				switch {
				case svc != "smh":
					return status == 401
				case token:
					return status == 404 && variant == "documented body" // WrongLibraryIdOrSecret
				default:
					return status == 403 && variant == "documented body" // InvalidAccessToken after a retry
				}
			},
			throttled: status == 429,
		}
		switch variant {
		case "documented body":
			base := fc.logs[""]
			fc.logs = map[string][]string{}
			for _, svc := range []string{"smh", "workspace", "cts"} {
				fc.logs[svc] = slices.Concat(base, []string{"code=" + errorCode(svc, token, status), fmt.Sprintf("simulated %d fault", status)})
			}
		case "no body":
			fc.logs[""] = append(fc.logs[""], http.StatusText(status))
		case "HTML page":
			fc.logs[""] = append(fc.logs[""], "non-JSON text/html body")
		}
		if retryAfter != "" {
			fc.check = func(t *testing.T, c *caseRun, _ map[string]float64) {
				_, page := c.env.get(t, "/")
				if !strings.Contains(page, "throttled by upstream, next request in") {
					t.Errorf("status page does not say the target is throttled")
				}
			}
		}
		cases = append(cases, fc)
	}
	for _, status := range []int{400, 401, 403, 404, 429, 500, 502, 503, 504} {
		for _, variant := range []string{"documented body", "no body", "HTML page"} {
			add(status, variant, "")
		}
	}
	add(429, "documented body", "7")
	add(429, "no body", "120")
	return cases
}
