// Package upstream is the HTTP plumbing shared by every cloud provider client:
// one keep-alive HTTP client, a cap on concurrent requests and on response
// size, request counting, and decoding of the clouds' JSON error bodies into
// an *APIError. It knows nothing of Prometheus; callers observe requests
// through the Observer interface.
//
// Errors returned from this package never contain a request URL, because the
// clouds' URLs can carry secrets in their query string (SMH's access_token
// and library_secret). What upstream sends back (error fields, request ids,
// transport errors) is sanitised and then redacted with a Redactor, which
// the providers also use on the strings of successful answers, so that a
// secret echoed in any common encoding reaches neither a log line nor a
// label.
package upstream
