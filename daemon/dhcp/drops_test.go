package dhcp

import "testing"

func TestDropWatchDelta(t *testing.T) {
	seq := []struct {
		n    uint64
		ok   bool
		want uint64
	}{
		{5, true, 5}, // the first call takes the drops so far (Serve discards it)
		{5, true, 0},
		{12, true, 7},
		{0, false, 0}, // unreadable: nothing
		{15, true, 3},
		{2, true, 0}, // went back: start over from 2
		{4, true, 2},
	}
	i := 0
	w := &dropWatch{read: func() (uint64, bool) { s := seq[i]; return s.n, s.ok }}
	for ; i < len(seq); i++ {
		if got := w.delta(); got != seq[i].want {
			t.Errorf("step %d (count %d, ok %v): delta %d, want %d", i, seq[i].n, seq[i].ok, got, seq[i].want)
		}
	}
}
