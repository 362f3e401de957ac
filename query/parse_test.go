package query

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	type C = Clause
	tests := []struct {
		kind Kind
		in   string
		want []Clause
	}{
		{Runs, "", nil},
		{Runs, " \t\n ", nil},
		{Runs, "metrics.acc > 0.9", []C{{Entity: Metric, Key: "acc", Op: Gt, Num: 0.9}}},
		{Runs, "metric.acc>=1", []C{{Entity: Metric, Key: "acc", Op: Ge, Num: 1}}},
		{Runs, "metrics.loss < -1.5e-3", []C{{Entity: Metric, Key: "loss", Op: Lt, Num: -0.0015}}},
		{Runs, "metrics.x = .5", []C{{Entity: Metric, Key: "x", Op: Eq, Num: 0.5}}},
		{Runs, "metrics.x != 2.", []C{{Entity: Metric, Key: "x", Op: Ne, Num: 2}}},
		{Runs, "metrics.x <= +3", []C{{Entity: Metric, Key: "x", Op: Le, Num: 3}}},
		{Runs, "metrics.x > 1E3", []C{{Entity: Metric, Key: "x", Op: Gt, Num: 1000}}},
		{Runs, "metrics.x > 1e+2", []C{{Entity: Metric, Key: "x", Op: Gt, Num: 100}}},
		{Runs, "metrics.x < 1e999", []C{{Entity: Metric, Key: "x", Op: Lt, Num: math.Inf(1)}}},
		{Runs, "metrics.x<-1", []C{{Entity: Metric, Key: "x", Op: Lt, Num: -1}}},
		{Runs, "params.optimizer = 'adam'", []C{{Entity: Param, Key: "optimizer", Op: Eq, Str: "adam"}}},
		{Runs, `param.optimizer = "adam"`, []C{{Entity: Param, Key: "optimizer", Op: Eq, Str: "adam"}}},
		{Runs, "parameters.lr != '0.1'", []C{{Entity: Param, Key: "lr", Op: Ne, Str: "0.1"}}},
		{Runs, "parameter.lr like '0.%'", []C{{Entity: Param, Key: "lr", Op: Like, Str: "0.%"}}},
		{Runs, "params.model.lr = '1'", []C{{Entity: Param, Key: "model.lr", Op: Eq, Str: "1"}}},
		{Runs, "tags.`my-key` ILIKE 'ML%'", []C{{Entity: Tag, Key: "my-key", Op: ILike, Str: "ML%"}}},
		{Runs, `tags."model class" = 'x'`, []C{{Entity: Tag, Key: "model class", Op: Eq, Str: "x"}}},
		{Runs, "tags.'my-key' = 'v'", []C{{Entity: Tag, Key: "my-key", Op: Eq, Str: "v"}}},
		{Runs, "`tags`.k = 'v'", []C{{Entity: Tag, Key: "k", Op: Eq, Str: "v"}}},
		{Runs, "`tags`.`a b` = 'v'", []C{{Entity: Tag, Key: "a b", Op: Eq, Str: "v"}}},
		{Runs, "tag.mlflow.runName = 'r'", []C{{Entity: Tag, Key: "mlflow.runName", Op: Eq, Str: "r"}}},
		{Runs, "tags.k = ''", []C{{Entity: Tag, Key: "k", Op: Eq, Str: ""}}},
		{Runs, "tags.ключ = 'значение'", []C{{Entity: Tag, Key: "ключ", Op: Eq, Str: "значение"}}},
		{Runs, "attributes.status = 'FINISHED'", []C{{Entity: Attribute, Key: "status", Op: Eq, Str: "FINISHED"}}},
		{Runs, "status = 'FINISHED'", []C{{Entity: Attribute, Key: "status", Op: Eq, Str: "FINISHED"}}},
		{Runs, "attr.user_id != 'bob'", []C{{Entity: Attribute, Key: "user_id", Op: Ne, Str: "bob"}}},
		{Runs, "run.artifact_uri LIKE 's3://%'", []C{{Entity: Attribute, Key: "artifact_uri", Op: Like, Str: "s3://%"}}},
		{Runs, "attribute.run_id IN ('a', 'b')", []C{{Entity: Attribute, Key: "run_id", Op: In, List: []string{"a", "b"}}}},
		{Runs, "run_id not  in ('a')", []C{{Entity: Attribute, Key: "run_id", Op: NotIn, List: []string{"a"}}}},
		{Runs, `run_id in("a",'b' , 'c')`, []C{{Entity: Attribute, Key: "run_id", Op: In, List: []string{"a", "b", "c"}}}},
		{Runs, "`Run name` = 'x'", []C{{Entity: Attribute, Key: "run_name", Op: Eq, Str: "x"}}},
		{Runs, "attributes.`Run Name` LIKE 'x%'", []C{{Entity: Attribute, Key: "run_name", Op: Like, Str: "x%"}}},
		{Runs, `"run name" = 'x'`, []C{{Entity: Attribute, Key: "run_name", Op: Eq, Str: "x"}}},
		{Runs, "run_name = 'x'", []C{{Entity: Attribute, Key: "run_name", Op: Eq, Str: "x"}}},
		{Runs, "created > 100", []C{{Entity: Attribute, Key: "start_time", Op: Gt, Num: 100}}},
		{Runs, "attributes.Created >= 1", []C{{Entity: Attribute, Key: "start_time", Op: Ge, Num: 1}}},
		{Runs, "attributes.end_time <= 1700000000000", []C{{Entity: Attribute, Key: "end_time", Op: Le, Num: 1700000000000}}},
		{Runs, "datasets.name = 'd'", []C{{Entity: Dataset, Key: "name", Op: Eq, Str: "d"}}},
		{Runs, "dataset.digest IN ('a')", []C{{Entity: Dataset, Key: "digest", Op: In, List: []string{"a"}}}},
		{Runs, "datasets.context NOT IN ('train')", []C{{Entity: Dataset, Key: "context", Op: NotIn, List: []string{"train"}}}},
		{Runs, "datasets.name ILIKE 'x%'", []C{{Entity: Dataset, Key: "name", Op: ILike, Str: "x%"}}},
		{Runs, "tags.k IS NULL", []C{{Entity: Tag, Key: "k", Op: IsNull}}},
		{Runs, "params.p is  not\tnull", []C{{Entity: Param, Key: "p", Op: IsNotNull}}},
		{Runs, "metrics.m IS NOT NULL", []C{{Entity: Metric, Key: "m", Op: IsNotNull}}},
		{Runs, "end_time IS NULL", []C{{Entity: Attribute, Key: "end_time", Op: IsNull}}},
		{Runs, "params.x = 'it''s'", []C{{Entity: Param, Key: "x", Op: Eq, Str: "it's"}}},
		{Runs, `params.x = "say ""hi"""`, []C{{Entity: Param, Key: "x", Op: Eq, Str: `say "hi"`}}},
		{Runs, `params.x = 'a\b'`, []C{{Entity: Param, Key: "x", Op: Eq, Str: `a\b`}}},
		{Runs, `params.x = "it's"`, []C{{Entity: Param, Key: "x", Op: Eq, Str: "it's"}}},
		{Runs, "tags.`a``b` = 'x'", []C{{Entity: Tag, Key: "a`b", Op: Eq, Str: "x"}}},
		{Runs, "params.x='a'AND params.y='b'", []C{
			{Entity: Param, Key: "x", Op: Eq, Str: "a"},
			{Entity: Param, Key: "y", Op: Eq, Str: "b"},
		}},
		{Runs, "metrics.acc > 0.9 and params.optimizer = 'adam' AND tags.`team-x` LIKE 'ml%' aNd attributes.status = 'FINISHED'", []C{
			{Entity: Metric, Key: "acc", Op: Gt, Num: 0.9},
			{Entity: Param, Key: "optimizer", Op: Eq, Str: "adam"},
			{Entity: Tag, Key: "team-x", Op: Like, Str: "ml%"},
			{Entity: Attribute, Key: "status", Op: Eq, Str: "FINISHED"},
		}},
		{Experiments, "name LIKE 'exp%' AND tags.team = 'x'", []C{
			{Entity: Attribute, Key: "name", Op: Like, Str: "exp%"},
			{Entity: Tag, Key: "team", Op: Eq, Str: "x"},
		}},
		{Experiments, "creation_time > 5 and attributes.last_update_time < 10", []C{
			{Entity: Attribute, Key: "creation_time", Op: Gt, Num: 5},
			{Entity: Attribute, Key: "last_update_time", Op: Lt, Num: 10},
		}},
		{RegisteredModels, "name ILIKE '%churn%' AND tags.k = 'v'", []C{
			{Entity: Attribute, Key: "name", Op: ILike, Str: "%churn%"},
			{Entity: Tag, Key: "k", Op: Eq, Str: "v"},
		}},
		{RegisteredModels, "timestamp > 1", []C{{Entity: Attribute, Key: "creation_timestamp", Op: Gt, Num: 1}}},
		{ModelVersions, "name = 'm' AND version_number >= 2 AND run_id IN ('r1') AND source_path LIKE 's3://%'", []C{
			{Entity: Attribute, Key: "name", Op: Eq, Str: "m"},
			{Entity: Attribute, Key: "version_number", Op: Ge, Num: 2},
			{Entity: Attribute, Key: "run_id", Op: In, List: []string{"r1"}},
			{Entity: Attribute, Key: "source_path", Op: Like, Str: "s3://%"},
		}},
		{LoggedModels, "metrics.accuracy > 0.9 AND params.model_type IN ('xgb','lgbm') AND name = 'model' AND creation_time > 0", []C{
			{Entity: Metric, Key: "accuracy", Op: Gt, Num: 0.9},
			{Entity: Param, Key: "model_type", Op: In, List: []string{"xgb", "lgbm"}},
			{Entity: Attribute, Key: "name", Op: Eq, Str: "model"},
			{Entity: Attribute, Key: "creation_timestamp", Op: Gt, Num: 0},
		}},
		{LoggedModels, "tags.k NOT IN ('a') AND source_run_id IN ('r')", []C{
			{Entity: Tag, Key: "k", Op: NotIn, List: []string{"a"}},
			{Entity: Attribute, Key: "source_run_id", Op: In, List: []string{"r"}},
		}},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.kind, tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%v, %q): %v", tt.kind, tt.in, err)
			continue
		}
		if !reflect.DeepEqual(f.Clauses, tt.want) {
			t.Errorf("ParseFilter(%v, %q)\n got %#v\nwant %#v", tt.kind, tt.in, f.Clauses, tt.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		kind  Kind
		in    string
		msg   string // the message starts with this
		pos   int
		token string
	}{
		{Runs, "params.optimizer > 'adam'", "Invalid comparator '>' for param 'optimizer': only =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL are allowed", 17, ">"},
		{Runs, "metrics.acc > 'x'", "Expected a numeric value for metrics.acc, found 'x'", 14, "'x'"},
		{Runs, "metrics.acc LIKE '1'", "Invalid comparator 'LIKE' for metric 'acc': only =, !=, >, >=, <, <=, IS NULL, IS NOT NULL are allowed", 12, "LIKE"},
		{Runs, "params.x = adam", "Expected a quoted string value for params.x (e.g. 'my-value'), found 'adam'", 11, "adam"},
		{Runs, "params.x = 1", "Expected a quoted string value for params.x", 11, "1"},
		{Runs, "tags.`a b` = 1", "Expected a quoted string value for tags.`a b`", 13, "1"},
		{Runs, "foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are: run_id, run_name, status, artifact_uri, user_id, start_time, end_time (aliases: Created = start_time, Run Name = run_name, Run name = run_name, created = start_time, run name = run_name)", 0, "foo"},
		{Runs, "attributes.`foo bar` = 'x'", "Invalid attribute key 'foo bar' specified.", 11, "`foo bar`"},
		{Runs, "foo.bar = 'x'", "Invalid entity type 'foo'. Valid values for runs are metrics, params, tags, attributes, datasets", 0, "foo.bar"},
		{Runs, "Metrics.acc > 1", "Invalid entity type 'Metrics'.", 0, "Metrics.acc"},
		{Runs, "metrics.acc > 1 OR metrics.b > 2", "Invalid clause(s) in filter string: 'OR'. OR is not supported", 16, "OR"},
		{Runs, "(metrics.acc > 1)", "Parentheses are not supported", 0, "("},
		{Runs, "metrics.acc > 1 AND (metrics.b > 1)", "Parentheses are not supported", 20, "("},
		{Runs, "metrics.acc > 1 AND ", "Expected a comparison after AND, found end of input", 20, ""},
		{Runs, "metrics.acc > 1 metrics.b > 2", "Expected AND or the end of the filter after 'metrics.acc > 1', found 'metrics.b'", 16, "metrics.b"},
		{Runs, "metrics.acc > 1; metrics.b > 2", "Search filter contained multiple expressions", 15, ";"},
		{Runs, "metrics.acc", "Expected a comparison operator after 'metrics.acc', found end of input", 11, ""},
		{Runs, "metrics.acc >", "Expected a numeric value for metrics.acc, found end of input", 13, ""},
		{Runs, "metrics.acc == 1", "Invalid comparator '=='; use '='", 12, "=="},
		{Runs, "metrics.acc <> 1", "Invalid comparator '<>'; use '!='", 12, "<>"},
		{Runs, "metrics.acc ! 1", "Expected a comparison operator after 'metrics.acc', found '!'", 12, "!"},
		{Runs, "tags.my-key = 'x'", "Expected a comparison operator after 'tags.my', found '-key'; quote keys with special characters in backticks", 7, "-key"},
		{Runs, "params.x = 'abc", "Unterminated quoted string: missing closing '", 11, "'abc"},
		{Runs, "tags.`abc = 'x'", "Unterminated quoted identifier: missing closing `", 5, "`abc = 'x'"},
		{Runs, "status IN ('a')", "Invalid comparator 'IN' for attribute 'status': only =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL are allowed; IN and NOT IN take a list for attribute run_id only", 7, "IN"},
		{Runs, "run_id IN ()", "Expected a non-empty list of quoted strings for attributes.run_id", 10, "("},
		{Runs, "run_id IN ('a',)", "Expected a quoted string after ',' in the list for attributes.run_id, found ')'", 15, ")"},
		{Runs, "run_id IN ('a' 'b')", "Expected ',' or ')' in the list for attributes.run_id, found 'b'", 15, "'b'"},
		{Runs, "run_id IN ('a'", "Unterminated list for attributes.run_id: missing ')'", 10, "("},
		{Runs, "run_id IN 'a'", "Expected a list of quoted strings such as ('a', 'b') after attributes.run_id IN, found 'a'", 10, "'a'"},
		{Runs, "run_id = ('a')", "Expected a quoted string value for attributes.run_id, found a list; use IN or NOT IN", 9, "("},
		{Runs, "run_id IN (1, 2)", "Expected a quoted string in the list for attributes.run_id, found '1'", 11, "1"},
		{Runs, "start_time > '1'", "Expected a numeric value for attributes.start_time, found '1'", 13, "'1'"},
		{Runs, "metrics.acc > 1abc", "Expected a numeric value for metrics.acc, found '1abc'", 14, "1abc"},
		{Runs, "metrics.acc > 1.2.3", "Expected a numeric value for metrics.acc, found '1.2.3'", 14, "1.2.3"},
		{Runs, "metrics.acc > 1e", "Expected a numeric value for metrics.acc, found '1e'", 14, "1e"},
		{Runs, "metrics.acc > -", "Expected a numeric value for metrics.acc, found '-'", 14, "-"},
		{Runs, "metrics.acc > nan", "Expected a numeric value for metrics.acc, found 'nan'", 14, "nan"},
		{Runs, "params.x NOT LIKE 'a'", "Invalid comparator 'NOT LIKE': NOT LIKE is not supported", 9, "NOT"},
		{Runs, "params.x NOT = 'a'", "Expected IN after NOT, found '='", 13, "="},
		{Runs, "params.x IS 'a'", "Expected NULL or NOT NULL after IS, found 'a'", 12, "'a'"},
		{Runs, "params.x IS NOT 'a'", "Expected NULL or NOT NULL after IS, found 'a'", 16, "'a'"},
		{Runs, "datasets.foo = 'x'", "Invalid dataset key 'foo' specified. Valid keys are: name, digest, context", 9, "foo"},
		{Runs, "datasets.name IS NULL", "Invalid comparator 'IS NULL' for dataset key 'name'", 14, "IS"},
		{Runs, "datasets.name > 'a'", "Invalid comparator '>' for dataset key 'name'", 14, ">"},
		{Runs, "metrics. = 1", "Invalid identifier 'metrics.': expected a key after the dot, found a space", 8, " "},
		{Runs, "tags.`` = 'x'", "Invalid identifier 'tags.``': the key is empty", 5, "``"},
		{Runs, "tags.my key = 'x'", "Expected a comparison operator after 'tags.my', found 'key'; quote keys with special characters in backticks", 8, "key"},
		{Runs, "run_id ın ('a')", "Expected a comparison operator after 'attributes.run_id', found 'ın'", 7, "ın"},
		{Runs, "AND metrics.a > 1", "Expected an identifier, found keyword 'AND'", 0, "AND"},
		{Runs, "= 1", "Expected an identifier such as metrics.<key>", 0, "="},
		{Runs, "1 = 1", "Expected an identifier such as metrics.<key>", 0, "1"},
		{Runs, "metrics.a > 1 AND AND metrics.b > 1", "Expected an identifier, found keyword 'AND'", 18, "AND"},
		{Runs, `"metrics".acc > 1`, "Invalid attribute key 'metrics' specified.", 0, `"metrics"`},
		{Runs, "`run_name`.x = 'a'", "Invalid entity type 'run_name'.", 0, "`run_name`"},
		{Runs, "`Run name`x = 'a'", "Expected a comparison operator after 'attributes.run_name', found 'x'", 10, "x"},
		{Runs, "params.a = 'x' params.b = 'y'", "Expected AND or the end of the filter after 'params.a = 'x'', found 'params.b'", 15, "params.b"},
		{Experiments, "metrics.acc > 1", "Invalid entity type 'metrics' for experiments. Valid values are tags, attributes", 0, "metrics.acc"},
		{Experiments, "experiment_id = '1'", "Invalid attribute key 'experiment_id' specified. Valid keys are: name, creation_time, last_update_time", 0, "experiment_id"},
		{Experiments, "name IN ('a')", "Invalid comparator 'IN' for attribute 'name'", 5, "IN"},
		{RegisteredModels, "params.x = 'a'", "Invalid entity type 'params' for registered models. Valid values are tags, attributes", 0, "params.x"},
		{RegisteredModels, "run_id = 'a'", "Invalid attribute key 'run_id' specified. Valid keys are: name, creation_timestamp, last_updated_timestamp (aliases: timestamp = creation_timestamp)", 0, "run_id"},
		{ModelVersions, "source_path IN ('a')", "Invalid comparator 'IN' for attribute 'source_path'", 12, "IN"},
		{ModelVersions, "version_number = '1'", "Expected a numeric value for attributes.version_number, found '1'", 17, "'1'"},
		{LoggedModels, "datasets.name = 'x'", "Invalid entity type 'datasets' for logged models. Valid values are metrics, params, tags, attributes", 0, "datasets.name"},
		{LoggedModels, "creation_timestamp IN ('1')", "Invalid comparator 'IN' for attribute 'creation_timestamp'", 19, "IN"},
		{Kind(99), "metrics.a > 1", "unknown search kind 99", -1, ""},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.kind, tt.in)
		if err == nil {
			t.Errorf("ParseFilter(%v, %q) = %q, want error %q", tt.kind, tt.in, f.String(), tt.msg)
			continue
		}
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("ParseFilter(%v, %q): error %T is not *Error", tt.kind, tt.in, err)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFilter(%v, %q): error does not wrap ErrInvalid", tt.kind, tt.in)
		}
		if !strings.HasPrefix(qe.Msg, tt.msg) {
			t.Errorf("ParseFilter(%v, %q) message\n got %q\nwant prefix %q", tt.kind, tt.in, qe.Msg, tt.msg)
		}
		if qe.Pos != tt.pos || qe.Token != tt.token {
			t.Errorf("ParseFilter(%v, %q) at %d %q, want %d %q", tt.kind, tt.in, qe.Pos, qe.Token, tt.pos, tt.token)
		}
		if qe.Input != tt.in {
			t.Errorf("ParseFilter(%v, %q): Input = %q", tt.kind, tt.in, qe.Input)
		}
	}
}

