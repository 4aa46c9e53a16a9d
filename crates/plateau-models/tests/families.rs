//! Random configs of every family: the analytic count equals the built module's count, and
//! forward and backward run with the right shapes on the CPU backend.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use plateau_models::mixer::MixerConfig;
use plateau_models::resnet::{BlockKind, NormKind, ResNetConfig, Stem};
use plateau_models::vit::{Pooling, VitConfig};
use plateau_models::{InputSpec, Model, ModelConfig, ModelError, trainable_params};

/// SplitMix64: a seeded source of small random choices, so failures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[(self.next() % choices.len() as u64) as usize]
    }
}

fn random_input(rng: &mut Rng) -> InputSpec {
    InputSpec::new(
        rng.pick(&[1, 3]),
        rng.pick(&[8, 16, 24]),
        rng.pick(&[2, 5, 10]),
    )
}

fn random_resnet(rng: &mut Rng) -> ModelConfig {
    let norm = rng.pick(&[NormKind::Batch, NormKind::Group]);
    let stages = rng.pick(&[1, 2, 3]);
    ModelConfig::Resnet(ResNetConfig {
        block: rng.pick(&[BlockKind::Basic, BlockKind::Bottleneck]),
        stage_depths: (0..stages).map(|_| rng.pick(&[1, 2])).collect(),
        base_width: rng.pick(&[4, 8]),
        width_multiplier: rng.pick(&[1, 2]),
        stem: rng.pick(&[Stem::Imagenet, Stem::Cifar]),
        norm,
        norm_groups: rng.pick(&[1, 2, 4]),
        preactivation: rng.pick(&[false, true]),
    })
}

fn random_vit(rng: &mut Rng) -> ModelConfig {
    let heads = rng.pick(&[1, 2, 4]);
    ModelConfig::Vit(VitConfig {
        patch_size: rng.pick(&[2, 4, 8]),
        width: heads * rng.pick(&[4, 8]),
        depth: rng.pick(&[1, 2, 3]),
        heads,
        mlp_dim: rng.pick(&[8, 16, 24]),
        pool: rng.pick(&[Pooling::Cls, Pooling::Gap]),
    })
}

fn random_mixer(rng: &mut Rng) -> ModelConfig {
    ModelConfig::Mixer(MixerConfig {
        patch_size: rng.pick(&[2, 4, 8]),
        hidden_dim: rng.pick(&[8, 12, 16]),
        depth: rng.pick(&[1, 2, 3]),
        token_mlp_dim: rng.pick(&[4, 8]),
        channel_mlp_dim: rng.pick(&[8, 32]),
    })
}

fn random_configs(seed: u64, count: usize) -> Vec<(ModelConfig, InputSpec)> {
    let mut rng = Rng(seed);
    (0..count)
        .flat_map(|_| {
            let input = random_input(&mut rng);
            [
                random_resnet(&mut rng),
                random_vit(&mut rng),
                random_mixer(&mut rng),
            ]
            .map(|config| (config, input))
        })
        .collect()
}

#[test]
fn analytic_counts_equal_built_module_counts() {
    let device = Device::flex();
    for (config, input) in random_configs(7, 40) {
        let model = config.init(&input, &device).unwrap();
        let analytic = config.cost(&input).unwrap();
        assert_eq!(
            trainable_params(&model),
            analytic.params,
            "{config:?} {input:?}"
        );
        assert!(analytic.flops > 0);
    }
}

