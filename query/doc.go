// Package query parses and evaluates MLflow's search grammar: the filter
// strings and order_by clauses of search-runs, search-experiments,
// search-registered-models, search-model-versions and search-logged-models,
// of `mlgit run list --filter ... --order-by ...`, and of promotion policies
// (`metrics.accuracy >= 0.9`). It behaves like MLflow's SearchUtils; where
// MLflow's stores disagree, it follows the SQL store. The package does no
// I/O: callers adapt their objects to Row.
//
// # Filters
//
//	filter     = [ comparison { AND comparison } ]        (AND in any case)
//	comparison = identifier comparator value
//	identifier = [ entity "." ] key
//	entity     = metric | metrics | param | params | parameter | parameters
//	           | tag | tags | attribute | attributes | attr | run
//	           | dataset | datasets                        (case-sensitive)
//	key        = plain | `quoted` | "quoted"
//	comparator = = | != | > | >= | < | <= | LIKE | ILIKE | IN | NOT IN
//	           | IS NULL | IS NOT NULL                      (words in any case)
//	value      = number | 'string' | "string" | ( string { , string } )
//
// An identifier without an entity names an attribute. A plain key is made of
// letters, digits, '_' and '.'; everything after the first dot belongs to the
// key, so params.model.lr is the param "model.lr". Other keys are quoted
// with backticks or double quotes: tags.`my-key`, metrics."model class",
// `Run name`; after a dot, single quotes work too (tags.'my-key'), as MLflow
// strips them. The entity may be backticked too: `metrics`.acc. Inside any
// quotes, a doubled quote character stands for itself, as in SQL, and a
// backslash is an ordinary character:
//
//	tags.note = 'it''s done' AND tags.`odd``key` = "say ""hi"""
//
// A number is an optional sign, digits with an optional fraction, and an
// optional exponent (1, -0.5, .5, 2., 1e-3); out-of-range literals become
// ±Inf as in Python. OR, NOT (other than NOT IN) and parentheses are not
// supported, as in MLflow; an empty or blank filter matches everything.
//
// Which comparators and values apply depends on the entity:
//
//	metrics                 = != > >= < <=            number
//	params, tags            = != LIKE ILIKE            string
//	string attributes       = != LIKE ILIKE            string
//	  list attributes       ... IN, NOT IN             ('a', 'b')
//	numeric attributes      = != > >= < <=            number
//	datasets (name, digest, context)
//	                        = != LIKE ILIKE IN NOT IN  string or list
//
// and IS NULL / IS NOT NULL for everything but datasets. For logged models,
// params and tags also take IN and NOT IN.
//
// # Kinds
//
// Each Kind has its own attributes; Row.Attr receives the canonical name.
//
//	Runs: entities metrics, params, tags, attributes, datasets
//	  string   run_id (IN, NOT IN), run_name, status, artifact_uri, user_id
//	  numeric  start_time, end_time
//	  aliases  created, Created = start_time;
//	           run name, Run name, Run Name = run_name
//	  order_by metrics, params, tags and every attribute above
//	Experiments: entities tags, attributes
//	  string   name;  numeric creation_time, last_update_time
//	  order_by name, creation_time, last_update_time, experiment_id (numeric)
//	RegisteredModels: entities tags, attributes
//	  string   name;  numeric creation_timestamp, last_updated_timestamp
//	  alias    timestamp = creation_timestamp
//	  order_by name, creation_timestamp, last_updated_timestamp
//	ModelVersions: entities tags, attributes
//	  string   name, run_id (IN, NOT IN), source_path
//	  numeric  version_number, creation_timestamp, last_updated_timestamp
//	  alias    timestamp = creation_timestamp
//	  order_by name, version_number, creation_timestamp, last_updated_timestamp
//	LoggedModels: entities metrics, params, tags, attributes
//	  string   name, model_id, model_type, status, source_run_id (all IN, NOT IN)
//	  numeric  creation_timestamp, last_updated_timestamp
//	  aliases  creation_time = creation_timestamp,
//	           last_updated_time = last_updated_timestamp
//	  order_by metrics and every attribute above
//
// # Semantics
//
// LIKE matches the whole value: '%' is any sequence of characters, '_' is
// one character, every other character (regular-expression metacharacters
// and backslashes included) is itself; LIKE is case-sensitive, ILIKE
// compares with Unicode simple case folding. Matching never backtracks: it
// costs at most O(len(value) × len(pattern)). = and != compare strings
// exactly, IN and NOT IN test membership.
//
// A comparison on a metric, param, tag or attribute the object lacks is
// false, whatever the comparator, != and NOT IN included: MLflow's SQL store
// evaluates these as inner joins. A metric that is NaN compares as in IEEE
// 754 (and Python): =, <, <=, >, >= are false, != is true. A dataset
// comparison holds if any of the run's dataset inputs satisfies it; inputs
// without a context never satisfy a datasets.context comparison.
//
// Comparison values for numeric attributes may have a fraction (MLflow
// accepts integers only); version_number = 1.5 simply matches nothing.
//
// # Ordering
//
// An order_by clause is an identifier followed by an optional ASC or DESC
// (any case, ASC by default). Compare applies orders in turn: numbers sort
// numerically, strings bytewise (Unicode code point order), and within each
// order rows whose metric is NaN come after all numbers and rows lacking the
// key come last, in both directions, as in MLflow's SQL store.
// ParseOrderByList rejects a list that names a field twice, as MLflow does.
// DefaultOrder and WithTieBreak give the orders MLflow applies when a
// request has none and the tie-breakers it appends.
//
// # mlgit extensions
//
// These are accepted where MLflow rejects the input; nothing MLflow accepts
// means something else here:
//
//   - IS NULL and IS NOT NULL for metrics, params, tags and attributes
//     (end_time IS NULL finds running runs);
//   - doubled quotes inside quoted strings and keys (MLflow keeps both);
//   - NOT IN for model versions' run_id, LIKE and ILIKE for logged models'
//     params and tags, filters on the registry timestamps;
//   - every attribute prefix (attr, run, ...) for every kind, and the run
//     name aliases in order_by.
//
// # Errors
//
// ParseFilter and ParseOrderBy return an *Error that wraps ErrInvalid and
// carries the position and the token at fault, with MLflow's message where
// MLflow has one ("Invalid attribute key 'foo' specified. Valid keys are:
// ..."). The server maps it to INVALID_PARAMETER_VALUE, the CLI to exit
// code 2.
package query
