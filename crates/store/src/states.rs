//! Task and delivery states as SQL literals (`st!(queued)` is `'queued'`), spliced into SQL
//! texts with `concat!`, so statements stay `&'static str` and keep their literal states: a
//! bound parameter in their place would stop SQLite and PostgreSQL from using the partial
//! indexes (`WHERE state = 'queued'`). The test below ties every literal to the typed state.

macro_rules! st {
    (queued) => {
        "'queued'"
    };
    (submitting) => {
        "'submitting'"
    };
    (running) => {
        "'running'"
    };
    (succeeded) => {
        "'succeeded'"
    };
    (failed) => {
        "'failed'"
    };
    (cancelled) => {
        "'cancelled'"
    };
    (pending) => {
        "'pending'"
    };
    (delivered) => {
        "'delivered'"
    };
}
pub(crate) use st;

#[cfg(test)]
mod tests {
    use vidgate_domain::TaskState;

    use crate::DeliveryState;

    fn quoted(s: &str) -> String {
        format!("'{s}'")
    }

    #[test]
    fn every_literal_is_its_typed_state() {
        assert_eq!(st!(queued), quoted(TaskState::Queued.as_str()));
        assert_eq!(st!(submitting), quoted(TaskState::Submitting.as_str()));
        assert_eq!(st!(running), quoted(TaskState::Running.as_str()));
        assert_eq!(st!(succeeded), quoted(TaskState::Succeeded.as_str()));
        assert_eq!(st!(failed), quoted(TaskState::Failed.as_str()));
        assert_eq!(st!(cancelled), quoted(TaskState::Cancelled.as_str()));
        assert_eq!(st!(pending), quoted(DeliveryState::Pending.as_str()));
        assert_eq!(st!(delivered), quoted(DeliveryState::Delivered.as_str()));
        assert_eq!(st!(failed), quoted(DeliveryState::Failed.as_str()));
    }
}