func TestErrorString(t *testing.T) {
	_, err := ParseFilter(Runs, "params.optimizer > 'adam'")
	want := "Invalid comparator '>' for param 'optimizer': only =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL are allowed (at position 17)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	_, err = ParseOrderByList(Runs, []string{"metrics.a", "metrics.a DESC"})
	want = "`order_by` contains duplicate fields: [metrics.a, metrics.a DESC]"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestFilterString(t *testing.T) {
	tests := []struct {
		kind     Kind
		in, want string
	}{
		{Runs, "", ""},
		{Runs, "metric.acc>0.9 and param.opt='adam'", "metrics.acc > 0.9 AND params.opt = 'adam'"},
		{Runs, "created >= 1700000000000", "attributes.start_time >= 1700000000000"},
		{Runs, "`Run name` ILIKE '%X%'", "attributes.run_name ILIKE '%X%'"},
		{Runs, `tags."my key" = "it's"`, "tags.`my key` = 'it''s'"},
		{Runs, `run_id in ("a",'b')`, "attributes.run_id IN ('a', 'b')"},
		{Runs, "params.p is not null", "params.p IS NOT NULL"},
		{Runs, "metrics.x > 1e999 AND metrics.y > -1e400", "metrics.x > 1e999 AND metrics.y > -1e999"},
		{Runs, "metrics.x < 1e-7", "metrics.x < 1e-07"},
		{Runs, "metrics.x = 1e20", "metrics.x = 1e+20"},
		{Runs, "metrics.x = -0.25", "metrics.x = -0.25"},
		{Runs, "tags.`a``b` = 'x'", "tags.`a``b` = 'x'"},
		{Runs, "params.model.lr = '1'", "params.model.lr = '1'"},
		{Runs, "tags.`x` = 'y'", "tags.x = 'y'"},
		{Runs, "datasets.context not in ('train')", "datasets.context NOT IN ('train')"},
		{Runs, "status = 'FINISHED'", "attributes.status = 'FINISHED'"},
		{RegisteredModels, "timestamp > 5", "attributes.creation_timestamp > 5"},
	}
	for _, tt := range tests {
		f := mustFilter(t, tt.kind, tt.in)
		got := f.String()
		if got != tt.want {
			t.Errorf("ParseFilter(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		f2, err := ParseFilter(tt.kind, got)
		if err != nil {
			t.Errorf("reparse %q: %v", got, err)
			continue
		}
		if !reflect.DeepEqual(f.Clauses, f2.Clauses) {
			t.Errorf("reparse %q: got %#v, want %#v", got, f2.Clauses, f.Clauses)
		}
	}
	var nilFilter *Filter
	if s := nilFilter.String(); s != "" {
		t.Errorf("nil filter String() = %q", s)
	}
}

func TestParseOrderBy(t *testing.T) {
	tests := []struct {
		kind Kind
		in   string
		want Order
		str  string
	}{
		{Runs, "metrics.acc DESC", Order{Entity: Metric, Key: "acc", Desc: true}, "metrics.acc DESC"},
		{Runs, "start_time", Order{Entity: Attribute, Key: "start_time"}, "attributes.start_time ASC"},
		{Runs, "  params.`a b`   asc ", Order{Entity: Param, Key: "a b"}, "params.`a b` ASC"},
		{Runs, "created desc", Order{Entity: Attribute, Key: "start_time", Desc: true}, "attributes.start_time DESC"},
		{Runs, "attributes.`Run name` DESC", Order{Entity: Attribute, Key: "run_name", Desc: true}, "attributes.run_name DESC"},
		{Runs, "tags.`mlflow.runName` ASC", Order{Entity: Tag, Key: "mlflow.runName"}, "tags.mlflow.runName ASC"},
		{Runs, "attr.status", Order{Entity: Attribute, Key: "status"}, "attributes.status ASC"},
		{Runs, `metrics."model class" Desc`, Order{Entity: Metric, Key: "model class", Desc: true}, "metrics.`model class` DESC"},
		{Experiments, "experiment_id", Order{Entity: Attribute, Key: "experiment_id"}, "attributes.experiment_id ASC"},
		{Experiments, "last_update_time DESC", Order{Entity: Attribute, Key: "last_update_time", Desc: true}, "attributes.last_update_time DESC"},
		{RegisteredModels, "timestamp DESC", Order{Entity: Attribute, Key: "creation_timestamp", Desc: true}, "attributes.creation_timestamp DESC"},
		{RegisteredModels, "name", Order{Entity: Attribute, Key: "name"}, "attributes.name ASC"},
		{ModelVersions, "version_number DESC", Order{Entity: Attribute, Key: "version_number", Desc: true}, "attributes.version_number DESC"},
		{LoggedModels, "metrics.accuracy DESC", Order{Entity: Metric, Key: "accuracy", Desc: true}, "metrics.accuracy DESC"},
		{LoggedModels, "creation_time", Order{Entity: Attribute, Key: "creation_timestamp"}, "attributes.creation_timestamp ASC"},
	}
	for _, tt := range tests {
		o, err := ParseOrderBy(tt.kind, tt.in)
		if err != nil {
			t.Errorf("ParseOrderBy(%v, %q): %v", tt.kind, tt.in, err)
			continue
		}
		if o != tt.want {
			t.Errorf("ParseOrderBy(%v, %q) = %+v, want %+v", tt.kind, tt.in, o, tt.want)
		}
		if s := o.String(); s != tt.str {
			t.Errorf("ParseOrderBy(%v, %q).String() = %q, want %q", tt.kind, tt.in, s, tt.str)
		}
		if o2, err := ParseOrderBy(tt.kind, o.String()); err != nil || o2 != o {
			t.Errorf("reparse %q = %+v, %v", o.String(), o2, err)
		}
	}
}

func TestParseOrderByErrors(t *testing.T) {
	tests := []struct {
		kind Kind
		in   string
		msg  string
		pos  int
	}{
		{Runs, "", "Invalid order_by clause '': it is empty", 0},
		{Runs, "   ", "Invalid order_by clause '   ': it is empty", 3},
		{Runs, "metrics.acc UP", "Invalid ordering key in order_by clause 'metrics.acc UP': expected ASC or DESC, found 'UP'", 12},
		{Runs, "metrics.acc DESC x", "Invalid order_by clause 'metrics.acc DESC x': unexpected 'x' after DESC", 17},
		{Runs, "metrics.acc DESC, params.b", "Invalid order_by clause 'metrics.acc DESC, params.b': unexpected ','", 16},
		{Runs, "foo", "Invalid attribute key 'foo' specified. Valid keys are: run_id, run_name, status, artifact_uri, user_id, start_time, end_time", 0},
		{Runs, "datasets.name", "Invalid order_by entity 'datasets' for runs. Valid values are metrics, params, tags, attributes", 0},
		{Experiments, "tags.x", "Invalid order_by entity 'tags' for experiments. Valid values are attributes", 0},
		{RegisteredModels, "version_number", "Invalid attribute key 'version_number' specified. Valid keys are: name, creation_timestamp, last_updated_timestamp", 0},
		{ModelVersions, "run_id", "Invalid attribute key 'run_id' specified. Valid keys are: name, version_number, creation_timestamp, last_updated_timestamp", 0},
		{LoggedModels, "params.x", "Invalid order_by entity 'params' for logged models. Valid values are metrics, attributes", 0},
	}
	for _, tt := range tests {
		o, err := ParseOrderBy(tt.kind, tt.in)
		if err == nil {
			t.Errorf("ParseOrderBy(%v, %q) = %+v, want error", tt.kind, tt.in, o)
			continue
		}
		var qe *Error
		if !errors.As(err, &qe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseOrderBy(%v, %q): error %T %v", tt.kind, tt.in, err, err)
			continue
		}
		if !strings.HasPrefix(qe.Msg, tt.msg) || qe.Pos != tt.pos {
			t.Errorf("ParseOrderBy(%v, %q) = %q at %d, want %q at %d", tt.kind, tt.in, qe.Msg, qe.Pos, tt.msg, tt.pos)
		}
	}
}

func TestParseOrderByList(t *testing.T) {
	got, err := ParseOrderByList(Runs, []string{"metrics.acc DESC", "params.lr", "start_time DESC"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Order{
		{Entity: Metric, Key: "acc", Desc: true},
		{Entity: Param, Key: "lr"},
		{Entity: Attribute, Key: "start_time", Desc: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// created is start_time: a duplicate.
	if _, err := ParseOrderByList(Runs, []string{"start_time", "created DESC"}); err == nil {
		t.Fatal("duplicate start_time/created accepted")
	}
	// The same key under different entities is not a duplicate.
	if _, err := ParseOrderByList(Runs, []string{"params.a", "tags.a", "metrics.a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseOrderByList(Runs, []string{"metrics.a", "bogus"}); err == nil {
		t.Fatal("invalid clause accepted")
	}
	if got, err := ParseOrderByList(Runs, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty list = %v, %v", got, err)
	}
}

// TestSchemaConsistent checks the invariant Match and Compare rely on: an
// attribute name is numeric in every kind or in none.
func TestSchemaConsistent(t *testing.T) {
	seen := map[string]bool{}
	for k := Runs; k <= LoggedModels; k++ {
		s := schemaOf(k)
		for _, a := range s.attrs {
			if num, ok := seen[a.name]; ok && num != a.numeric {
				t.Errorf("%s: attribute %s numeric=%v elsewhere %v", k, a.name, a.numeric, num)
			}
			seen[a.name] = a.numeric
		}
		for alias, target := range s.aliases {
			if _, ok := s.attr(target, false); !ok {
				if _, ok := s.attr(target, true); !ok {
					t.Errorf("%s: alias %q points at unknown %q", k, alias, target)
				}
			}
		}
	}
	if Kind(42).String() != "Kind(42)" || Entity(9).String() != "Entity(9)" || Op(99).String() != "Op(99)" {
		t.Error("String of out-of-range values")
	}
}

func TestAttributeLists(t *testing.T) {
	if got, want := FilterAttributes(Runs), []string{"run_id", "run_name", "status", "artifact_uri", "user_id", "start_time", "end_time"}; !reflect.DeepEqual(got, want) {
		t.Errorf("FilterAttributes(Runs) = %v, want %v", got, want)
	}
	if got, want := OrderAttributes(Experiments), []string{"name", "creation_time", "last_update_time", "experiment_id"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OrderAttributes(Experiments) = %v, want %v", got, want)
	}
	if got, want := OrderAttributes(ModelVersions), []string{"name", "version_number", "creation_timestamp", "last_updated_timestamp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OrderAttributes(ModelVersions) = %v, want %v", got, want)
	}
	if FilterAttributes(Kind(7)) != nil {
		t.Error("FilterAttributes of unknown kind")
	}
}
