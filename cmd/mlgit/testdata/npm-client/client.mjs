// A third-party MLflow client against mlgit server: the npm package
// "mlflow" (pinned in package-lock.json) drives the seed flow of
// cmd/mlgit/npm_client_test.go through its own API, then this script prints
// one JSON object with the ids and values it observed. Any error from the
// library (a non-200 answer, a response it cannot parse) exits 1.
//
//   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 node client.mjs
//
// What the package offers (lib/*.js of 2.0.7): Experiments (create, get,
// list, update, delete, restore, setExperimentTag), Runs (create, get,
// search, update, delete, restore, logMetric, logParameter, setTag,
// deleteTag, logBatch), Metrics.getHistory and Artifacts.list. It has no
// model registry and no artifact upload; see Extra below for those.
import MLflow from 'mlflow';
import { MLflowBase } from 'mlflow/lib/mlflow.js';
import { RunStatus, ViewType } from 'mlflow/enum.js';

// The library prints every POST body with console.log (MLflowBase.req);
// keep stdout for the one JSON result.
console.log = (...args) => console.error(...args);

const uri = (process.env.MLFLOW_TRACKING_URI || '').replace(/\/+$/, '');
if (!uri) {
  console.error('client.mjs: set MLFLOW_TRACKING_URI (e.g. http://127.0.0.1:5000)');
  process.exit(2);
}

// Extra holds the calls the package lacks (the whole model registry) or
// gets wrong (setExperimentTag requests "experimentsset-experiment-tag",
// without the slash). They go through the package's own transport,
// MLflowBase.req, the method every one of its API classes calls, so they
// are encoded, sent and checked exactly like the calls it has.
class Extra extends MLflowBase {
  constructor(args) {
    super(args);
    this.path = '';
  }
  setExperimentTag({ experiment_id, key, value }) {
    return this.req('post', '/experiments/set-experiment-tag', { experiment_id, key, value });
  }
  createRegisteredModel({ name, description }) {
    return this.req('post', '/registered-models/create', { name, description });
  }
  getRegisteredModel({ name }) {
    return this.req('get', '/registered-models/get', { name });
  }
  createModelVersion({ name, source, run_id }) {
    return this.req('post', '/model-versions/create', { name, source, run_id });
  }
  getModelVersion({ name, version }) {
    return this.req('get', '/model-versions/get', { name, version });
  }
  transitionStage({ name, version, stage, archive_existing_versions }) {
    return this.req('post', '/model-versions/transition-stage', { name, version, stage, archive_existing_versions });
  }
  setAlias({ name, alias, version }) {
    return this.req('post', '/registered-models/alias', { name, alias, version });
  }
  getByAlias({ name, alias }) {
    return this.req('get', '/registered-models/alias', { name, alias });
  }
  getLatestVersions({ name, stages }) {
    return this.req('post', '/registered-models/get-latest-versions', { name, stages });
  }
}

// Raw fetch, for the two requests MLflowBase.req cannot make:
// an artifact upload (req JSON-encodes every body and only knows the
// /api/<v>/mlflow prefix, not /api/2.0/mlflow-artifacts)...
async function putArtifact(experimentId, runId, path, body) {
  const url = `${uri}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/${path}`;
  const res = await fetch(url, { method: 'PUT', body, headers: { 'Content-Type': 'application/octet-stream' } });
  if (res.status !== 200) {
    throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  }
}

// ...and DELETE registered-models/alias, whose parameters MLflow reads
// from a JSON body, while req sends a DELETE's parameters as a query string.
async function deleteAlias(name, alias) {
  const res = await fetch(`${uri}/api/2.0/mlflow/registered-models/alias`, {
    method: 'DELETE',
    body: JSON.stringify({ name, alias }),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
  });
  if (res.status !== 200) {
    throw new Error(`DELETE registered-models/alias: ${res.status} ${await res.text()}`);
  }
}

// expectError runs a call that is known not to work and returns what the
// library raised ({status, error_code}), so the Go test notices when it
// starts working. The library throws Error("Error: {status, statusText, data}").
async function expectError(call) {
  try {
    await call();
  } catch (err) {
    const m = /\{.*\}/s.exec(String(err.message));
    const v = m ? JSON.parse(m[0]) : {};
    return { status: v.status ?? null, error_code: v.data?.error_code ?? null };
  }
  return { status: 200, error_code: null };
}

const toMap = (list) => Object.fromEntries((list || []).map((e) => [e.key, e.value]));

const client = new MLflow({ endpoint: uri });
const { Experiments, Runs, Metrics, Artifacts } = client;
const extra = new Extra({ endpoint: uri });

const T0 = 1700000000000; // fixed times, so the test can assert them exactly
const MLMODEL = 'artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n';

