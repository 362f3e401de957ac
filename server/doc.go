// Package server serves the MLflow REST API over an mlgit store, so that
// unmodified MLflow clients (mlflow.set_tracking_uri("http://127.0.0.1:5000"))
// log into the Git-backed repository.
//
// A Server is an http.Handler. It serves every tracking endpoint under
// /api/2.0/mlflow/... and its mirror /ajax-api/2.0/mlflow/..., the artifact
// proxy under /api/2.0/mlflow-artifacts/artifacts/... (with multipart
// uploads under .../mpu/ and model versions' files, read-only, under
// _registry/<model>/<version>), /api/3.0/mlflow/server-info, /health and
// /version.
// Requests are decoded as MLflow does (GET from query parameters, other
// methods from JSON bodies, unknown fields ignored, doubles as numbers or
// "NaN"/"Infinity"/"-Infinity"); responses are MLflow's JSON; errors are
// {"error_code", "message"} with MLflow's status map, produced by one
// function (errorResponse) from the store's sentinel errors.
//
// Writes go through the same repo.Repo methods as the CLI and are
// acknowledged once they are durable in the store's journal.
//
// Safety: every request's Host header must be on an allow-list (DNS
// rebinding), POST and PUT on API routes must carry a JSON content type
// (cross-site request forgery), JSON bodies are size-bounded, artifact paths
// are decoded and checked before use (no traversal), read-only mode refuses
// every write with PERMISSION_DENIED, and optional authentication accepts
// bearer tokens and Basic users from a file of hashed secrets. See
// docs/server.md.
package server
