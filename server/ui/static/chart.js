// Charts of metric histories with uPlot (contract; implementation pending).
// mountLazyCharts(root, opts) mounts every .chart element under root when
// it scrolls into view: <div class="chart" data-key="loss" data-runs="id1,id2">.
export function mountLazyCharts(root, opts = {}) {}
