package huawei

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

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
