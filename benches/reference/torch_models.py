"""PyTorch twins of plateau's three model families (crates/plateau-models/src).

Each model is built from one row of `plateau params --format json`: its `config` (the
architecture, `family` plus every field) and its `input` (channels, image_size, num_classes).
Layer order, biases, norms, epsilons, activations, pooling and heads follow the Rust code, so
the trainable parameter count equals plateau's `params` exactly (torch_bench.py checks it).
Initialisation follows plateau's where it is cheap to; it does not affect timing.
"""

import torch
import torch.nn.functional as F
from torch import nn

# Every field each family's config may carry (plateau's structs deny unknown fields too).
# A field we do not know would be an architecture change we do not reproduce: refuse it.
RESNET_FIELDS = {
    "block": None,
    "stage_depths": None,
    "base_width": 64,
    "width_multiplier": 1,
    "stem": "imagenet",
    "norm": "batch",
    "norm_groups": 32,
    "preactivation": False,
}
VIT_FIELDS = {
    "patch_size": None,
    "width": None,
    "depth": None,
    "heads": None,
    "mlp_dim": None,
    "pool": "cls",
}
MIXER_FIELDS = {
    "patch_size": None,
    "hidden_dim": None,
    "depth": None,
    "token_mlp_dim": None,
    "channel_mlp_dim": None,
}

LAYER_NORM_EPS = 1e-6  # layers.rs: the ViT/Mixer reference code's epsilon
NORM_EPS = 1e-5  # burn's BatchNorm default, and resnet.rs's GroupNorm
STD_CONV_EPS = 1e-8  # layers.rs standardize_weight


def _fields(config, known, family):
    """The config with serde's defaults filled in; unknown or missing fields are errors."""
    extra = set(config) - set(known) - {"family"}
    if extra:
        raise ValueError(
            f"{family} config has fields torch_models.py does not implement: {sorted(extra)}"
        )
    out = {}
    for key, default in known.items():
        if key in config:
            out[key] = config[key]
        elif default is None:
            raise ValueError(f"{family} config lacks required field `{key}`")
        else:
            out[key] = default
    return out


# ---------------------------------------------------------------------------------------------
# ResNet (resnet.rs): v1 post-activation with BatchNorm, or v2 pre-activation with GroupNorm and
# weight-standardised convs (BiT).


class StdConv2d(nn.Conv2d):
    """BiT's StdConv: each output filter's weights to zero mean, unit (biased) variance."""

    def forward(self, x):
        w = self.weight
        flat = w.reshape(w.shape[0], -1)  # [c_out, c_in*kh*kw]
        var, mean = torch.var_mean(flat, dim=1, unbiased=False, keepdim=True)
        w = ((flat - mean) / torch.sqrt(var + STD_CONV_EPS)).reshape_as(w)
        return F.conv2d(x, w, None, self.stride, self.padding)


