package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The build context is the files left after .dockerignore, with Docker's
// pattern rules (github.com/moby/patternmatcher): patterns are cleaned, '*'
// and '?' stop at '/', '**' spans directories, a pattern also matches the
// parent directories of a path, and the last matching line decides ('!'
// lets a path back in).

// pattern is one compiled .dockerignore line.
type pattern struct {
	re        *regexp.Regexp
	dirs      int // path elements of the pattern, to match a parent directory
	exclusion bool
}

// compile turns a .dockerignore line into a pattern.
func compile(p string) (pattern, error) {
	var pt pattern
	if strings.HasPrefix(p, "!") {
		pt.exclusion = true
		p = strings.TrimSpace(p[1:])
	}
	p = strings.TrimPrefix(filepath.Clean(p), "/")
	pt.dirs = len(strings.Split(p, "/"))
	re, err := regexp.Compile("^" + patternRegexp(p) + "$")
	pt.re = re
	return pt, err
}

// patternRegexp translates a cleaned pattern into a regular expression.
func patternRegexp(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
			}
			if i+1 == len(p) {
				b.WriteString(".*")
			} else {
				b.WriteString("(.*/)?")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(string(p[i])))
		case strings.ContainsRune(".+()|{}$^", rune(c)):
			b.WriteString(`\` + string(c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// excluded tells whether the patterns leave path out of the context.
func excluded(patterns []pattern, path string) bool {
	parents := strings.Split(filepath.Dir(path), "/")
	ex := false
	for _, p := range patterns {
		match := p.re.MatchString(path)
		if !match && filepath.Dir(path) != "." && p.dirs <= len(parents) {
			match = p.re.MatchString(strings.Join(parents[:p.dirs], "/"))
		}
		if match {
			ex = !p.exclusion
		}
	}
	return ex
}

// readDockerignore compiles root's .dockerignore; without one, nothing is
// left out.
func readDockerignore(root string) ([]pattern, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	var patterns []pattern
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := compile(line)
		if err != nil {
			return nil, fmt.Errorf(".dockerignore: %q: %v", line, err)
		}
		patterns = append(patterns, p)
	}
	return patterns, nil
}

// buildContext copies the files of root that .dockerignore lets in to out.
func buildContext(root, out string) error {
	patterns, err := readDockerignore(root)
	if err != nil {
		return err
	}
	n := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if excluded(patterns, rel) {
			return nil
		}
		info, _ := d.Info()
		if err := copyFile(path, filepath.Join(out, rel), info.Mode()); err != nil {
			return err
		}
		n++
		return nil
	})
	fmt.Printf("build context: %d files\n", n)
	return err
}

// copyFile copies src to dst with mode's permissions, making dst's
// directory.
func copyFile(src, dst string, mode fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode.Perm())
}
