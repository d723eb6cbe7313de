//! Which events an event rule looks at: the engine's dispatch and the
//! EventBridge pattern both read it.

use crate::event::CloudTrailEvent;

/// The events a rule looks at, for dispatch and for the EventBridge pattern.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// These event names of one event source (`iam.amazonaws.com`).
    Events {
        source: &'static str,
        names: &'static [&'static str],
    },
    /// Several sources, each with its names.
    Sources(&'static [(&'static str, &'static [&'static str])]),
    /// Any event whose caller is the root user.
    AnyRootCall,
}

impl Trigger {
    /// Could this trigger match the event? (The rule then decides.)
    pub fn matches(&self, event: &CloudTrailEvent) -> bool {
        self.matches_fields(event.source(), event.name(), event.is_root())
    }

    /// [`Trigger::matches`] on the three fields it reads: `eventSource`,
    /// `eventName`, and whether `userIdentity.type` is `Root`.
    pub fn matches_fields(&self, source: &str, name: &str, root: bool) -> bool {
        match self {
            Trigger::Events { source: s, names } => source == *s && names.contains(&name),
            Trigger::Sources(list) => list
                .iter()
                .any(|(s, names)| source == *s && names.contains(&name)),
            Trigger::AnyRootCall => root,
        }
    }

    /// `(eventSource, eventNames)` pairs; empty for [`Trigger::AnyRootCall`].
    pub fn sources(&self) -> Vec<(&'static str, &'static [&'static str])> {
        match self {
            Trigger::Events { source, names } => vec![(*source, *names)],
            Trigger::Sources(list) => list.to_vec(),
            Trigger::AnyRootCall => Vec::new(),
        }
    }
}

/// Every event rule's trigger at once: whether any rule can look at an
/// event, from the three fields triggers read, with each event source
/// compared once rather than once per rule (replay asks it of every
/// record).
#[derive(Debug, Default)]
pub struct Triggers {
    /// A rule looks at any call by the root user.
    root: bool,
    /// Each event source any rule names, with every name any rule names
    /// for it.
    sources: Vec<(&'static str, Vec<&'static str>)>,
}

impl Triggers {
    /// The union of `triggers`.
    pub fn of(triggers: impl IntoIterator<Item = Trigger>) -> Triggers {
        let mut all = Triggers::default();
        for trigger in triggers {
            all.root |= matches!(trigger, Trigger::AnyRootCall);
            for (source, names) in trigger.sources() {
                match all.sources.iter_mut().find(|(s, _)| *s == source) {
                    Some((_, known)) => known.extend_from_slice(names),
                    None => all.sources.push((source, names.to_vec())),
                }
            }
        }
        all
    }

    /// Every event name a trigger names, of any source (replay's skim
    /// looks for them in a log file's bytes).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.sources
            .iter()
            .flat_map(|(_, names)| names.iter().copied())
    }

    /// Would any of the triggers match? As [`Trigger::matches_fields`]
    /// asked of each.
    pub fn any(&self, source: &str, name: &str, root: bool) -> bool {
        (root && self.root)
            || self
                .sources
                .iter()
                .any(|(s, names)| *s == source && names.contains(&name))
    }
}
