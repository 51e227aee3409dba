package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// replay runs the builder stage of dockerfile outside Docker, with ctx as
// the build context and root standing for the image's /, then checks that
// the runtime stage can run what it copies and that the binary's --version
// shows every build ARG given as NAME=VALUE.
func replay(dockerfile, ctx, root string, buildArgs []string) error {
	stages, err := parseDockerfile(dockerfile)
	if err != nil {
		return err
	}
	given := map[string]string{} // --build-arg NAME=VALUE
	for _, kv := range buildArgs {
		k, v, _ := strings.Cut(kv, "=")
		given[k] = v
	}
	if len(stages) < 2 {
		return fmt.Errorf("want a multi-stage build (builder, runtime), found %d stage(s)", len(stages))
	}
	b := &builder{root: root, ctx: ctx, cwd: root, given: given, env: map[string]string{}, osEnv: os.Environ()}
	for _, in := range stages[0][1:] {
		if err := b.step(in); err != nil {
			return err
		}
	}
	entrypoint, bin, err := checkRuntime(stages[len(stages)-1][1:], root)
	if err != nil {
		return err
	}
	return checkVersion(entrypoint, bin, given, b.env)
}

// builder is the state of the replayed builder stage.
type builder struct {
	root, ctx string
	cwd       string            // WORKDIR, under root
	given     map[string]string // build ARGs given
	env       map[string]string // ARG and ENV values so far
	osEnv     []string
}

// where names an instruction in messages.
func where(in instr) string { return fmt.Sprintf("Dockerfile:%d %s", in.line, in.cmd) }

// step replays one instruction of the builder stage.
func (b *builder) step(in instr) error {
	switch in.cmd {
	case "ARG", "ENV":
		b.setVars(in)
		return nil
	case "WORKDIR":
		b.cwd = filepath.Join(b.root, expand(in.args, b.env))
		if err := os.MkdirAll(b.cwd, 0o755); err != nil {
			return err
		}
	case "COPY", "ADD":
		if err := b.copy(in); err != nil {
			return err
		}
	case "RUN":
		return b.run(in)
	default:
		fmt.Printf("%s (not replayed)\n", where(in))
		return nil
	}
	fmt.Printf("%s %s\n", where(in), in.args)
	return nil
}

// setVars records ARG and ENV values; a given build ARG overrides an ARG's
// default.
func (b *builder) setVars(in instr) {
	for _, kv := range strings.Fields(in.args) {
		k, v, _ := strings.Cut(kv, "=")
		b.env[k] = strings.Trim(expand(v, b.env), `"`)
		if g, ok := b.given[k]; ok && in.cmd == "ARG" {
			b.env[k] = g
		}
	}
}

// copy replays COPY or ADD from the build context.
func (b *builder) copy(in instr) error {
	f := strings.Fields(in.args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		f = f[1:]
	}
	if len(f) < 2 {
		return fmt.Errorf("%s: want sources and a destination", where(in))
	}
	last := f[len(f)-1]
	dest := filepath.Join(b.cwd, last)
	if strings.HasPrefix(last, "/") {
		dest = filepath.Join(b.root, last)
	}
	for _, src := range f[:len(f)-1] {
		matches, _ := filepath.Glob(filepath.Join(b.ctx, src))
		if len(matches) == 0 {
			return fmt.Errorf("%s: %q is not in the build context (missing, or left out by .dockerignore)", where(in), src)
		}
		for _, m := range matches {
			if err := copyInto(m, dest); err != nil {
				return err
			}
		}
	}
	return nil
}

// absoluteOutput finds "-o /path", whose path is kept under the replay root.
var absoluteOutput = regexp.MustCompile(`(-o\s+)/`)

// run replays RUN with the ARG and ENV values in its environment.
func (b *builder) run(in instr) error {
	script := absoluteOutput.ReplaceAllString(in.args, "${1}"+b.root+"/")
	c := exec.Command("sh", "-c", script)
	c.Dir = b.cwd
	c.Env = append([]string{}, b.osEnv...)
	for k, v := range b.env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.Stdout, c.Stderr = os.Stdout, os.Stdout
	fmt.Printf("%s %s\n", where(in), in.args)
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s failed: %v", where(in), err)
	}
	return nil
}

// copyInto copies the file or directory src into the directory dest; a
// directory source copies its contents.
func copyInto(src, dest string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return copyFile(src, filepath.Join(dest, filepath.Base(src)), st.Mode())
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dest, rel), 0o755)
		}
		info, _ := d.Info()
		return copyFile(path, filepath.Join(dest, rel), info.Mode())
	})
}

// checkRuntime checks the runtime stage: distroless has no shell, so no RUN
// or shell-form commands; its COPY --from=builder sources must have been
// built; the ENTRYPOINT must be one of the copied files. It returns the
// ENTRYPOINT and the built binary it names.
func checkRuntime(runtime []instr, root string) (entrypoint []string, bin string, err error) {
	copied := map[string]string{}
	for _, in := range runtime {
		switch in.cmd {
		case "RUN":
			return nil, "", fmt.Errorf("%s: the runtime image has no shell", where(in))
		case "HEALTHCHECK":
			if !strings.Contains(in.args, "[") {
				return nil, "", fmt.Errorf("%s: shell form needs a shell, which the runtime image lacks", where(in))
			}
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(in.args), &v); err != nil {
				return nil, "", fmt.Errorf("%s: not exec (JSON) form, which the shell-less runtime image needs", where(in))
			}
			if in.cmd == "ENTRYPOINT" {
				entrypoint = v
			}
		case "COPY":
			if err := checkCopied(in, root, copied); err != nil {
				return nil, "", err
			}
		}
	}
	if len(entrypoint) == 0 {
		return nil, "", fmt.Errorf("runtime stage: no ENTRYPOINT")
	}
	bin, ok := copied[entrypoint[0]]
	if !ok {
		return nil, "", fmt.Errorf("ENTRYPOINT %s is not a file the runtime stage copies", entrypoint[0])
	}
	return entrypoint, bin, nil
}

// checkCopied checks that a runtime COPY --from=builder copies an
// executable the builder stage made, and notes it in copied (destination
// to built file).
func checkCopied(in instr, root string, copied map[string]string) error {
	f := strings.Fields(in.args)
	if len(f) != 3 || !strings.HasPrefix(f[0], "--from=") {
		return fmt.Errorf("%s: expected COPY --from=builder SRC DEST", where(in))
	}
	built := filepath.Join(root, f[1])
	st, err := os.Stat(built)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: %s was not produced as an executable by the builder stage", where(in), f[1])
	}
	copied[f[2]] = built
	return nil
}

// checkVersion runs the built binary with --version and checks that it
// shows every given build ARG, each of which the builder stage declares.
func checkVersion(entrypoint []string, bin string, given, env map[string]string) error {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	fmt.Printf("%s --version (as built by the builder stage):\n%s", entrypoint[0], out)
	if err != nil {
		return fmt.Errorf("%s --version: %v", entrypoint[0], err)
	}
	for arg, v := range given {
		if _, declared := env[arg]; !declared {
			return fmt.Errorf("the builder stage has no ARG %s", arg)
		}
		if !strings.Contains(string(out), v) {
			return fmt.Errorf("--version does not show build ARG %s=%s: check the -X flags", arg, v)
		}
	}
	return nil
}
