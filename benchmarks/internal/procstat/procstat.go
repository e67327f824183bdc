// Package procstat samples another process's CPU time and resident memory
// from /proc/<pid>/stat and /proc/<pid>/status (Linux only). The load
// generator uses it to charge server CPU per operation. Functions are safe for
// concurrent use.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ClockTicks is the kernel's USER_HZ (CLK_TCK), the unit of utime and stime.
const ClockTicks = 100

// ErrFormat reports a /proc file that does not parse.
var ErrFormat = errors.New("procstat: unexpected /proc format")

// Sample is one reading of a process.
type Sample struct {
	At time.Time
	// CPU is user + system time consumed so far.
	CPU time.Duration
	// RSSKB is VmRSS in KiB; HWMKB is the peak (VmHWM).
	RSSKB, HWMKB int64
	// Threads is the thread count.
	Threads int64
}

// Read samples pid.
func Read(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, ErrFormat
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return s, ErrFormat
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return s, ErrFormat
	}
	s.CPU = time.Duration(ut+st) * time.Second / ClockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range bytes.Split(status, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		var dst *int64
		switch string(k) {
		case "VmRSS":
			dst = &s.RSSKB
		case "VmHWM":
			dst = &s.HWMKB
		case "Threads":
			dst = &s.Threads
		default:
			continue
		}
		fs := bytes.Fields(v)
		if len(fs) > 0 {
			*dst, _ = strconv.ParseInt(string(fs[0]), 10, 64)
		}
	}
	return s, nil
}

// SystemBusy is the CPU time all processors spent outside idle and iowait
// since boot, from the first line of /proc/stat.
func SystemBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return 0, ErrFormat
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: skip idle (4) and iowait (5).
	for i := 1; i < len(f) && i <= 8; i++ {
		if i == 4 || i == 5 {
			continue
		}
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, ErrFormat
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / ClockTicks, nil
}
