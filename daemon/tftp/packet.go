package tftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
)

// TFTP opcodes (RFC 1350, RFC 2347).
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// Error codes (RFC 1350, RFC 2347).
const (
	codeUndefined    = 0
	codeNotFound     = 1
	codeAccess       = 2
	codeIllegalOp    = 4
	codeUnknownTID   = 5
	codeBadOption    = 8
	maxRequestLength = 512 + 4 // a request fits in one classic TFTP packet
)

// request is a parsed RRQ or WRQ.
type request struct {
	write bool
	name  string
	mode  string            // lower case
	opts  map[string]string // option names lower case, in no order
	order []string          // option names in the order the client sent them
}

var errBadRequest = errors.New("not a TFTP read or write request")

// parseRequest parses a datagram that arrived on the server port.
func parseRequest(p []byte) (request, error) {
	if len(p) < 2 {
		return request{}, errBadRequest
	}
	var r request
	switch binary.BigEndian.Uint16(p) {
	case opRRQ:
	case opWRQ:
		r.write = true
	default:
		return request{}, errBadRequest
	}
	fields, ok := strings0(p[2:])
	if !ok || len(fields) < 2 {
		return request{}, errors.New("request without a terminated file name and mode")
	}
	r.name, r.mode = fields[0], strings.ToLower(fields[1])
	for i := 2; i+1 < len(fields); i += 2 {
		k := strings.ToLower(fields[i])
		if r.opts == nil {
			r.opts = map[string]string{}
		}
		if _, dup := r.opts[k]; !dup {
			r.order = append(r.order, k)
		}
		r.opts[k] = fields[i+1]
	}
	return r, nil
}

// strings0 splits NUL-terminated strings; ok is false when the last one
// has no NUL (a truncated or malformed packet).
func strings0(p []byte) (fields []string, ok bool) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, 0)
		if i < 0 {
			return nil, false
		}
		fields = append(fields, string(p[:i]))
		p = p[i+1:]
	}
	return fields, true
}

// reply is what a client sent back during a transfer.
type reply struct {
	op    uint16
	block uint16 // ACK
	code  uint16 // ERROR
	msg   string // ERROR
}

// parseReply parses a datagram from the client during a transfer.
func parseReply(p []byte) (reply, bool) {
	if len(p) < 4 {
		return reply{}, false
	}
	r := reply{op: binary.BigEndian.Uint16(p)}
	switch r.op {
	case opACK:
		r.block = binary.BigEndian.Uint16(p[2:])
	case opERROR:
		r.code = binary.BigEndian.Uint16(p[2:])
		msg := p[4:]
		if i := bytes.IndexByte(msg, 0); i >= 0 {
			msg = msg[:i]
		}
		r.msg = string(msg)
	default:
		return reply{}, false
	}
	return r, true
}

// putDataHeader writes a DATA header for block into the first 4 bytes of p.
func putDataHeader(p []byte, block uint16) {
	binary.BigEndian.PutUint16(p, opDATA)
	binary.BigEndian.PutUint16(p[2:], block)
}

// errorPacket builds an ERROR packet.
func errorPacket(code uint16, msg string) []byte {
	p := make([]byte, 4, 5+len(msg))
	binary.BigEndian.PutUint16(p, opERROR)
	binary.BigEndian.PutUint16(p[2:], code)
	return append(append(p, msg...), 0)
}

// oackPacket builds an OACK with the options in the given order.
func oackPacket(opts []option) []byte {
	p := []byte{0, opOACK}
	for _, o := range opts {
		p = append(append(p, o.name...), 0)
		p = append(append(p, o.value...), 0)
	}
	return p
}
