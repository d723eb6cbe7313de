//! The function's log lines: what `lambda_runtime`'s
//! `init_default_subscriber` sets up (Lambda's advanced logging controls),
//! with `tracing-subscriber`'s `Targets` filter in place of `EnvFilter`.
//!
//! `EnvFilter` can match span fields against regular expressions, and
//! compiles them with a DFA builder: 40 kB of the zip for a feature no
//! function setting uses. The settings Lambda's controls and `RUST_LOG` are
//! written in, a level (`DEBUG`) or `target=level` pairs
//! (`info,trailguard=debug`), are read here as `EnvFilter` reads them
//! ([`directive`]) and given to `Targets`, which matches targets the same
//! way (by prefix). A directive naming a span or a field, or one
//! `EnvFilter` would refuse, is skipped and named on standard error, as
//! `EnvFilter` does with a malformed one. One difference, on purpose:
//! spaces around a directive are ignored (`EnvFilter` misreads a directive
//! after `, `).

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter for `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`, read as
/// `init_default_subscriber` reads them: `RUST_LOG`'s directives when it
/// has any it can read; otherwise one level for everything, Lambda's
/// setting if there is one, else `RUST_LOG` if it is a level, else `INFO`.
/// The directives it skips, each with the reason.
pub fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> (Targets, Vec<String>) {
    let mut targets = Targets::new();
    let mut any = false;
    let mut skipped = Vec::new();
    for text in rust_log.unwrap_or_default().split(',') {
        if text.trim().is_empty() {
            continue;
        }
        match directive(text) {
            Ok((target, level)) => {
                any = true;
                targets = match target {
                    Some(target) => targets.with_target(target, level),
                    None => targets.with_default(level),
                };
            }
            Err(why) => skipped.push(format!("ignoring `{}`: {why}", text.trim())),
        }
    }
    if !any {
        // As upstream: the setting itself, untrimmed (`""` reads as ERROR).
        let level = lambda_level
            .or(rust_log)
            .and_then(|l| LevelFilter::from_str(l).ok())
            .unwrap_or(LevelFilter::INFO);
        targets = targets.with_default(level);
    }
    (targets, skipped)
}

/// One directive as `EnvFilter` reads it, without spans and fields: a level
/// alone (the default), `target` (every level of it), or `target=level`
/// (`target=` is every level too). A target starts with a letter, a digit,
/// `-`, `:` or `_`.
pub fn directive(text: &str) -> Result<(Option<&str>, LevelFilter), &'static str> {
    let text = text.trim();
    if text.contains(['[', ']', '{', '}']) {
        return Err("span and field filters are not supported");
    }
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | ':' | '_'));
    if !starts_well {
        return Err("not a level or a target");
    }
    match text.split_once('=') {
        Some((target, "")) => Ok((Some(target), LevelFilter::TRACE)),
        Some((target, level)) => LevelFilter::from_str(level)
            .map(|level| (Some(target), level))
            .map_err(|_| "not a level after `=`"),
        None => match LevelFilter::from_str(text) {
            Ok(level) => Ok((None, level)),
            Err(_) => Ok((Some(text), LevelFilter::TRACE)),
        },
    }
}

