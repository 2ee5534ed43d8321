//go:build !linux

package testnet

import "errors"

// InNamespace needs Linux network namespaces; elsewhere it always fails
// (NewLAN cannot create a LAN there in the first place).
func (l *LAN) InNamespace(ns string, f func() error) error {
	return errors.New("testnet: network namespaces need Linux")
}
