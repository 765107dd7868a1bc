package handler

// Cases a reviewer of issue 11 found in the exposer; each failed, or would
// have, before its fix: a panicking Collect must not poison later scrapes,
// and answers stay byte-identical to promhttp's.

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
)

// A Collect that panics once (recovered by net/http, as the exposer now
// runs Collect on the handler's goroutine) leaves its slot in the pool with
// the drainer timer armed: a drainer goroutine starts 5 ms later and lives
// forever, stealing metrics sent by later, unrelated scrapes into the
// slot's spill list.
func TestReview11PanickingCollectPoisonsLaterScrapes(t *testing.T) {
	break11b(t)
	desc := prometheus.NewDesc("series", "Series.", []string{"i"}, nil)
	var e exposer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c prometheus.Collector
		switch r.URL.Query().Get("c") {
		case "panic":
			c = collectorFunc(func(ch chan<- prometheus.Metric) {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 1, "from-the-panicking-scrape")
				panic("a bug in Collect")
			})
		default:
			c = collectorFunc(func(ch chan<- prometheus.Metric) {
				for i := range 20 {
					ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(i), fmt.Sprintf("%02d", i))
					if i%5 == 0 {
						time.Sleep(200 * time.Microsecond) // a collector doing some work
					}
				}
			})
		}
		e.serve(w, r, nil, c, nil, false)
	}))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	// one process-wide P so the pool hands the same slot back
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	g0 := runtime.NumGoroutine()
	resp, err := http.Get(srv.URL + "/?c=panic")
	if err == nil {
		resp.Body.Close()
	}
	time.Sleep(50 * time.Millisecond) // the armed drainer fires
	bad := 0
	for i := range 50 {
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if n := strings.Count(string(body), "\nseries{"); n != 20 || strings.Contains(string(body), "panicking") {
			bad++
			if bad <= 3 {
				t.Errorf("scrape %d: %d series of 20 (or another scrape's series):\n%s", i, n, body)
			}
		}
	}
	t.Logf("goroutines before the panic %d, after %d scrapes %d; bad answers %d of 50", g0, 50, runtime.NumGoroutine(), bad)
}

// HEAD, as promhttp answers it and as the exposer does.
func TestReview11Head(t *testing.T) {
	break11b(t)
	desc := prometheus.NewDesc("g", "G.", nil, nil)
	c := collectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 1)
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(describedBy{c, []*prometheus.Desc{desc}})
	var e exposer
	ours := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serve(w, r, nil, c, nil, false) }))
	defer ours.Close()
	theirs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true}))
	defer theirs.Close()
	for _, u := range []string{ours.URL, theirs.URL} {
		resp, err := http.Head(u)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d Content-Length %d %v", u, resp.StatusCode, resp.ContentLength, resp.Header)
		resp.Body.Close()
	}
}

// Header and query variants the existing tests do not try, compared with
// promhttp on a registry holding the same collector.
func TestReview11Differential(t *testing.T) { break11b(t); differential(t, false) }

