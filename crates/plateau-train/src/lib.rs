//! plateau-train
