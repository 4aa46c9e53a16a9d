//! Moving `f32` values between flex tensors and the slice kernels.

use std::borrow::Cow;

use burn::backend::{Bytes, DType, Shape};
use burn_flex::{FlexTensor, Layout};

/// The values of a float tensor, contiguous, as `f32` (borrowed when already so).
pub(crate) fn f32_values(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(tensor.to_contiguous().storage::<f32>().to_vec()),
    }
}

/// A contiguous `f32` tensor of `shape` holding `values`.
pub(crate) fn f32_tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape.into()),
        DType::F32,
    )
}
