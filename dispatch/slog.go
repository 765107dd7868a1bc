package dispatch

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// SlogLogger lets a daemon on log/slog pass its logger as Options.Logger:
// each line goes to l at its go-kit level (info when it has none), its
// "msg" as the message and every other pair as an attribute.
//
//	dispatch.Options{Name: "dispatch", Interval: 5 * time.Second, Logger: dispatch.SlogLogger(slog.Default())}
func SlogLogger(l *slog.Logger) log.Logger {
	return log.LoggerFunc(func(kv ...any) error {
		lvl, msg := slog.LevelInfo, ""
		attrs := make([]any, 0, len(kv))
		for i := 0; i < len(kv); i += 2 {
			k, v := kv[i], any(log.ErrMissingValue)
			if i+1 < len(kv) {
				v = kv[i+1]
			}
			switch lv, isLevel := v.(level.Value); {
			case k == level.Key() && isLevel:
				lvl = slogLevel(lv)
			case k == "msg":
				msg = fmt.Sprint(v)
			default:
				attrs = append(attrs, fmt.Sprint(k), v)
			}
		}
		l.Log(context.Background(), lvl, msg, attrs...)
		return nil
	})
}

func slogLevel(v level.Value) slog.Level {
	switch v {
	case level.DebugValue():
		return slog.LevelDebug
	case level.WarnValue():
		return slog.LevelWarn
	case level.ErrorValue():
		return slog.LevelError
	}
	return slog.LevelInfo
}
