package main

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionFlags(t *testing.T) {
	cases := []struct {
		max     int64
		age     string
		want    time.Duration
		wantErr string
	}{
		{max: 0, age: "", want: 0},
		{max: 5000, age: "30d", want: 30 * 24 * time.Hour},
		{max: 0, age: "72h", want: 72 * time.Hour},
		{max: -1, age: "", wantErr: "--events-max -1: give how many boot events to keep"},
		{max: 0, age: "forever", wantErr: `--events-max-age "forever": give an age like 30d or 720h`},
		{max: 0, age: "0d", wantErr: `--events-max-age "0d"`},
	}
	for _, tc := range cases {
		got, err := retentionFlags(tc.max, tc.age)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("retentionFlags(%d, %q) error = %v, want %q", tc.max, tc.age, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("retentionFlags(%d, %q) = %v, %v; want %v", tc.max, tc.age, got, err, tc.want)
		}
	}
}
