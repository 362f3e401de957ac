// Package ui is mlgit's web UI: server-rendered pages (html/template) for
// experiments, runs, a run, compare, the model registry, the activity log
// and diffs, with small JavaScript modules for what a page does after it
// loads (charts with uPlot, artifact previews, writes through the JSON API).
//
// A Handler is mounted by package server on the same port as the MLflow
// API, behind the same Host allow-list, Origin checks and authentication.
// It reads through the same repo.Repo methods as the CLI and the REST
// handlers; writes are made by the page's scripts through the JSON API, so
// the server's CSRF defences (JSON content type, Origin) and --read-only
// cover them unchanged.
//
// Every page is sent with a Content-Security-Policy of default-src 'self'
// and no inline script or style; every user-controlled string goes
// through html/template's escaping (or textContent in scripts).
//
// Assets are embedded: the project's own files under static/, and uPlot
// under static/vendor/, copied from npm by `make ui-assets` (it is not
// committed). A binary built without them still serves every page and
// says on the page how to get the charts.
//
// URLs follow MLflow's where MLflow has one, so links MLflow's client
// prints (/#/experiments/<id>/runs/<run>) open the same page here: a
// hash route is redirected to its path by app.js.
package ui
