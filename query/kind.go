package query

import (
	"strings"
)

// Kind selects what is being searched. Each kind has its own schema: the
// entities a filter may name, its attributes (string or numeric, with their
// aliases), which attributes may be ordered by, and which comparators apply.
// The schemas follow MLflow's SearchUtils classes; see the package
// documentation for the tables.
type Kind int

// The searchable kinds.
const (
	// Runs is search-runs and mlgit run list.
	Runs Kind = iota
	// Experiments is search-experiments.
	Experiments
	// RegisteredModels is search-registered-models.
	RegisteredModels
	// ModelVersions is search-model-versions.
	ModelVersions
	// LoggedModels is search-logged-models.
	LoggedModels
)

// String returns the kind's name in the plural, as used in error messages
// ("runs", "experiments", "registered models", "model versions",
// "logged models").
func (k Kind) String() string {
	if s := schemaOf(k); s != nil {
		return s.name
	}
	return "Kind(" + itoa(int(k)) + ")"
}

// Entity is what the left-hand side of a comparison names: a metric, a
// param, a tag, an attribute of the searched object, or a dataset the run
// used. The zero value is Attribute, as an identifier without a prefix names
// an attribute.
type Entity int

// The entities.
const (
	// Attribute is a built-in field (run_id, status, start_time, name, ...).
	// Prefixes: attribute, attributes, attr, run, or none.
	Attribute Entity = iota
	// Metric is a run's or logged model's latest metric value. Prefixes:
	// metric, metrics.
	Metric
	// Param is a string parameter. Prefixes: param, params, parameter,
	// parameters.
	Param
	// Tag is a string tag. Prefixes: tag, tags.
	Tag
	// Dataset is one of a run's dataset inputs (name, digest, context).
	// Prefixes: dataset, datasets.
	Dataset
)

// String returns the canonical prefix of the entity: "attributes",
// "metrics", "params", "tags" or "datasets".
func (e Entity) String() string {
	switch e {
	case Attribute:
		return "attributes"
	case Metric:
		return "metrics"
	case Param:
		return "params"
	case Tag:
		return "tags"
	case Dataset:
		return "datasets"
	}
	return "Entity(" + itoa(int(e)) + ")"
}

// singular names the entity in error messages ("param 'optimizer'").
func (e Entity) singular() string {
	switch e {
	case Attribute:
		return "attribute"
	case Metric:
		return "metric"
	case Param:
		return "param"
	case Tag:
		return "tag"
	case Dataset:
		return "dataset key"
	}
	return e.String()
}

// entityWords maps every accepted prefix to its entity. Prefixes are
// case-sensitive, as in MLflow.
var entityWords = map[string]Entity{
	"attribute":  Attribute,
	"attributes": Attribute,
	"attr":       Attribute,
	"run":        Attribute,
	"metric":     Metric,
	"metrics":    Metric,
	"param":      Param,
	"params":     Param,
	"parameter":  Param,
	"parameters": Param,
	"tag":        Tag,
	"tags":       Tag,
	"dataset":    Dataset,
	"datasets":   Dataset,
}

// Op is a comparator.
type Op int

// The comparators.
const (
	Eq        Op = iota // =
	Ne                  // !=
	Gt                  // >
	Ge                  // >=
	Lt                  // <
	Le                  // <=
	Like                // LIKE, case-sensitive pattern
	ILike               // ILIKE, case-insensitive pattern
	In                  // IN ('a', 'b')
	NotIn               // NOT IN ('a', 'b')
	IsNull              // IS NULL (mlgit extension)
	IsNotNull           // IS NOT NULL (mlgit extension)
)

var opNames = [...]string{
	Eq:        "=",
	Ne:        "!=",
	Gt:        ">",
	Ge:        ">=",
	Lt:        "<",
	Le:        "<=",
	Like:      "LIKE",
	ILike:     "ILIKE",
	In:        "IN",
	NotIn:     "NOT IN",
	IsNull:    "IS NULL",
	IsNotNull: "IS NOT NULL",
}

