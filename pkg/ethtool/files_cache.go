package ethtool

import (
	"bytes"
	"maps"
	"slices"
	"sync"
)

// decoded is one state file's content, decoded once: the bytes it came
// from, the state, and the parsed RSS table.
type decoded struct {
	data  []byte
	s     *State
	indir []uint32
}

// The cache of decoded state files, by path. An entry is used only when
// the file's bytes are the same as the ones it was decoded from, so it can
// never answer with stale state; it holds one entry per interface file
// ever read by the process.
var (
	cacheMu sync.Mutex
	cache   = map[string]*decoded{}
)

func decodeCached(path string, data []byte, wrap func(error) error) (*decoded, error) {
	cacheMu.Lock()
	d := cache[path]
	cacheMu.Unlock()
	if d != nil && bytes.Equal(d.data, data) {
		return d, nil
	}
	s, table, err := decodeState(data)
	if err != nil {
		return nil, wrap(err)
	}
	d = &decoded{data: data, s: s, indir: table}
	cacheMu.Lock()
	cache[path] = d
	cacheMu.Unlock()
	return d, nil
}

// The getters' copies: a caller may change what it was given.
func (d *decoded) features() map[string]Feature { return maps.Clone(d.s.Features) }
func (d *decoded) stats() map[string]uint64     { return maps.Clone(d.s.Stats) }
func (d *decoded) table() []uint32              { return slices.Clone(d.indir) }
func (d *decoded) coalesce() Coalesce {
	c := *d.s.Coalesce
	c.Supported = slices.Clone(c.Supported)
	return c
}
