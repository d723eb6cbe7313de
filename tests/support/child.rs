//! A test of this binary run in a process of its own, for settings a
//! process reads from its environment (root certificates, proxies).

/// Runs the ignored test `name` of the current test binary alone, with
/// `env` set and no other proxy setting, off the async runtime so this
/// process's listeners keep answering; fails unless it passed.
pub async fn run_alone(name: &'static str, env: &[(&str, &std::ffi::OsStr)]) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args(["--ignored", "--exact", name]);
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
        child.env_remove(var).env_remove(var.to_lowercase());
    }
    child.envs(env.iter().copied());
    let out = tokio::task::spawn_blocking(move || child.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{name}: {text}"
    );
}
