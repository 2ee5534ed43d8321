package importer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// metaVars turns a group's metadata into pixie variables (text): strings
// as they are, SSH key lists as pixie's ssh_keys (one key a line, what
// configs see as .SSHKeys), anything else as its JSON text.
func metaVars(meta map[string]any) (map[string]string, []string) {
	if len(meta) == 0 {
		return nil, nil
	}
	vars := map[string]string{}
	var changes []string
	for _, k := range sortedKeys(meta) {
		v := meta[k]
		name := varName(k)
		if _, list := v.([]any); list && sshKeyNames[k] {
			if keys, ok := stringList(v); ok {
				vars["ssh_keys"] = strings.Join(keys, "\n")
				if k != "ssh_keys" {
					changes = append(changes, "metadata "+k+" → variable ssh_keys (.SSHKeys in configs)")
				}
				continue
			}
		}
		if name != k {
			changes = append(changes, fmt.Sprintf("metadata %s → variable %s (variable names are letters, digits and '_')", k, name))
		}
		switch v := v.(type) {
		case string:
			vars[name] = v
		default:
			b, _ := json.Marshal(v)
			vars[name] = string(b)
			if _, scalar := v.(float64); !scalar {
				if _, isBool := v.(bool); !isBool {
					changes = append(changes, "metadata "+k+" is not text: stored as its JSON, "+truncate(string(b), 40))
				}
			}
		}
	}
	return vars, changes
}

func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
