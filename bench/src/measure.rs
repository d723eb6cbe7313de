//! Timing child processes (wall clock, CPU time and peak resident memory
//! from `wait4`), summarising repeated runs, and the verdict on a target.

use std::fmt;
use std::io;
use std::process::{Child, Command};
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
pub fn run(cmd: &mut Command) -> io::Result<Usage> {
    Proc::spawn(cmd)?.wait()
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
