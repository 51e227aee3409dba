package upstream

import (
	"encoding/json"
	"testing"
)

func TestParseDecimalString(t *testing.T) {
	cases := []struct {
		raw     string
		want    Amount
		wantErr string
	}{
		{``, Amount{}, ""},
		{`null`, Amount{}, ""},
		{`"0"`, Some(0), ""},
		{`"10000"`, Some(10000), ""},
		{`"9007199254740993"`, Some(9007199254740993), ""},
		{`"-5"`, Amount{}, `"-5": negative value`},
		{`"abc"`, Amount{}, `"abc": not a non-negative integer`},
		{`"1.5"`, Amount{}, `"1.5": not a non-negative integer`},
		{`"99999999999999999999"`, Amount{}, `"99999999999999999999": too large`},
		{`12`, Amount{}, `want a decimal string, got a number 12`},
		{`{}`, Amount{}, `want a decimal string, got an object`},
	}
	for _, tc := range cases {
		got, err := ParseDecimalString(json.RawMessage(tc.raw))
		if got != tc.want || errText(err) != tc.wantErr {
			t.Errorf("ParseDecimalString(%s) = %+v, %q; want %+v, %q", tc.raw, got, errText(err), tc.want, tc.wantErr)
		}
	}
}

func TestParseInteger(t *testing.T) {
	cases := []struct {
		raw     string
		want    Amount
		wantErr string
	}{
		{`null`, Amount{}, ""},
		{`2147483647`, Some(2147483647), ""},
		{`9007199254740993`, Some(9007199254740993), ""},
		{`-1`, Amount{}, `-1: negative value`},
		{`1.5`, Amount{}, `1.5: not a non-negative integer`},
		{`"5"`, Amount{}, `want an integer, got a string "5"`},
		{`true`, Amount{}, `want an integer, got a boolean`},
	}
	for _, tc := range cases {
		got, err := ParseInteger(json.RawMessage(tc.raw))
		if got != tc.want || errText(err) != tc.wantErr {
			t.Errorf("ParseInteger(%s) = %+v, %q; want %+v, %q", tc.raw, got, errText(err), tc.want, tc.wantErr)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
