//! The live path, shared by the Lambda and `trailguard handle`: the context
//! built once (config, clients, where alerts go) and the handler.

pub mod handle;
pub mod windows;

// The context is the executor's; it is named here too because the live
// path's callers (the Lambda, `trailguard handle`, tests) build it.
pub use crate::executor::{Effects, LiveContext, LiveError};

pub use handle::{
    ErrorReport, FailureKind, HandleError, Outcome, handle_bytes, handle_event, handle_inputs,
    handle_paths, handle_stream,
};
pub use windows::{WindowOutcome, close_windows, close_windows_now, is_close_windows};

#[cfg(test)]
mod tests {
    use super::*;

    /// The Lambda runtime shares the context across invocations and needs
    /// `Send` futures.
    #[test]
    fn the_context_is_shareable_and_the_handler_future_is_send() {
        fn shareable<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        shareable::<LiveContext>();
        #[allow(dead_code)]
        fn check(ctx: &LiveContext) {
            send(&handle_event(serde_json::Value::Null, ctx));
        }
    }
}
