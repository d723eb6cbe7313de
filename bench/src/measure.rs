//! Timing child processes (wall clock, CPU time and peak resident memory
//! from `wait4`), summarising repeated runs, and the verdict on a target.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a child process ran.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
    /// Peak resident set size, bytes (`ru_maxrss`).
    pub max_rss: u64,
    /// Exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000)
}

/// A spawned child whose resource usage is collected when it is reaped.
pub struct Proc {
    child: Child,
    started: Instant,
    reaped: Option<Usage>,
}

impl Proc {
    /// Spawns `cmd`; the clock starts just before the fork.
    pub fn spawn(cmd: &mut Command) -> io::Result<Proc> {
        let started = Instant::now();
        let child = cmd.spawn()?;
        Ok(Proc {
            child,
            started,
            reaped: None,
        })
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Peak resident memory of the running child since its `exec`
    /// (`VmHWM`), bytes; `None` once it has exited.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    fn wait4(&mut self, flags: i32) -> io::Result<Option<Usage>> {
        if let Some(u) = self.reaped {
            return Ok(Some(u));
        }
        let mut status = 0;
        // SAFETY: plain syscall on our own child's pid with valid out-pointers.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = self.child.id() as libc::pid_t;
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        if r == 0 {
            return Ok(None);
        }
        let usage = Usage {
            wall: self.started.elapsed(),
            user: timeval(ru.ru_utime),
            sys: timeval(ru.ru_stime),
            max_rss: ru.ru_maxrss as u64 * 1024,
            code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        };
        self.reaped = Some(usage);
        Ok(Some(usage))
    }

    /// Waits for the child to exit.
    pub fn wait(mut self) -> io::Result<Usage> {
        self.wait4(0)
            .map(|u| u.expect("blocking wait4 reaps the child"))
    }

    /// The usage if the child has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<Usage>> {
        self.wait4(libc::WNOHANG)
    }

    /// Kills the child (if still running) and reaps it.
    /// Ends the child with SIGTERM (a tool such as valgrind then still
    /// writes its output) and reaps it.
    pub fn terminate(mut self) -> io::Result<Usage> {
        if self.reaped.is_none() {
            // SAFETY: the child is not reaped yet, so its pid is still ours.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        }
        self.wait4(0)
            .map(|u| u.expect("blocking wait4 reaps the child"))
    }

    pub fn kill(mut self) -> io::Result<Usage> {
        if self.reaped.is_none() {
            // SAFETY: the child is not reaped yet, so its pid is still ours.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        }
        self.wait4(0)
            .map(|u| u.expect("blocking wait4 reaps the child"))
    }
}

/// Runs `cmd` to completion.
///
/// Its `max_rss` is not its own: Linux counts in a child's peak the memory
/// of the parent it was forked from. [`run_clean`] avoids that.
pub fn run(cmd: &mut Command) -> io::Result<Usage> {
    Proc::spawn(cmd)?.wait()
}

const TRAMPOLINE: &str = "--measure-child";

/// Runs `program args` to completion with stdout and stderr to files, from
/// a fresh, small copy of the current program (see [`trampoline`]), so that
/// the peak RSS reported is the program's own, not this process's.
pub fn run_clean(
    program: &Path,
    args: &[OsString],
    stdout: &Path,
    stderr: &Path,
    env_remove: &[String],
    env_set: &[(&str, String)],
) -> io::Result<Usage> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg(TRAMPOLINE)
        .arg(stdout)
        .arg(stderr)
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    for k in env_remove {
        cmd.env_remove(k);
    }
    cmd.envs(env_set.iter().map(|(k, v)| (k, v)));
    let out = cmd.output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<i64> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(-1))
        .collect();
    match f[..] {
        [wall, user, sys, rss, code] if wall >= 0 => Ok(Usage {
            wall: Duration::from_nanos(wall as u64),
            user: Duration::from_nanos(user as u64),
            sys: Duration::from_nanos(sys as u64),
            max_rss: rss as u64,
            code: (code >= 0).then_some(code as i32),
        }),
        _ => Err(io::Error::other(format!(
            "cannot run {}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// The other half of [`run_clean`]: call first thing in `main`. When this
/// process was started as a trampoline, runs the command, prints its usage
/// and answers the exit code to exit with.
pub fn trampoline() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != TRAMPOLINE {
        return None;
    }
    let (Some(stdout), Some(stderr), Some(program)) = (args.next(), args.next(), args.next())
    else {
        eprintln!("{TRAMPOLINE} STDOUT STDERR PROGRAM [ARGS...]");
        return Some(2);
    };
    let spawned = File::create(&stdout)
        .and_then(|out| Ok((out, File::create(&stderr)?)))
        .and_then(|(out, err)| {
            Proc::spawn(
                Command::new(&program)
                    .args(args)
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err),
            )
        });
    match spawned.and_then(Proc::wait) {
        Ok(u) => {
            println!(
                "{} {} {} {} {}",
                u.wall.as_nanos(),
                u.user.as_nanos(),
                u.sys.as_nanos(),
                u.max_rss,
                u.code.unwrap_or(-1)
            );
            Some(0)
        }
        Err(e) => {
            eprintln!("{}: {e}", Path::new(&program).display());
            Some(1)
        }
    }
}

/// Median, minimum and maximum of repeated measurements.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        assert!(!values.is_empty(), "no measurements");
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        }
    }

    /// `1.23 s (1.20–1.31, n=3)` with `unit` and a scale.
    pub fn show(&self, scale: f64, unit: &str, decimals: usize) -> String {
        if self.n == 1 {
            format!("{:.*} {unit}", decimals, self.median * scale)
        } else {
            format!(
                "{:.*} {unit} ({:.*}–{:.*}, n={})",
                decimals,
                self.median * scale,
                decimals,
                self.min * scale,
                decimals,
                self.max * scale,
                self.n
            )
        }
    }
}

/// A target and whether a figure meets it.
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    /// `met`, or `MISSED by ...` saying how far off the figure is.
    pub fn verdict(&self, value: f64, unit: &str) -> String {
        let (ok, gap, bound) = match *self {
            Target::AtLeast(t) => (value >= t, t - value, t),
            Target::AtMost(t) => (value <= t, value - t, t),
        };
        if ok {
            "met".into()
        } else {
            format!(
                "MISSED by {gap:.2}{unit} ({:.0}% {})",
                gap / bound * 100.0,
                match self {
                    Target::AtLeast(_) => "short",
                    Target::AtMost(_) => "over",
                }
            )
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::AtLeast(t) => write!(f, "≥ {t}"),
            Target::AtMost(t) => write!(f, "≤ {t}"),
        }
    }
}

/// The 1-, 5- and 15-minute load averages, as `uptime` prints them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Megabytes (10^6 bytes), as the tables print sizes.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Is `program` on `PATH`?
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_median_of_odd_and_even_counts() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[1.0, 2.0, 3.0, 10.0]).median, 2.5);
    }

    #[test]
    fn verdict_says_by_how_much_a_target_is_missed() {
        assert_eq!(Target::AtLeast(0.7).verdict(0.8, ""), "met");
        assert_eq!(
            Target::AtLeast(0.7).verdict(0.63, ""),
            "MISSED by 0.07 (10% short)"
        );
        assert_eq!(
            Target::AtMost(8.0).verdict(10.0, " MB"),
            "MISSED by 2.00 MB (25% over)"
        );
    }

    #[test]
    fn usage_reports_exit_code_and_memory() {
        let u = run(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(u.code, Some(3));
        assert!(u.max_rss > 0);
    }
}
