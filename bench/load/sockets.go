package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// conns counts a process's established TCP connections: inbound to the
// exporter's port (scrapers), outbound to the simulated clouds' port
// (upstream keep-alive pool), and any other.
type conns struct {
	inbound, upstream, other int
	ok                       bool // false when not on Linux or /proc is unreadable
}

func (c conns) String() string {
	if !c.ok {
		return "n/a"
	}
	return fmt.Sprintf("%d upstream, %d inbound, %d other", c.upstream, c.inbound, c.other)
}

// netGoroutines is goroutines minus those that connections hold: an idle
// HTTP/1 client connection has a read and a write loop, a server connection
// one goroutine. The size of the exporter's idle upstream pool depends on
// how many polls happened to overlap, not on a leak.
func (c conns) netGoroutines(goroutines float64) float64 {
	return goroutines - float64(2*c.upstream+c.inbound)
}

// tcpConns maps pid's socket file descriptors to /proc/net/tcp{,6} (Linux).
func tcpConns(pid, exporterPort, cloudPort int) conns {
	if runtime.GOOS != "linux" {
		return conns{}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return conns{}
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	c := conns{ok: true}
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "01" || !inodes[fields[9]] {
				continue
			}
			switch {
			case hexPort(fields[1]) == exporterPort:
				c.inbound++
			case hexPort(fields[2]) == cloudPort:
				c.upstream++
			default:
				c.other++
			}
		}
		f.Close()
	}
	return c
}

// hexPort is the port of a /proc/net/tcp address such as 0100007F:2652.
func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	port, err := strconv.ParseInt(addr[i+1:], 16, 32)
	if err != nil {
		return -1
	}
	return int(port)
}

// portOf is the port of host:port or of a URL ending in one.
func portOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		return -1
	}
	return port
}
