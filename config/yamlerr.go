package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The decoder's messages name Go types ("field foo not found in type
// config.rawTarget") and quote the start of offending values, which may be
// secrets. These patterns let describeDecodeErrors reword them in the
// file's own terms, with the target or credential they occur in.
var (
	reUnknownKey = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	reKeyTwice   = regexp.MustCompile(`^line (\d+): field (.*) already set in type (\S+)$`)
	reMapKeyDup  = regexp.MustCompile(`^line (\d+): mapping key (".*") already defined at line (\d+)$`)
	reWrongType  = regexp.MustCompile("(?s)^line (\\d+): cannot unmarshal (\\S+)(?: `.*`)? into (.+)$")
	// reQuotedValue matches how the decoder quotes a value: " `abc`".
	reQuotedValue = regexp.MustCompile("(?s) ?`.*`")
)

// knownKeys lists each section's keys, for "did you mean" hints.
var knownKeys = map[string][]string{
	"config.rawConfig":     yamlKeys(rawConfig{}),
	"config.rawGlobal":     yamlKeys(rawGlobal{}),
	"config.rawCredential": yamlKeys(rawCredential{}),
	"config.rawTarget":     yamlKeys(rawTarget{}),
}

func yamlKeys(v any) []string {
	return typeKeys(reflect.TypeOf(v))
}

func typeKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")
		if tag[0] == "" && slices.Contains(tag[1:], "inline") {
			keys = append(keys, typeKeys(t.Field(i).Type)...)
			continue
		}
		keys = append(keys, tag[0])
	}
	return keys
}

// describeDecodeErrors rewrites the decoder's type errors into messages a
// user can act on. It never passes a value from the file through.
func describeDecodeErrors(data []byte, msgs []string) []string {
	var root yaml.Node
	// Decoding already parsed data, so this cannot fail; an empty tree only
	// costs the location in the messages.
	_ = yaml.Unmarshal(data, &root)
	entries := flatten(&root)

	out := make([]string, 0, len(msgs))
	for _, msg := range msgs {
		out = append(out, describeDecodeError(entries, msg))
	}
	return out
}

func describeDecodeError(entries []entry, msg string) string {
	if m := reUnknownKey.FindStringSubmatch(msg); m != nil {
		line, key, typ := atoi(m[1]), m[2], m[3]
		hint := ""
		if s := suggest(key, knownKeys[typ]); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		if typ == "config.rawConfig" {
			if hint == "" {
				hint = " (valid: global, credentials, targets)"
			}
			return fmt.Sprintf("line %d: unknown key %q at the top level%s", line, key, hint)
		}
		return fmt.Sprintf("line %d: %s: unknown key %q%s", line, keyContainer(entries, line, key, typ), key, hint)
	}
	if m := reKeyTwice.FindStringSubmatch(msg); m != nil {
		line, key, typ := atoi(m[1]), m[2], m[3]
		return fmt.Sprintf("line %d: %s: key %q is set more than once", line, keyContainer(entries, line, key, typ), key)
	}
	if m := reMapKeyDup.FindStringSubmatch(msg); m != nil {
		key, _ := strconv.Unquote(m[2])
		line := atoi(m[1])
		return fmt.Sprintf("line %d: %s: key %q is set more than once (first at line %s)", line, keyContainer(entries, line, key, ""), key, m[3])
	}
	if m := reWrongType.FindStringSubmatch(msg); m != nil {
		line, tag, typ := atoi(m[1]), m[2], m[3]
		if typ == "config.rawConfig" {
			return fmt.Sprintf("line %d: the file must be a mapping with the keys global, credentials and targets, not %s", line, tagDesc(tag))
		}
		where := "value"
		if e := findValue(entries, line, tag); e != nil {
			where = e.where()
		}
		return fmt.Sprintf("line %d: %s: expected %s, got %s", line, where, typeDesc(typ), tagDesc(tag))
	}
	// Unknown shapes still must not leak a quoted value.
	return reQuotedValue.ReplaceAllString(msg, "")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// entry is one key/value pair or list item of the document, with the
// human-readable path of what contains it.
type entry struct {
	parent []string
	key    *yaml.Node // nil for list items
	label  string     // this entry's own path element
	value  *yaml.Node
}

func (e *entry) where() string {
	return strings.Join(append(append([]string(nil), e.parent...), e.label), ": ")
}

func flatten(root *yaml.Node) []entry {
	var out []entry
	var walk func(n *yaml.Node, path []string, top bool, section string)
	walk = func(n *yaml.Node, path []string, top bool, section string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, true, "")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				out = append(out, entry{parent: path, key: k, label: k.Value, value: v})
				child, sec := append(append([]string(nil), path...), k.Value), ""
				if top && (k.Value == "credentials" || k.Value == "targets") {
					// Items get their own label instead of "targets: #n".
					child, sec = nil, k.Value
				}
				walk(v, child, false, sec)
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				label := fmt.Sprintf("entry #%d", i+1)
				if section != "" {
					label = itemLabel(strings.TrimSuffix(section, "s"), i, nameOf(v))
				}
				out = append(out, entry{parent: path, label: label, value: v})
				walk(v, append(append([]string(nil), path...), label), false, "")
			}
		}
	}
	walk(root, nil, false, "")
	return out
}

// nameOf returns the name key of a credential or target node, if any.
func nameOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// keyContainer names the section holding key at line, falling back to the
// section the Go type stands for.
func keyContainer(entries []entry, line int, key, typ string) string {
	for i := range entries {
		e := &entries[i]
		if e.key != nil && e.key.Line == line && e.key.Value == key {
			if len(e.parent) == 0 {
				return "top level"
			}
			return strings.Join(e.parent, ": ")
		}
	}
	switch typ {
	case "config.rawGlobal":
		return "global"
	case "config.rawCredential":
		return "credentials"
	case "config.rawTarget":
		return "targets"
	}
	return "top level"
}

func findValue(entries []entry, line int, tag string) *entry {
	var onLine *entry
	for i := range entries {
		e := &entries[i]
		if e.value.Line != line {
			continue
		}
		if e.value.ShortTag() == tag {
			return e
		}
		if onLine == nil {
			onLine = e
		}
	}
	return onLine
}

func typeDesc(t string) string {
	switch t {
	case "string":
		return "a string"
	case "[]string":
		return "a list of strings"
	case "[]config.rawCredential":
		return "a list of credentials"
	case "[]config.rawTarget":
		return "a list of targets"
	case "config.rawGlobal", "config.rawCredential", "config.rawTarget":
		return "a mapping of keys to values"
	case "duration":
		return "a duration such as 10s"
	}
	return strings.TrimPrefix(t, "config.")
}

func tagDesc(tag string) string {
	switch tag {
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!timestamp":
		return "a timestamp"
	case "!!binary":
		return "binary data"
	}
	// Any other tag is the user's text, such as a secret that starts
	// with "!".
	return "a value with an unknown tag"
}

// suggest returns the known key closest to key when it is close enough to
// be a typo.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