def _resnet_conv(c_in, c_out, kernel, stride, padding, standardize):
    cls = StdConv2d if standardize else nn.Conv2d
    conv = cls(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
    # layers.rs Conv::new: He-normal, fan-out (torchvision and BiT).
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


def _resnet_norm(cfg, channels):
    if cfg["norm"] == "batch":
        return nn.BatchNorm2d(channels, eps=NORM_EPS, momentum=0.1)
    if cfg["norm"] == "group":
        return nn.GroupNorm(cfg["norm_groups"], channels, eps=NORM_EPS)
    raise ValueError(f"unknown resnet.norm {cfg['norm']!r}")


class ResNetBlock(nn.Module):
    """A basic (two 3×3) or bottleneck (1×1, 3×3, 1×1) block, post- or pre-activation."""

    def __init__(self, cfg, c_in, inner, out, stride):
        super().__init__()
        pre = cfg["preactivation"]
        std = cfg["norm"] == "group"
        self.preactivation = pre
        # v2 normalises the block input; v1 normalises the branch output (out_norm).
        self.pre_norm = _resnet_norm(cfg, c_in) if pre else None
        if cfg["block"] == "basic":
            self.conv1 = _resnet_conv(c_in, inner, 3, stride, 1, std)
            self.norm1 = _resnet_norm(cfg, inner)
            self.conv2 = _resnet_conv(inner, out, 3, 1, 1, std)
            self.norm2, self.conv3 = None, None
        elif cfg["block"] == "bottleneck":
            # Stride on the 3×3 conv (torchvision v1.5, BiT).
            self.conv1 = _resnet_conv(c_in, inner, 1, 1, 0, std)
            self.norm1 = _resnet_norm(cfg, inner)
            self.conv2 = _resnet_conv(inner, inner, 3, stride, 1, std)
            self.norm2 = _resnet_norm(cfg, inner)
            self.conv3 = _resnet_conv(inner, out, 1, 1, 0, std)
        else:
            raise ValueError(f"unknown resnet.block {cfg['block']!r}")
        self.out_norm = None if pre else _resnet_norm(cfg, out)
        # 1×1 projection whenever the shape changes; identity otherwise (resnet.rs Shortcut).
        if stride != 1 or c_in != out:
            self.shortcut_conv = _resnet_conv(c_in, out, 1, stride, 0, std)
            self.shortcut_norm = None if pre else _resnet_norm(cfg, out)
        else:
            self.shortcut_conv, self.shortcut_norm = None, None

    def forward(self, x):
        branch_in = F.relu(self.pre_norm(x)) if self.pre_norm is not None else x
        identity = x
        if self.shortcut_conv is not None:
            # v2 projects the normalised input, v1 the raw input.
            identity = self.shortcut_conv(branch_in if self.preactivation else x)
            if self.shortcut_norm is not None:
                identity = self.shortcut_norm(identity)
        y = F.relu(self.norm1(self.conv1(branch_in)))
        y = self.conv2(y)
        if self.conv3 is not None:
            y = self.conv3(F.relu(self.norm2(y)))
        if self.out_norm is not None:
            return F.relu(self.out_norm(y) + identity)
        return y + identity


class ResNet(nn.Module):
    def __init__(self, config, input):
        super().__init__()
        cfg = _fields(config, RESNET_FIELDS, "resnet")
        if cfg["stem"] not in ("imagenet", "cifar"):
            raise ValueError(f"unknown resnet.stem {cfg['stem']!r}")
        pre = cfg["preactivation"]
        std = cfg["norm"] == "group"
        stem_width = cfg["base_width"] * cfg["width_multiplier"]
        expansion = {"basic": 1, "bottleneck": 4}[cfg["block"]]
        # Stem: 7×7/2 conv + 3×3/2 max-pool (imagenet) or 3×3/1 conv (cifar); v1 adds norm+ReLU.
        kernel, stride, padding = (7, 2, 3) if cfg["stem"] == "imagenet" else (3, 1, 1)
        self.stem_conv = _resnet_conv(input["channels"], stem_width, kernel, stride, padding, std)
        self.stem_norm = None if pre else _resnet_norm(cfg, stem_width)
        self.max_pool = cfg["stem"] == "imagenet"
        blocks = []
        c_in = stem_width
        for stage, depth in enumerate(cfg["stage_depths"]):
            inner = stem_width << stage
            out = inner * expansion
            for block in range(depth):
                # Later stages halve the resolution in their first block.
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(ResNetBlock(cfg, c_in, inner, out, stride))
                c_in = out
        self.blocks = nn.Sequential(*blocks)
        self.final_norm = _resnet_norm(cfg, c_in) if pre else None
        self.head = _linear(c_in, input["num_classes"])

    def forward(self, x):  # x: [b, c, h, w]
        x = self.stem_conv(x)
        if self.stem_norm is not None:
            x = F.relu(self.stem_norm(x))
        if self.max_pool:
            x = F.max_pool2d(x, 3, stride=2, padding=1)
        x = self.blocks(x)
        if self.final_norm is not None:
            x = F.relu(self.final_norm(x))
        x = x.mean(dim=(2, 3))  # [b, c_last]
        return self.head(x)


# ---------------------------------------------------------------------------------------------
# Shared by ViT and Mixer (layers.rs).


def _linear(d_in, d_out):
    # burn's LinearConfig default init (Kaiming-uniform, gain 1/sqrt(3)) is torch's default.
    return nn.Linear(d_in, d_out, bias=True)


def _patchify(c_in, c_out, patch):
    """Patch embedding: a conv whose kernel equals its stride, with a bias."""
    return nn.Conv2d(c_in, c_out, patch, stride=patch, padding=0, bias=True)


def _layer_norm(d):
    return nn.LayerNorm(d, eps=LAYER_NORM_EPS)


class Mlp(nn.Module):
    """fc1 → exact (erf) GELU → fc2, as burn's `gelu`."""

    def __init__(self, d_in, d_hidden):
        super().__init__()
        self.fc1 = _linear(d_in, d_hidden)
        self.fc2 = _linear(d_hidden, d_in)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


def _tokens(patches):
    """[b, d, h/p, w/p] → [b, n, d]."""
    b, d, gh, gw = patches.shape
    return patches.reshape(b, d, gh * gw).transpose(1, 2)


# ---------------------------------------------------------------------------------------------
# ViT (vit.rs): strided-conv patch embedding, learned position embedding, pre-norm blocks,
# class token or mean pooling after a final LayerNorm, linear head.


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection, written out as in vit.rs
    (torch 1.13 has no fused scaled_dot_product_attention anyway)."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = _linear(d, 3 * d)
        self.proj = _linear(d, d)

    def forward(self, x):  # x: [b, t, d]
        b, t, d = x.shape
        dh = d // self.heads
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [b, heads, t, dh] each
        scores = (q @ k.transpose(2, 3)) * dh**-0.5  # [b, heads, t, t]
        attended = scores.softmax(dim=3) @ v  # [b, heads, t, dh]
        merged = attended.transpose(1, 2).reshape(b, t, d)  # [b, t, d]
        return self.proj(merged)


class EncoderBlock(nn.Module):
    def __init__(self, d, heads, mlp_dim):
        super().__init__()
        self.norm1 = _layer_norm(d)
        self.attn = Attention(d, heads)
        self.norm2 = _layer_norm(d)
        self.mlp = Mlp(d, mlp_dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Vit(nn.Module):
    def __init__(self, config, input):
        super().__init__()
        cfg = _fields(config, VIT_FIELDS, "vit")
        if cfg["pool"] not in ("cls", "gap"):
            raise ValueError(f"unknown vit.pool {cfg['pool']!r}")
        d, p, size = cfg["width"], cfg["patch_size"], input["image_size"]
        if d % cfg["heads"] or size % p:
            raise ValueError("vit.heads must divide vit.width and patch_size the image size")
        tokens = (size // p) ** 2 + (cfg["pool"] == "cls")
        self.patch_embed = _patchify(input["channels"], d, p)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if cfg["pool"] == "cls" else None
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, d) * 0.02)
        self.blocks = nn.Sequential(
            *[EncoderBlock(d, cfg["heads"], cfg["mlp_dim"]) for _ in range(cfg["depth"])]
        )
        self.norm = _layer_norm(d)
        self.head = _linear(d, input["num_classes"])

    def forward(self, images):  # images: [b, c, h, w]
        x = _tokens(self.patch_embed(images))  # [b, n, d]
        if self.cls_token is not None:
            cls = self.cls_token.expand(x.shape[0], -1, -1)  # [b, 1, d]
            x = torch.cat([cls, x], dim=1)  # [b, 1 + n, d]
        x = self.norm(self.blocks(x + self.pos_embed))
        pooled = x[:, 0] if self.cls_token is not None else x.mean(dim=1)  # [b, d]
        return self.head(pooled)


# ---------------------------------------------------------------------------------------------
# MLP-Mixer (mixer.rs): patch-embedding conv, pre-norm token- and channel-mixing MLPs with
# residuals, final LayerNorm, mean over tokens, linear head.


class MixerBlock(nn.Module):
    def __init__(self, c, s, token_mlp_dim, channel_mlp_dim):
        super().__init__()
        self.norm1 = _layer_norm(c)
        self.token_mlp = Mlp(s, token_mlp_dim)
        self.norm2 = _layer_norm(c)
        self.channel_mlp = Mlp(c, channel_mlp_dim)

    def forward(self, x):  # x: [b, s, c]
        mixed = self.token_mlp(self.norm1(x).transpose(1, 2))  # [b, c, s]
        x = x + mixed.transpose(1, 2)  # [b, s, c]
        return x + self.channel_mlp(self.norm2(x))


class Mixer(nn.Module):
    def __init__(self, config, input):
        super().__init__()
        cfg = _fields(config, MIXER_FIELDS, "mixer")
        c, p, size = cfg["hidden_dim"], cfg["patch_size"], input["image_size"]
        if size % p:
            raise ValueError("mixer.patch_size must divide the image size")
        s = (size // p) ** 2
        self.stem = _patchify(input["channels"], c, p)
        self.blocks = nn.Sequential(
            *[
                MixerBlock(c, s, cfg["token_mlp_dim"], cfg["channel_mlp_dim"])
                for _ in range(cfg["depth"])
            ]
        )
        self.norm = _layer_norm(c)
        self.head = _linear(c, input["num_classes"])

    def forward(self, images):  # images: [b, c_in, h, w]
        x = self.blocks(_tokens(self.stem(images)))  # [b, s, c]
        return self.head(self.norm(x).mean(dim=1))  # [b, c] → [b, classes]


# ---------------------------------------------------------------------------------------------

FAMILIES = {"resnet": ResNet, "vit": Vit, "mixer": Mixer}


def build(config, input):
    """The torch model of one `plateau params` row's `config` and `input`."""
    family = config.get("family")
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(FAMILIES)}")
    return FAMILIES[family](config, input)


def trainable_params(model):
    """Trainable parameters as plateau counts them (BatchNorm running stats are buffers)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


if __name__ == "__main__":
    # Parameter check: `plateau params ... --format json | python3 torch_models.py`
    # prints plateau's count and the torch model's for every row; exit 1 on a mismatch.
    import json
    import sys

    rows = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    bad = 0
    for row in rows if isinstance(rows, list) else [rows]:
        n = trainable_params(build(row["config"], row["input"]))
        ok = n == row["params"]
        bad += not ok
        verdict = "ok" if ok else "MISMATCH"
        print(f"{row['name']:<28} plateau {row['params']:>13,}  torch {n:>13,}  {verdict}")
    sys.exit(1 if bad else 0)
