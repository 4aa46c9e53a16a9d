//! plateau-kernels: CPU kernels for the operations burn's `flex` backend computes slowly in
//! training, each registered with burn as a backend extension (`#[backend_extension]`) with its
//! own backward pass. Models call the functions here; on any other backend they fall back to
//! burn's own operations, so a model reads the same on every device.

pub mod attention;
pub mod batch_norm;
pub mod conv2d;
mod flex_io;
pub mod gelu;
pub mod layer_norm;
pub mod linear;
mod matrix;
#[cfg(test)]
mod test_values;
mod vector_math;

pub use attention::self_attention;
pub use batch_norm::batch_norm_train;
pub use conv2d::conv2d;
pub use gelu::gelu;
pub use layer_norm::layer_norm;
pub use linear::{linear, linear_over_tokens};
