package source

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// ReadAlongside makes src, an evaluation's PrefetchReads, read extra in
// the same round trip as the history of def and q (source.Histories), and
// answer QueryHistory of def, extra's query and bounds from it: an
// evaluation that knows, before its first read, another history it will
// need (the evidence of open episodes, narrowed to their segments) makes
// one round trip for both. It reports whether src is such a prefetch
// whose history of def and q is not read yet.
func ReadAlongside(src Source, def measure.Definition, q Query, extra HistoryRead) bool {
	p, ok := src.(*historyPrefetch)
	if !ok || len(extra.Bounds) < 2 {
		return false
	}
	if _, ok := p.src.(HistoriesSource); !ok {
		return false
	}
	key, ok := keyOf(def, q)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buckets[key] != nil {
		return false
	}
	if p.alongside == nil {
		p.alongside = map[historyKey]HistoryRead{}
	}
	p.alongside[key] = extra
	return true
}

// keyOf is the key of def and q's buckets; false when q cannot be encoded.
func keyOf(def measure.Definition, q Query) (historyKey, bool) {
	encoded, err := json.Marshal(q)
	if err != nil {
		return historyKey{}, false
	}
	return historyKey{definition: def.Hash(), query: string(encoded)}, true
}

// readKey names a history read alongside another by its definition,
// query and bounds.
func readKey(def measure.Definition, q Query, bounds []time.Time) (string, bool) {
	key, ok := keyOf(def, q)
	if !ok {
		return "", false
	}
	var b strings.Builder
	b.WriteString(key.definition + "\x00" + key.query)
	for _, t := range bounds {
		b.WriteString("\x00" + strconv.FormatInt(t.UnixNano(), 10))
	}
	return b.String(), true
}

// fetch reads the history of q on the grid, with the history to read
// alongside it if there is one, whose answer it keeps in p.extra.
func (p *historyPrefetch) fetch(ctx context.Context, def measure.Definition, key historyKey, q Query) ([]*Result, error) {
	extra, ok := p.alongside[key]
	if !ok {
		return p.src.QueryHistory(ctx, def, q, p.bounds)
	}
	delete(p.alongside, key)
	got, err := p.src.(HistoriesSource).QueryHistories(ctx, def, []HistoryRead{{Query: q, Bounds: p.bounds}, extra})
	if err != nil || len(got) != 2 {
		return p.src.QueryHistory(ctx, def, q, p.bounds)
	}
	if k, ok := readKey(def, extra.Query, extra.Bounds); ok && len(got[1]) == len(extra.Bounds)-1 {
		if p.extra == nil {
			p.extra = map[string][]*Result{}
		}
		p.extra[k] = got[1]
	}
	return got[0], nil
}
