package queue

import (
	"math"
	"time"

	"github.com/queuecast/queuecast/persistence"
)

// classSteps is a priority class's head start, in ageing steps.
func classSteps(p persistence.Priority) float64 {
	switch p {
	case persistence.PriorityVIP:
		return 2
	case persistence.PriorityPriority:
		return 1
	}
	return 0
}

// score is a waiting ticket's effective rank at now, in seconds: its wait
// plus one ageing step per priority class above normal. A higher class goes
// first, but a normal ticket that has waited ageing longer than a priority
// one overtakes it, so nobody is starved. Computed at call time, never
// stored. Across the services of one counter the head with the largest
// score (wait x weight, every service weighing 1) is called.
func score(t *persistence.Ticket, now time.Time, ageing time.Duration) float64 {
	wait := now.Sub(t.QueuedAt.Time).Seconds()
	if wait < 0 {
		wait = 0
	}
	return wait + classSteps(t.Priority)*ageing.Seconds()
}

// before orders two waiting tickets: higher score, then queued earlier, then
// lower number.
func before(a, b *persistence.Ticket, now time.Time, ageing time.Duration) bool {
	sa, sb := score(a, now, ageing), score(b, now, ageing)
	if sa != sb {
		return sa > sb
	}
	if !a.QueuedAt.Equal(b.QueuedAt.Time) {
		return a.QueuedAt.Before(b.QueuedAt.Time)
	}
	return a.Number < b.Number
}

// estimate is ceil((ahead x mean + remaining) / max(open, 1)) seconds, or
// nil without an open counter.
func estimate(ahead int, mean, remaining float64, open int) *int {
	if open == 0 {
		return nil
	}
	v := int(math.Ceil((float64(ahead)*mean + remaining) / float64(open)))
	return &v
}

// ewmaAlpha weighs the newest completed service time in the mean.
const ewmaAlpha = 0.2
