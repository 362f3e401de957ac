package cloud_test

import "sync/atomic"

// prefixSeq numbers the bucket prefixes of the tests, so no two share one.
var prefixSeq atomic.Int64
