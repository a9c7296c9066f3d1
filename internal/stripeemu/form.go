package stripeemu

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
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
	for _, k := range slices.Sorted(maps.Keys(values)) {
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

// reader reads one request's parameters. Each getter records the first
// error on the reader instead of returning it, and records what it read, so
// an endpoint reads everything, checks err() once, and gets Stripe's
// parameter_unknown for anything it never read. Nested readers (obj, items)
// share the state of the request's reader.
type reader struct {
	p    params
	name string // "" at the top, else e.g. "card" or "line_items[0]"
	st   *readState
}

type readState struct {
	first error
	// read maps a full parameter name to true when it was read whole, false
	// when it was opened as an object whose keys are checked one by one.
	read map[string]bool
}

func newReader(p params) *reader {
	return &reader{p: p, st: &readState{read: map[string]bool{}}}
}

// full is the parameter name of key as Stripe spells it in errors.
func (r *reader) full(key string) string {
	if r.name == "" {
		return key
	}
	return r.name + "[" + key + "]"
}

// fail records err unless an earlier error is already recorded.
func (r *reader) fail(err error) {
	if r.st.first == nil {
		r.st.first = err
	}
}

// check records err when bad holds.
func (r *reader) check(bad bool, err error) {
	if bad {
		r.fail(err)
	}
}

// has reports whether key was sent.
func (r *reader) has(key string) bool {
	_, ok := r.p[key]
	return ok
}

func (r *reader) take(key string, whole bool) (any, bool) {
	r.st.read[r.full(key)] = whole
	v, ok := r.p[key]
	return v, ok
}

// str returns the string at key, "" when absent.
func (r *reader) str(key string) string {
	v, ok := r.take(key, true)
	s, isStr := v.(string)
	r.check(ok && !isStr, invalidParam(r.full(key), "Invalid string: expected a string for "+r.full(key)+"."))
	return s
}

// need records Stripe's parameter_missing for each key absent or empty.
func (r *reader) need(keys ...string) {
	for _, k := range keys {
		if v, ok := r.p[k]; !ok || v == "" {
			r.fail(missingParam(r.full(k)))
		}
	}
}

// oneOf returns the string at key, which must be "" or one of allowed.
func (r *reader) oneOf(key string, allowed ...string) string {
	s := r.str(key)
	r.check(s != "" && !slices.Contains(allowed, s), invalidParam(r.full(key),
		fmt.Sprintf("Invalid %s: must be one of %s", r.full(key), strings.Join(allowed, ", "))))
	return s
}

// int returns the integer at key, 0 when absent.
func (r *reader) int(key string) int64 {
	s := r.str(key)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	r.check(err != nil, invalidParam(r.full(key), "Invalid integer: "+s))
	return n
}

// bool returns the boolean at key as Stripe reads it ("true"/"false").
func (r *reader) bool(key string) bool {
	s := r.oneOf(key, "true", "false")
	return s == "true"
}

// obj returns the nested object at key, empty when absent; an empty string
// is Stripe's way of unsetting a hash, read as an empty object.
func (r *reader) obj(key string) *reader {
	v, ok := r.take(key, false)
	sub, isObj := v.(params)
	r.check(ok && !isObj && v != "", invalidParam(r.full(key), "Invalid object: expected a hash for "+r.full(key)+"."))
	if sub == nil {
		sub = params{}
	}
	return &reader{p: sub, name: r.full(key), st: r.st}
}

// list returns the array at key; a single string is a one-element array.
func (r *reader) list(key string, whole bool) []any {
	v, ok := r.take(key, whole)
	switch t := v.(type) {
	case []any:
		return t
	case string:
		if t != "" {
			return []any{t}
		}
		return nil
	}
	r.check(ok, invalidParam(r.full(key), "Invalid array: expected an array for "+r.full(key)+"."))
	return nil
}

// strs returns the array of strings at key.
func (r *reader) strs(key string) []string {
	var out []string
	for _, v := range r.list(key, true) {
		s, ok := v.(string)
		r.check(!ok, invalidParam(r.full(key), "Invalid array: expected strings for "+r.full(key)+"."))
		out = append(out, s)
	}
	return out
}

// items returns the objects of the array at key, e.g. line_items.
func (r *reader) items(key string) []*reader {
	var out []*reader
	for i, v := range r.list(key, false) {
		name := fmt.Sprintf("%s[%d]", r.full(key), i)
		sub, ok := v.(params)
		r.check(!ok, invalidParam(name, "Invalid array: expected hashes for "+r.full(key)+"."))
		out = append(out, &reader{p: sub, name: name, st: r.st})
	}
	return out
}

// metadata reads a metadata hash: string values only, Stripe's size limits.
// It returns nil when absent, an empty map when cleared (metadata="").
func (r *reader) metadata(key string) map[string]string {
	v, ok := r.take(key, true)
	if !ok {
		return nil
	}
	m, isObj := v.(params)
	r.check(!isObj && v != "", invalidParam(r.full(key), "Invalid object: expected a hash for "+r.full(key)+"."))
	r.check(len(m) > 50, invalidParam(r.full(key), "You can have at most 50 metadata keys."))
	out := make(map[string]string, len(m))
	for k, v := range m {
		name := r.full(key) + "[" + k + "]"
		s, isStr := v.(string)
		r.check(!isStr, invalidParam(name, "Invalid metadata value: expected a string."))
		r.check(len(k) > 40, invalidParam(name, "Metadata keys can have up to 40 characters."))
		r.check(len(s) > 500, invalidParam(name, "Metadata values can have up to 500 characters."))
		out[k] = s
	}
	return out
}

// err returns the first error recorded, else Stripe's parameter_unknown
// for the first parameter the endpoint never read. Call it once every
// parameter the endpoint takes has been read.
func (r *reader) err() error {
	if r.st.first != nil {
		return r.st.first
	}
	if name := r.st.unknown("", r.p); name != "" {
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "parameter_unknown",
			param: name, message: "Received unknown parameter: " + name}
	}
	return nil
}

// unknown returns the first parameter under prefix that was not read.
func (st *readState) unknown(prefix string, p params) string {
	for _, k := range slices.Sorted(maps.Keys(p)) {
		name := k
		if prefix != "" {
			name = prefix + "[" + k + "]"
		}
		whole, read := st.read[name]
		if !read {
			return name
		}
		if whole {
			continue
		}
		switch v := p[k].(type) {
		case params:
			if u := st.unknown(name, v); u != "" {
				return u
			}
		case []any:
			for i, e := range v {
				if sub, ok := e.(params); ok {
					if u := st.unknown(fmt.Sprintf("%s[%d]", name, i), sub); u != "" {
						return u
					}
				}
			}
		}
	}
	return ""
}

// canonical renders the tree as a stable string, used to compare the params of
// two requests sent with one idempotency key: fmt sorts map keys, and %q
// quotes every string, so no two trees render alike.
func (p params) canonical() string {
	return fmt.Sprintf("%q", map[string]any(p))
}
