package persistence

import (
	"context"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// demoServices and demoCounters are what SeedDemo inserts.
var (
	demoServices = []NewService{
		{Name: "Finance", Prefix: "F"},
		{Name: "Registrar", Prefix: "R"},
		{Name: "Admissions", Prefix: "A"},
	}
	demoCounters = []struct {
		name     string
		services []string
	}{
		{"Counter 1", []string{"Finance", "Registrar"}},
		{"Counter 2", []string{"Registrar", "Admissions"}},
		{"Counter 3", []string{"Finance", "Registrar", "Admissions"}},
	}
)

func (s *sqlStore) SeedDemo(ctx context.Context) (bool, error) {
	const op = "seed demo"
	seeded := false
	err := s.tx(ctx, op, func(tx *sqlx.Tx) error {
		var n int
		if err := s.get(ctx, tx, &n, `SELECT COUNT(*) FROM services`); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		at := NewTimestamp(time.Now())
		ids := make(map[string]string, len(demoServices))
		for _, in := range demoServices {
			svc, err := s.insertService(ctx, tx, in, at)
			if err != nil {
				return err
			}
			ids[svc.Name] = svc.ID
		}
		for _, c := range demoCounters {
			in := NewCounter{Name: c.name, Status: CounterOpen}
			for _, name := range c.services {
				in.ServiceIDs = append(in.ServiceIDs, ids[name])
			}
			if _, err := s.insertCounter(ctx, tx, in, at); err != nil {
				return err
			}
		}
		seeded = true
		return nil
	})
	if errors.Is(err, ErrDuplicate) {
		// Another node seeded between our count and our inserts.
		return false, nil
	}
	return seeded, err
}
