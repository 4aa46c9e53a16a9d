//! plateau-data
