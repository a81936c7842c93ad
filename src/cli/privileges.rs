//! Giving up privileges once the capture handles are open: an opened AF_PACKET socket keeps
//! working without CAP_NET_RAW, so nothing after that needs root or any capability.
//!
//! Started as root with `--user`, the process takes the user's (or `--group`'s) group, no
//! supplementary groups, and the user's id; the kernel clears every capability at that
//! `setuid`. Started as a plain user with CAP_NET_RAW and CAP_NET_ADMIN (systemd's
//! `AmbientCapabilities=`), it clears those. In both cases `no_new_privs` is set, so nothing it
//! could execute gains privileges back.
//!
//! Capabilities and `no_new_privs` belong to each thread, and only the calling thread's are
//! changed here (glibc applies `setuid`, `setgid` and `setgroups` to all threads, nothing
//! else), so the drop runs while the process has a single thread and refuses to run otherwise;
//! every thread started after it inherits the unprivileged state.

use super::Failure;
use caps::CapSet;
use nix::unistd::{Gid, Group, Uid, User, getegid, geteuid, setgid, setgroups, setuid};

/// Drops to `user` (and `group`) if given, then clears every capability. Fails, changing
/// nothing, if a thread other than the caller exists.
pub fn drop(user: Option<&str>, group: Option<&str>) -> Result<(), Failure> {
    only_thread()?;
    if let Some(user) = user {
        become_user(user, group)?;
    } else if geteuid().is_root() {
        eprintln!(
            "lantern: warning: running as root; give --user (or `user` in the config file) to run as an unprivileged user"
        );
        return Ok(());
    }
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| Failure(format!("cannot drop capabilities: {e}")))?;
    }
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| Failure(format!("cannot set no_new_privs: {e}")))?;
    Ok(())
}

/// Refuses to go on if the process has more than one thread: such a thread would keep every
/// privilege dropped here, so a change that starts one too early must fail loudly.
fn only_thread() -> Result<(), Failure> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(|e| Failure(format!("cannot count threads in /proc/self/task: {e}")))?
        .count();
    if threads > 1 {
        return Err(Failure(format!(
            "internal error: {threads} threads were started before privileges were dropped"
        )));
    }
    Ok(())
}

fn become_user(user: &str, group: Option<&str>) -> Result<(), Failure> {
    let account = User::from_name(user)
        .map_err(|e| Failure(format!("--user {user}: {e}")))?
        .ok_or_else(|| Failure(format!("--user {user}: no such user")))?;
    let gid = match group {
        None => account.gid,
        Some(name) => {
            Group::from_name(name)
                .map_err(|e| Failure(format!("--group {name}: {e}")))?
                .ok_or_else(|| Failure(format!("--group {name}: no such group")))?
                .gid
        }
    };
    if !geteuid().is_root() {
        return if geteuid() == account.uid && getegid() == gid {
            Ok(())
        } else {
            Err(Failure(format!(
                "--user {user}: only root can change user (running as uid {})",
                geteuid()
            )))
        };
    }
    let fail = |what: &str, e: nix::Error| Failure(format!("--user {user}: {what}: {e}"));
    setgroups(&[gid]).map_err(|e| fail("setgroups", e))?;
    setgid(gid).map_err(|e| fail("setgid", e))?;
    setuid(account.uid).map_err(|e| fail("setuid", e))?;
    if account.uid != Uid::from_raw(0) && setuid(Uid::from_raw(0)).is_ok() {
        return Err(Failure(format!("--user {user}: root could be regained")));
    }
    if account.gid != Gid::from_raw(0) && group.is_none() && setgid(Gid::from_raw(0)).is_ok() {
        return Err(Failure(format!(
            "--user {user}: group root could be regained"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drop_refuses_to_run_beside_another_thread() {
        // The test harness runs this on a thread of its own; one more makes sure.
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || stopped.recv());
        let Err(Failure(message)) = drop(None, None) else {
            panic!("dropped privileges beside another thread");
        };
        let threads: usize = message
            .strip_prefix("internal error: ")
            .and_then(|m| m.strip_suffix(" threads were started before privileges were dropped"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{message}"));
        assert!(threads >= 2, "{message}");
        std::mem::drop(stop);
        let _ = other.join();
    }
}
