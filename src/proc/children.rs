//! The children of processes: from /proc/PID/task/TID/children where the kernel has them
//! (CONFIG_PROC_CHILDREN), else from the PPid of every process, in one pass over /proc.

use std::sync::OnceLock;

use super::status::parse_stat_ids;

/// The children of every thread of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    children_of(&[pid])
}

/// The children of each of `parents` (of all their threads), as the kernel knows them now. A
/// parent that is stopped can neither fork nor exit meanwhile, so its list is complete; a
/// child that exits meanwhile is missed, and what it started is found by the next look.
pub fn children_of(parents: &[i32]) -> Vec<i32> {
    if parents.is_empty() {
        return Vec::new();
    }
    if !has_children_files() {
        return by_ppid(parents);
    }
    let mut found = Vec::new();
    for pid in parents {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                found.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    found
}

/// Whether this kernel lists children per thread, found out once and said once where not.
pub fn has_children_files() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let me = std::process::id();
        let has = std::path::Path::new(&format!("/proc/{me}/task/{me}/children")).exists() && !forced_off();
        if !has {
            log::info!(
                "this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): children are found by \
                 the PPid of every process, one pass over /proc at a time"
            );
        }
        has
    })
}

/// Tests reach the PPid pass on a kernel that has the files; a release build never does.
fn forced_off() -> bool {
    cfg!(debug_assertions) && std::env::var_os("XEXIT_TEST_NO_CHILDREN_FILES").is_some()
}

/// The processes whose PPid is one of `parents`: the stat of every process, read once.
fn by_ppid(parents: &[i32]) -> Vec<i32> {
    let parents: std::collections::HashSet<i32> = parents.iter().copied().collect();
    let Ok(pids) = super::list_pids() else { return Vec::new() };
    pids.into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_stat_ids(&stat))
                .is_some_and(|ids| parents.contains(&ids.ppid))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_found_by_both_ways() {
        let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        let me = std::process::id() as i32;
        let pid = child.id() as i32;
        assert!(by_ppid(&[me]).contains(&pid), "by PPid");
        assert!(children(me).contains(&pid), "as the kernel lists them here");
        assert!(!by_ppid(&[pid]).contains(&me));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
