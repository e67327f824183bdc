package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// report reads two JSON-lines result files (first the server under test,
// then the reference) and prints a Markdown comparison. The ratio column is
// how many times better the first server is: first/second for
// higher-is-better metrics, second/first for lower-is-better ones.
func report(w io.Writer, args []string) error {
	if len(args) != 2 {
		return errors.New("usage: loadgen report <queuecast.jsonl> <node.jsonl>")
	}
	a, err := readResults(args[0])
	if err != nil {
		return err
	}
	b, err := readResults(args[1])
	if err != nil {
		return err
	}
	nameA, nameB := "first", "second"
	if len(a) > 0 {
		nameA = a[0].Server
	}
	if len(b) > 0 {
		nameB = b[0].Server
	}
	byScenario := map[string]*Result{}
	for _, r := range b {
		byScenario[r.Scenario] = r
	}
	fmt.Fprintf(w, "| scenario | metric | %s | %s | ratio |\n", nameA, nameB)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	seen := map[string]bool{}
	row := func(ra, rb *Result) {
		scen := scenarioCell(ra, rb)
		if ra.Status != "ok" || rb == nil || rb.Status != "ok" {
			fmt.Fprintf(w, "| %s | status | %s | %s | |\n", scen, statusCell(ra), statusCell(rb))
		}
		var metrics []Metric
		idx := map[string]Metric{}
		if rb != nil {
			for _, m := range rb.Metrics {
				idx[m.Name] = m
			}
		}
		metrics = append(metrics, ra.Metrics...)
		inA := map[string]bool{}
		for _, m := range ra.Metrics {
			inA[m.Name] = true
		}
		if rb != nil {
			for _, m := range rb.Metrics {
				if !inA[m.Name] {
					metrics = append(metrics, Metric{Name: m.Name, Unit: m.Unit, Better: m.Better, Value: -1})
				}
			}
		}
		for _, m := range metrics {
			va := "—"
			if inA[m.Name] {
				va = formatValue(m.Value)
			}
			vb, ratio := "—", ""
			if mb, ok := idx[m.Name]; ok {
				vb = formatValue(mb.Value)
				if inA[m.Name] {
					ratio = ratioCell(m.Value, mb.Value, m.Better)
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", scen, mdEscape(metricName(m)), va, vb, ratio)
		}
	}
	for _, ra := range a {
		seen[ra.Scenario] = true
		row(ra, byScenario[ra.Scenario])
	}
	for _, rb := range b {
		if !seen[rb.Scenario] {
			row(&Result{Scenario: rb.Scenario, Label: rb.Label, Status: "missing"}, rb)
		}
	}
	return nil
}

func scenarioCell(ra, rb *Result) string {
	if rb == nil || rb.Label == ra.Label || rb.Label == "" {
		return mdEscape(fmt.Sprintf("%s: %s", ra.Scenario, ra.Label))
	}
	if ra.Label == "" {
		return mdEscape(fmt.Sprintf("%s: %s", rb.Scenario, rb.Label))
	}
	return mdEscape(fmt.Sprintf("%s: %s / %s", ra.Scenario, ra.Label, rb.Label))
}

func statusCell(r *Result) string {
	if r == nil {
		return "missing"
	}
	if r.Note == "" {
		return r.Status
	}
	return mdEscape(r.Status + ": " + r.Note)
}

func ratioCell(a, b float64, better string) string {
	var x float64
	switch better {
	case "higher":
		if b == 0 {
			return ""
		}
		x = a / b
	case "lower":
		if a == 0 && b == 0 {
			return "="
		}
		if a == 0 {
			return "∞"
		}
		x = b / a
	default:
		return ""
	}
	return fmt.Sprintf("%.2fx", x)
}

func readResults(path string) ([]*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r Result
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, &r)
	}
	return out, sc.Err()
}
