//! The backward pass: the autodiff backend keeps the input and γ and, when gradients are asked
//! for, calls the inner backend's [`LayerNormGradients`] (which recomputes each row's mean and
//! variance: one read of the input is cheaper than keeping them).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

use super::{LayerNormExtension, LayerNormGradients};

#[derive(Debug)]
struct LayerNormBackward;

impl<B: LayerNormGradients> Backward<B, 3> for LayerNormBackward {
    /// The input and γ (as checkpointed nodes), and ε.
    type State = (NodeId, NodeId, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_node, gamma_node, beta_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, gamma_state, epsilon) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let gamma: FloatTensor<B> = checkpointer.retrieve_node_output(gamma_state);
        let (grad_x, grad_gamma, grad_beta) =
            B::plateau_layer_norm_backward(x, gamma, epsilon, grad);
        for (node, grad) in [
            (x_node, grad_x),
            (gamma_node, grad_gamma),
            (beta_node, grad_beta),
        ] {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B, C> LayerNormExtension for Autodiff<B, C>
where
    B: LayerNormExtension + LayerNormGradients,
    C: CheckpointStrategy,
{
    fn plateau_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let forward = |x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>| {
            B::plateau_layer_norm(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                epsilon,
            )
        };
        match LayerNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                prep.finish((x_state, gamma_state, epsilon), forward(x, gamma, beta))
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(x, gamma, beta)),
        }
    }
}
