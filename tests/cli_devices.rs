//! `plateau devices`: the backends compiled in, and `--require-gpu` failing, with its fix,
//! where wgpu has no real GPU (always so for the default, CPU-only build).

use std::process::Command;

#[test]
fn devices_lists_the_backends_and_require_gpu_fails_without_one() {
    let plateau = env!("CARGO_BIN_EXE_plateau");
    let listed = Command::new(plateau)
        .args(["devices", "--format", "json"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json["backends"][0], "flex");
    if json["backends"].as_array().unwrap().len() > 1 {
        return; // a GPU build: whether it has a GPU is the machine's business
    }
    assert_eq!(json["gpu"], false, "{json}");
    let required = Command::new(plateau)
        .args(["devices", "--require-gpu"])
        .output()
        .unwrap();
    assert!(!required.status.success());
    let said = String::from_utf8_lossy(&required.stderr);
    assert!(said.contains("wgpu has no GPU here"), "{said}");
}
