package cloud

import (
	"net"
	"net/http"
	"time"
)

// httpClient is the HTTP client of a store: bounded connect (dial, 5 s
// when zero) and response-header (resp, 60 s when zero) waits, enough idle
// connections for parallel transfers.
func httpClient(dial, resp time.Duration) *http.Client {
	if dial <= 0 {
		dial = 5 * time.Second
	}
	if resp <= 0 {
		resp = 60 * time.Second
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: resp,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
	}}
}
