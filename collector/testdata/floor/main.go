// Command floor is the floor of a sidecar exporter's probe in Go, the third
// row of BenchmarkCompareJSONExporter: per request, one keep-alive GET of
// the target's status, the body read, and a fixed answer of -size bytes
// with a Content-Length; no decoding, no metrics library. Whatever an
// exporter costs per scrape beyond this is its own work.
//
// /probe?target=URL fetches URL; without target it fetches -target. It
// listens on 127.0.0.1 only and exits after -lifetime.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	target := flag.String("target", "", "status URL fetched when a probe names none")
	size := flag.Int("size", 2500, "bytes of the fixed answer")
	lifetime := flag.Duration("lifetime", 15*time.Minute, "exit after this long")
	flag.Parse()
	if err := serve(*listen, *target, *size, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func serve(addr, target string, size int, lifetime time.Duration) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %s: loopback only", addr)
	}
	answer := bytes.Repeat([]byte("#"), size)
	if size > 0 {
		answer[size-1] = '\n'
	}
	length := strconv.Itoa(size)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	mux := http.NewServeMux()
	mux.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
		url := r.URL.Query().Get("target")
		if url == "" {
			url = target
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, url, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(answer)
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Ready\n") })

	time.AfterFunc(lifetime, func() { os.Exit(0) })
	server := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(os.Stderr, "floor: ", 0)}
	if err := server.ListenAndServe(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
