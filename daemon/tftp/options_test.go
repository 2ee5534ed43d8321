package tftp

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name string
		opts []string // name, value, ...
		mtu  int
		size int64
		want params
	}{
		{"no options: RFC 1350", nil, 1468, 100, params{blksize: 512, window: 1}},
		{"iPXE", []string{"blksize", "1432", "tsize", "0"}, 1468, 850528,
			params{blksize: 1432, window: 1, oack: []option{{"blksize", "1432"}, {"tsize", "850528"}}}},
		{"blksize capped to the MTU", []string{"blksize", "8192"}, 1468, 1,
			params{blksize: 1468, window: 1, oack: []option{{"blksize", "1468"}}}},
		{"blksize capped without a known MTU", []string{"blksize", "65464"}, 0, 1,
			params{blksize: 1468, window: 1, oack: []option{{"blksize", "1468"}}}},
		{"blksize on loopback", []string{"blksize", "65464"}, 65504, 1,
			params{blksize: 65464, window: 1, oack: []option{{"blksize", "65464"}}}},
		{"blksize too small or no number: dropped", []string{"blksize", "7", "windowsize", "x"}, 1468, 1,
			params{blksize: 512, window: 1}},
		{"tsize of an unknown size: dropped", []string{"tsize", "0"}, 1468, -1, params{blksize: 512, window: 1}},
		{"timeout", []string{"timeout", "3"}, 1468, 1,
			params{blksize: 512, window: 1, timeout: 3 * time.Second, oack: []option{{"timeout", "3"}}}},
		{"timeout out of range: dropped", []string{"timeout", "0", "timeout", "256"}, 1468, 1, params{blksize: 512, window: 1}},
		{"windowsize", []string{"blksize", "1468", "windowsize", "16"}, 1468, 1,
			params{blksize: 1468, window: 16, oack: []option{{"blksize", "1468"}, {"windowsize", "16"}}}},
		{"windowsize before blksize is clamped by bytes", []string{"windowsize", "64", "blksize", "8192"}, 65504, 1,
			params{blksize: 8192, window: 8, oack: []option{{"windowsize", "8"}, {"blksize", "8192"}}}},
		{"windowsize capped in blocks", []string{"windowsize", "65535"}, 1468, 1,
			params{blksize: 512, window: 64, oack: []option{{"windowsize", "64"}}}},
		{"windowsize 1 is lock-step", []string{"windowsize", "1"}, 1468, 1,
			params{blksize: 512, window: 1, oack: []option{{"windowsize", "1"}}}},
		{"windowsize with the largest blocks is 1", []string{"blksize", "65464", "windowsize", "4"}, 65504, 1,
			params{blksize: 65464, window: 1, oack: []option{{"blksize", "65464"}, {"windowsize", "1"}}}},
		{"unknown options ignored", []string{"multicast", "", "BLKSIZE", "1024"}, 1468, 1,
			params{blksize: 1024, window: 1, oack: []option{{"blksize", "1024"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRequest(rawRRQ("f", tc.opts...))
			if err != nil {
				t.Fatal(err)
			}
			got := negotiate(r, tc.mtu, tc.size)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(params{}, option{})); diff != "" {
				t.Errorf("negotiate (-want +got):\n%s", diff)
			}
			if w := got.window; w*got.blksize > maxWindowBytes && w > 1 {
				t.Errorf("window %d × %d bytes exceeds %d", w, got.blksize, maxWindowBytes)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		p       []byte
		want    request
		wantErr bool
	}{
		{"read", rawRRQ("ipxe.efi", "tsize", "0"), request{name: "ipxe.efi", mode: "octet", opts: map[string]string{"tsize": "0"}, order: []string{"tsize"}}, false},
		{"write", append([]byte{0, 2}, "x\x00NetASCII\x00"...), request{write: true, name: "x", mode: "netascii"}, false},
		{"an option without value is ignored", rawRRQ("a", "blksize"), request{name: "a", mode: "octet"}, false},
		{"no mode", append([]byte{0, 1}, "x\x00"...), request{}, true},
		{"no terminating NUL", append([]byte{0, 1}, "x\x00octet"...), request{}, true},
		{"an ACK", []byte{0, 4, 0, 1}, request{}, true},
		{"one byte", []byte{0}, request{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRequest(tc.p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(request{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		p    []byte
		want reply
		ok   bool
	}{
		{[]byte{0, 4, 0xff, 0xfe}, reply{op: opACK, block: 65534}, true},
		{append([]byte{0, 5, 0, 8}, "User aborted\x00"...), reply{op: opERROR, code: 8, msg: "User aborted"}, true},
		{[]byte{0, 5, 0, 1}, reply{op: opERROR, code: 1}, true},
		{[]byte{0, 3, 0, 1, 'x'}, reply{}, false}, // DATA: a server never takes it
		{[]byte{0, 4, 0}, reply{}, false},
	}
	for _, tc := range tests {
		got, ok := parseReply(tc.p)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseReply(%q) = %+v, %v; want %+v, %v", tc.p, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNetascii(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"a\nb\n", "a\r\nb\r\n"},
		{"a\rb", "a\r\x00b"},
		{"\r\n", "\r\x00\r\n"},
		{strings.Repeat("x\n", 700), strings.Repeat("x\r\n", 700)},
	}
	for _, tc := range tests {
		// Read in small pieces so that pairs split across reads.
		for _, chunk := range []int{1, 2, 3, 512} {
			var out bytes.Buffer
			r := newNetascii(strings.NewReader(tc.in))
			buf := make([]byte, chunk)
			for {
				n, err := r.Read(buf)
				out.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if out.String() != tc.want {
				t.Errorf("netascii(%q) in %d-byte reads = %q, want %q", tc.in, chunk, out.String(), tc.want)
			}
		}
	}
}

// FuzzRequest: whatever arrives on the server port, parsing does not
// panic and the negotiated parameters stay within their limits.
func FuzzRequest(f *testing.F) {
	f.Add(rawRRQ("ipxe.efi", "blksize", "1468", "tsize", "0", "windowsize", "16"))
	f.Add(rawRRQ("x", "blksize", "99999999999999999999", "windowsize", "-1", "timeout", "255"))
	f.Add([]byte{0, 2, 'a', 0, 'b', 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := parseRequest(p)
		if err != nil {
			return
		}
		for _, mtu := range []int{0, 1468, 65504} {
			got := negotiate(r, mtu, 1000)
			if got.blksize < minBlksize || got.blksize > maxBlksize || (mtu > 0 && got.blksize > max(mtu, defaultBlksize)) {
				t.Fatalf("blksize %d (mtu %d) for %q", got.blksize, mtu, p)
			}
			if got.window < 1 || got.window > maxWindow || (got.window > 1 && got.window*got.blksize > maxWindowBytes) {
				t.Fatalf("window %d × %d for %q", got.window, got.blksize, p)
			}
			if got.timeout < 0 || got.timeout > maxTimeoutSecs*time.Second {
				t.Fatalf("timeout %s for %q", got.timeout, p)
			}
		}
	})
}
