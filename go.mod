module github.com/stoneforge/dispatch_exporter

go 1.26.8

require (
	github.com/go-kit/log v0.2.1
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/go-logfmt/logfmt v0.6.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
