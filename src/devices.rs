//! `plateau devices`: the backends this binary has, and the GPUs (or software stand-ins) the
//! wgpu backend would use.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use plateau_train::Backend;
use plateau_train::devices::wgpu_adapters;

#[derive(Args)]
pub struct DevicesArgs {
    /// Fail (exit 1) unless wgpu has a real GPU: without the vendor's Vulkan driver, wgpu falls
    /// back to a software one and every GPU number would be a CPU's.
    #[arg(long)]
    require_gpu: bool,
    /// `text` or `json`.
    #[arg(long, default_value = "text")]
    format: String,
}

pub fn run(args: &DevicesArgs) -> Result<ExitCode> {
    let compiled: Vec<&str> = Backend::ALL
        .iter()
        .filter(|b| b.is_compiled())
        .map(|b| b.name())
        .collect();
    let adapters = wgpu_adapters();
    let has_gpu = adapters.iter().any(|a| a.is_gpu());
    match args.format.as_str() {
        "json" => println!(
            "{}",
            serde_json::json!({ "backends": compiled, "wgpu_adapters": adapters, "gpu": has_gpu })
        ),
        "text" => {
            println!("backends: {}", compiled.join(", "));
            if Backend::Wgpu.is_compiled() {
                if adapters.is_empty() {
                    println!("wgpu: no adapter (no Vulkan loader or driver?)");
                }
                for a in &adapters {
                    println!(
                        "wgpu: {} ({}, {}, driver {})",
                        a.name, a.kind, a.api, a.driver
                    );
                }
            }
        }
        other => anyhow::bail!("--format {other:?}: give text or json"),
    }
    if args.require_gpu && !has_gpu {
        eprintln!(
            "error: wgpu has no GPU here, only {}: install the GPU's Vulkan driver (NVIDIA: the \
             driver's libnvidia-vulkan / nvidia_icd.json) and the Vulkan loader (libvulkan1)",
            match Backend::Wgpu.is_compiled() {
                true => "software adapters or none",
                false => "a binary built without --features wgpu",
            }
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
