package control

import (
	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

// The api types mirror the store's so clients need not import the daemon;
// these functions are the only place the two meet.

func apiProfile(p store.Profile) api.Profile {
	return api.Profile{
		Name: p.Name, Description: p.Description, OS: p.OS,
		Kernel: p.Kernel, Initrds: p.Initrds, Args: p.Args, Ignition: p.Ignition,
		PhoneHome: p.PhoneHome, IgnitionSpec: p.IgnitionSpec, Vars: p.Vars,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// storeProfile drops the timestamps: the store sets them.
func storeProfile(p api.Profile) store.Profile {
	return store.Profile{
		Name: p.Name, Description: p.Description, OS: p.OS,
		Kernel: p.Kernel, Initrds: p.Initrds, Args: p.Args, Ignition: p.Ignition,
		PhoneHome: p.PhoneHome, IgnitionSpec: p.IgnitionSpec, Vars: p.Vars,
	}
}

func apiMachine(m store.Machine) api.Machine {
	return api.Machine{
		MAC: m.MAC, Profile: m.Profile, Hostname: m.Hostname, Vars: m.Vars, Ignition: m.Ignition,
		Loader: m.Loader, LoaderStep: m.LoaderStep, LoaderReason: m.LoaderReason, LoaderStepAt: m.LoaderStepAt,
		IP: m.IP, Gateway: m.Gateway, DNS: m.DNS,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

func storeMachine(m api.Machine) store.Machine {
	return store.Machine{MAC: m.MAC, Profile: m.Profile, Hostname: m.Hostname, Vars: m.Vars, Ignition: m.Ignition,
		Loader: m.Loader, LoaderStep: m.LoaderStep, IP: m.IP, Gateway: m.Gateway, DNS: m.DNS}
}

func apiEvent(e events.Event) api.Event {
	return api.Event{
		ID: e.ID, Time: e.Time, MAC: e.MAC, IP: e.IP, Arch: e.Arch,
		Stage: string(e.Stage), Detail: e.Detail, Instance: e.Instance,
	}
}

func apiBoot(b store.BootSummary) api.BootSummary {
	return api.BootSummary{
		MAC: b.MAC, Last: apiEvent(b.Last), FirstSeen: b.FirstSeen,
		Known: b.Known, Profile: b.Profile, Hostname: b.Hostname,
		Loader: b.Loader, LoaderStep: b.LoaderStep, Address: b.Address,
	}
}

// mapSlice converts a list, never returning nil so JSON says [] not null.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func apiLease(l store.Lease) api.Lease {
	return api.Lease{IP: l.IP, MAC: l.MAC, State: l.State, Expires: l.Expires, Hostname: l.Hostname}
}
