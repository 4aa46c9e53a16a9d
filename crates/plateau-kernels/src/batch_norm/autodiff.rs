//! The backward pass: the autodiff backend records the normalisation and, when gradients are
//! asked for, calls the inner backend's [`BatchNormGradients`]. The returned statistics are
//! constants (they feed the running averages only).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

use super::{BatchNormExtension, BatchNormGradients};

#[derive(Debug)]
struct BatchNormBackward;

impl<B: BatchNormGradients> Backward<B, 3> for BatchNormBackward {
    /// The input and γ (as checkpointed nodes), the batch mean and variance, and ε.
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_node, gamma_node, beta_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let gamma: FloatTensor<B> = checkpointer.retrieve_node_output(gamma_state);
        let (grad_x, grad_gamma, grad_beta) =
            B::plateau_batch_norm_backward(x, gamma, mean, variance, epsilon, grad);
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

type Outputs<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

impl<B, C> BatchNormExtension for Autodiff<B, C>
where
    B: BatchNormExtension + BatchNormGradients,
    C: CheckpointStrategy,
{
    fn plateau_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> Outputs<Self> {
        match BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (out, mean, variance) = B::plateau_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (
                    x_state,
                    gamma_state,
                    mean.clone(),
                    variance.clone(),
                    epsilon,
                );
                let out = prep.finish(state, out);
                (
                    out,
                    FloatTensor::<Self>::new(mean),
                    FloatTensor::<Self>::new(variance),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (out, mean, variance) = B::plateau_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let out = prep.finish(out);
                (
                    out,
                    FloatTensor::<Self>::new(mean),
                    FloatTensor::<Self>::new(variance),
                )
            }
        }
    }
}
