// Package cloud holds the blob stores that need a cloud provider's client
// library: Google Cloud Storage (GCS, through cloud.google.com/go/storage)
// and Azure Blob Storage (Azure, through the Azure SDK for Go). Only the
// program mlgit-blob-cloud imports it; mlgit opens these stores through
// blob.OpenStore, which runs that program and talks to it over a Unix
// socket, so that mlgit starts fast and stays small.
package cloud
