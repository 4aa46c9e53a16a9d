//! Which compute backend runs a model. burn 0.22 picks the backend at run time through the
//! device; which backends exist is fixed at build time by cargo features. The default build has
//! only the pure-Rust CPU backend (`flex`); `wgpu` and `cuda` are opt-in features.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A compute backend a user can ask for with `--backend`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend: no system libraries, no GPU.
    #[default]
    Flex,
    /// Vulkan, Metal or DX12 through wgpu (cargo feature `wgpu`).
    Wgpu,
    /// NVIDIA GPUs through CUDA (cargo feature `cuda`).
    Cuda,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    #[error("unknown backend `{0}`; choose one of: flex, wgpu, cuda")]
    Unknown(String),
    #[error(
        "the `{backend}` backend is not compiled into this binary; rebuild with \
         `cargo build --release --features {backend}` (or pass `--features {backend}` to cargo run)"
    )]
    NotCompiled { backend: &'static str },
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::Wgpu, Backend::Cuda];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this binary was built with the backend's cargo feature.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => true,
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// Fails with the cargo command that fixes it when the backend is not compiled in.
    pub fn ensure_compiled(self) -> Result<Self, BackendError> {
        match self.is_compiled() {
            true => Ok(self),
            false => Err(BackendError::NotCompiled {
                backend: self.name(),
            }),
        }
    }

    /// The device models run on (without autodiff; training adds it with `.autodiff()`).
    ///
    /// wgpu takes the adapter wgpu ranks best; `CUBECL_WGPU_DEFAULT_DEVICE` overrides it
    /// (e.g. `Cpu` for a software Vulkan driver). CUDA takes GPU 0.
    pub fn device(self) -> Result<Device, BackendError> {
        self.ensure_compiled()?;
        Ok(match self {
            Backend::Flex => Device::flex(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Device::cuda(0),
            #[allow(unreachable_patterns)]
            _ => unreachable!("ensure_compiled rejected {self}"),
        })
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|backend| backend.name() == name.to_ascii_lowercase())
            .ok_or_else(|| BackendError::Unknown(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for backend in Backend::ALL {
            assert_eq!(backend.name().parse::<Backend>(), Ok(backend));
        }
        assert_eq!("FLEX".parse::<Backend>(), Ok(Backend::Flex));
        assert!(matches!(
            "metal".parse::<Backend>(),
            Err(BackendError::Unknown(_))
        ));
    }

    #[test]
    fn flex_is_always_there() {
        let device = Backend::Flex.device().unwrap();
        let x = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], &device);
        assert_eq!(x.sum().into_scalar::<f32>(), 3.0);
    }

    #[test]
    fn a_missing_backend_names_its_feature() {
        for backend in [Backend::Wgpu, Backend::Cuda] {
            if backend.is_compiled() {
                continue;
            }
            let message = backend.device().unwrap_err().to_string();
            assert!(
                message.contains(&format!("--features {}", backend.name())),
                "{message}"
            );
        }
    }
}
