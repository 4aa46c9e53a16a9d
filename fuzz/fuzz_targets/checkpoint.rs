//! Model files: `model.safetensors` (what `plateau features` loads) and the burnpack resume
//! checkpoint, read into a small model of each family. Wrong shapes, dtypes, names, truncated
//! or lying headers must give an error, never a panic.
#![no_main]
use burn::tensor::Device;
use libfuzzer_sys::fuzz_target;
use plateau_models::{InputSpec, Model, preset};
use plateau_train::{read_burnpack, read_safetensors};

fn small_models() -> Vec<Model> {
    let input = InputSpec::new(1, 8, 3);
    let device = Device::flex();
    ["resnet-cifar", "vit-tiny-p4", "mixer-tiny-p4"]
        .iter()
        .map(|name| {
            let config = preset(name).expect("a preset").config().with_width(8);
            config.init(&input, &device).expect("a small model")
        })
        .collect()
}

thread_local! {
    static MODELS: Vec<Model> = small_models();
}

fuzz_target!(|bytes: &[u8]| {
    MODELS.with(|models| {
        // The first byte picks the model, so one input exercises one load of each reader.
        let Some((&pick, file)) = bytes.split_first() else {
            return;
        };
        let model = models[pick as usize % models.len()].clone();
        let _ = read_safetensors(model.clone(), file.to_vec());
        let _ = read_burnpack(model, file.to_vec());
    });
});
