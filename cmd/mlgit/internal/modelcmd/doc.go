// Package modelcmd has the commands of the model registry: mlgit model
// (register, promote, alias, resolve, get, ...), mlgit lineage and mlgit
// fsck.
package modelcmd