// String returns the comparator as written in a filter ("=", "NOT IN", ...).
func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "Op(" + itoa(int(o)) + ")"
}

// Comparator sets. The order is the order used in error messages.
var (
	numericOps    = []Op{Eq, Ne, Gt, Ge, Lt, Le, IsNull, IsNotNull}
	stringOps     = []Op{Eq, Ne, Like, ILike, IsNull, IsNotNull}
	stringListOps = []Op{Eq, Ne, Like, ILike, In, NotIn, IsNull, IsNotNull}
	datasetOps    = []Op{Eq, Ne, Like, ILike, In, NotIn}
)

// attrSpec describes one attribute of a kind.
type attrSpec struct {
	name    string // canonical name, passed to Row.Attr
	numeric bool   // compared as a number
	list    bool   // IN / NOT IN allowed
	filter  bool   // may appear in a filter
	order   bool   // may appear in order_by
}

// schema is what a Kind allows.
type schema struct {
	name           string
	filterEntities []Entity
	orderEntities  []Entity
	attrs          []attrSpec
	aliases        map[string]string // alias -> canonical attribute name
	listParamsTags bool              // params and tags accept IN / NOT IN
}

var schemas = [...]schema{
	Runs: {
		name:           "runs",
		filterEntities: []Entity{Metric, Param, Tag, Attribute, Dataset},
		orderEntities:  []Entity{Metric, Param, Tag, Attribute},
		attrs: []attrSpec{
			{name: "run_id", list: true, filter: true, order: true},
			{name: "run_name", filter: true, order: true},
			{name: "status", filter: true, order: true},
			{name: "artifact_uri", filter: true, order: true},
			{name: "user_id", filter: true, order: true},
			{name: "start_time", numeric: true, filter: true, order: true},
			{name: "end_time", numeric: true, filter: true, order: true},
		},
		aliases: map[string]string{
			"created":  "start_time",
			"Created":  "start_time",
			"run name": "run_name",
			"Run name": "run_name",
			"Run Name": "run_name",
		},
	},
	Experiments: {
		name:           "experiments",
		filterEntities: []Entity{Tag, Attribute},
		orderEntities:  []Entity{Attribute},
		attrs: []attrSpec{
			{name: "name", filter: true, order: true},
			{name: "creation_time", numeric: true, filter: true, order: true},
			{name: "last_update_time", numeric: true, filter: true, order: true},
			{name: "experiment_id", numeric: true, order: true},
		},
	},
	RegisteredModels: {
		name:           "registered models",
		filterEntities: []Entity{Tag, Attribute},
		orderEntities:  []Entity{Attribute},
		attrs: []attrSpec{
			{name: "name", filter: true, order: true},
			{name: "creation_timestamp", numeric: true, filter: true, order: true},
			{name: "last_updated_timestamp", numeric: true, filter: true, order: true},
		},
		aliases: map[string]string{"timestamp": "creation_timestamp"},
	},
	ModelVersions: {
		name:           "model versions",
		filterEntities: []Entity{Tag, Attribute},
		orderEntities:  []Entity{Attribute},
		attrs: []attrSpec{
			{name: "name", filter: true, order: true},
			{name: "version_number", numeric: true, filter: true, order: true},
			{name: "run_id", list: true, filter: true},
			{name: "source_path", filter: true},
			{name: "creation_timestamp", numeric: true, filter: true, order: true},
			{name: "last_updated_timestamp", numeric: true, filter: true, order: true},
		},
		aliases: map[string]string{"timestamp": "creation_timestamp"},
	},
	LoggedModels: {
		name:           "logged models",
		filterEntities: []Entity{Metric, Param, Tag, Attribute},
		orderEntities:  []Entity{Metric, Attribute},
		attrs: []attrSpec{
			{name: "name", list: true, filter: true, order: true},
			{name: "model_id", list: true, filter: true, order: true},
			{name: "model_type", list: true, filter: true, order: true},
			{name: "status", list: true, filter: true, order: true},
			{name: "source_run_id", list: true, filter: true, order: true},
			{name: "creation_timestamp", numeric: true, filter: true, order: true},
			{name: "last_updated_timestamp", numeric: true, filter: true, order: true},
		},
		aliases: map[string]string{
			"creation_time":     "creation_timestamp",
			"last_updated_time": "last_updated_timestamp",
		},
		listParamsTags: true,
	},
}

