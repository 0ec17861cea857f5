package module

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestMemoReadsOncePerKey(t *testing.T) {
	ctx := WithMemo(context.Background())
	if WithMemo(ctx) != ctx {
		t.Fatal("WithMemo replaced the caller's memo")
	}
	n := 0
	read := func() (int, error) { n++; return 42, nil }
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := Memo(ctx, "k", read); v != 42 || err != nil {
				t.Errorf("Memo = %d, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n != 1 {
		t.Fatalf("read ran %d times for one key, want 1", n)
	}
	if _, _ = Memo(ctx, "other", read); n != 2 {
		t.Fatalf("another key did not read: %d reads", n)
	}
}

func TestMemoKeepsErrorsAndNeedsAContext(t *testing.T) {
	boom := errors.New("boom")
	ctx := WithMemo(context.Background())
	n := 0
	read := func() (*int, error) { n++; return nil, boom }
	for i := 0; i < 2; i++ {
		if v, err := Memo(ctx, "k", read); v != nil || !errors.Is(err, boom) {
			t.Fatalf("Memo = %v, %v", v, err)
		}
	}
	if n != 1 {
		t.Fatalf("a failed read ran %d times, want 1 (the plan sees one host)", n)
	}
	// Without a memo every call reads: nothing outlives a command.
	bare := context.Background()
	Memo(bare, "k", read)
	Memo(bare, "k", read)
	if n != 3 {
		t.Fatalf("without a memo read ran %d times, want 3", n)
	}
}