/// Installs the subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT` is
/// `JSON`, text otherwise; no time stamp (CloudWatch adds one), no target
/// and no colour, on standard output.
pub fn init() {
    let var = |k| std::env::var(k).ok();
    let (filter, skipped) = filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    // Before any subscriber exists, as `EnvFilter` reports them.
    for line in skipped {
        eprintln!("{line}");
    }
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        // CloudWatch shows colour codes as text.
        .with_ansi(false)
        .with_writer(std::io::stdout);
    if json {
        registry.with(fmt.json()).init();
    } else {
        registry.with(fmt).init();
    }
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    fn on(lambda: Option<&str>, rust_log: Option<&str>, target: &str, level: Level) -> bool {
        filter(lambda, rust_log).0.would_enable(target, &level)
    }

    #[test]
    fn the_level_is_lambdas_then_rust_logs_then_info() {
        assert!(on(None, None, "trailguard", Level::INFO));
        assert!(!on(None, None, "trailguard", Level::DEBUG));
        assert!(on(Some("DEBUG"), None, "aws_config", Level::DEBUG));
        assert!(!on(Some("WARN"), None, "trailguard", Level::INFO));
        assert!(on(None, Some("trace"), "hyper", Level::TRACE));
        assert!(!on(Some("nonsense"), None, "trailguard", Level::DEBUG));
        assert!(on(Some("nonsense"), None, "trailguard", Level::INFO));
    }

    /// As with `EnvFilter`: directives in `RUST_LOG` replace the default
    /// level, Lambda's included; a target not named is off unless a bare
    /// level is among them. Spaces after a comma are ignored (`EnvFilter`
    /// misreads the directive after them).
    #[test]
    fn rust_log_directives_replace_the_default() {
        let only = Some("trailguard=debug");
        assert!(on(Some("ERROR"), only, "trailguard::live", Level::DEBUG));
        assert!(!on(Some("ERROR"), only, "trailguard", Level::TRACE));
        assert!(!on(Some("ERROR"), only, "aws_config", Level::ERROR));
        let with_default = Some("warn, trailguard=debug");
        assert!(on(None, with_default, "aws_config", Level::WARN));
        assert!(!on(None, with_default, "aws_config", Level::INFO));
        assert!(on(None, with_default, "trailguard", Level::DEBUG));
        assert!(on(Some("ERROR"), Some("info"), "hyper", Level::INFO));
        assert!(on(
            None,
            Some("OFF,trailguard=Info"),
            "trailguard",
            Level::INFO
        ));
        assert!(!on(
            None,
            Some("OFF,trailguard=Info"),
            "hyper",
            Level::ERROR
        ));
    }

    /// A target without a level, or with `=` and nothing after it, is
    /// every level of that target, as `EnvFilter` reads it.
    #[test]
    fn a_target_alone_is_every_level_of_it() {
        for setting in ["hyper", "hyper=", "hyper=trace"] {
            assert!(
                on(None, Some(setting), "hyper::proto", Level::TRACE),
                "{setting}"
            );
            assert!(
                !on(None, Some(setting), "trailguard", Level::ERROR),
                "{setting}"
            );
        }
    }

    /// What `EnvFilter` refuses is skipped, and then the default level
    /// applies: `=debug` and `*=debug` are not targets, a blank setting
    /// is no directive (and, as upstream, not a level: INFO), an empty one
    /// reads as the level ERROR.
    #[test]
    fn what_envfilter_refuses_leaves_the_default() {
        for setting in ["=debug", "*=debug", "trailguard=loud"] {
            let (targets, skipped) = filter(None, Some(setting));
            assert_eq!(skipped.len(), 1, "{setting}: {skipped:?}");
            assert!(
                targets.would_enable("trailguard", &Level::INFO),
                "{setting}"
            );
            assert!(
                !targets.would_enable("trailguard", &Level::DEBUG),
                "{setting}"
            );
        }
        assert!(on(None, Some(" "), "trailguard", Level::INFO));
        assert!(!on(None, Some(" "), "trailguard", Level::DEBUG));
        assert!(on(None, Some(""), "trailguard", Level::ERROR));
        assert!(!on(None, Some(""), "trailguard", Level::WARN));
    }

    /// Span and field directives are skipped, each named; the readable
    /// ones still apply, and when none is left the default level does.
    #[test]
    fn directives_it_cannot_read_are_skipped_and_named() {
        let (targets, skipped) = filter(None, Some("trailguard[handle{id=1}]=trace,hyper=debug"));
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].contains("trailguard[handle{id=1}]=trace"));
        assert!(targets.would_enable("hyper", &Level::DEBUG));
        assert!(!targets.would_enable("trailguard", &Level::ERROR));
        let (targets, skipped) = filter(Some("DEBUG"), Some("=bogus=,x[y]=info"));
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(targets.would_enable("trailguard", &Level::DEBUG));
    }
}
