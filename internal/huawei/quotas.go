package huawei

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Resource is one quota entry. Type is kept byte for byte: Workspace sends
// both "cores" and "Cores", which are different resources. An amount that
// upstream left out, sent as null or sent unusable is not Valid.
type Resource struct {
	Type  string
	Unit  string
	Quota upstream.Amount
	Used  upstream.Amount
}

// Quotas is a decoded quota answer. Skipped describes, one line each, the
// entries and values that were left out because they were unusable; the
// rest of the answer is still good.
type Quotas struct {
	Resources []Resource
	Skipped   []string
}

// WorkspaceQuotas is the Workspace answer for one site.
type WorkspaceQuotas struct {
	SiteID string
	Quotas
}

// decodeQuotaAnswer reads the {"resources": [...]} object that Workspace and
// CTS share and returns the object's fields for the service-specific ones.
// Only a broken overall shape is an error; a bad single value becomes a
// note in Skipped.
func decodeQuotaAnswer(body []byte) (map[string]json.RawMessage, Quotas, error) {
	if fields, q, ok := decodeQuotaAnswerFast(body); ok {
		return fields, q, nil
	}
	return decodeQuotaAnswerSteps(body)
}

// decodeQuotaAnswerSteps is decodeQuotaAnswer step by step: each part of
// the answer is decoded on its own, so that what is wrong can be named.
func decodeQuotaAnswerSteps(body []byte) (map[string]json.RawMessage, Quotas, error) {
	var q Quotas
	fields, err := decodeObject(body)
	if err != nil {
		return nil, q, fmt.Errorf("body: %w", err)
	}
	raw, ok := fields["resources"]
	if !ok {
		return nil, q, errors.New(`body has no "resources" field`)
	}
	if kind := upstream.JSONKind(raw); kind != "an array" {
		return nil, q, fmt.Errorf(`"resources" is %s, want an array`, kind)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, q, fmt.Errorf(`"resources": %w`, err)
	}
	q.Resources = make([]Resource, 0, len(elems))
	for i, elem := range elems {
		obj, err := decodeObject(elem)
		if err != nil {
			return nil, q, fmt.Errorf("resources[%d]: %w", i, err)
		}
		if r, ok := decodeResource(rawResource{obj["type"], obj["unit"], obj["quota"], obj["used"]}, i, &q.Skipped); ok {
			q.Resources = append(q.Resources, r)
		}
	}
	return fields, q, nil
}

// The keys decodeQuotaAnswerFast reads, of the answer and of a resource.
var (
	answerKeys   = []string{"resources", "site_id"}
	resourceKeys = []string{"type", "unit", "quota", "used"}
)

// decodeQuotaAnswerFast decodes a well-formed answer in one pass; ok is
// false for anything else, which decodeQuotaAnswer then decodes step by
// step to say what is wrong. It reads the same raw values as the step by
// step path, keys matched exactly, and hands them to the same
// decodeResource, so that the two give the same result: a key spelled in
// another case, a repeated key or a resource that is not an object leaves
// the answer to the step by step path.
func decodeQuotaAnswerFast(body []byte) (map[string]json.RawMessage, Quotas, bool) {
	var q Quotas
	var siteID json.RawMessage
	haveResources := false
	c := upstream.NewJSONCursor(body)
	for i := range c.Fields(answerKeys) {
		if i == 1 {
			siteID = c.Raw()
			continue
		}
		haveResources = true
		// Room for as many resources as the body could hold, about (an
		// entry takes some 50 bytes or more), up to a thousand: the list
		// lives only as long as the answer is read.
		q.Resources = make([]Resource, 0, min(len(body)/48+1, 1024))
		for index := range c.Array() {
			raw, ok := rawResourceAt(c)
			if !ok {
				break
			}
			if r, ok := decodeResource(raw, index, &q.Skipped); ok {
				q.Resources = append(q.Resources, r)
			}
		}
	}
	if !c.End() || !haveResources {
		return nil, Quotas{}, false
	}
	fields := map[string]json.RawMessage{}
	if siteID != nil {
		fields["site_id"] = siteID
	}
	return fields, q, true
}

// rawResourceAt reads the resource object at c.
func rawResourceAt(c *upstream.JSONCursor) (rawResource, bool) {
	var raw rawResource
	fields := [...]*json.RawMessage{&raw.Type, &raw.Unit, &raw.Quota, &raw.Used}
	for i := range c.Fields(resourceKeys) {
		*fields[i] = c.Raw()
	}
	return raw, !c.Bad()
}

// rawResource is one quota entry as sent; a field that was not sent is
// nil.
type rawResource struct {
	Type, Unit, Quota, Used json.RawMessage
}

// decodeResource turns one entry into a Resource; ok is false when the
// entry has no usable type and must be dropped.
func decodeResource(raw rawResource, index int, skipped *[]string) (r Resource, ok bool) {
	typ, err := stringValue(raw.Type)
	if err != nil {
		*skipped = append(*skipped, fmt.Sprintf("resources[%d] type: %v; entry skipped", index, err))
		return r, false
	}
	if typ == "" {
		*skipped = append(*skipped, fmt.Sprintf("resources[%d]: empty type; entry skipped", index))
		return r, false
	}
	r.Type = typ
	name := upstream.Quote(typ)
	if r.Unit, err = stringValue(raw.Unit); err != nil {
		*skipped = append(*skipped, fmt.Sprintf("resource %s unit: %v", name, err))
	}
	if r.Quota, err = upstream.ParseInteger(raw.Quota); err != nil {
		*skipped = append(*skipped, fmt.Sprintf("resource %s quota: %v", name, err))
	}
	if r.Used, err = upstream.ParseInteger(raw.Used); err != nil {
		*skipped = append(*skipped, fmt.Sprintf("resource %s used: %v", name, err))
	}
	return r, true
}

// decodeObject requires a JSON object; json.Unmarshal alone would accept
// null as an empty map.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	if kind := upstream.JSONKind(raw); kind != "an object" {
		return nil, fmt.Errorf("is %s, want a JSON object", kind)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return fields, nil
}

// siteIDField reads a Workspace site id, which answers send as a string or,
// as in the official ShowQuotas example, as a JSON number: a number is the
// same id written in decimal, and must be an exact non-negative integer
// (any notation, as for quotas), since a rounded id names another site.
// null or absent is "".
func siteIDField(obj map[string]json.RawMessage, name string) (string, error) {
	raw := obj[name]
	if upstream.JSONKind(raw) != "a number" {
		s, err := stringField(obj, name)
		if err != nil {
			return "", fmt.Errorf("is %s, want a string or a number", upstream.JSONKind(raw))
		}
		return s, nil
	}
	n, err := upstream.ParseInteger(raw)
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(n.Value, 10), nil
}

// stringField reads an optional string; null or absent is "".
func stringField(obj map[string]json.RawMessage, name string) (string, error) {
	return stringValue(obj[name])
}

// stringValue reads an optional string; null or not sent (nil) is "".
func stringValue(raw json.RawMessage) (string, error) {
	if raw == nil || upstream.JSONKind(raw) == "null" {
		return "", nil
	}
	if s, ok := upstream.PlainJSONString(raw); ok {
		return s, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("is %s, want a string", upstream.JSONKind(raw))
	}
	return s, nil
}
