// Command generate writes dashboards/dispatch.json from the dashboard code
// (go generate ./dashboards).
package main

import (
	"fmt"
	"os"

	"github.com/stoneforge/dispatch_exporter/dashboards"
)

func main() {
	b, err := dashboards.JSON()
	if err == nil {
		err = os.WriteFile("dispatch.json", b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate dashboard:", err)
		os.Exit(1)
	}
}
