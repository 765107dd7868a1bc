package collector_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoneforge/dispatch_exporter/collector"
	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// A Go daemon runs its poll loop on dispatch.Loop and exports it in process.
func ExampleNewLoopCollector() {
	var loop *dispatch.Loop
	loop, err := dispatch.NewLoop(func(ctx context.Context) error {
		loop.SetPhase("inbox") // a wedge then says where it hangs
		// ... deliver messages ...
		loop.SetPhase("assign")
		// ... assign ready tasks ...
		loop.SetQueue(2, 0) // two ready tasks, no worker: stuck
		return nil
	}, dispatch.Options{Name: "dispatch", Interval: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	c, err := collector.NewLoopCollector(loop)
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	if err := loop.Start(context.Background()); err != nil { // first cycle at once
		panic(err)
	}
	for loop.Stats().Count == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := loop.Stop(context.Background()); err != nil { // waits for the cycle in flight
		panic(err)
	}

	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP dispatch_stuck_queue 1 when ready tasks wait and no worker can take them (ready_unassigned_tasks > 0 and available_workers == 0).
# TYPE dispatch_stuck_queue gauge
dispatch_stuck_queue{loop="dispatch"} 1
# HELP dispatch_poll_stale 1 when the evidence shows a hung loop: a cycle in flight for longer than the stale threshold (running or stopped), or a running loop with no cycle completed within it since its run began; or, while the daemon hangs, the same extrapolated from its last usable status. Never on unreadable or refused status requests.
# TYPE dispatch_poll_stale gauge
dispatch_poll_stale{loop="dispatch"} 0
`), "dispatch_stuck_queue", "dispatch_poll_stale")
	fmt.Println(err)
	_, decision := loop.Assess()
	fmt.Println(decision.State)
	// Output:
	// <nil>
	// stuck
}
