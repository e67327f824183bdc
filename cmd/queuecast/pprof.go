package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
)

// startPprof serves the Go profiler on addr (PPROF_ADDR), on its own mux so
// nothing else is exposed. Meant for loopback: profiles reveal internals.
func startPprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			log.Error("pprof server", slog.Any("err", err))
		}
	}()
	log.Info("pprof listening", slog.String("addr", addr))
}
