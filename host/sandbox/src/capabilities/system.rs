//! `system`: disk usage of granted paths (follows the `fs` grant) and host limits.

use super::HostState;
use crate::bindings::gate::plugin::system::{DiskStats as DiskUsage, Host, HostLimits as Limits};

impl Host for HostState {
    async fn disk_usage(&mut self, path: String) -> wasmtime::Result<Result<DiskUsage, String>> {
        let budget = self.budget(0);
        let shown = path.clone();
        Ok(self
            .sandbox
            .fs_io(budget, &shown, move |s| {
                // statvfs of the object the grant reaches, through its handle.
                let handle = s.fs.open_path(&path, true).map_err(|e| s.fs_message(&e))?;
                let st =
                    gate_core::beneath::statvfs(&handle).map_err(|e| format!("{path}: {e}"))?;
                Ok(usage(&st))
            })
            .await)
    }

    async fn limits(&mut self) -> wasmtime::Result<Result<Limits, String>> {
        Ok(host_limits())
    }
}

fn usage(s: &libc::statvfs) -> DiskUsage {
    let frsize = s.f_frsize;
    DiskUsage {
        total_bytes: s.f_blocks * frsize,
        free_bytes: s.f_bfree * frsize,
        available_bytes: s.f_bavail * frsize,
        total_inodes: s.f_files,
        free_inodes: s.f_ffree,
    }
}

fn host_limits() -> Result<Limits, String> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let meminfo =
        std::fs::read_to_string("/proc/meminfo").map_err(|e| format!("/proc/meminfo: {e}"))?;
    let field = |name: &str| -> Option<u64> {
        meminfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let mut total = field("MemTotal:").ok_or("/proc/meminfo has no MemTotal")?;
    let mut available = field("MemAvailable:").unwrap_or(0);
    // A cgroup v2 memory limit caps what this host may really use.
    if let Some(max) = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        total = total.min(max);
        available = available.min(max);
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    Ok(Limits {
        open_files_soft: r.rlim_cur,
        open_files_hard: r.rlim_max,
        memory_total_bytes: total,
        memory_available_bytes: available,
        cpus,
    })
}
