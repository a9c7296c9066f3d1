package stripeemu

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// params is a request's form parameters decoded into a tree, the way Stripe reads
// bracketed keys: "a[b][0]=x" becomes {"a": {"b": ["x"]}}. Leaves are strings,
// inner nodes are params (objects) or []any (arrays).
type params map[string]any

// maxParamDepth bounds key nesting so hostile input cannot build deep trees.
const maxParamDepth = 8

// parseParams decodes url.Values with bracketed keys into a params tree.
func parseParams(values url.Values) (params, error) {
	root := params{}
	// Sorted keys make "[]" appends and error messages deterministic.
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		segs, err := splitKey(k)
		if err != nil {
			return nil, err
		}
		for _, v := range values[k] {
			if err := setParam(root, segs, v, k); err != nil {
				return nil, err
			}
		}
	}
	// The top level is always an object, even if every key is a number.
	delete(root, appendKey)
	for k, v := range root {
		conv, err := arrayify(v, k)
		if err != nil {
			return nil, err
		}
		root[k] = conv
	}
	return root, nil
}

// splitKey turns "a[b][]" into ["a", "b", ""].
func splitKey(key string) ([]string, error) {
	open := strings.IndexByte(key, '[')
	if open < 0 {
		if key == "" || strings.ContainsRune(key, ']') {
			return nil, fmt.Errorf("invalid parameter name %q", key)
		}
		return []string{key}, nil
	}
	if open == 0 {
		return nil, fmt.Errorf("invalid parameter name %q", key)
	}
	segs := []string{key[:open]}
	rest := key[open:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("invalid parameter name %q", key)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, fmt.Errorf("invalid parameter name %q: unbalanced brackets", key)
		}
		seg := rest[1:end]
		if strings.ContainsRune(seg, '[') {
			return nil, fmt.Errorf("invalid parameter name %q", key)
		}
		segs = append(segs, seg)
		rest = rest[end+1:]
	}
	if len(segs) > maxParamDepth {
		return nil, fmt.Errorf("invalid parameter name %q: nested too deeply", key)
	}
	return segs, nil
}

// appendKey marks a node that holds "[]" appends; its children are keyed by the
// append position so that arrayify can turn them into a slice.
const appendKey = "\x00append"

func setParam(node params, segs []string, value, fullKey string) error {
	for i, seg := range segs {
		if seg == "" {
			if i == 0 {
				return fmt.Errorf("invalid parameter name %q", fullKey)
			}
			// "[]" appends: give the element the next free numeric index.
			n, _ := node[appendKey].(int)
			node[appendKey] = n + 1
			seg = "\x01" + strconv.Itoa(n)
		}
		last := i == len(segs)-1
		if last {
			if _, exists := node[seg]; exists {
				if _, isStr := node[seg].(string); !isStr {
					return fmt.Errorf("invalid parameter %q: conflicts with another parameter", fullKey)
				}
			}
			node[seg] = value
			return nil
		}
		child, exists := node[seg]
		if !exists {
			next := params{}
			node[seg] = next
			node = next
			continue
		}
		next, ok := child.(params)
		if !ok {
			return fmt.Errorf("invalid parameter %q: conflicts with another parameter", fullKey)
		}
		node = next
	}
	return nil
}

// arrayify converts objects whose keys are all indexes ("0", "1", or "[]"
// appends) into slices ordered by index, recursively.
func arrayify(v any, path string) (any, error) {
	p, ok := v.(params)
	if !ok {
		return v, nil
	}
	delete(p, appendKey)
	if len(p) == 0 {
		return p, nil
	}
	type idx struct {
		n      int
		append bool
		key    string
	}
	var idxs []idx
	allIndex := true
	for k := range p {
		if strings.HasPrefix(k, "\x01") {
			n, _ := strconv.Atoi(k[1:])
			idxs = append(idxs, idx{n: n, append: true, key: k})
			continue
		}
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 || n > 1000 {
			allIndex = false
			continue
		}
		idxs = append(idxs, idx{n: n, key: k})
	}
	for k, child := range p {
		conv, err := arrayify(child, path+"["+k+"]")
		if err != nil {
			return nil, err
		}
		p[k] = conv
	}
	if !allIndex {
		for _, i := range idxs {
			if i.append {
				return nil, fmt.Errorf("invalid array parameter %s: mixes array and object keys", path)
			}
		}
		return p, nil
	}
	// Explicit indexes come first in order, then "[]" appends in arrival order.
	sort.Slice(idxs, func(a, b int) bool {
		if idxs[a].append != idxs[b].append {
			return !idxs[a].append
		}
		return idxs[a].n < idxs[b].n
	})
	out := make([]any, 0, len(idxs))
	for _, i := range idxs {
		out = append(out, p[i.key])
	}
	return out, nil
}

