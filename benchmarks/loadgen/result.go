package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Result is one scenario outcome; the generator prints one JSON line each.
type Result struct {
	Server   string `json:"server"`
	Scenario string `json:"scenario"`
	// Label names the load, e.g. "5000 sockets x 200 broadcasts".
	Label string `json:"label"`
	// Status is "ok", "unsupported" (the server lacks the routes),
	// "error" (the scenario could not run; see Note) or "fail" (a test
	// scenario, the soak, ran and found a fault; loadgen exits 1).
	Status  string         `json:"status"`
	Note    string         `json:"note,omitempty"`
	Params  map[string]any `json:"params,omitempty"`
	Metrics []Metric       `json:"metrics"`
}

// Metric is one figure of a Result. Better is "higher", "lower" or "" (no
// ranking: counts that describe the run).
type Metric struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	Better string  `json:"better,omitempty"`
}

func (r *Result) add(name string, v float64, unit, better string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit, Better: better})
}

func (r *Result) higher(name string, v float64, unit string) { r.add(name, v, unit, "higher") }
func (r *Result) lower(name string, v float64, unit string)  { r.add(name, v, unit, "lower") }
func (r *Result) info(name string, v float64, unit string)   { r.add(name, v, unit, "") }

func writeJSONLine(w io.Writer, r *Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// formatValue prints v with about four significant digits.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e15:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func metricName(m Metric) string {
	if m.Unit == "" {
		return m.Name
	}
	return m.Name + " (" + m.Unit + ")"
}

// writeSingleTable prints one server's results as Markdown.
func writeSingleTable(w io.Writer, rs []*Result) {
	fmt.Fprintln(w, "| scenario | load | metric | value |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rs {
		if r.Status != "ok" {
			fmt.Fprintf(w, "| %s | %s | status | %s: %s |\n", r.Scenario, r.Label, r.Status, mdEscape(r.Note))
			continue
		}
		for _, m := range r.Metrics {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Scenario, r.Label, metricName(m), formatValue(m.Value))
		}
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