async function main() {
  const out = {};

  // Experiment.
  const { experiment_id: expId } = await Experiments.create({ name: 'npm-client' });
  await extra.setExperimentTag({ experiment_id: expId, key: 'owner', value: 'npm' });
  const { experiment } = await Experiments.get({ experiment_id: expId });
  out.experiment = { id: expId, name: experiment.name, lifecycle_stage: experiment.lifecycle_stage, tags: toMap(experiment.tags) };

  // The main run: params, metrics over several steps, tags, a batch.
  const created = await Runs.create({
    experiment_id: expId,
    user_id: 'npm-ci',
    start_time: T0,
    tags: [{ key: 'mlflow.runName', value: 'npm-main' }],
  });
  const runId = created.run.info.run_id;
  await Runs.logParameter({ run_id: runId, key: 'lr', value: '0.01' });
  await Runs.logParameter({ run_id: runId, key: 'optimizer', value: 'adam' });
  const losses = [0.9, 0.7, 0.5, 0.4, 0.35];
  for (const [step, value] of losses.entries()) {
    await Runs.logMetric({ run_id: runId, key: 'loss', value, timestamp: T0 + 1000 * (step + 1), step });
  }
  await Runs.setTag({ run_id: runId, key: 'stage', value: 'seed' });
  await Runs.setTag({ run_id: runId, key: 'team', value: 'ml' });
  await Runs.setTag({ run_id: runId, key: 'scratch', value: 'x' });
  await Runs.deleteTag({ run_id: runId, key: 'scratch' });
  await Runs.logBatch({
    run_id: runId,
    metrics: [0.8, 0.9, 0.93].map((value, step) => ({ key: 'acc', value, timestamp: T0 + 10000 + step, step })),
    params: [{ key: 'epochs', value: '5' }],
    tags: [{ key: 'framework', value: 'node' }],
  });

  // A baseline run, started later, with a lower accuracy.
  const base = await Runs.create({
    experiment_id: expId,
    user_id: 'npm-ci',
    start_time: T0 + 100000,
    tags: [{ key: 'mlflow.runName', value: 'npm-baseline' }],
  });
  const baseId = base.run.info.run_id;
  await Runs.logBatch({
    run_id: baseId,
    metrics: [{ key: 'acc', value: 0.71, timestamp: T0 + 100001, step: 0 }],
    params: [{ key: 'lr', value: '0.1' }, { key: 'optimizer', value: 'sgd' }],
    tags: [{ key: 'stage', value: 'seed' }],
  });
  out.run_id = runId;
  out.baseline_run_id = baseId;

  // Model files, through the artifact proxy, then listed by the library.
  for (const id of [baseId, runId]) {
    await putArtifact(expId, id, 'model/MLmodel', MLMODEL);
    await putArtifact(expId, id, 'model/weights.bin', `weights of ${id}\n`);
  }
  const listed = await Artifacts.list({ run_id: runId, path: 'model' });
  out.artifacts = (listed.files || []).map((f) => ({ path: f.path, is_dir: !!f.is_dir, file_size: Number(f.file_size) }));

  // Reads: the run, a metric's history, searches.
  const { run } = await Runs.get({ run_id: runId });
  out.run = {
    run_name: run.info.run_name,
    user_id: run.info.user_id,
    status: run.info.status,
    start_time: run.info.start_time,
    params: toMap(run.data.params),
    metrics: Object.fromEntries(run.data.metrics.map((m) => [m.key, { value: m.value, step: m.step, timestamp: m.timestamp }])),
    tags: toMap(run.data.tags),
  };
  const hist = await Metrics.getHistory({ run_id: runId, metric_key: 'loss' });
  out.loss_history = hist.metrics.map((m) => ({ step: m.step, value: m.value, timestamp: m.timestamp }));
  const ids = (res) => (res.runs || []).map((r) => r.info.run_id);
  const search = (filter, order_by) =>
    Runs.search({ experiment_ids: [expId], filter, order_by, run_view_type: ViewType.ACTIVE_ONLY, max_results: 10 });
  out.search = {
    by_acc_desc: ids(await search("tags.stage = 'seed'", ['metrics.acc DESC'])),
    default_order: ids(await search("tags.stage = 'seed'")),
    adam_over_090: ids(await search("params.optimizer = 'adam' and metrics.acc > 0.9", ['metrics.acc DESC'])),
  };

  // End both runs.
  for (const id of [runId, baseId]) {
    await Runs.update({ run_id: id, status: RunStatus.FINISHED, end_time: T0 + 200000 });
  }
  out.final_status = (await Runs.get({ run_id: runId })).run.info.status;

  // Registry: v1 from the baseline to Production, then v2 from the main
  // run to Production archiving v1; aliases.
  const name = 'npm-churn';
  await extra.createRegisteredModel({ name, description: 'registered by the npm mlflow client' });
  const v1 = (await extra.createModelVersion({ name, source: `runs:/${baseId}/model`, run_id: baseId })).model_version;
  await extra.transitionStage({ name, version: v1.version, stage: 'Production', archive_existing_versions: false });
  const v2 = (await extra.createModelVersion({ name, source: `runs:/${runId}/model`, run_id: runId })).model_version;
  const promoted = (await extra.transitionStage({ name, version: v2.version, stage: 'Production', archive_existing_versions: true })).model_version;
  await extra.setAlias({ name, alias: 'champion', version: v2.version });
  await extra.setAlias({ name, alias: 'challenger', version: v1.version });
  const byAlias = (await extra.getByAlias({ name, alias: 'champion' })).model_version;
  const latest = (await extra.getLatestVersions({ name, stages: ['Production'] })).model_versions || [];
  await deleteAlias(name, 'challenger');
  const v1After = (await extra.getModelVersion({ name, version: v1.version })).model_version;
  const model = (await extra.getRegisteredModel({ name })).registered_model;
  out.model = {
    name: model.name,
    description: model.description,
    v1: { version: v1.version, source: v1.source, run_id: v1.run_id, stage_after: v1After.current_stage },
    v2: { version: v2.version, source: v2.source, run_id: v2.run_id, stage_after: promoted.current_stage },
    champion: byAlias.version,
    latest_production: latest.map((v) => v.version),
    aliases: (model.aliases || []).map((a) => `${a.alias}=${a.version}`),
  };

  // Calls of the library that do not work against mlgit server.
  out.gaps = {
    'Experiments.list': await expectError(() => Experiments.list({ view_type: ViewType.ALL })),
    'Experiments.setExperimentTag': await expectError(() =>
      Experiments.setExperimentTag({ experiment_id: expId, key: 'k', value: 'v' })),
  };

  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  console.error(`client.mjs: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
