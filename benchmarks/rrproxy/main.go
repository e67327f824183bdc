// Command rrproxy is a plain round-robin HTTP proxy for trying a queuecast
// cluster the way a load balancer without session affinity would front
// it: every request, and every WebSocket upgrade, goes to the next backend
// in turn. It is a development tool (make cluster), not a production load
// balancer.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5000", "address to listen on")
	backends := flag.String("backends", "127.0.0.1:5001,127.0.0.1:5002,127.0.0.1:5003", "comma-separated host:port of the nodes")
	flag.Parse()

	var targets []*url.URL
	for _, b := range strings.Split(*backends, ",") {
		if b = strings.TrimSpace(b); b != "" {
			targets = append(targets, &url.URL{Scheme: "http", Host: b})
		}
	}
	if len(targets) == 0 {
		log.Fatal("rrproxy: no backends")
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
			r.SetXForwarded()
		},
		// Long-polling answers and WebSocket frames go out as they come.
		FlushInterval: -1,
	}
	srv := &http.Server{Addr: *listen, Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("rrproxy: %s -> %s, round robin per request", *listen, *backends)
	log.Fatal(srv.ListenAndServe())
}
