//! The backward pass: the autodiff backend keeps GELU's input and, when gradients are asked
//! for, calls the inner backend's [`GeluGradients`].

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

use super::{GeluExtension, GeluGradients};

#[derive(Debug)]
struct GeluBackward;

impl<B: GeluGradients> Backward<B, 1> for GeluBackward {
    /// The input, as a checkpointed node.
    type State = NodeId;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(ops.state);
        if let Some(node) = x_node {
            grads.register::<B>(node.id, B::plateau_gelu_backward(x, grad));
        }
    }
}

impl<B, C> GeluExtension for Autodiff<B, C>
where
    B: GeluExtension + GeluGradients,
    C: CheckpointStrategy,
{
    fn plateau_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let out = B::plateau_gelu(x.into_primitive());
                prep.finish(x_state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::plateau_gelu(x.into_primitive())),
        }
    }
}
