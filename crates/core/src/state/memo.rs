//! What this component instance keeps between the requests it serves (Spin 4 reuses an
//! instance for up to 128 in turn): values read from the store's cache or fetched, and
//! parsed once, each until its own expiry. The store's cache shares them with the other
//! instances; this spares reading and parsing them again. One memo for every kind of
//! value (provider discovery, SAML metadata, `/oauth/validate`'s key set), by name.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use super::UnixTime;

/// More names than any deployment's providers: past it, the oldest entry goes.
const MAX_ENTRIES: usize = 64;

struct Entry {
    name: String,
    value: Rc<dyn Any>,
    expires_at: UnixTime,
}

thread_local! {
    // A component instance is single-threaded.
    static MEMO: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// The value kept under `name`, if it has not expired and is a `T`.
pub fn recall<T: 'static>(name: &str, now: UnixTime) -> Option<Rc<T>> {
    MEMO.with_borrow(|entries| {
        let entry = entries.iter().find(|entry| entry.name == name && entry.expires_at > now)?;
        entry.value.clone().downcast().ok()
    })
}

/// Keeps `value` under `name` until `expires_at`, in place of what was kept there.
pub fn keep<T: 'static>(name: String, value: T, expires_at: UnixTime) -> Rc<T> {
    let value = Rc::new(value);
    MEMO.with_borrow_mut(|entries| {
        entries.retain(|entry| entry.name != name);
        if entries.len() >= MAX_ENTRIES {
            entries.remove(0);
        }
        entries.push(Entry { name, value: value.clone(), expires_at });
    });
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_recalled_by_name_and_type_until_it_expires() {
        keep("memo-test a".into(), 7_u32, 100);
        assert_eq!(recall::<u32>("memo-test a", 99).as_deref(), Some(&7));
        assert_eq!(recall::<u32>("memo-test a", 100), None, "expired");
        assert_eq!(recall::<String>("memo-test a", 99), None, "another type");
        keep("memo-test a".into(), 8_u32, 200);
        assert_eq!(recall::<u32>("memo-test a", 150).as_deref(), Some(&8), "replaced");
    }

    #[test]
    fn the_memo_stays_bounded() {
        for n in 0..MAX_ENTRIES + 10 {
            keep(format!("memo-test bound {n}"), n, u64::MAX);
        }
        assert_eq!(recall::<usize>("memo-test bound 0", 0), None, "the oldest went");
        assert!(MEMO.with_borrow(|entries| entries.len()) <= MAX_ENTRIES);
    }
}
