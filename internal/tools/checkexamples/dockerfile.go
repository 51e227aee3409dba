package main

import (
	"os"
	"regexp"
	"strings"
)

// instr is one Dockerfile instruction, continuation lines joined.
type instr struct {
	cmd, args string
	line      int // where it starts
}

// parseDockerfile returns the instructions of each stage, FROM first.
func parseDockerfile(path string) ([][]instr, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var stages [][]instr
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || line == "" {
			continue // comments and empty lines, also inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instr{strings.ToUpper(cmd), strings.TrimSpace(args), start}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			continue // global ARGs: none used
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	return stages, nil
}

var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expand replaces $NAME and ${NAME} with their values in env.
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		return env[varRef.FindStringSubmatch(m)[1]]
	})
}
