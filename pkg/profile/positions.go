package profile

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Position is where a part of a profile was written.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Position) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// positions records where each spec section, each key of a section (a
// sysctl name, a cpu field), each item of a list (nics[2], and
// hugepages/pages[0] one level down) was written, after extends was
// merged: a problem found against the host points at the file and line
// that asked for it.
func positions(files map[*yaml.Node]string, root *yaml.Node) map[string]Position {
	out := map[string]Position{}
	at := func(key string, n *yaml.Node) {
		out[key] = Position{File: files[n], Line: n.Line, Col: n.Column}
	}
	spec := mappingValue(root, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(spec.Content); i += 2 {
		name, val := spec.Content[i].Value, spec.Content[i+1]
		at(name, spec.Content[i])
		switch val.Kind {
		case yaml.SequenceNode:
			for j, item := range val.Content {
				at(fmt.Sprintf("%s[%d]", name, j), item)
				below(at, fmt.Sprintf("%s[%d]", name, j), item, 3)
				// A list item's scalar values (sriov[0]/numVFs): a
				// problem with one value points at that value.
				if item.Kind == yaml.MappingNode {
					for k := 0; k+1 < len(item.Content); k += 2 {
						if v := item.Content[k+1]; v.Kind == yaml.ScalarNode {
							at(fmt.Sprintf("%s[%d]/%s", name, j, item.Content[k].Value), v)
						}
					}
				}
			}
		case yaml.MappingNode:
			for k := 0; k+1 < len(val.Content); k += 2 {
				key, v := val.Content[k].Value, val.Content[k+1]
				at(name+"/"+key, val.Content[k])
				if v.Kind == yaml.SequenceNode {
					for j, item := range v.Content {
						at(fmt.Sprintf("%s/%s[%d]", name, key, j), item)
					}
				}
			}
		}
	}
	return out
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Where returns where the profile asked for what a module reports on:
// object is a key of the section (a sysctl name as written), a list item
// ("nics[2]", "pages[0]"), or empty for the section itself.
func (p *Profile) Where(section, object string) (Position, bool) {
	if p == nil || p.Positions == nil {
		return Position{}, false
	}
	var try []string
	if object != "" {
		try = append(try, section+"/"+object)
		if strings.HasPrefix(object, section+"[") {
			try = append(try, object)
		}
		if i := strings.IndexAny(object, " :"); i > 0 {
			try = append(try, section+"/"+object[:i], object[:i])
		}
	}
	try = append(try, section)
	for _, k := range try {
		if pos, ok := p.Positions[k]; ok && pos.File != "" {
			return pos, true
		}
	}
	return Position{}, false
}

// below records the keys and list items under a list item
// ("nics[0]/ntuple[1]", "nics[0]/rss/flowHash/udp4"), depth levels down.
func below(at func(string, *yaml.Node), prefix string, n *yaml.Node, depth int) {
	if depth == 0 || n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for k := 0; k+1 < len(n.Content); k += 2 {
			key := prefix + "/" + n.Content[k].Value
			at(key, n.Content[k])
			below(at, key, n.Content[k+1], depth-1)
		}
	case yaml.SequenceNode:
		for j, item := range n.Content {
			key := fmt.Sprintf("%s[%d]", prefix, j)
			at(key, item)
			below(at, key, item, depth-1)
		}
	}
}
