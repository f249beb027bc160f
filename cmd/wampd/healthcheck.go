package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HealthcheckTimeout bounds a -healthcheck request.
const HealthcheckTimeout = 5 * time.Second

// checkHealthcheckURL reports whether u is an http or https URL with a
// host.
func checkHealthcheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("wampd: -healthcheck %q: want an http:// URL such as http://127.0.0.1:8082/healthz", u)
	}
	return nil
}

// Healthcheck asks m.HealthcheckURL (set by -healthcheck), as a
// container's health check does, and returns nil if it answers 200 OK
// within HealthcheckTimeout, writing the answer to m.Stdout; otherwise
// an error that says what went wrong. main then exits with status 0 or 1,
// what Docker's HEALTHCHECK expects, so that an image needs no curl.
// Proxy settings of the environment are ignored: the check is local.
func (m *Main) Healthcheck(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, HealthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.HealthcheckURL, nil)
	if err != nil {
		return fmt.Errorf("wampd: healthcheck: %w", err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("wampd: healthcheck %s: no answer within %v", m.HealthcheckURL, HealthcheckTimeout)
		}
		return fmt.Errorf("wampd: healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wampd: healthcheck %s: %s: %s", m.HealthcheckURL, resp.Status, text)
	}
	fmt.Fprintln(m.Stdout, text)
	return nil
}
