package linklayer

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// snapLen is what the filter keeps of an accepted frame: all of it.
const snapLen = 0xffff

// Filter is the classic BPF program a socket is given so that the kernel
// copies up only IPv4 UDP frames to one of ports, plain or 802.1Q-tagged
// (tagged ones are copied so Parse can refuse them with a counted reason,
// rather than losing them unseen). Non-first fragments are dropped in the
// kernel: they carry no UDP header to tell their port by. With no ports
// the program accepts nothing, for a socket that only sends.
func Filter(ports ...uint16) ([]bpf.RawInstruction, error) {
	if len(ports) == 0 {
		return bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	}
	if len(ports) > 8 {
		return nil, fmt.Errorf("linklayer: filter for %d ports: at most 8", len(ports))
	}
	plain := udpToPorts(etherHeaderLen, ports)
	tagged := append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 16, Size: 2}, // the tagged frame's own EtherType
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeIPv4, SkipTrue: uint8(len(udpToPorts(etherHeaderLen+vlanTagLen, ports)) - 2)},
	}, udpToPorts(etherHeaderLen+vlanTagLen, ports)...)
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherTypeIPv4, SkipTrue: 3},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherTypeVLAN, SkipFalse: 1},
		bpf.Jump{Skip: uint32(len(plain)) + 1},
		bpf.RetConstant{Val: 0},
	}
	prog = append(prog, plain...)
	prog = append(prog, tagged...)
	return bpf.Assemble(prog)
}

// udpToPorts tests the IPv4 packet at off: UDP, not a later fragment, to
// one of ports. It ends in its own two returns, drop then accept, so every
// jump in it is local.
func udpToPorts(off uint32, ports []uint16) []bpf.Instruction {
	n := 6 + len(ports) // instructions before the two returns
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: off + 9, Size: 1}, // protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoUDP, SkipTrue: uint8(n - 2)},
		bpf.LoadAbsolute{Off: off + 6, Size: 2}, // flags and fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: uint8(n - 4)},
		bpf.LoadMemShift{Off: off},              // X = IPv4 header length
		bpf.LoadIndirect{Off: off + 2, Size: 2}, // UDP destination port
	}
	for i, p := range ports {
		// The last port test falls through to drop; a match skips to
		// accept.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(p), SkipTrue: uint8(len(ports) - i)})
	}
	return append(prog, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: snapLen})
}
