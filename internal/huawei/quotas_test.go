package huawei

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

func TestDecodeOddFieldTypes(t *testing.T) {
	body := `{"resources":[
		{"type":"cores","quota":1,"used":0,"unit":5},
		{"type":7,"quota":1},
		{"type":"cores","quota":2,"used":1,"extra":{"nested":true}},
		{"type":"` + strings.Repeat("é", 40) + `","quota":-1}
	],"site_id":7}`
	fields, q, err := decodeQuotaAnswer([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	// Duplicates are kept: deciding between them is the caller's business.
	wantResources := []Resource{
		{Type: "cores", Quota: upstream.Some(1), Used: upstream.Some(0)},
		{Type: "cores", Quota: upstream.Some(2), Used: upstream.Some(1)},
		{Type: strings.Repeat("é", 40)},
	}
	if !reflect.DeepEqual(q.Resources, wantResources) {
		t.Errorf("resources\n got %+v\nwant %+v", q.Resources, wantResources)
	}
	wantSkipped := []string{
		`resource "cores" unit: is a number, want a string`,
		`resources[1] type: is a number, want a string; entry skipped`,
		// A long type is not quoted, not even in part (upstream.Quote).
		`resource (80 bytes) quota: -1: negative value`,
	}
	if !reflect.DeepEqual(q.Skipped, wantSkipped) {
		t.Errorf("skipped\n got %q\nwant %q", q.Skipped, wantSkipped)
	}
	if _, err := stringField(fields, "site_id"); err == nil {
		t.Error("a numeric site_id was accepted")
	}
}

func TestPrintingHidesSecrets(t *testing.T) {
	base, _ := url.Parse("https://user:pass@cts.example.com")
	c := NewClient(nil, "cts", base, "p", temporaryCreds, nil)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.creds)} {
		for _, secret := range []string{temporaryCreds.SecretKey, temporaryCreds.SecurityToken, "pass"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q contains a secret", s)
			}
		}
	}
}

// A quota answer whose type, unit, site_id or an unusable value carries
// the secret key or the security token, in any form and with any JSON
// escaping, gives labels and notes without it.
func TestQuotasRedactDecodedValues(t *testing.T) {
	creds := Credentials{AccessKey: "AKREDACT", SecretKey: `SK/Zm"Kq+4= é<&>0123`, SecurityToken: "tokREDACT0123456789abcdefXYZ"}
	secrets := []string{creds.SecretKey, creds.SecurityToken}
	base, _ := url.Parse("https://quotas.example.com")
	for _, secret := range secrets {
		for _, form := range testutil.SecretForms(secret) {
			var literals []string // the value as upstream may write it in JSON
			enc, _ := json.Marshal("v-" + form.Text)
			literals = append(literals, string(enc))
			for _, j := range testutil.SecretForms(secret) {
				if strings.HasPrefix(j.Name, "json") {
					literals = append(literals, `"v-`+j.Text+`"`)
				}
			}
			for _, lit := range literals {
				body := `{"resources":[{"type":` + lit + `,"unit":` + lit + `,"quota":` + lit + `,"used":1}],"site_id":` + lit + `}`
				c := NewClient(upstream.New(upstream.Options{Transport: fzRoundTripper{body: []byte(body)}}), "workspace", base, "p", creds, nil)
				w, err := c.WorkspaceQuotas(context.Background(), "", "")
				if err != nil {
					t.Fatalf("%s form: %v", form.Name, err)
				}
				what := form.Name + " form in " + lit
				if len(w.Resources) != 1 {
					t.Fatalf("%s: resources %+v", what, w.Resources)
				}
				r := w.Resources[0]
				for name, v := range map[string]string{"type": r.Type, "unit": r.Unit, "site_id": w.SiteID} {
					if !strings.Contains(v, "<secret>") {
						t.Errorf("%s: %s %q not redacted", what, name, v)
					}
					testutil.CheckNoSecret(t, what+": "+name, v, body, secrets)
				}
				if len(w.Skipped) != 1 {
					t.Errorf("%s: notes %q", what, w.Skipped)
				}
				for _, note := range w.Skipped {
					testutil.CheckNoSecret(t, what+": note", note, body, secrets)
				}
				c = NewClient(upstream.New(upstream.Options{Transport: fzRoundTripper{body: []byte(body)}}), "cts", base, "p", creds, nil)
				q, err := c.CTSQuotas(context.Background())
				if err != nil || len(q.Resources) != 1 {
					t.Fatalf("%s: cts %+v, %v", what, q, err)
				}
				testutil.CheckNoSecret(t, what+": cts type", q.Resources[0].Type, body, secrets)
			}
		}
	}
}

