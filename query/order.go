package query

import (
	"cmp"
	"fmt"
	"math"
	"strings"
)

// Order is one order_by clause: sort by Entity.Key, descending if Desc.
// Key is canonical, as in Clause.
type Order struct {
	Entity Entity
	Key    string
	Desc   bool
}

// String returns the clause in canonical form, e.g. "metrics.acc DESC" or
// "attributes.start_time ASC". ParseOrderBy parses it back to o.
func (o Order) String() string {
	var b strings.Builder
	writeIdent(&b, o.Entity, o.Key)
	if o.Desc {
		b.WriteString(" DESC")
	} else {
		b.WriteString(" ASC")
	}
	return b.String()
}

// ParseOrderBy parses one order_by clause for kind: an identifier as in a
// filter, optionally followed by ASC or DESC (any case; ASC by default), e.g.
// "metrics.acc DESC", "start_time", "params.`a b` asc". Errors are of type
// *Error.
func ParseOrderBy(kind Kind, s string) (Order, error) {
	p, err := newParser(kind, s)
	if err != nil {
		return Order{}, err
	}
	p.skipSpace()
	if p.eof() {
		return Order{}, p.errAt(p.pos, "Invalid order_by clause '%s': it is empty", s)
	}
	id, err := p.ident(true)
	if err != nil {
		return Order{}, err
	}
	o := Order{Entity: id.entity, Key: id.key}
	p.skipSpace()
	if p.eof() {
		return o, nil
	}
	at := p.pos
	dir := keyword(p.word())
	switch dir {
	case "ASC":
	case "DESC":
		o.Desc = true
	default:
		p.pos = at
		return Order{}, p.errAt(at, "Invalid ordering key in order_by clause '%s': expected ASC or DESC, found %s", s, p.describe(at))
	}
	p.skipSpace()
	if !p.eof() {
		return Order{}, p.errAt(p.pos, "Invalid order_by clause '%s': unexpected %s after %s", s, p.describe(p.pos), dir)
	}
	return o, nil
}

// ParseOrderByList parses the order_by list of a search request. Naming the
// same field twice is an error, as in MLflow.
func ParseOrderByList(kind Kind, list []string) ([]Order, error) {
	out := make([]Order, 0, len(list))
	for _, s := range list {
		o, err := ParseOrderBy(kind, s)
		if err != nil {
			return nil, err
		}
		for _, prev := range out {
			if prev.Entity == o.Entity && prev.Key == o.Key {
				return nil, &Error{Input: s, Pos: -1, Token: s,
					Msg: fmt.Sprintf("`order_by` contains duplicate fields: [%s]", strings.Join(list, ", "))}
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// DefaultOrder returns the order MLflow uses when a search has no order_by:
//
//	Runs              start_time DESC, run_id ASC
//	Experiments       creation_time DESC, experiment_id ASC
//	RegisteredModels  name ASC
//	ModelVersions     last_updated_timestamp DESC, name ASC, version_number DESC
//	LoggedModels      creation_timestamp DESC, model_id ASC
func DefaultOrder(kind Kind) []Order {
	switch kind {
	case Runs:
		return DefaultRunOrder()
	case Experiments:
		return []Order{attrOrder("creation_time", true), attrOrder("experiment_id", false)}
	case RegisteredModels:
		return []Order{attrOrder("name", false)}
	case ModelVersions:
		return []Order{attrOrder("last_updated_timestamp", true), attrOrder("name", false), attrOrder("version_number", true)}
	case LoggedModels:
		return []Order{attrOrder("creation_timestamp", true), attrOrder("model_id", false)}
	}
	return nil
}

// DefaultRunOrder returns the default order of runs: start_time DESC, then
// run_id ASC to break ties.
func DefaultRunOrder() []Order {
	return []Order{attrOrder("start_time", true), attrOrder("run_id", false)}
}

// WithTieBreak returns orders followed by the kind's tie-breakers that it
// does not already name, so that the result is a total order and pagination
// is stable; with no orders it returns DefaultOrder(kind). The tie-breakers
// are those of MLflow's stores:
//
//	Runs              start_time DESC, run_id ASC
//	Experiments       experiment_id ASC
//	RegisteredModels  name ASC
//	ModelVersions     name ASC, version_number DESC
//	LoggedModels      creation_timestamp DESC, model_id ASC
//
// orders is not modified.
func WithTieBreak(kind Kind, orders []Order) []Order {
	if len(orders) == 0 {
		return DefaultOrder(kind)
	}
	var ties []Order
	switch kind {
	case Runs:
		ties = DefaultRunOrder()
	case Experiments:
		ties = []Order{attrOrder("experiment_id", false)}
	case RegisteredModels:
		ties = []Order{attrOrder("name", false)}
	case ModelVersions:
		ties = []Order{attrOrder("name", false), attrOrder("version_number", true)}
	case LoggedModels:
		ties = []Order{attrOrder("creation_timestamp", true), attrOrder("model_id", false)}
	}
	out := append([]Order(nil), orders...)
	for _, t := range ties {
		named := false
		for _, o := range orders {
			named = named || (o.Entity == Attribute && o.Key == t.Key)
		}
		if !named {
			out = append(out, t)
		}
	}
	return out
}

func attrOrder(key string, desc bool) Order {
	return Order{Entity: Attribute, Key: key, Desc: desc}
}

// Compare compares a and b by each order in turn and returns -1 if a sorts
// first, +1 if b does, and 0 if no order tells them apart. It is meant for
// slices.SortStableFunc.
//
// Within one order, rows that have the value sort by it (numbers
// numerically, strings bytewise, DESC reversing); then rows whose metric is
// NaN; then rows that lack the key. NaN and missing values sort after all
// values in both directions, as in MLflow's SQL store, so "metrics.acc DESC"
// lists the best runs first and runs without the metric last. Dataset orders
// are ignored.
func Compare(a, b Row, orders []Order) int {
	for _, o := range orders {
		ka, kb := sortKeyOf(a, o), sortKeyOf(b, o)
		if ka.class != kb.class {
			return cmp.Compare(ka.class, kb.class)
		}
		if ka.class != classValue {
			continue
		}
		var c int
		if ka.isNum {
			c = cmp.Compare(ka.num, kb.num)
		} else {
			c = strings.Compare(ka.str, kb.str)
		}
		if o.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// Sort classes, in the order they sort regardless of direction.
const (
	classValue = iota
	classNaN
	classMissing
)

type sortKey struct {
	class int
	isNum bool
	num   float64
	str   string
}

func numKey(v float64) sortKey {
	if math.IsNaN(v) {
		return sortKey{class: classNaN}
	}
	return sortKey{isNum: true, num: v}
}

func sortKeyOf(r Row, o Order) sortKey {
	missing := sortKey{class: classMissing}
	switch o.Entity {
	case Metric:
		if v, ok := r.Metric(o.Key); ok {
			return numKey(v)
		}
	case Param:
		if v, ok := r.Param(o.Key); ok {
			return sortKey{str: v}
		}
	case Tag:
		if v, ok := r.Tag(o.Key); ok {
			return sortKey{str: v}
		}
	case Attribute:
		v, ok := r.Attr(o.Key)
		if !ok {
			return missing
		}
		if isNumericAttr(o.Key) {
			if n, ok := v.num(); ok {
				return numKey(n)
			}
			return missing
		}
		return sortKey{str: v.str()}
	}
	return missing
}