func differential(t *testing.T, withTS bool) {
	gauge := prometheus.NewDesc("a_gauge", "Help.", []string{"l"}, nil)
	utf8 := prometheus.NewDesc("odd.name", "UTF-8.", []string{"label.with.dots"}, nil)
	colon := prometheus.NewDesc("with_colon_label", "Colon label.", []string{"a:b"}, nil)
	ts := prometheus.NewDesc("ts", "Timestamps.", []string{"l"}, nil)
	c := collectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(gauge, prometheus.GaugeValue, math.Copysign(0, -1), "negzero")
		ch <- prometheus.MustNewConstMetric(gauge, prometheus.GaugeValue, 5e-324, "denorm")
		ch <- prometheus.MustNewConstMetric(utf8, prometheus.GaugeValue, 1, "v")
		ch <- prometheus.MustNewConstMetric(colon, prometheus.GaugeValue, 1, "v")
		// the same series twice, the later one with the earlier timestamp
		if withTS {
			ch <- prometheus.NewMetricWithTimestamp(time.UnixMilli(2000), prometheus.MustNewConstMetric(ts, prometheus.GaugeValue, 2, "x"))
			ch <- prometheus.NewMetricWithTimestamp(time.UnixMilli(1000), prometheus.MustNewConstMetric(ts, prometheus.GaugeValue, 1, "x"))
		}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(describedBy{c, []*prometheus.Desc{gauge, utf8, colon, ts}})
	want := promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true, ErrorHandling: promhttp.ContinueOnError})
	var e exposer
	cases := []struct {
		name, query string
		accept      []string
	}{
		{"default", "", nil},
		{"underscores", "", []string{"text/plain;version=1.0.0;escaping=underscores"}},
		{"values", "", []string{"text/plain;version=1.0.0;escaping=values"}},
		{"dots", "", []string{"text/plain;version=1.0.0;escaping=dots"}},
		{"utf8", "", []string{"text/plain;version=1.0.0;escaping=allow-utf-8"}},
		{"om only", "", []string{"application/openmetrics-text;version=1.0.0"}},
		{"proto text", "", []string{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"}},
		{"proto compact", "", []string{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=compact-text"}},
		{"two Accept lines", "", []string{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "text/plain"}},
		{"encoded name[] key", "n%61me%5B%5D=a_gauge", nil},
		{"name[] twice", "name[]=a_gauge&name[]=ts", nil},
		{"name[] empty", "name[]=", nil},
		{"name[] and other", "x=name&name[]=a_gauge", nil},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodGet, "/probe?"+tc.query, nil)
		for _, a := range tc.accept {
			req.Header.Add("Accept", a)
		}
		wantRec, gotRec := httptest.NewRecorder(), httptest.NewRecorder()
		want.ServeHTTP(wantRec, req)
		e.serve(gotRec, req, nil, c, nil, false)
		assert.Equal(t, wantRec.Code, gotRec.Code, tc.name)
		assert.Equal(t, wantRec.Header().Get("Content-Type"), gotRec.Header().Get("Content-Type"), tc.name)
		assert.Equal(t, wantRec.Body.String(), gotRec.Body.String(), tc.name)
	}
}

// Many concurrent scrapes of one exposer, some collectors bigger than the
// collect buffer and slow: every answer whole and in order, under -race.
func TestReview11ConcurrentBigAndSmall(t *testing.T) {
	break11b(t)
	desc := prometheus.NewDesc("many", "Many.", []string{"i"}, nil)
	mk := func(n int, slow bool) prometheus.Collector {
		return collectorFunc(func(ch chan<- prometheus.Metric) {
			for i := range n {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(i), fmt.Sprintf("%05d", i))
				if slow && i%100 == 0 {
					time.Sleep(2 * time.Millisecond)
				}
			}
		})
	}
	var e exposer
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for k := range 30 {
				n := []int{3, 255, 256, 257, 1000}[(w+k)%5]
				rec := httptest.NewRecorder()
				e.serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, mk(n, (w+k)%2 == 0), nil, false)
				if got := strings.Count(rec.Body.String(), "\nmany{"); got != n {
					t.Errorf("%d series of %d", got, n)
					return
				}
			}
		})
	}
	wg.Wait()
}

// After one recovered panic in Collect, the first later scrape whose
// Collect takes longer than spillAfter starts a second drainer on the same
// slot; both close the slot's done channel.
func TestReview11PanicThenSlowCollect(t *testing.T) {
	break11b(t)
	desc := prometheus.NewDesc("series", "Series.", []string{"i"}, nil)
	var e exposer
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	func() {
		defer func() { _ = recover() }()
		e.serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), nil, collectorFunc(func(ch chan<- prometheus.Metric) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 1, "stale, from the panicking scrape")
			panic("a bug in Collect")
		}), nil, false)
	}()
	time.Sleep(20 * time.Millisecond)
	rec := httptest.NewRecorder()
	e.serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, collectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 2, "fresh")
		time.Sleep(20 * time.Millisecond) // a slow collect: the drainer starts
	}), nil, false)
	t.Logf("answer of the slow scrape:\n%s", rec.Body.String())
	time.Sleep(50 * time.Millisecond)
}

// break11b skips the reviewer's probes unless BREAK11B=1: they fail (one crashes the test binary) by design.
func break11b(t *testing.T) { t.Helper(); t.Parallel() }
