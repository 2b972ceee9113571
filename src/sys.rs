//! The few operating-system facts and calls the supervisor needs (Linux): process groups,
//! process start times, and who holds a TCP port. Everything `unsafe` lives here.

use std::path::Path;

/// The umask Luna was started with, kept for its children.
static INHERITED_UMASK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0o022);

/// Makes every file and directory this process creates from now on owner-only (umask 077):
/// state files, the database and its side files, logs after rotation. Children get the
/// umask Luna was started with back ([`give_children_the_inherited_umask`]).
pub fn create_owner_only_files() {
    // SAFETY: umask(2) takes a plain integer and cannot fail.
    let inherited = unsafe { libc::umask(0o077) };
    INHERITED_UMASK.store(inherited as u32, std::sync::atomic::Ordering::Relaxed);
}

/// Lets `command`'s process start with the umask Luna was started with, not Luna's own: the
/// files an extension or a service script creates are its business.
pub fn give_children_the_inherited_umask(command: &mut tokio::process::Command) {
    let umask = INHERITED_UMASK.load(std::sync::atomic::Ordering::Relaxed) as libc::mode_t;
    // SAFETY: runs in the child between fork and exec, where only async-signal-safe calls are
    // allowed; umask(2) is one, and nothing is allocated.
    unsafe {
        command.pre_exec(move || {
            libc::umask(umask);
            Ok(())
        });
    }
}

/// Lets a CLI command whose output is piped into `head` end quietly when the pipe closes
/// (SIGPIPE's default), instead of failing its next write. Not for `luna serve`, whose writes
/// to closed sockets must stay errors.
pub fn end_quietly_on_closed_pipe() {
    // SAFETY: signal(2) with SIG_DFL installs no handler of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A signal to deliver to a whole process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSignal {
    Terminate,
    Kill,
}

/// Sends `signal` to every process in group `pgid`. A group that is already gone is fine.
pub fn signal_group(pgid: i32, signal: GroupSignal) {
    if pgid <= 1 {
        // Never signal "every process" (0, -1) or init by mistake.
        return;
    }
    let signal = match signal {
        GroupSignal::Terminate => libc::SIGTERM,
        GroupSignal::Kill => libc::SIGKILL,
    };
    // SAFETY: killpg(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// True while at least one process (zombies included) is in group `pgid`.
pub fn group_exists(pgid: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    unsafe { libc::killpg(pgid, 0) == 0 }
}

/// The start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), or
/// `None` if no such process runs (a zombie, dead but not yet reaped, does not run).
/// Together with the pid it names one process: pids are reused, start times are not.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields after the last
    // ')' are the state (field 3) and plain numbers. Field 22 is the 20th after the name.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The process group of `pid`, if it still exists.
pub fn process_group(pid: u32) -> Option<i32> {
    // SAFETY: getpgid(2) takes a plain integer.
    let pgid = unsafe { libc::getpgid(pid as i32) };
    (pgid > 0).then_some(pgid)
}

/// A process found listening on a port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PortOwner {
    pub pid: u32,
    pub command: String,
}

/// Who listens on TCP `port` (any local address, IPv4 or IPv6), as far as `/proc` shows.
/// `None` when nobody listens, or when the owner is not visible to us.
pub fn port_owner(port: u16) -> Option<PortOwner> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let targets: Vec<String> = inodes.iter().map(|inode| format!("socket:[{inode}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else { continue };
            if targets.iter().any(|target| Path::new(target) == link) {
                let command = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                return Some(PortOwner { pid, command: command.trim().to_string() });
            }
        }
    }
    None
}

/// Whether anyone listens on TCP `port`, seen or not ([`port_owner`] may not see who).
pub fn is_listening(port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .any(|text| !listening_inodes(&text, port).is_empty())
}

/// Socket inodes in LISTEN state (`0A`) on `port` in a `/proc/net/tcp*` table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let listening = *fields.get(3)? == "0A";
            (listening && u16::from_str_radix(local_port, 16).ok()? == port).then(|| fields.get(9)?.parse().ok())?
        })
        .collect()
}

