package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// QueueStat is one queue of a provider.
type QueueStat struct {
	Provider  string `json:"provider"`
	Role      string `json:"role"` // requests, retry <delay>, parked, parked statuses
	Queue     string `json:"queue"`
	Exists    bool   `json:"exists"`
	Ready     int    `json:"ready"`
	Consumers int    `json:"consumers"`
}

// StateStat is the settlements of a provider in a state.
type StateStat struct {
	Provider     string    `json:"provider"`
	State        string    `json:"state"`
	Count        int       `json:"count"`
	Parked       int       `json:"parked"`
	OldestUpdate time.Time `json:"oldest_update"`
}

// Statistics is what Stats prints.
type Statistics struct {
	Queues      []QueueStat `json:"queues"`
	Settlements []StateStat `json:"settlements"`
}

// Stats prints, per provider, the ready messages and consumers of the
// request, retry and parked queues (a passive declare each), and the
// settlements per state with the oldest last update (from the store). An
// unreachable broker or store (one that does not answer within
// Env.Timeout: the broker, no queue inspected for that long) is reported
// and the other half still printed; the error is returned at the end.
func Stats(ctx context.Context, e Env, asJSON bool) error {
	var res Statistics
	var errs []error
	if err := queueStats(e, &res); err != nil {
		errs = append(errs, err)
	}
	if err := storeStats(ctx, e, &res); err != nil {
		errs = append(errs, err)
	}
	if asJSON {
		if res.Queues == nil {
			res.Queues = []QueueStat{}
		}
		if res.Settlements == nil {
			res.Settlements = []StateStat{}
		}
		enc := json.NewEncoder(e.out())
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	now := e.now()
	w := table(e.out())
	fmt.Fprintln(w, "PROVIDER\tQUEUE\tREADY\tCONSUMERS\tNAME")
	for _, q := range res.Queues {
		if !q.Exists {
			fmt.Fprintf(w, "%s\t%s\t-\t-\t%s (not declared)\n", q.Provider, q.Role, q.Queue)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\n", q.Provider, q.Role, q.Ready, q.Consumers, q.Queue)
	}
	_ = w.Flush()
	fmt.Fprintln(e.out())
	w = table(e.out())
	fmt.Fprintln(w, "PROVIDER\tSTATE\tSETTLEMENTS\tPARKED\tOLDEST UPDATE\tAGE")
	for _, s := range res.Settlements {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", s.Provider, s.State, s.Count, s.Parked, stamp(s.OldestUpdate), age(now.Sub(s.OldestUpdate)))
	}
	_ = w.Flush()
	for _, err := range errs {
		fmt.Fprintln(e.errw(), "error:", err)
	}
	return errors.Join(errs...)
}

func queueStats(e Env, res *Statistics) (err error) {
	conn, err := e.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	wd := e.watch(conn)
	defer func() {
		wd.stop()
		err = wd.explain(err)
	}()
	for _, p := range e.Providers {
		req, err := broker.Inspect(conn, broker.RequestQueue(p))
		if err != nil {
			return err
		}
		wd.kick()
		if !req.Exists {
			// A provider this broker never served: one line, not seven.
			res.Queues = append(res.Queues, QueueStat{Provider: p, Role: "requests", Queue: req.Name})
			continue
		}
		queues := []struct{ role, name string }{{"requests", broker.RequestQueue(p)}}
		for _, d := range e.RetryDelays {
			queues = append(queues, struct{ role, name string }{"retry " + d.String(), broker.RetryQueue(p, d)})
		}
		queues = append(queues, struct{ role, name string }{"parked", broker.ParkedQueue(p)},
			struct{ role, name string }{"parked statuses", broker.ProviderStatusParkedQueue(p)})
		for _, q := range queues {
			s, err := broker.Inspect(conn, q.name)
			if err != nil {
				return err
			}
			wd.kick()
			if !s.Exists && q.role == "parked statuses" {
				continue // a provider without asynchronous statuses
			}
			res.Queues = append(res.Queues, QueueStat{Provider: p, Role: q.role, Queue: q.name, Exists: s.Exists, Ready: s.Messages, Consumers: s.Consumers})
		}
	}
	return nil
}

func storeStats(ctx context.Context, e Env, res *Statistics) error {
	var counts []store.StateCount
	err := e.storeCall(ctx, func(ctx context.Context) error {
		st, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		counts, err = st.Counts(ctx)
		return err
	})
	if err != nil {
		return err
	}
	for _, c := range counts {
		res.Settlements = append(res.Settlements, StateStat{Provider: c.Provider, State: string(c.State), Count: c.Count, Parked: c.Parked, OldestUpdate: c.OldestUpdate})
	}
	return nil
}
