//! Presets reproduce the published architectures to the parameter, and their FLOPs agree with
//! the published multiply-accumulate counts.

use burn::prelude::*;
use plateau_models::{InputSpec, ModelError, PRESETS, preset, trainable_params};

/// Parameter counts of the reference implementations at 224 px and 1000 classes:
/// torchvision for ResNet v1, timm `resnetv2_*_bitm` for BiT, timm `vit_*_224` and
/// `mixer_*_224` (the ports of the original JAX checkpoints) for ViT and Mixer.
const PUBLISHED_PARAMS: &[(&str, u64)] = &[
    ("resnet18", 11_689_512),
    ("resnet34", 21_797_672),
    ("resnet50", 25_557_032),
    ("resnet101", 44_549_160),
    ("resnet152", 60_192_808),
    ("r50x1", 25_549_352),
    ("r50x3", 217_319_080),
    ("r101x1", 44_541_480),
    ("vit-ti16", 5_717_416),
    ("vit-s16", 22_050_664),
    ("vit-b16", 86_567_656),
    ("vit-s32", 22_878_952),
    ("vit-b32", 88_224_232),
    ("mixer-s16", 18_528_264),
    ("mixer-b16", 59_880_472),
    ("mixer-l16", 208_196_168),
];

/// torchvision's published "GFLOPS" (multiply-accumulates) at 224 px.
const PUBLISHED_GMACS: &[(&str, f64)] = &[
    ("resnet18", 1.81),
    ("resnet34", 3.66),
    ("resnet50", 4.09),
    ("resnet101", 7.80),
    ("resnet152", 11.51),
    ("vit-b16", 17.56),
    ("vit-b32", 4.41),
];

#[test]
fn imagenet_presets_match_published_parameter_counts() {
    for &(name, published) in PUBLISHED_PARAMS {
        let preset = preset(name).unwrap();
        assert_eq!(preset.input, InputSpec::IMAGENET, "{name}");
        let cost = preset.config().cost(&InputSpec::IMAGENET).unwrap();
        assert_eq!(cost.params, published, "{name}: analytic count");
    }
}

#[test]
fn built_presets_count_what_the_analytic_count_says() {
    // Parameters are lazily initialised, so even R50x3 is built without allocating weights.
    let device = Device::flex();
    for preset in PRESETS {
        let model = preset.config().init(&preset.input, &device).unwrap();
        let analytic = preset.config().cost(&preset.input).unwrap().params;
        assert_eq!(trainable_params(&model), analytic, "{}", preset.name);
    }
}

#[test]
fn flops_match_published_multiply_accumulates() {
    for &(name, gmacs) in PUBLISHED_GMACS {
        let cost = preset(name)
            .unwrap()
            .config()
            .cost(&InputSpec::IMAGENET)
            .unwrap();
        let measured = cost.flops as f64 / 2e9;
        let relative = (measured - gmacs).abs() / gmacs;
        assert!(
            relative < 0.01,
            "{name}: {measured:.3} GMACs vs published {gmacs}"
        );
    }
}

#[test]
fn batchnorm_buffers_are_not_parameters() {
    let device = Device::flex();
    let model = preset("resnet18")
        .unwrap()
        .config()
        .init(&InputSpec::IMAGENET, &device)
        .unwrap();
    // burn counts running mean and variance: 2 per BatchNorm channel (4,800 channels in ResNet-18).
    assert_eq!(
        model.num_params() as u64 - trainable_params(&model),
        2 * 4_800
    );
}

#[test]
fn unknown_preset_lists_the_valid_names() {
    let error = preset("vit-h14").unwrap_err();
    let ModelError::UnknownPreset { name, valid } = &error else {
        panic!("wrong error {error:?}")
    };
    assert_eq!(name, "vit-h14");
    assert_eq!(valid.len(), PRESETS.len());
    assert!(error.to_string().contains("vit-b16"));
}

#[test]
fn small_presets_run_on_small_images() {
    let device = Device::flex();
    for name in ["resnet-cifar", "vit-tiny-p4", "mixer-tiny-p4"] {
        let preset = preset(name).unwrap();
        assert_eq!(preset.input.image_size, 32, "{name}");
        let input = InputSpec::new(1, 28, 10); // greyscale 28 px, as Fashion-MNIST
        let model = preset.config().init(&input, &device).unwrap();
        let logits = model.forward(Tensor::zeros([2, 1, 28, 28], &device));
        assert_eq!(logits.dims(), [2, 10], "{name}");
    }
}