// A type that holds no secret is kept byte for byte, control characters
// and all; one split by a control character is redacted.
func TestQuotasTypeKeptUnlessSecret(t *testing.T) {
	creds := Credentials{AccessKey: "AK", SecretKey: "skREDACT0123456789abcdef"}
	base, _ := url.Parse("https://quotas.example.com")
	body := `{"resources":[{"type":"Cores\u0001 x","quota":1},{"type":"skREDACT0123\u0001456789abcdef","quota":2}]}`
	c := NewClient(upstream.New(upstream.Options{Transport: fzRoundTripper{body: []byte(body)}}), "cts", base, "p", creds, nil)
	q, err := c.CTSQuotas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if q.Resources[0].Type != "Cores\x01 x" || q.Resources[1].Type != "<secret>" {
		t.Errorf("types %q, %q", q.Resources[0].Type, q.Resources[1].Type)
	}
}

// Field names are matched exactly, whichever decoding path an answer takes:
// Go's struct decoding would take "Type" or "TYPE" for "type".
func TestQuotaFieldNamesAreCaseSensitive(t *testing.T) {
	for _, tc := range []struct {
		body, wantType string
		wantErr        string
	}{
		{`{"resources":[{"Type":"cores","type":"x","quota":1,"used":0}]}`, "x", ""},
		{`{"resources":[{"type":"x","Type":"cores","quota":1,"used":0}]}`, "x", ""},
		{`{"resources":[{"TYPE":"cores","quota":1,"used":0}]}`, "", ""},
		{`{"resources":[{"\u0074ype":"cores","quota":1,"used":0}]}`, "cores", ""},
		{`{"resources":[{"type":"cores","Quota":7,"quota":1,"used":0}]}`, "cores", ""},
		{`{"Resources":[{"type":"cores","quota":1,"used":0}]}`, "", `body has no "resources" field`},
	} {
		_, q, err := decodeQuotaAnswer([]byte(tc.body))
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: error %v, want %q", tc.body, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		switch {
		case tc.wantType == "" && len(q.Resources) != 0:
			t.Errorf("%s: resources %+v, want none (no exact type key)", tc.body, q.Resources)
		case tc.wantType != "" && (len(q.Resources) != 1 || q.Resources[0].Type != tc.wantType || q.Resources[0].Quota.Value != 1):
			t.Errorf("%s: resources %+v, want type %q with quota 1", tc.body, q.Resources, tc.wantType)
		}
	}
}

// The one-pass decoder takes a clean answer, odd values and unknown
// fields included, and gives what the step by step decoder gives; what it
// cannot read exactly as that one does, it leaves to it.
func TestFastQuotaDecodeAgreesOrDeclines(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`{"resources":[{"type":"cores","unit":"count","quota":5,"used":2}]}`, true},
		{` { "resources" : [ { "type" : "cores" , "quota" : 5e1 , "used" : null } ] , "site_id" : 7 } `, true},
		{`{"resources":[{"type":"c\u00f6res","unit":7,"quota":"5","used":-1,"extra":{"a":[1,2.5,"\"",true]}},{"type":""}],"note":"\u00e9"}`, true},
		{`{"resources":[]}`, true},
		{`{"Resources":[]}`, false},
		{`{"resources":[],"resources":[]}`, false},
		{`{"resources":[null]}`, false},
		{`{"resources":null}`, false},
		{`{"resources":[{"type":"a","Type":"b"}]}`, false},
		{`{"resources":[{"type":"a","type":"b"}]}`, false},
		{`{"reso\u0075rces":[]}`, false},
		{`{"resources":[{"\u0074ype":"a"}]}`, false},
		{`{"resources":[{"ſite":1,"type":"a"}]}`, false},
		{`{"resources":[]} x`, false},
		{`{"resources":[{"type":"a","quota":01}]}`, false},
		{`[]`, false},
		// Deeper than encoding/json goes, over the whole text.
		{`{"resources":[],"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, false},
	} {
		fastFields, fastQuotas, ok := decodeQuotaAnswerFast([]byte(tc.body))
		if ok != tc.fast {
			t.Errorf("%.80s: fast path took it: %v, want %v", tc.body, ok, tc.fast)
		}
		if !ok {
			continue
		}
		stepFields, stepQuotas, err := decodeQuotaAnswerSteps([]byte(tc.body))
		if err != nil {
			t.Errorf("%.80s: step by step: %v", tc.body, err)
			continue
		}
		if !reflect.DeepEqual(fastQuotas, stepQuotas) || string(fastFields["site_id"]) != string(stepFields["site_id"]) {
			t.Errorf("%.80s: fast %#v %q, step by step %#v %q", tc.body, fastQuotas, fastFields["site_id"], stepQuotas, stepFields["site_id"])
		}
	}
}