// str returns the string at key; ok is false when absent. A non-string value
// (an object or array where a scalar belongs) is reported as a bad param.
func (p params) str(key string) (string, bool, error) {
	v, exists := p[key]
	if !exists {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, invalidParam(key, "Invalid string: expected a string for "+key+".")
	}
	return s, true, nil
}

// obj returns the nested object at key, or nil when absent. An empty string is
// Stripe's way of unsetting a hash, reported as an empty, non-nil params.
func (p params) obj(key string) (params, error) {
	v, exists := p[key]
	if !exists {
		return nil, nil
	}
	switch t := v.(type) {
	case params:
		return t, nil
	case string:
		if t == "" {
			return params{}, nil
		}
	}
	return nil, invalidParam(key, "Invalid object: expected a hash for "+key+".")
}

// list returns the array at key (an object keyed by indexes has already been
// converted); a single string is accepted as a one-element array.
func (p params) list(key string) ([]any, error) {
	v, exists := p[key]
	if !exists {
		return nil, nil
	}
	switch t := v.(type) {
	case []any:
		return t, nil
	case string:
		if t == "" {
			return []any{}, nil
		}
		return []any{t}, nil
	}
	return nil, invalidParam(key, "Invalid array: expected an array for "+key+".")
}

// strList returns an array of strings at key.
func (p params) strList(key string) ([]string, error) {
	l, err := p.list(key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, ok := v.(string)
		if !ok {
			return nil, invalidParam(key, "Invalid array: expected strings for "+key+".")
		}
		out = append(out, s)
	}
	return out, nil
}

// integer parses an integer parameter.
func (p params) integer(key string) (int64, bool, error) {
	s, ok, err := p.str(key)
	if err != nil || !ok {
		return 0, false, err
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, false, invalidParam(key, fmt.Sprintf("Invalid integer: %s", s))
	}
	return n, true, nil
}

// boolean parses a boolean parameter as Stripe does ("true"/"false").
func (p params) boolean(key string) (bool, bool, error) {
	s, ok, err := p.str(key)
	if err != nil || !ok {
		return false, false, err
	}
	switch s {
	case "true":
		return true, true, nil
	case "false", "":
		return false, true, nil
	}
	return false, false, invalidParam(key, fmt.Sprintf("Invalid boolean: %s", s))
}

// metadata reads a metadata hash: string values only, Stripe's size limits.
func (p params) metadata(key string) (map[string]string, bool, error) {
	m, err := p.obj(key)
	if err != nil || m == nil {
		return nil, false, err
	}
	if len(m) > 50 {
		return nil, false, invalidParam(key, "You can have at most 50 metadata keys.")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, false, invalidParam(key+"["+k+"]", "Invalid metadata value: expected a string.")
		}
		if len(k) > 40 {
			return nil, false, invalidParam(key+"["+k+"]", "Metadata keys can have up to 40 characters.")
		}
		if len(s) > 500 {
			return nil, false, invalidParam(key+"["+k+"]", "Metadata values can have up to 500 characters.")
		}
		out[k] = s
	}
	return out, true, nil
}

// canonical renders the tree as a stable string, used to compare the params of
// two requests sent with one idempotency key.
func (p params) canonical() string {
	var b strings.Builder
	writeCanonical(&b, p)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch t := v.(type) {
	case string:
		b.WriteString(strconv.Quote(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case params:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanonical(b, t[k])
		}
		b.WriteByte('}')
	}
}
