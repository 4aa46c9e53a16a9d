//! The backward pass: the autodiff backend keeps `qkv` and, when gradients are asked for,
//! calls the inner backend's [`AttentionGradients`].

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

use super::{AttentionExtension, AttentionGradients};

#[derive(Debug)]
struct AttentionBackward;

impl<B: AttentionGradients> Backward<B, 1> for AttentionBackward {
    /// `qkv`, as a checkpointed node, and the number of heads.
    type State = (NodeId, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [qkv_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (qkv_state, heads) = ops.state;
        let qkv: FloatTensor<B> = checkpointer.retrieve_node_output(qkv_state);
        if let Some(node) = qkv_node {
            let grad_qkv = B::plateau_self_attention_backward(qkv, heads, grad);
            grads.register::<B>(node.id, grad_qkv);
        }
    }
}

impl<B, C> AttentionExtension for Autodiff<B, C>
where
    B: AttentionExtension + AttentionGradients,
    C: CheckpointStrategy,
{
    fn plateau_self_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        let forward =
            |qkv: FloatTensor<Self>| B::plateau_self_attention(qkv.into_primitive(), heads);
        match AttentionBackward
            .prepare::<C>([qkv.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let qkv_state = prep.checkpoint(&qkv);
                prep.finish((qkv_state, heads), forward(qkv))
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(qkv)),
        }
    }
}