#[test]
fn forward_gives_logits_pre_logits_and_every_layer() {
    let device = Device::flex();
    for (config, input) in random_configs(11, 6) {
        let model = config.init(&input, &device).unwrap();
        let images = Tensor::random(
            [3, input.channels, input.image_size, input.image_size],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let features = model.features(images.clone(), true);
        assert_eq!(
            features.pre_logits.dims(),
            [3, config.feature_dim()],
            "{config:?}"
        );
        assert_eq!(
            features.layers.len(),
            config.layer_names().len(),
            "{config:?}"
        );
        for layer in &features.layers {
            assert_eq!(layer.dims()[0], 3);
        }
        // The head reads the pre-logits: logits from `forward` equal head(pre_logits).
        let logits = model.forward(images);
        assert_eq!(logits.dims(), [3, input.num_classes]);
        let from_features = model.head(features.pre_logits);
        let gap = (logits - from_features).abs().max().into_scalar::<f32>();
        assert!(
            gap < 1e-4,
            "{config:?}: forward and head(features) differ by {gap}"
        );
        assert!(
            model
                .features(
                    Tensor::zeros(
                        [1, input.channels, input.image_size, input.image_size],
                        &device
                    ),
                    false
                )
                .layers
                .is_empty()
        );
    }
}

#[test]
fn backward_reaches_the_first_layer_of_every_family() {
    let device = Device::flex().autodiff();
    for (config, input) in random_configs(13, 4) {
        let model = config.init(&input, &device).unwrap();
        let images = Tensor::random(
            [4, input.channels, input.image_size, input.image_size],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let targets = Tensor::<1, Int>::from_ints([0, 1, 0, 1], &device);
        let loss = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(model.forward(images), targets);
        let grads = loss.backward();
        let first_weight = match &model {
            Model::Resnet(m) => m.stem.conv.weight.val(),
            Model::Vit(m) => m.patch_embed.weight.val(),
            Model::Mixer(m) => m.stem.weight.val(),
        };
        let grad = first_weight
            .grad(&grads)
            .expect("the first layer gets a gradient");
        assert_eq!(grad.dims(), first_weight.dims());
        let norm = grad.abs().sum().into_scalar::<f32>();
        assert!(
            norm.is_finite() && norm > 0.0,
            "{config:?}: gradient norm {norm}"
        );
    }
}

#[test]
fn group_norm_resnet_standardises_its_conv_weights() {
    // With weight standardisation a conv's output does not change when its weight is scaled.
    let device = Device::flex();
    let input = InputSpec::new(3, 16, 4);
    let config = ResNetConfig {
        base_width: 8,
        norm_groups: 4,
        stem: Stem::Cifar,
        ..ResNetConfig::bit(&[1, 1], 1)
    };
    let model = config.init(&input, &device);
    let images = Tensor::random([2, 3, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    let before = model.stem.conv.forward(images.clone());
    let mut scaled = model.stem.conv.clone();
    scaled.weight = scaled.weight.map(|w| w * 5.0);
    let after = scaled.forward(images);
    let gap = (before - after).abs().max().into_scalar::<f32>();
    assert!(gap < 1e-3, "standardised conv changed by {gap}");
}

#[test]
fn impossible_shapes_name_the_field() {
    let input = InputSpec::new(3, 32, 10);
    let vit = |heads, patch| ModelConfig::Vit(VitConfig::new(patch, 64, 2, heads, 128));
    let field = |error: ModelError| match error {
        ModelError::Invalid { field, .. } => field,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(field(vit(5, 4).validate(&input).unwrap_err()), "vit.heads");
    assert_eq!(
        field(vit(4, 5).validate(&input).unwrap_err()),
        "vit.patch_size"
    );
    assert_eq!(
        field(vit(4, 4).validate(&InputSpec::new(3, 32, 0)).unwrap_err()),
        "num_classes"
    );
    let resnet = |depths: Vec<usize>| {
        ModelConfig::Resnet(ResNetConfig {
            stage_depths: depths,
            ..ResNetConfig::v1(BlockKind::Basic, &[1])
        })
    };
    assert_eq!(
        field(resnet(vec![]).validate(&input).unwrap_err()),
        "resnet.stage_depths"
    );
    assert_eq!(
        field(resnet(vec![2, 0]).validate(&input).unwrap_err()),
        "resnet.stage_depths"
    );
    let narrow_bit = ModelConfig::Resnet(ResNetConfig {
        base_width: 8,
        ..ResNetConfig::bit(&[1], 1)
    });
    let message = narrow_bit.validate(&input).unwrap_err().to_string();
    assert!(
        message.contains("resnet.norm_groups") && message.contains('8'),
        "{message}"
    );
    assert!(narrow_bit.init(&input, &Device::flex()).is_err());
}

#[test]
fn configs_read_from_json_and_reject_unknown_fields() {
    let config: ModelConfig = serde_json::from_str(
        r#"{"family": "vit", "patch_size": 4, "width": 64, "depth": 2, "heads": 4, "mlp_dim": 128}"#,
    )
    .unwrap();
    assert_eq!(config, ModelConfig::Vit(VitConfig::new(4, 64, 2, 4, 128)));
    let round_trip: ModelConfig =
        serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert_eq!(round_trip, config);
    let typo = serde_json::from_str::<ModelConfig>(
        r#"{"family": "vit", "patch_size": 4, "widht": 64, "depth": 2, "heads": 4, "mlp_dim": 128}"#,
    );
    assert!(typo.unwrap_err().to_string().contains("widht"));
    let family = serde_json::from_str::<ModelConfig>(r#"{"family": "convnext"}"#);
    assert!(family.unwrap_err().to_string().contains("convnext"));
}

#[test]
fn width_knob_scales_widths_and_keeps_ratios() {
    let input = InputSpec::CIFAR10;
    for name in ["resnet-cifar", "vit-tiny-p4", "mixer-tiny-p4"] {
        let base = plateau_models::preset(name).unwrap().config();
        let narrow = base.with_width(32).cost(&input).unwrap().params;
        let wide = base.with_width(256).cost(&input).unwrap().params;
        assert!(wide > 8 * narrow, "{name}: {narrow} → {wide}");
    }
    let vit = plateau_models::preset("vit-tiny-p4")
        .unwrap()
        .config()
        .with_width(64);
    let ModelConfig::Vit(vit) = vit else {
        unreachable!()
    };
    assert_eq!((vit.width, vit.mlp_dim, vit.heads), (64, 256, 4));
}
