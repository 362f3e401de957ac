// Package blobtest is the conformance suite for blob.Store backends. Every
// backend's tests call Run with a constructor of fresh, empty stores, so all
// backends are held to the one contract documented on blob.Store:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Store { return blob.NewMem(t.Name()) })
//	}
package blobtest
