//! Giving up privileges once the capture handles are open: an opened AF_PACKET socket keeps
//! working without CAP_NET_RAW, so nothing after that needs root or any capability.
//!
//! Started as root with `--user`, the process takes the user's (or `--group`'s) group, no
//! supplementary groups, and the user's id; the kernel clears every capability at that
//! `setuid`. Started as a plain user with CAP_NET_RAW and CAP_NET_ADMIN (systemd's
//! `AmbientCapabilities=`), it clears those. In both cases `no_new_privs` is set, so nothing it
//! could execute gains privileges back.

use super::Failure;
use caps::CapSet;
use nix::unistd::{Gid, Group, Uid, User, getegid, geteuid, setgid, setgroups, setuid};

/// Drops to `user` (and `group`) if given, then clears every capability.
pub fn drop(user: Option<&str>, group: Option<&str>) -> Result<(), Failure> {
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
