//! What a backend would compute on: for wgpu, every adapter of the graphics API it settles on
//! (Vulkan on Linux), with its kind. Without the vendor's Vulkan driver wgpu falls back to a
//! software one (lavapipe) without a word; `plateau devices --require-gpu` is how a script
//! finds out before it measures anything.

use serde::Serialize;

/// One adapter a GPU backend can use.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Adapter {
    pub name: String,
    /// `discrete_gpu`, `integrated_gpu`, `virtual_gpu`, `cpu` (software) or `other`.
    pub kind: String,
    pub driver: String,
    /// The graphics API (`vulkan`, `metal`, `dx12`, `gl`).
    pub api: String,
}

impl Adapter {
    /// A real GPU, not a software rasterizer.
    pub fn is_gpu(&self) -> bool {
        self.kind.ends_with("_gpu")
    }
}

/// The wgpu adapters of this machine, every graphics API wgpu has here (empty when the `wgpu`
/// feature is not compiled in).
pub fn wgpu_adapters() -> Vec<Adapter> {
    #[cfg(feature = "wgpu")]
    {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::all(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapters =
            futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        adapters
            .iter()
            .map(|adapter| {
                let info = adapter.get_info();
                let kind = match info.device_type {
                    wgpu::DeviceType::DiscreteGpu => "discrete_gpu",
                    wgpu::DeviceType::IntegratedGpu => "integrated_gpu",
                    wgpu::DeviceType::VirtualGpu => "virtual_gpu",
                    wgpu::DeviceType::Cpu => "cpu",
                    wgpu::DeviceType::Other => "other",
                };
                Adapter {
                    name: info.name,
                    kind: kind.to_string(),
                    driver: format!("{} {}", info.driver, info.driver_info)
                        .trim()
                        .to_string(),
                    api: format!("{:?}", info.backend).to_lowercase(),
                }
            })
            .collect()
    }
    #[cfg(not(feature = "wgpu"))]
    Vec::new()
}
