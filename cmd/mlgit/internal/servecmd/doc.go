// Package servecmd has mlgit server (the MLflow-compatible tracking server)
// and mlgit ui (the web UI in a browser).
package servecmd
