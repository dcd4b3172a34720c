//! Labels: small key/value facts about an actor, kept with it for tools.
//!
//! OTP's `proc_lib` keeps `$ancestors` and `$initial_call` in each
//! process's dictionary so that tools (the observer, crash reports) can
//! tell who started a process and what it is. Labels are that mechanism,
//! open to any behaviour: a spawner sets them at spawn
//! ([`SpawnOptions::label`](crate::SpawnOptions::label)), the actor itself
//! later ([`Context::set_label`](crate::Context::set_label)), and anyone
//! reads them ([`ActorRef::label`](crate::ActorRef::label),
//! [`ActorInfo::labels`](crate::ActorInfo::labels)). The kernel gives no
//! key a meaning; the supervisors crate, for one, records each child's
//! supervisor and child id here.

/// An actor's labels, sorted by key. Boxed behind one pointer: most actors
/// have none, and a million of them must not pay for an empty list each.
#[derive(Clone, Debug, Default)]
pub(crate) struct Labels(Option<Box<[(String, String)]>>);

impl Labels {
    /// No labels.
    pub const NONE: Labels = Labels(None);

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn set(&mut self, key: String, value: String) {
        let mut list = self.0.take().map(Vec::from).unwrap_or_default();
        match list.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(at) => list[at].1 = value,
            Err(at) => list.insert(at, (key, value)),
        }
        self.0 = Some(list.into_boxed_slice());
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.as_deref().and_then(|list| get(list, key))
    }

    /// A copy of every label, sorted by key.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.0.as_deref().map(<[_]>::to_vec).unwrap_or_default()
    }
}

/// The value of `key` in a list sorted by key.
pub(crate) fn get<'a>(list: &'a [(String, String)], key: &str) -> Option<&'a str> {
    list.binary_search_by(|(k, _)| k.as_str().cmp(key))
        .ok()
        .map(|at| list[at].1.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_sorted_and_a_key_is_set_once() {
        let mut labels = Labels::default();
        assert_eq!(labels.get("a"), None);
        labels.set("b".into(), "1".into());
        labels.set("a".into(), "2".into());
        labels.set("b".into(), "3".into());
        assert_eq!(
            labels.to_vec(),
            vec![("a".into(), "2".into()), ("b".into(), "3".into())]
        );
        assert_eq!(labels.get("b"), Some("3"));
        assert_eq!(get(&labels.to_vec(), "c"), None);
    }
}
