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
		// Any way JSON can write an exact non-negative integer.
		{`-0`, Some(0), ""},
		{`-0.0e5`, Some(0), ""},
		{`0e99999999999999999999`, Some(0), ""},
		{`1e3`, Some(1000), ""},
		{`1E+3`, Some(1000), ""},
		{`1.0`, Some(1), ""},
		{`2.50e1`, Some(25), ""},
		{`100e-2`, Some(1), ""},
		{`1e19`, Some(10000000000000000000), ""},
		{`18446744073709551615`, Some(18446744073709551615), ""},
		{`1.8446744073709551615e19`, Some(18446744073709551615), ""},
		{`1.8446744073709551616e19`, Amount{}, `1.8446744073709551616e19: too large`},
		{`18446744073709551616`, Amount{}, `18446744073709551616: too large`},
		{`1e20`, Amount{}, `1e20: too large`},
		{`1e400`, Amount{}, `1e400: too large`},
		{`1e99999999999999999999`, Amount{}, `1e99999999999999999999: too large`},
		{`1e-400`, Amount{}, `1e-400: not a non-negative integer`},
		{`1e-99999999999999999999`, Amount{}, `1e-99999999999999999999: not a non-negative integer`},
		{`15e-1`, Amount{}, `15e-1: not a non-negative integer`},
		{`-1e3`, Amount{}, `-1e3: negative value`},
		{`-0.5`, Amount{}, `-0.5: negative value`},
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
