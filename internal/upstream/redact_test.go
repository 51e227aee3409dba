package upstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// A library secret as SMH issues them, with the characters that escaping
// changes, and an access token.
const (
	tSecret = `LIB/Zm"Kq+4= é<&>€`
	tToken  = "acctk0123456789abcdefXYZ"
)

var tSecrets = []string{tSecret, tToken}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func apiError(t *testing.T, body, requestID string, secrets ...string) *APIError {
	t.Helper()
	resp := &Response{StatusCode: http.StatusForbidden, Header: http.Header{}, Body: []byte(body), RequestID: requestID}
	return newAPIError(Request{Service: "smh", Operation: "token", Secrets: secrets}, resp)
}

// Every form of every secret, in every field that an error body has, is
// gone from the error's text and from each field.
func TestAPIErrorRedactsEveryForm(t *testing.T) {
	for _, secret := range tSecrets {
		for _, form := range testutil.SecretForms(secret) {
			echo := "library_id=lib&library_secret=" + form.Text + "&grant=admin"
			for _, field := range []string{"code", "message", "error_msg", "error_detail", "requestId"} {
				body := `{"code":"WrongLibraryIdOrSecret",` + jsonString(field) + `:` + jsonString(echo) + `}`
				e := apiError(t, body, "", tSecrets...)
				what := fmt.Sprintf("%s form %q in %s", form.Name, form.Text, field)
				testutil.CheckNoSecret(t, what, e.Error(), body, tSecrets)
				for _, v := range []string{e.Code, e.Message, e.Detail, e.RequestID} {
					testutil.CheckNoSecret(t, what, v, body, tSecrets)
				}
				if !strings.Contains(e.Error(), "<secret>") {
					t.Errorf("%s: nothing redacted: %q", what, e.Error())
				}
			}
			// The request id header too.
			e := apiError(t, `{}`, "rid-"+form.Text, tSecrets...)
			testutil.CheckNoSecret(t, form.Name+" form in the request id", e.Error(), "", tSecrets)
		}
	}
}

// Control characters are dealt with before redaction: a secret split by
// one, or holding one, never prints in readable halves.
func TestAPIErrorSplitByControl(t *testing.T) {
	for name, tc := range map[string]struct{ secret, echo string }{
		"split by U+0001":                            {tToken, "acctk0123456789\u0001abcdefXYZ"},
		"split by a newline":                         {tToken, "acctk0123456789\nabcdefXYZ"},
		"split by CRLF":                              {tToken, "acctk01234\r\n56789abcdefXYZ"},
		"split by a C1 control":                      {tToken, "acctk0123456789\u0085abcdefXYZ"},
		"split by DEL":                               {tToken, "acctk0123456789\u007fabcdefXYZ"},
		"split, query-escaped":                       {tToken, "acctk0123456789%01abcdefXYZ"},
		"split, JSON in message":                     {tToken, `acctk0123456789\u0001abcdefXYZ`},
		"secret with a newline":                      {"line-one-secret\nline-two-secret", "line-one-secret\nline-two-secret"},
		"secret with U+0001":                         {"part-one-secret\x01part-two-secret", "part-one-secret\x01part-two-secret"},
		"secret with a newline, echoed with a space": {"line-one-secret\nline-two-secret", "line-one-secret line-two-secret"},
	} {
		body := `{"error_code":"APIGW.0301","error_msg":` + jsonString("bad key "+tc.echo+" given") + `}`
		e := apiError(t, body, "", tc.secret)
		testutil.CheckNoSecret(t, name, e.Error(), body, []string{tc.secret})
		if !strings.Contains(e.Message, "bad key <secret> given") {
			t.Errorf("%s: message %q", name, e.Message)
		}
	}
}

// A secret split across two fields is caught in the message they make.
func TestAPIErrorSplitAcrossFields(t *testing.T) {
	for _, cut := range []int{1, 5, len(tToken) / 2, len(tToken) - 1} {
		body := `{"error_code":"APIGW.0301","error_msg":"echo ` + tToken[:cut] + `","error_detail":"` + tToken[cut:] + ` end"}`
		e := apiError(t, body, "", tSecrets...)
		msg := e.Error()
		if strings.Contains(e.Message+e.Detail, tToken) || strings.Contains(msg, tToken[:cut]+" ("+tToken[cut:]) {
			t.Errorf("cut at %d: %q", cut, msg)
		}
		if e.Message != "echo <secret>" || e.Detail != "<secret> end" {
			t.Errorf("cut at %d: message %q, detail %q", cut, e.Message, e.Detail)
		}
	}
	// Also when the code and the message make the secret with the words
	// that join them.
	e := apiError(t, `{"code":"abc","message":"def"}`, "", "abc: def")
	if strings.Contains(e.Error(), "abc: def") {
		t.Errorf("joined fields spell the secret: %q", e.Error())
	}
}

// A secret cut by the length bound is redacted before the cut.
func TestAPIErrorLongEcho(t *testing.T) {
	long := strings.Repeat("x", maxErrorText-5)
	body := `{"message":"` + long + tToken + `"}`
	e := apiError(t, body, "", tSecrets...)
	testutil.CheckNoSecret(t, "long message", e.Error(), body, tSecrets)
	if strings.Contains(e.Message, tToken[:5]) {
		t.Errorf("a piece of the token survived the cut: %q", e.Message)
	}
}
