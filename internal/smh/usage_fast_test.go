package smh

import (
	"reflect"
	"strings"
	"testing"
)

// The one-pass decoder of usage answers takes a clean answer and gives
// what encoding/json gives; a key json.Unmarshal folds onto a field (it
// matches case-insensitively), a repeated key or an escaped id it leaves to
// the step by step decoder, which keeps that behaviour.
func TestFastUsageDecodeAgreesOrDeclines(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`[{"spaceId":"s1","capacity":"10","availableSpace":"5","size":"1"}]`, true},
		{` [ { "spaceId" : "s1" , "capacity" : null , "size" : 7 , "extra" : [ {"spaceId":"no"} ] } , {"spaceId":null} ] `, true},
		{`[]`, true},
		{`[{"SpaceId":"s1"}]`, false},
		{`[{"spaceId":"s1","spaceId":"s2"}]`, false},
		{`[{"spaceId":"s\u0031"}]`, false},
		{`[{"spaceId":7}]`, false},
		{`[null]`, false},
		{`[{"spaceId":"s1"}`, false},
		{`{"spaceId":"s1"}`, false},
		// Deeper than encoding/json goes, over the whole text.
		{`[{"spaceId":"s","x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}]`, false},
	} {
		fast, ok := decodeSpaceAnswersFast([]byte(tc.body))
		if ok != tc.fast {
			t.Errorf("%.80s: fast path took it: %v, want %v", tc.body, ok, tc.fast)
		}
		if !ok {
			continue
		}
		steps, err := decodeSpaceAnswersSteps([]byte(tc.body))
		if err != nil {
			t.Errorf("%.80s: step by step: %v", tc.body, err)
			continue
		}
		if !reflect.DeepEqual(fast, steps) {
			t.Errorf("%.80s: fast %s, step by step %s", tc.body, spaceAnswersText(fast), spaceAnswersText(steps))
		}
	}
}