/// Who holds `port`, for messages: `pid 123 (postgres)`, or `another process` when `/proc`
/// does not show the owner.
pub fn describe_port_holder(port: u16) -> String {
    port_owner(port)
        .map_or_else(|| "another process".to_string(), |owner| format!("pid {} ({})", owner.pid, owner.command))
}

/// True if `127.0.0.1:port` can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Swaps two paths in one step (`renameat2(RENAME_EXCHANGE)`, same filesystem): every
/// observer, and a crash, sees either both old names or both new ones.
pub fn exchange_paths(a: &Path, b: &Path) -> std::io::Result<()> {
    renameat2(a, b, libc::RENAME_EXCHANGE)
}

/// Renames `from` to `to` unless `to` exists (`RENAME_NOREPLACE`): `AlreadyExists` then.
pub fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    renameat2(from, to, libc::RENAME_NOREPLACE)
}

fn renameat2(a: &Path, b: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = |path: &Path| {
        std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"))
    };
    let (a, b) = (c_path(a)?, c_path(b)?);
    // SAFETY: both pointers are NUL-terminated strings that outlive the call.
    let result = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), flags) };
    if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Bytes free for an unprivileged user, and the total, of the file system holding `path`.
pub fn disk_space(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: statvfs(3) fills the zeroed struct we own; the path outlives the call.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let block = stats.f_frsize as u64;
    Ok((stats.f_bavail as u64 * block, stats.f_blocks as u64 * block))
}

/// The IP addresses of this machine's network interfaces (loopback included).
pub fn interface_addresses() -> Vec<std::net::IpAddr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs(3) allocates the list; it is walked read-only and freed once below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Vec::new();
    }
    let mut addresses = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, not yet freed; an
        // address's family says which sockaddr type it points at.
        unsafe {
            let address = (*entry).ifa_addr;
            if !address.is_null() {
                match i32::from((*address).sa_family) {
                    libc::AF_INET => {
                        let v4 = &*(address as *const libc::sockaddr_in);
                        addresses.push(std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)).into());
                    }
                    libc::AF_INET6 => {
                        let v6 = &*(address as *const libc::sockaddr_in6);
                        addresses.push(std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr).into());
                    }
                    _ => {}
                }
            }
            entry = (*entry).ifa_next;
        }
    }
    // SAFETY: frees the list getifaddrs allocated, once; nothing points into it any more.
    unsafe { libc::freeifaddrs(list) };
    addresses
}

/// Hands the allocator's free pages back to the kernel (glibc's `malloc_trim`). Start-up
/// builds large short-lived structures (the OpenAPI document); without this, their pages
/// stay resident for the life of the process.
pub fn release_free_heap() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let owner = port_owner(port).expect("owner visible");
        assert_eq!(owner.pid, std::process::id());
        assert!(!port_is_free(port));
        drop(listener);
        assert!(port_owner(port).is_none());
    }

    #[test]
    fn interfaces_include_loopback_and_the_disk_has_a_size() {
        assert!(interface_addresses().contains(&std::net::Ipv4Addr::LOCALHOST.into()));
        let (free, total) = disk_space(Path::new("/")).unwrap();
        assert!(total > 0 && free <= total);
    }

    #[test]
    fn start_time_identifies_a_live_process() {
        let me = std::process::id();
        let first = process_start_time(me).unwrap();
        assert_eq!(process_start_time(me), Some(first));
        assert!(process_start_time(u32::MAX).is_none());
    }

    #[test]
    fn exchange_swaps_two_folders() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("v"), "old").unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("v"), "new").unwrap();

        exchange_paths(&a, &b).unwrap();

        assert_eq!(std::fs::read_to_string(a.join("v")).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(b.join("v")).unwrap(), "old");
        assert!(exchange_paths(&a, &dir.path().join("missing")).is_err());

        let error = rename_no_replace(&a, &b).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        rename_no_replace(&a, &dir.path().join("c")).unwrap();
        assert!(dir.path().join("c/v").exists() && !a.exists());
    }

    #[test]
    fn parses_listen_entries() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                     0: 0100007F:1450 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 4242 1\n\
                     1: 0100007F:1450 0100007F:9999 01 00000000:00000000 00:00000000 00000000  0 0 4343 1\n";
        assert_eq!(listening_inodes(table, 0x1450), vec![4242]);
        assert!(listening_inodes(table, 80).is_empty());
    }
}
