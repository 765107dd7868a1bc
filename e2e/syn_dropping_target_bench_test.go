//go:build linux

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// synDroppingTarget measures a daemon whose host drops SYNs: the built
// exporter with --target.timeout=1s, 4 clients on /metrics, /probe,
// /-/target/healthy and / for 20 s, then the connection attempts still
// pending to the target and the exporter's goroutines (its pprof goroutine
// profile: /metrics would probe the target itself), when the clients stop
// and 5 s later. The host is a local socket listening with a backlog of 0
// whose one queue slot is filled: the kernel drops further SYNs.
func synDroppingTarget(b *testing.B, bin string) {
	addr, port := synDroppingListener(b)
	p := startHostile(b, bin, 0, "--target.url=http://"+addr+"/api/daemon/status", "--target.timeout=1s")
	base := p.goroutines(b)
	stop := time.Now().Add(20 * time.Second)
	var wg sync.WaitGroup
	for _, path := range []string{"/metrics", "/probe?target=default", "/-/target/healthy", "/"} {
		wg.Go(func() {
			for time.Now().Before(stop) {
				p.get(path, 5*time.Second)
			}
		})
	}
	wg.Wait()
	pending0, g0 := synSent(b, port), p.goroutines(b)
	time.Sleep(5 * time.Second)
	pending5, g5 := synSent(b, port), p.goroutines(b)
	b.Logf("a target dropping SYNs, --target.timeout=1s, 4 clients for 20s: goroutines %d before; when they stop %d, %d pending connection attempts; 5s later %d, %d pending",
		base, g0, pending0, g5, pending5)
	b.ReportMetric(float64(pending0), "pending-dials-at-stop")
	b.ReportMetric(float64(g0-base), "extra-goroutines-at-stop")
}

// goroutines is the exporter's goroutine count, from its pprof profile.
func (p *exporterProc) goroutines(b *testing.B) int {
	b.Helper()
	first, _, _ := strings.Cut(p.body(b, "/debug/pprof/goroutine?debug=1"), "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(first, "goroutine profile: total "))
	require.NoError(b, err, "goroutine profile: %q", first)
	return n
}

// synDroppingListener is a loopback address whose host drops SYNs: a
// socket listening with a backlog of 0, its one queue slot filled.
func synDroppingListener(b *testing.B) (addr string, port int) {
	b.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(b, err)
	b.Cleanup(func() { syscall.Close(fd) })
	require.NoError(b, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(b, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(b, err)
	port = sa.(*syscall.SockaddrInet4).Port
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			require.True(b, errors.As(err, &ne) && ne.Timeout(), "filling the accept queue: %v", err)
			return addr, port
		}
		b.Cleanup(func() { c.Close() })
	}
}

// synSent counts this host's connections to port still sending SYNs
// (state SYN_SENT in /proc/net/tcp).
func synSent(b *testing.B, port int) int {
	b.Helper()
	f, err := os.Open("/proc/net/tcp")
	require.NoError(b, err)
	defer f.Close()
	remote := fmt.Sprintf(":%04X", port)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && strings.HasSuffix(fields[2], remote) && fields[3] == "02" {
			n++
		}
	}
	require.NoError(b, sc.Err())
	return n
}
