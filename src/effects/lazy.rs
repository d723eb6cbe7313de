//! SDK clients built on their first call. Building a client sets up its
//! HTTPS connector (the trust store parsed again, about a million
//! instructions), so a Lambda start that builds every client it might
//! need pays for services the event at hand never calls: an alert-only
//! event calls SNS alone.

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;

/// A client of type `C`, built when first asked for, then kept.
#[derive(Clone)]
pub struct Lazy<C> {
    make: Arc<dyn Fn() -> C + Send + Sync>,
    client: OnceLock<C>,
}

impl<C: 'static> Lazy<C> {
    /// Built from `sdk` by `make` on the first [`Lazy::get`].
    pub fn new(sdk: &SdkConfig, make: fn(&SdkConfig) -> C) -> Self {
        let sdk = sdk.clone();
        Lazy {
            make: Arc::new(move || make(&sdk)),
            client: OnceLock::new(),
        }
    }

    /// A client already built.
    pub fn built(client: C) -> Self
    where
        C: Clone + Send + Sync,
    {
        let kept = client.clone();
        Lazy {
            make: Arc::new(move || kept.clone()),
            client: OnceLock::from(client),
        }
    }

    /// The client, built now if it was not yet.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.make)())
    }

    /// Whether the client has been built (tests).
    pub fn is_built(&self) -> bool {
        self.client.get().is_some()
    }
}

impl<C> fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lazy")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_built_on_its_first_use_only() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let lazy = Lazy::new(&sdk, aws_sdk_sns::Client::new);
        assert!(!lazy.is_built());
        let region = lazy.get().config().region().map(ToString::to_string);
        assert_eq!(region.as_deref(), Some("us-east-1"));
        assert!(lazy.is_built());
        let ready = Lazy::built(aws_sdk_sns::Client::new(&sdk));
        assert!(ready.is_built());
    }
}
