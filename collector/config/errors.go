package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

// configNodes is a config document's YAML tree, kept to say where an error
// is: yaml.v2, which decodes strictly, gives lines for some errors only.
type configNodes struct {
	root    []*yamlv3.Node // the top-level keys and values
	targets []*yamlv3.Node // the mapping of each item under targets
}

// parseTree reads b's YAML tree, aliases unexpanded; nil when b does not
// parse (the decoder then says why).
func parseTree(b []byte) *yamlv3.Node {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		return nil
	}
	return &doc
}

// nodesOf finds the top-level keys and the targets in a document's tree;
// without a tree (nil) it knows no positions.
func nodesOf(doc *yamlv3.Node) configNodes {
	if doc == nil || len(doc.Content) == 0 {
		return configNodes{}
	}
	root := doc.Content[0]
	if root.Kind != yamlv3.MappingNode {
		return configNodes{}
	}
	c := configNodes{root: root.Content}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "targets" && root.Content[i+1].Kind == yamlv3.SequenceNode {
			c.targets = root.Content[i+1].Content
		}
	}
	return c
}

// lastLine is the last line a node or its children start on.
func lastLine(n *yamlv3.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

// field returns the key and value nodes of key in target i, or nils.
func (c configNodes) field(i int, key string) (k, v *yamlv3.Node) {
	if i >= len(c.targets) || c.targets[i].Kind != yamlv3.MappingNode {
		return nil, nil
	}
	m := c.targets[i].Content
	for j := 0; j+1 < len(m); j += 2 {
		if m[j].Value == key {
			return m[j], m[j+1]
		}
	}
	return nil, nil
}

// name is target i's name as written, or "#N" (1-based) without one.
func (c configNodes) name(i int) string {
	if _, v := c.field(i, "name"); v != nil && v.Kind == yamlv3.ScalarNode && v.Value != "" {
		return v.Value
	}
	return "#" + strconv.Itoa(i+1)
}

// position is "line N: " for target i's field (or the target itself), or
// "" when the tree does not know it.
func (c configNodes) position(i int, field string) string {
	if k, _ := c.field(i, field); k != nil {
		return fmt.Sprintf("line %d: ", k.Line)
	}
	if i < len(c.targets) {
		return fmt.Sprintf("line %d: ", c.targets[i].Line)
	}
	return ""
}

// at finds what is on a line: the target whose item spans it (or -1), and
// the field, of that target or of the document, whose key starts on or
// before it.
func (c configNodes) at(line int) (target int, field string) {
	fields := c.root
	target = -1
	for i, t := range c.targets {
		if t.Line <= line && line <= lastLine(t) {
			target = i
			if t.Kind != yamlv3.MappingNode {
				return target, ""
			}
			fields = t.Content
		}
	}
	for j := 0; j+1 < len(fields); j += 2 {
		if fields[j].Line <= line {
			field = fields[j].Value
		}
	}
	return target, field
}

var (
	// yaml.v2's type errors: "line 3: field timeuot not found in type
	// collector.plain", "line 2: cannot unmarshal !!str `x` into int".
	typeErrLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	typeErrNotFound = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	typeErrWrong    = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `.*`)? into \\S+$")
)

// yamlKind says a YAML tag in words.
func yamlKind(tag string) string {
	switch tag {
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	case "!!timestamp":
		return "a timestamp"
	}
	return tag
}

// explainYAMLError turns a yaml.v2 decoding error into one line that says
// where (line, target, field, found in doc) and what, without Go type
// names.
func explainYAMLError(doc configNodes, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			msgs = append(msgs, doc.explainTypeError(e))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	if strings.HasPrefix(err.Error(), "yaml: ") { // a syntax error, with its line
		return fmt.Errorf("not valid YAML: %w", err)
	}
	// An error of a field's own decoder (a duration, an HTTP client
	// option), which yaml.v2 returns without a position: find the target
	// whose item fails alone.
	for i := range doc.targets {
		for _, key := range []string{"timeout", "stale_threshold"} {
			if k, v := doc.field(i, key); v != nil {
				if _, derr := model.ParseDuration(v.Value); derr != nil || v.Kind != yamlv3.ScalarNode {
					return fmt.Errorf("line %d: target %s: %s: %q is not a duration; want a positive one such as 5s or 2m", k.Line, doc.name(i), key, v.Value)
				}
			}
		}
		item, merr := yamlv3.Marshal(doc.targets[i])
		if merr != nil {
			continue
		}
		var tc TargetConfig
		if derr := yaml.UnmarshalStrict(item, &tc); derr != nil {
			return fmt.Errorf("line %d: target %s: %w", doc.targets[i].Line, doc.name(i), err)
		}
	}
	return err
}

// explainTypeError rewrites one of yaml.v2's type errors.
func (c configNodes) explainTypeError(e string) string {
	m := typeErrLine.FindStringSubmatch(e)
	if m == nil {
		return e
	}
	line, _ := strconv.Atoi(m[1])
	what := m[2]
	if f := typeErrNotFound.FindStringSubmatch(what); f != nil {
		what = "unknown field " + f[1]
	} else if f := typeErrWrong.FindStringSubmatch(what); f != nil {
		what = "wrong type: " + yamlKind(f[1]) + " is not allowed here"
	}
	where := "line " + m[1] + ": "
	t, field := c.at(line)
	if t >= 0 {
		where += "target " + c.name(t) + ": "
	}
	if field != "" && what != "unknown field "+field {
		where += field + ": "
	}
	return where + what
}

// expandedSize is about how many bytes a document's tree amounts to with
// every alias replaced by the node it names (a scalar's value and one byte
// a node), at most limit+1: without aliases it is at most the file's
// length, with them it can be millions of times that (one anchored block
// of a thousand headers, named by a thousand targets, is a million). 0
// without a tree (nil: the file does not parse, and the decoder says why).
func expandedSize(doc *yamlv3.Node, limit int64) int64 {
	if doc == nil {
		return 0
	}
	memo := map[*yamlv3.Node]int64{}
	var size func(n *yamlv3.Node) int64
	size = func(n *yamlv3.Node) int64 {
		if n == nil {
			return 0
		}
		if n.Kind == yamlv3.AliasNode {
			return 1 + size(n.Alias)
		}
		if s, ok := memo[n]; ok {
			return s
		}
		memo[n] = limit + 1 // a node that contains itself is refused
		s := 1 + int64(len(n.Value))
		for _, c := range n.Content {
			if s += size(c); s > limit {
				s = limit + 1
				break
			}
		}
		memo[n] = s
		return s
	}
	return size(doc)
}