func schemaOf(k Kind) *schema {
	if k < 0 || int(k) >= len(schemas) {
		return nil
	}
	return &schemas[k]
}

// numericAttrs holds every attribute name that is numeric in some kind. No
// name is numeric in one kind and a string in another (TestSchemaConsistent),
// so Match and Compare need only the key, not the kind.
var numericAttrs = func() map[string]bool {
	m := map[string]bool{}
	for i := range schemas {
		for _, a := range schemas[i].attrs {
			if a.numeric {
				m[a.name] = true
			}
		}
	}
	return m
}()

func isNumericAttr(name string) bool { return numericAttrs[name] }

// attr resolves an attribute name or alias for a filter (order false) or an
// order_by clause (order true).
func (s *schema) attr(name string, order bool) (attrSpec, bool) {
	if c, ok := s.aliases[name]; ok {
		name = c
	}
	for _, a := range s.attrs {
		if a.name == name && ((order && a.order) || (!order && a.filter)) {
			return a, true
		}
	}
	return attrSpec{}, false
}

// attrNames lists the valid attribute names for error messages.
func (s *schema) attrNames(order bool) string {
	var names []string
	for _, a := range s.attrs {
		if (order && a.order) || (!order && a.filter) {
			names = append(names, a.name)
		}
	}
	var aliases []string
	for _, al := range sortedKeys(s.aliases) {
		if _, ok := s.attr(s.aliases[al], order); ok {
			aliases = append(aliases, al+" = "+s.aliases[al])
		}
	}
	out := strings.Join(names, ", ")
	if len(aliases) > 0 {
		out += " (aliases: " + strings.Join(aliases, ", ") + ")"
	}
	return out
}

func (s *schema) allows(e Entity, order bool) bool {
	list := s.filterEntities
	if order {
		list = s.orderEntities
	}
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

func (s *schema) entityNames(order bool) string {
	list := s.filterEntities
	if order {
		list = s.orderEntities
	}
	names := make([]string, len(list))
	for i, e := range list {
		names[i] = e.String()
	}
	return strings.Join(names, ", ")
}

// ops returns the comparators allowed for the entity (and attribute).
func (s *schema) ops(e Entity, a attrSpec) []Op {
	switch e {
	case Metric:
		return numericOps
	case Param, Tag:
		if s.listParamsTags {
			return stringListOps
		}
		return stringOps
	case Attribute:
		if a.numeric {
			return numericOps
		}
		if a.list {
			return stringListOps
		}
		return stringOps
	case Dataset:
		return datasetOps
	}
	return nil
}

// datasetKeys are the keys a dataset clause may name.
var datasetKeys = []string{"name", "digest", "context"}

// FilterAttributes returns the canonical attribute names a filter for kind
// may name, in the order of the package documentation. These are the names
// passed to Row.Attr.
func FilterAttributes(kind Kind) []string { return attrList(kind, false) }

// OrderAttributes returns the canonical attribute names an order_by clause
// for kind may name.
func OrderAttributes(kind Kind) []string { return attrList(kind, true) }

func attrList(kind Kind, order bool) []string {
	s := schemaOf(kind)
	if s == nil {
		return nil
	}
	var out []string
	for _, a := range s.attrs {
		if (order && a.order) || (!order && a.filter) {
			out = append(out, a.name)
		}
	}
	return out
}
