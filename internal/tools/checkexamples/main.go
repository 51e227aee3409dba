// Command checkexamples is the part of .ci/check-examples.sh that bash
// cannot do reliably: reading YAML, applying .dockerignore patterns, and
// replaying the Dockerfile's builder stage. It lives in this module so that
// it can use the module's YAML package, and so that gofmt and go vet see it.
//
//	checkexamples targets ALL.yml FILE_SD.yml [OTHER.yml...]
//	checkexamples context ROOT OUT
//	checkexamples replay DOCKERFILE CONTEXT ROOT [NAME=VALUE...]
//
// Each command prints what it checked; on a failure it prints the reason
// and exits 1.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}

// run dispatches to the command named by args[0].
func run(args []string) error {
	want := map[string]int{"targets": 3, "context": 3, "replay": 4}
	if len(args) == 0 {
		return fmt.Errorf("want a command: targets, context or replay")
	}
	n, ok := want[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q", args[0])
	}
	if len(args) < n {
		return fmt.Errorf("%s: want at least %d arguments, got %d", args[0], n-1, len(args)-1)
	}
	switch args[0] {
	case "targets":
		return targets(args[1], args[2], args[3:])
	case "context":
		return buildContext(args[1], args[2])
	default:
		return replay(args[1], args[2], args[3], args[4:])
	}
}
