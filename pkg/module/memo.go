package module

import (
	"context"
	"sync"
)

// A memo holds what one plan reads once and several modules use: the CPU
// topology, the parsed /proc/interrupts, the NIC plan that irqbalance's
// ban list is made from. On a 256-CPU host with 16 multi-queue NICs each
// of those is thousands of files; reading them once per module made a
// check several times slower than the reads themselves.
//
// A memo lives in a context: Engine.Plan starts one unless its caller did
// (check starts one for the plan and the diagnostics it runs next). It
// belongs to one command's reads, never to a write: a value read before a
// change is stale after it, so apply's read-backs never go through it.
// Values are shared: callers must not modify them.
type memo struct {
	mu   sync.Mutex
	vals map[string]*memoEntry
}

type memoEntry struct {
	once sync.Once
	v    any
	err  error
}

type memoKey struct{}

// WithMemo returns ctx with a memo, ctx itself when it has one already.
func WithMemo(ctx context.Context) context.Context {
	if _, ok := ctx.Value(memoKey{}).(*memo); ok {
		return ctx
	}
	return context.WithValue(ctx, memoKey{}, &memo{vals: map[string]*memoEntry{}})
}

// Memo returns what read returns, calling it once per key for the memo in
// ctx (every time when ctx has none). Concurrent callers of one key wait
// for the first.
func Memo[T any](ctx context.Context, key string, read func() (T, error)) (T, error) {
	m, _ := ctx.Value(memoKey{}).(*memo)
	if m == nil {
		return read()
	}
	m.mu.Lock()
	e := m.vals[key]
	if e == nil {
		e = &memoEntry{}
		m.vals[key] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.v, e.err = read() })
	v, _ := e.v.(T)
	return v, e.err
}
