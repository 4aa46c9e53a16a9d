//! The backward pass: the autodiff backend records the convolution and, when gradients are
//! asked for, calls the inner backend's [`Conv2dGradients`].

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

use super::cpu::ConvGeometry;
use super::{Conv2dExtension, Conv2dGradients, geometry};

#[derive(Debug)]
struct Conv2dBackward;

impl<B: Conv2dGradients> Backward<B, 2> for Conv2dBackward {
    /// The input and weight (as checkpointed nodes) and the shapes.
    type State = (NodeId, NodeId, ConvGeometry);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_node, weight_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, geometry) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight_state);
        if let Some(node) = x_node {
            let x_grad = B::plateau_conv2d_input_grad(weight, grad.clone(), geometry);
            grads.register::<B>(node.id, x_grad);
        }
        if let Some(node) = weight_node {
            let weight_grad = B::plateau_conv2d_weight_grad(x, grad, geometry);
            grads.register::<B>(node.id, weight_grad);
        }
    }
}

impl<B, C> Conv2dExtension for Autodiff<B, C>
where
    B: Conv2dExtension + Conv2dGradients,
    C: CheckpointStrategy,
{
    fn plateau_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride_h: usize,
        stride_w: usize,
        padding_h: usize,
        padding_w: usize,
    ) -> FloatTensor<Self> {
        let geometry = geometry(
            &x.primitive().shape(),
            &weight.primitive().shape(),
            [stride_h, stride_w],
            [padding_h, padding_w],
        );
        let forward =
            |x, weight| B::plateau_conv2d(x, weight, stride_h, stride_w, padding_h, padding_w);
        match Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let output = forward(x.into_primitive(), weight.into_primitive());
                prep.finish((x_state, weight_state, geometry), output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward(x.into_primitive(), weight.into_primitive()))
            }
        }
    }
}
