package upstream

import "bytes"

// JSONKind names the kind of JSON value raw starts with ("an object", "an
// array", "a string", "a number", "a boolean", "null", "empty" or "not
// JSON"), for error messages that must describe an answer without
// repeating any of its content.
func JSONKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	default:
		return "not JSON"
	}
}
