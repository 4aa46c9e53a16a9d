//! How fast plateau-data turns stored images into training batches on the CPU backend.
//! Run: `cargo bench --bench data_pipeline`. Results: benches/RESULTS.md.

use burn::tensor::Device;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use plateau_data::batch::{Augmentation, batch_tensors, epoch_order, epoch_rng};
use plateau_data::formats::synthetic;
use plateau_data::transform::prepare;

const BATCH: usize = 128;

fn batches(c: &mut Criterion) {
    let device = Device::flex();
    // Fashion-MNIST-shaped images (1×28×28), and the same turned into 3×32×32 model inputs.
    let grey = synthetic::generate(10, 200, 28, 1, 0).unwrap();
    let rgb32 = prepare(grey.clone(), 3, 32).unwrap();
    let order = epoch_order(grey.len(), 0, 0);
    let indices = &order[..BATCH];
    let augment = Augmentation {
        crop_padding: 4,
        horizontal_flip: true,
    };

    let mut group = c.benchmark_group("batch_128");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, set) in [("1x28x28", &grey), ("3x32x32", &rgb32)] {
        group.bench_function(format!("{name}/plain"), |b| {
            b.iter(|| batch_tensors(set, indices, None, &device))
        });
        group.bench_function(format!("{name}/crop+flip"), |b| {
            let mut rng = epoch_rng(0, 0, 1);
            b.iter(|| batch_tensors(set, indices, Some((&augment, &mut rng)), &device))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("prepare_2000");
    group.throughput(Throughput::Elements(grey.len() as u64));
    group.bench_function("1x28x28_to_3x32x32", |b| {
        // The copy of the set handed over is made outside the timed part.
        b.iter_batched(
            || grey.clone(),
            |set| prepare(set, 3, 32).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, batches);
criterion_main!(benches);
