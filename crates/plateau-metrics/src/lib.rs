//! plateau-metrics
