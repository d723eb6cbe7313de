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
