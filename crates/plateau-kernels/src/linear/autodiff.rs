//! The backward pass: the autodiff backend keeps the input and the weight and, when gradients
//! are asked for, calls the inner backend's [`LinearGradients`] for all three at once.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

use super::{Axis, LinearExtension, LinearGradients};

#[derive(Debug)]
struct LinearBackward;

impl<B: LinearGradients> Backward<B, 3> for LinearBackward {
    /// The input and the weight, as checkpointed nodes, and the axis mapped.
    type State = (NodeId, NodeId, Axis);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, axis) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight_state);
        let gradients = B::plateau_linear_backward(x, weight, grad, axis);
        let [x_node, weight_node, bias_node] = ops.parents;
        let nodes_and_grads = [
            (x_node, gradients.0),
            (weight_node, gradients.1),
            (bias_node, gradients.2),
        ];
        for (node, grad) in nodes_and_grads {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B, C> LinearExtension for Autodiff<B, C>
where
    B: LinearExtension + LinearGradients,
    C: CheckpointStrategy,
{
    fn plateau_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        axis: Axis,
    ) -> FloatTensor<Self> {
        let forward = |x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>| {
            B::plateau_linear(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                axis,
            )
        };
        match LinearBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                prep.finish((x_state, weight_state, axis), forward(x, weight, bias))
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(x, weight, bias)),
        }
    }
}
